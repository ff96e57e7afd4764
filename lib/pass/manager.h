// The pass manager: runs a parsed pipeline (pipeline.h) on a Model.
//
// Passes run in order; a `repeat` group runs its body again while any pass in
// it reports a change, at most max-iterations times (the run says when the
// limit was reached with the body still changing the model). Graph passes
// reach subgraphs and functions through apply_pass.
//
// Guards, each naming the pass at fault (a failure is a bug in that pass, so
// it is an Internal error, exit 5):
//  - the input model is verified (lib/ir/verifier.h) before the first pass and
//    the result after the last; with verify_each, after every pass too;
//  - with check_outputs, effopt's executor (lib/exec) runs the model on seeded
//    random inputs before the pipeline and after every lossless pass and
//    compares the outputs with the reference by relative L2 error (1e-5 for
//    float32/float64 outputs, 5e-3 for float16/bfloat16; other types must be
//    equal). The error is exec/metrics.h's, as `effopt compare` reports it:
//    an output that was all zeros and is not any more, or NaN / infinities in
//    other places, fail every tolerance. A lossy pass's result becomes the new reference. A model the
//    executor cannot run, or an input whose dims are not known, fails the run
//    (InvalidModel / Usage) rather than skipping the check.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "exec/tensor_value.h"
#include "ir/ir.h"
#include "pass/pass.h"
#include "pass/pipeline.h"
#include "support/error.h"

namespace effopt::pass {

// What one pass did in the run.
struct PassRun {
  std::string name;
  std::string options;  // expanded, "key=value key2=value2"
  std::string group;    // "" at the top level; else e.g. "repeat#1 iteration 2"
  double seconds = 0;
  PassResult result;
  size_t nodes_before = 0, nodes_after = 0;  // subgraphs and functions included
  bool outputs_checked = false;
  double max_rel_l2 = 0;  // largest relative L2 error over the outputs, when checked
};

// What one group did.
struct GroupRun {
  std::string name;  // "repeat#1", numbered in pipeline order
  int64_t max_iterations = 0;
  int64_t iterations = 0;
  bool limit_reached = false;  // the last allowed iteration still changed the model
};

struct PipelineRun {
  std::vector<PassRun> passes;
  std::vector<GroupRun> groups;
  bool changed = false;
  bool outputs_checked = false;
};

struct ManagerOptions {
  int threads = 1;
  bool verify_each = false;
  bool check_outputs = false;
  double tolerance = 1e-5;       // relative L2, float32 / float64 outputs
  double half_tolerance = 5e-3;  // relative L2, float16 / bfloat16 outputs
  uint64_t seed = 0;             // of the random inputs
  // Dims for the random inputs: NAME = a graph input (its whole shape) or a
  // symbolic dim (one value), as --shape takes them.
  std::vector<std::pair<std::string, std::vector<int64_t>>> input_shapes;
  // Checks File and Files options recorded as NAME@sha256:HEX against the
  // file (unset: not checked).
  FileDigest file_digest;
  // Input samples for the passes (PassContext::samples); not owned.
  const PassSamples* samples = nullptr;
  // Progress hooks for logging (tools/ prints one line per pass).
  std::function<void(const PassRun&)> on_pass;
  std::function<void(const GroupRun&)> on_group;
};

Expected<PipelineRun> run_pipeline(const Pipeline& pipeline, Model& model, const ManagerOptions& opts = {});

// How --check-outputs compares one output before and after a pass: the
// relative L2 error of exec/metrics.h for float outputs, 0 or inf (exact
// equality) for other types, inf when the element type or shape changed.
// When not 0, `why` (if given) says what differs.
double output_change(const exec::TensorValue& before, const exec::TensorValue& after, std::string* why = nullptr);

// Nodes of the model: every graph, subgraph and function body.
size_t count_nodes(const Model& model);

}  // namespace effopt::pass
