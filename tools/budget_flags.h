// Budget flags shared by `effopt check` and transforming commands
// (tools/cmd_check.cpp): --max-bytes, --max-gzip-bytes, --max-zstd-bytes,
// --max-params, --max-macs, --max-peak-activation-bytes, --shape, --zstd-level.
#pragma once

#include <string>
#include <vector>

#include "cli.h"
#include "report/budget.h"

namespace effopt::cli {

struct BudgetFlags {
  std::vector<std::string> shapes;
  int zstd_level = 3;
  std::string max_bytes, max_gzip, max_zstd, max_params, max_macs, max_peak;
};

void add_budget_flags(CLI::App& sub, BudgetFlags& f);
// Usage error (exit 1) on a malformed value; call before writing anything.
Expected<Budgets> parse_budget_flags(const BudgetFlags& f);
// Checks the model file against the budgets (ok if none is set); exit 3 naming each failed budget.
Status check_model_budgets(const GlobalOptions& g, const std::string& model, const Budgets& b, const BudgetFlags& f);

}  // namespace effopt::cli
