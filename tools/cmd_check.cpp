// effopt check MODEL --max-bytes 5MB --max-gzip-bytes ... --max-zstd-bytes ...
//   --max-params ... --max-macs ... --max-peak-activation-bytes ... [--shape NAME=DIMS ...]
// Exit 3 naming each budget exceeded and by how much. Transforming commands
// take the same flags (add_budget_flags) and check their output.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "budget_flags.h"
#include "cli.h"
#include "report/budget.h"
#include "report/footprint_report.h"

namespace effopt::cli {

Expected<AnalysisOptions> analysis_options(const std::vector<std::string>& shapes, int zstd_level, int threads);


void add_budget_flags(CLI::App& sub, BudgetFlags& f) {
  sub.add_option("--max-bytes", f.max_bytes, "budget: file bytes incl. external data (5MB = 5*10^6, 5MiB = 5*2^20)");
  sub.add_option("--max-gzip-bytes", f.max_gzip, "budget: gzip (zlib level 6) compressed bytes");
  sub.add_option("--max-zstd-bytes", f.max_zstd, "budget: zstd compressed bytes (--zstd-level, default 3)");
  sub.add_option("--max-params", f.max_params, "budget: parameters (counts: 25M, 1.5G)");
  sub.add_option("--max-macs", f.max_macs, "budget: multiply-accumulates (counts: 300M, 1.8G)");
  sub.add_option("--max-peak-activation-bytes", f.max_peak, "budget: peak live activation bytes");
  sub.add_option("--shape", f.shapes, "bind an input's shape (NAME=1,3,224,224) or a symbolic dim (N=1)");
  sub.add_option("--zstd-level", f.zstd_level, "zstd level for --max-zstd-bytes (1..19, default 3)");
}

Expected<Budgets> parse_budget_flags(const BudgetFlags& f) {
  Budgets b;
  auto parse = [](const char* flag, const std::string& v, bool is_size, std::optional<uint64_t>& out) -> Status {
    if (v.empty()) return ok();
    auto r = is_size ? parse_size(v) : parse_count(v);
    if (!r) return usage_error(std::string("--") + flag + ": " + r.error().message);
    out = *r;
    return ok();
  };
  EFFOPT_TRY(parse("max-bytes", f.max_bytes, true, b.max_bytes));
  EFFOPT_TRY(parse("max-gzip-bytes", f.max_gzip, true, b.max_gzip_bytes));
  EFFOPT_TRY(parse("max-zstd-bytes", f.max_zstd, true, b.max_zstd_bytes));
  EFFOPT_TRY(parse("max-params", f.max_params, false, b.max_params));
  EFFOPT_TRY(parse("max-macs", f.max_macs, false, b.max_macs));
  EFFOPT_TRY(parse("max-peak-activation-bytes", f.max_peak, true, b.max_peak_activation_bytes));
  if (f.zstd_level < 1 || f.zstd_level > 19)
    return usage_error("--zstd-level " + std::to_string(f.zstd_level) + " is out of range (1..19)");
  for (const std::string& s : f.shapes) EFFOPT_TRY(parse_shape_binding(s));
  return b;
}

// Checks `model` (a file) against the budgets; ok if none is set.
Status check_model_budgets(const GlobalOptions& g, const std::string& model, const Budgets& b, const BudgetFlags& f) {
  if (!b.any()) return ok();
  if (b.needs_file_stats() && model == "-")
    return usage_error("size budgets need a model file, not standard input");
  EFFOPT_TRY_ASSIGN(AnalysisOptions ao, analysis_options(f.shapes, f.zstd_level, g.threads));
  ao.file_stats = b.needs_file_stats();
  ao.read_tensor_bytes = false;  // budgets need no tensor bytes beyond the file pass
  EFFOPT_TRY_ASSIGN(ModelAnalysis a, analyze_model_file(model, ao));
  auto results = check_budgets(b, a.footprint, a.files ? &*a.files : nullptr);
  for (auto& r : results)
    if (r.passed) spdlog::info("{}: --{} {} ok ({})", model, r.name, r.limit, r.actual.value_or(0));
  return budget_status(results, model);
}

std::function<Status()> setup_check(CLI::App& sub, GlobalOptions& g) {
  struct Opts { std::string model; BudgetFlags flags; };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "model to check")->required();
  add_budget_flags(sub, o->flags);
  return [o, &g]() -> Status {
    EFFOPT_TRY_ASSIGN(Budgets b, parse_budget_flags(o->flags));
    if (!b.any()) return usage_error("check: give at least one budget (--max-bytes, --max-macs, ...)");
    return check_model_budgets(g, o->model, b, o->flags);
  };
}

}  // namespace effopt::cli
