#include "report/budget.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "report/footprint_report.h"

namespace effopt {

namespace {

struct Suffix { const char* s; double mult; };

Expected<uint64_t> parse_with(const std::string& text, const std::vector<Suffix>& suffixes, const char* what) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  std::string num = text.substr(0, i), suf = text.substr(i);
  while (!suf.empty() && suf.front() == ' ') suf.erase(suf.begin());
  if (num.empty() || num.find('.') != num.rfind('.'))
    return usage_error(std::string("'") + text + "' is not a " + what);
  double v = std::strtod(num.c_str(), nullptr);
  double mult = 0;
  for (auto& s : suffixes)
    if (suf == s.s) mult = s.mult;
  if (mult == 0) {
    std::string list;
    for (auto& s : suffixes) if (*s.s) list += std::string(list.empty() ? "" : ", ") + s.s;
    return usage_error(std::string("'") + text + "' is not a " + what + " (units: " + list + ")");
  }
  double r = std::round(v * mult);
  if (r > 1.8e19) return usage_error(std::string("'") + text + "' is too large");
  return static_cast<uint64_t>(r);
}

}  // namespace

Expected<uint64_t> parse_size(const std::string& text) {
  static const std::vector<Suffix> s = {{"", 1},       {"B", 1},          {"kB", 1e3},        {"KB", 1e3},
                                        {"MB", 1e6},   {"GB", 1e9},       {"TB", 1e12},       {"KiB", 1024.0},
                                        {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0}};
  return parse_with(text, s, "size");
}

Expected<uint64_t> parse_count(const std::string& text) {
  static const std::vector<Suffix> s = {{"", 1}, {"K", 1e3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}};
  return parse_with(text, s, "count");
}

std::vector<BudgetResult> check_budgets(const Budgets& b, const Footprint& f, const ModelFileStats* files) {
  std::vector<BudgetResult> out;
  auto check = [&](const char* name, const std::optional<uint64_t>& limit, uint64_t actual, bool bytes,
                   bool complete, const std::vector<std::string>& unknown) {
    if (!limit) return;
    BudgetResult r;
    r.name = name;
    r.limit = *limit;
    r.actual = actual;
    auto fmt = [&](uint64_t x) { return std::to_string(x) + " (" + (bytes ? human_bytes(x) : human_count(x)) + ")"; };
    if (!complete) {
      r.passed = false;
      std::string nodes;
      for (size_t i = 0; i < unknown.size() && i < 5; ++i) nodes += (i ? "; " : "") + unknown[i];
      if (unknown.size() > 5) nodes += "; and " + std::to_string(unknown.size() - 5) + " more";
      r.message = std::string("--") + name + " " + fmt(*limit) + ": cannot be checked, " +
                  std::to_string(unknown.size()) + " nodes could not be counted (" + nodes +
                  "); bind unknown dims with --shape NAME=DIMS";
    } else if (actual > *limit) {
      r.passed = false;
      char pct[32];
      std::snprintf(pct, sizeof pct, "%.1f%%", 100.0 * static_cast<double>(actual - *limit) / static_cast<double>(*limit ? *limit : 1));
      r.message = std::string("--") + name + " " + fmt(*limit) + " exceeded: " + fmt(actual) + ", over by " +
                  fmt(actual - *limit) + " (" + pct + ")";
      // An upper bound over the limit does not prove the real count is: say so, and where.
      if (std::string_view(name) == "max-macs" && !f.macs_upper_bound_nodes.empty())
        r.message += "; the count is an upper bound (" + f.macs_upper_bound_nodes.front() +
                     (f.macs_upper_bound_nodes.size() > 1
                          ? "; and " + std::to_string(f.macs_upper_bound_nodes.size() - 1) + " more"
                          : std::string()) +
                     ")";
    }
    out.push_back(r);
  };
  static const std::vector<std::string> none;
  if (files) {
    check("max-bytes", b.max_bytes, files->total_bytes(), true, true, none);
    check("max-gzip-bytes", b.max_gzip_bytes, files->total_gzip_bytes(), true, true, none);
    check("max-zstd-bytes", b.max_zstd_bytes, files->total_zstd_bytes(), true, true, none);
  }
  check("max-params", b.max_params, f.params, false, true, none);
  check("max-macs", b.max_macs, f.macs, false, f.macs_complete(), f.macs_unknown_nodes);
  check("max-peak-activation-bytes", b.max_peak_activation_bytes, f.peak_activation_bytes, true,
        f.activations_complete(), f.activation_unknown_nodes);
  return out;
}

Status budget_status(const std::vector<BudgetResult>& results, const std::string& model) {
  std::string msg;
  size_t failed = 0;
  for (auto& r : results)
    if (!r.passed) { msg += "\n  " + r.message; ++failed; }
  if (!failed) return ok();
  return make_error(ErrorKind::CheckFailed, model + ": " + std::to_string(failed) + " budget" +
                                                (failed > 1 ? "s" : "") + " failed:" + msg);
}

}  // namespace effopt
