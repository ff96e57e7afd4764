// Calibration and quality-guard data for pass-running commands (run, and the
// commands built on a pipeline: quantize, prune): the flags --calibration and
// --calibration-samples (the guard's --data, --random, --seed, --range are
// fidelity_flags.h's sample flags), the samples they give, and the pipeline's
// data options (pass::DataOption) filled from them, so the recorded pipeline
// names the data.
//
//   CalibrationFlags cal;  add_calibration_flags(sub, cal);
//   SampleFlags eval;      add_sample_flags(sub, eval, /*with_shape=*/false);
//   ... after loading the model:
//   EFFOPT_TRY_ASSIGN(auto data, bind_pass_data(pipeline, cal, eval, *model->graph));
//   manager_options.samples = &data->samples;      // PassContext::samples of every pass
//
// run_transform (transform.h) does this for every TransformJob that sets
// `calibration` / `samples`. docs/cli.md ("run") and docs/passes.md ("Data
// files") state the rules for users.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "analysis/fidelity.h"
#include "cli.h"
#include "fidelity_flags.h"
#include "pass/pass.h"
#include "pass/pipeline.h"

namespace effopt::cli {

struct CalibrationFlags {
  std::vector<std::string> paths;  // --calibration PATH (repeatable)
  uint64_t samples = 0;            // --calibration-samples N, rows (0 = all)
  bool samples_given = false;
};
void add_calibration_flags(CLI::App& sub, CalibrationFlags& f);

// The samples of one run; `samples` points into the sources held here.
struct PassData {
  std::unique_ptr<SampleSource> calibration, evaluation;
  pass::PassSamples samples;
};

// Fills the data options of every pass in `pipeline` from the flags and
// builds the samples, bound to `graph`'s inputs:
// - calibration: --calibration paths (the forms --data takes), or the
//   pipeline's own `calibration` value when no flag is given; the option
//   then holds the files read, in order; batches are split into rows
//   (split_rows), at most --calibration-samples (or the pipeline's
//   `calibration-samples`) of them;
// - evaluation: --data paths (or the pipeline's `data`), or --random N with
//   --seed / --range (or the pipeline's `random`, `seed`, `range`);
// - PassSamples::random: the seed, --shape dims and --range for inputs a
//   pass draws itself.
// Usage errors: a flag no pass in the pipeline reads; passes that give one
// option different values; a flag that contradicts the pipeline's value
// (files whose SHA-256 differ from those the pipeline records, another row
// count); a recorded NAME@sha256 without the flag that gives its files;
// --data with --random, or --seed / --range with --data. The data readers'
// errors as `compare` reports them.
Expected<std::unique_ptr<PassData>> bind_pass_data(pass::Pipeline& pipeline, const CalibrationFlags& calibration,
                                                   const SampleFlags& evaluation, const Graph& graph);

}  // namespace effopt::cli
