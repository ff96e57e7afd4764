// effopt's reference CPU executor: runs a Model's main graph on the CPU.
//
//   auto s = exec::Session::create(model, {.threads = 2});   // validates, resolves kernels, plans memory
//   if (!s) ... s.error().message lists every unsupported op and where it occurs
//   auto outs = (*s)->run({{"input", tensor}});               // outputs in the graph's output order
//
// Or in one call: exec::run(model, inputs, options).
//
// The Model must outlive the Session (constants are zero-copy views of its
// tensors). A Session runs one inference at a time (run() is not reentrant).
// docs/executor.md describes kernels, numerics, threading and memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "exec/runtime_value.h"
#include "exec/tensor_value.h"
#include "ir/ir.h"
#include "support/error.h"

namespace effopt::exec {

// Sees every tensor value of a run once, as it is produced: the main graph's
// inputs when the run starts, then each node output right after its node ran
// (in If / Loop / Scan bodies once per execution of the body), before the
// executor frees anything. The tensor is valid only during the call: an
// observer keeps statistics, never the tensor, so observing adds nothing to
// the run's live bytes (RunStats::peak_live_bytes is the same with and without
// one). Values that are not tensors (sequences, empty optionals) and constants
// are not observed. With RunOptions::internal_rewrites, values an internal
// rewrite hides (a Conv output fused with its Relu, folded into a
// BatchNormalization) are never produced, so not observed: calibration turns
// the rewrites off. Called on the thread that called run(), in execution order.
class ValueObserver {
 public:
  virtual ~ValueObserver() = default;
  virtual void observe(const Value& value, const TensorValue& tensor) = 0;
};

struct RunOptions {
  int threads = 1;  // results are bit-identical for any value
  bool profile = false;  // time every node (RunStats::op_ms)
  // Graph rewrites the session makes for speed (today: an inference
  // BatchNormalization folded into the float Conv before it, and the activation
  // after a Conv (Relu, Clip, Sigmoid, HardSigmoid, HardSwish, SiLU and HardSwish
  // written as Mul(x, gate(x))) fused into its epilogue, Gelu written out as Pow/Mul/Add/Tanh or
  // Div/Erf/Add/Mul run as one step; the model itself is untouched). Off, every node runs as written, so
  // RunStats::peak_live_bytes equals the footprint report's peak activation
  // bytes (lib/analysis/footprint.h) exactly.
  bool internal_rewrites = true;
  // With internal_rewrites: fold BatchNormalization into Conv weights, and run
  // written-out Gelu chains as one step. The rewrites that change results (in
  // the last bits: W * s rounded once instead of conv then BN; Gelu by about
  // 1e-6), so `effopt compare` and the pass manager's output checks turn this
  // off and measure the models as written, not the executor's rounding.
  bool fold_batch_norm = true;
  // Not owned; must outlive the Session's runs. nullptr = none.
  ValueObserver* observer = nullptr;
};

struct RunStats {
  // Peak bytes of live intermediate tensors: a tensor counts from the node
  // that produces it until its last use (graph outputs until the end); graph
  // inputs and weights do not count. A tensor that aliases another (Reshape,
  // Identity, ...) counts as its own bytes, like the footprint report. While
  // an If / Loop / Scan body runs, its intermediates count on top.
  uint64_t peak_live_bytes = 0;
  uint64_t nodes_run = 0;
  // With RunOptions::profile: milliseconds per op type, summed over nodes.
  std::vector<std::pair<std::string, double>> op_ms;
};

class Session {
 public:
  // Checks that every node has a kernel (one error lists all that do not),
  // resolves kernels, finds the constants and plans when each value is freed.
  static Expected<std::unique_ptr<Session>> create(const Model& model, const RunOptions& opts = {});
  ~Session();

  // Input names (graph inputs that are not initializers), in graph order: what ONNX Runtime lists as the
  // session's inputs.
  const std::vector<std::string>& input_names() const;
  const std::vector<std::string>& output_names() const;
  // IR version 4 and later: initializers also listed among the graph inputs, in graph order. Their tensor
  // is a default that a feed of the same name overrides for that run (ONNX Runtime's overridable
  // initializers). In IR < 4 models such initializers are constants, and feeding one is an error.
  const std::vector<std::string>& overridable_initializer_names() const;

  // Inputs by name (every input must be given once; overridable initializers may be given too), or in
  // input_names() order.
  Expected<std::vector<TensorValue>> run(const std::vector<std::pair<std::string, TensorValue>>& inputs);
  Expected<std::vector<TensorValue>> run(const std::vector<TensorValue>& inputs);
  // Same, for graphs whose inputs or outputs may be sequences or optionals.
  Expected<std::vector<RuntimeValue>> run_values(const std::vector<RuntimeValue>& inputs);

  const RunStats& last_stats() const;

  struct Impl;

 private:
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

Expected<std::vector<TensorValue>> run(const Model& model, const std::vector<std::pair<std::string, TensorValue>>& inputs,
                                       const RunOptions& opts = {});

}  // namespace effopt::exec
