// The fidelity block of effopt's JSON report (docs/report.md, "The fidelity
// block"; docs/report.schema.json, $defs/fidelity) and the compact text table
// `effopt compare` prints. Quantize/prune put the same block in their
// --report when they check their output against the input model.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/fidelity.h"
#include "analysis/quality_guard.h"

namespace effopt {

// The models compared: the reference is a model path, or the data folders'
// expected outputs (then `reference` is ignored and candidate is the model).
struct FidelitySubjects {
  std::string reference;
  std::string candidate;
};

// {"reference", "candidate", "inputs", "outputs", "skipped_outputs",
//  "accuracy", "per_node", "limits", "passed", "warnings"}.
// Non-finite numbers are written as the strings "inf", "-inf", "nan".
nlohmann::json fidelity_block(const FidelityResult& r, const std::vector<LimitCheck>& checks,
                              const FidelitySubjects& subjects);
// `effopt compare --json`: the report header (command "compare") + "fidelity".
nlohmann::json fidelity_report(const FidelityResult& r, const std::vector<LimitCheck>& checks,
                               const FidelitySubjects& subjects);
// A quality guard's search and verdict (analysis/quality_guard.h; docs/report.md, "The quality_guard
// block"): "passed", "failure", "metric", "data", "first_value", "evaluations", "top_fraction",
// "max_top_fraction", "units", "steps", "warnings" and the final candidate's "fidelity" block (the reference is
// `subjects.reference`, the input model).
nlohmann::json quality_guard_block(const GuardResult& r, const FidelitySubjects& subjects);
// A number, or "inf" / "-inf" / "nan".
nlohmann::json json_metric(double v);

// Compact table: one line per output, accuracy, per-node values (the first
// over the limit marked), limits. ANSI colors when `color`.
std::string fidelity_text(const FidelityResult& r, const std::vector<LimitCheck>& checks,
                          const FidelitySubjects& subjects, bool color);

}  // namespace effopt
