// The quality guard of lossy transformations (quantize, prune): find, per
// unit (a weight, a layer), the most aggressive level whose result still meets
// a fidelity limit against the original model.
//
//   std::vector<GuardUnit> units = {{"conv1.w", {"int8", "float"}, macs1}, ...};
//   auto build = [&](const std::vector<size_t>& levels) -> Expected<std::unique_ptr<Model>> { ... };
//   GuardOptions o;
//   o.limits.max_error = 0.01;                       // --max-error, --metric, --min-sqnr, --min-accuracy
//   o.max_top_fraction = 0.3;                        // --max-float-fraction
//   auto data = guard_samples(evaluation, calibration, random, *original.graph);
//   auto r = run_quality_guard(original, units, build, *data, o);
//   // r->passed, r->levels, r->model (the last candidate built), r->failure
//
// The search. Each unit has levels from its lowest (most aggressive, e.g.
// int4, or the target sparsity) to its top (the original: float, dense).
// Every unit starts at its lowest level. The candidate is built (`build`
// gets one level index per unit), run on effopt's executor with its internal
// rewrites as `compare` runs them (BatchNormalization folding off), and
// measured against the original model's outputs, computed once and kept. While
// a limit is broken:
//  - the first time, every unit's sensitivity is measured: the error with
//    only that unit at its lowest level and every other one at its top (one
//    build and one run per unit); units are ranked by it, most sensitive
//    first (ties in unit order), or, with rank_per_mac, by that error per MAC the unit
//    would leave at the top level (what --max-float-fraction counts);
//  - the most sensitive unit not yet at its top level steps back one level,
//    and the candidate is measured again (with `rerank`, the stepped unit's
//    own error at its new level is measured too and the units ranked again).
// It stops when every limit holds, or when the assignment breaks the budget:
// `max_top_fraction` (the share of `total_macs` left at the top level: the
// MACs of units at their top plus those of no unit) or `budget` (any other
// rule, e.g. prune's --min-sparsity). Stepping back only moves units up, so a
// broken budget stays broken and the search ends there. The check fails
// (passed = false; tools exit 3) when the budget is broken, or when the limits
// hold only with every unit at its top level (nothing changed), or not even
// then. The model of the last candidate measured is kept in the result, with
// its fidelity: a failed guard still writes its last attempt.
//
// The sensitivity metric is the first limit given, in this order: the
// --max-error metric (worst output), --min-sqnr (worst output's SQNR),
// --min-accuracy (the candidate's accuracy).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/fidelity.h"
#include "exec/random_inputs.h"
#include "ir/ir.h"
#include "support/error.h"

