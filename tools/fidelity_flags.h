// Fidelity flags shared by `effopt compare` and the commands that check
// their output against their input (quantize, prune): the limits
// (--max-error E [--metric M], --min-sqnr DB, --min-accuracy A) and the
// inputs to run on (--data PATH ..., --random N --seed S, --range, --shape).
// docs/cli.md ("compare") documents their meaning once for all of them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "analysis/fidelity.h"
#include "cli.h"

namespace effopt::cli {

struct FidelityFlags {
  std::string max_error, metric, min_sqnr, min_accuracy;
};
void add_fidelity_flags(CLI::App& sub, FidelityFlags& f);
// Usage error (exit 1) on a malformed or contradictory value.
Expected<FidelityLimits> parse_fidelity_flags(const FidelityFlags& f);
// The flags given, checked as parse_fidelity_flags does, as the quality-guard pass options of the same
// names (pass::guard_options(): "max-error=0.01 metric=max-abs"), for commands that run a guarded pass
// (quantize, prune); "" when none is given.
Expected<std::string> fidelity_pass_options(const FidelityFlags& f);

struct SampleFlags {
  std::vector<std::string> data;
  size_t random = 0;  // 0 = not given
  uint64_t seed = 0;
  bool seed_given = false;
  std::vector<std::string> ranges, shapes;
};
// `with_shape` = false when the command already has --shape (budget flags):
// then fill SampleFlags::shapes from there.
void add_sample_flags(CLI::App& sub, SampleFlags& f, bool with_shape = true);
// The samples: --data folders/files, or --random N (default: `default_random`
// samples when neither is given; 0 = --data required). Inputs bind to `graph`.
Expected<std::unique_ptr<SampleSource>> make_samples(const SampleFlags& f, const Graph& graph, size_t default_random);

// Worker threads for the executor: --threads, 0 = every core.
int executor_threads(const GlobalOptions& g);

}  // namespace effopt::cli
