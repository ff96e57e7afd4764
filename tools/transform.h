// The shared body of transforming commands (convert, run, fuse): load, run a
// pipeline with the pass manager, record it in metadata_props, write the
// output atomically, print the before/after table, write the report, check
// budgets. Each command only builds its pipeline.
#pragma once

#include <cstdint>
#include <string>

#include "budget_flags.h"
#include "cli.h"
#include "fidelity_flags.h"
#include "pass/pipeline.h"
#include "pass_data.h"

namespace effopt::cli {

// Flags of pass-running commands (run, fuse).
struct PassFlags {
  bool verify_each = false;
  bool check_outputs = false;
  double tolerance = 1e-5;
  double half_tolerance = 5e-3;
  uint64_t seed = 0;
  bool print_pipeline = false;
};
void add_pass_flags(CLI::App& sub, PassFlags& f);

struct TransformJob {
  std::string command;  // for the report
  std::string input;
  std::string suffix;   // default output: model.<suffix>.onnx
  pass::Pipeline pipeline;
  // Run the pass manager and record the pipeline in metadata_props, even an
  // empty one (run, fuse). False with an empty pipeline: nothing runs and
  // nothing is recorded (plain convert, byte-lossless).
  bool record = false;
  const BudgetFlags* budgets = nullptr;
  PassFlags flags;
  // Calibration and quality-guard data (pass_data.h); unset = none given. The
  // pipeline's data options are filled from them before it runs.
  const CalibrationFlags* calibration = nullptr;
  const SampleFlags* samples = nullptr;
};

// A pass whose quality guard failed (PassResult::quality_guard) makes it exit 3
// after the output and the report are written, as a broken budget does.
Status run_transform(const GlobalOptions& g, const TransformJob& job);

// What the pipeline commands (run, fuse, quantize) share: a model, the budget
// flags and the pass flags.
struct PipelineOpts {
  std::string model;
  BudgetFlags budgets;
  PassFlags flags;
  CalibrationFlags calibration;
  SampleFlags samples;
  bool with_data = false;  // the command takes the data flags (pass_data.h)
};
// Runs `pipeline` on o.model as `command` (default output model.<suffix>.onnx),
// or with --print-pipeline prints it expanded without reading a model.
Status run_or_print(const GlobalOptions& g, const PipelineOpts& o, const char* command, const char* suffix,
                    pass::Pipeline pipeline);

// Parses pipeline text; prints it expanded to stdout when flags.print_pipeline.
Expected<pass::Pipeline> build_pipeline(const std::string& text);

// SHA-256 of a file (for File options recorded as NAME@sha256:HEX).
Expected<std::string> file_sha256(const std::string& path);

}  // namespace effopt::cli