namespace effopt {

struct GuardUnit {
  std::string name;                 // as the report names it: a weight, a node
  std::vector<std::string> levels;  // lowest (tried first) .. top (the original); at least one
  uint64_t macs = 0;                // its Conv/Gemm/MatMul MACs, for max_top_fraction
};

// Builds the candidate model for one level index per unit.
using CandidateBuilder = std::function<Expected<std::unique_ptr<Model>>(const std::vector<size_t>& levels)>;

struct GuardOptions {
  FidelityLimits limits;  // at least one limit
  int threads = 1;
  // Fails when more than this share of `total_macs` is left at the top level (--max-float-fraction).
  std::optional<double> max_top_fraction;
  // The Conv/Gemm/MatMul MACs of the whole model (units and the rest); 0: the units' sum.
  uint64_t total_macs = 0;
  // Another budget: the reason it is broken by this assignment, or nullopt.
  std::function<std::optional<std::string>(const std::vector<size_t>& levels)> budget;
  // The top level's name for messages ("float", "dense").
  std::string top_name = "the top level";
  // After each step that leaves the limits broken, measure the stepped unit's
  // own error at its new level (one more run; the first ranking measured it
  // at the lowest). The next step goes to the unit with the largest own error
  // at its current level per unit of `kept` that step gives up
  // (ties: the larger relative L2 error per kept, then the sensitivity rank),
  // instead of the first-ranked unit going all the way to its top. For units
  // with many levels (prune's sparsities), where several units break the
  // limits each on its own and stepping a small unit back costs little. The
  // error of a min-sqnr guard is the noise power 10^(-SQNR/10), of min-accuracy
  // the accuracy lost.
  bool rerank = false;
  // rerank: per unit, what each of its levels keeps of what the search gives up by stepping back (prune: the
  // weights left nonzero), ascending; a unit without one (or with a size other than its levels') costs 1 a step.
  std::vector<std::vector<double>> kept;
  // How units are ranked: false = by sensitivity alone (most sensitive first); true = by error per MAC:
  // the unit's error alone (rel-l2 and other higher-is-worse metrics squared, as error powers add up; SQNR as
  // 10^(-dB/10); accuracy as 1 - accuracy) over its MACs, with units of fewer MACs than 0.1% of total_macs
  // counted at 0.1% (stepping them back costs the budget little, but still costs an evaluation and speed).
  // Without MACs (total 0) the ranking is by sensitivity.
  bool rank_per_mac = false;
};

struct GuardUnitResult {
  std::string name;
  std::vector<std::string> levels;
  uint64_t macs = 0;
  size_t level = 0;                   // the final level index
  std::optional<double> sensitivity;  // in GuardResult::metric, with only this unit at its lowest level
  size_t rank = 0;                    // 1 = most sensitive; 0 = not ranked
  std::string reason;                 // why it ended at its level
};

struct GuardStep {
  size_t unit = 0;  // the unit stepped back
  size_t level = 0; // its new level
  std::optional<double> value;  // the metric of the candidate after the step; none: not measured (the budget broke)
  bool passed = false;
};

struct GuardResult {
  bool passed = false;
  std::string failure;  // why the check failed (empty when passed)
  std::string metric;   // the sensitivity metric: "rel-l2", ..., "sqnr", "accuracy"
  bool higher_is_worse = true;
  std::string samples;  // what the candidates were measured on
  std::string origin;   // GuardData::origin
  std::vector<std::string> warnings;
  std::vector<GuardUnitResult> units;
  std::vector<size_t> levels;  // the final assignment
  double first_value = 0;      // the metric with every unit at its lowest level
  std::vector<GuardStep> steps;
  size_t evaluations = 0;      // candidates built and measured (sensitivity runs included)
  double top_fraction = 0;     // share of total_macs left at the top level
  std::optional<double> max_top_fraction;
  FidelityResult fidelity;  // of the final candidate
  std::vector<LimitCheck> checks;
  std::shared_ptr<Model> model;  // the final candidate
};

// The data the guard measures on: `evaluation` (--data, --random N) when
// given, else `calibration`, else seeded random inputs drawn with `random`
// (seed, --shape, --range) and a warning that random inputs say little about
// a model's real inputs. Usage error when random inputs are needed and an
// input's dims are unknown.
struct GuardData {
  const SampleSource* samples = nullptr;
  std::unique_ptr<SampleSource> owned;  // the random samples, when drawn here
  std::string origin;                   // "evaluation data", "calibration data", "random inputs"
  std::optional<std::string> warning;
};
Expected<GuardData> guard_samples(const SampleSource* evaluation, const SampleSource* calibration,
                                  const exec::RandomInputOptions& random, const Graph& graph, size_t random_count = 4);

// Usage error when no limit is given or there are no samples (and as
// check_fidelity_limits: a metric the outputs cannot give); the builder's and
// the executor's errors as they come.
Expected<GuardResult> run_quality_guard(const Model& original, const std::vector<GuardUnit>& units,
                                        const CandidateBuilder& build, const GuardData& data,
                                        const GuardOptions& options);

// MACs left at the top level over `total_macs` (0 when there are none).
double top_fraction(const std::vector<GuardUnit>& units, const std::vector<size_t>& levels, uint64_t total_macs);

}  // namespace effopt
