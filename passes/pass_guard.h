// The quality guard of lossy passes (quantize, prune): what a pass needs
// around analysis/quality_guard.h's search.
//
//   p.options = {...the pass's own...}; append pass::guard_options(), pass::evaluation_data_options()
//   and its budget option (quantize: max-float-fraction; prune: min-sparsity).
//   In the pass:
//   EFFOPT_TRY_ASSIGN(auto limits, guard::parse_limits(ctx.options, "prune"));
//   if (limits) {
//     EFFOPT_TRY_ASSIGN(GuardData data, guard::data(ctx, *m.graph));
//     EFFOPT_TRY_ASSIGN(guard::MacCount macs, guard::count_macs(m, *data.samples));  // units' macs, total
//     GuardOptions o; o.limits = *limits; o.total_macs = macs.total; o.budget = ...;
//     EFFOPT_TRY_ASSIGN(GuardResult g, run_quality_guard(m, units, build, data, o));
//     m = std::move(*g.model);
//     guard::record(r, std::move(g));  // notes + PassResult::quality_guard (a failed guard: exit 3)
//   }
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/quality_guard.h"
#include "pass/pass.h"

namespace effopt::passes::guard {

// The limits given in the guard_options() of `po` (Usage error naming the
// pass and option); nullopt when none is given: the guard is off. Without a
// limit, guard data (`data`, `random`, from evaluation_data_options(), which
// the pass must declare) is a usage error too: it would be read for nothing.
Expected<std::optional<FidelityLimits>> parse_limits(const pass::PassOptions& po, std::string_view pass_name);

// What the guard measures on: PassContext::samples' evaluation data, else its
// calibration data, else seeded random inputs (with a warning).
Expected<GuardData> data(const pass::PassContext& ctx, const Graph& g);

// The MACs of the Conv, ConvTranspose, Gemm and MatMul nodes of the main
// graph, with its inputs' unknown dims bound to the first sample's (a copy of
// the model is shape-inferred; `m` is untouched). Best effort: nodes whose
// MACs stay unknown (shapes that cannot be inferred) are listed, not errors.
struct MacCount {
  std::vector<uint64_t> node_macs;  // by main-graph node index (0 for other ops and unknown counts)
  uint64_t total = 0;
  std::vector<std::string> unknown;  // nodes whose MACs could not be counted
};
Expected<MacCount> count_macs(const Model& m, const SampleSource& samples);
// A note in `r` when some of those MACs are unknown (they count for no unit).
void note_unknown_macs(const MacCount& macs, pass::PassResult& r);

// Puts the guard's outcome in `r`: a note with the verdict (and the failure),
// its warnings as notes, and PassResult::quality_guard (without the model).
void record(pass::PassResult& r, GuardResult g);

}  // namespace effopt::passes::guard
