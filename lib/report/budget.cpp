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
  auto check = [&](const char* name, const std::optional<uint64_t>& limit, const Total& total, bool bytes) {
    if (!limit) return;
    BudgetResult r;
    r.name = name;
    r.limit = *limit;
    r.actual = total.value;
    auto fmt = [&](uint64_t x) { return std::to_string(x) + " (" + (bytes ? human_bytes(x) : human_count(x)) + ")"; };
    auto pct = [&](uint64_t over) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * static_cast<double>(over) / static_cast<double>(*limit ? *limit : 1));
      return std::string(buf);
    };
    if (!total.known() && total.lower_bound > *limit) {
      // What was counted already passes the limit: exceeded, whatever the rest is.
      r.passed = false;
      const uint64_t over = total.lower_bound - *limit;
      r.message = std::string("--") + name + " " + fmt(*limit) + " exceeded: at least " + fmt(total.lower_bound) +
                  ", over by at least " + fmt(over) + " (" + pct(over) + "); the rest is unknown: " +
                  total.unknown_reason;
    } else if (!total.known()) {
      r.passed = false;
      r.unchecked = true;
      r.message = std::string("--") + name + " " + fmt(*limit) + ": could not be checked, the total is unknown" +
                  (total.lower_bound > 0 ? " (at least " + fmt(total.lower_bound) + ")" : std::string()) + ": " +
                  total.unknown_reason;
    } else if (*total.value > *limit) {
      r.passed = false;
      const uint64_t over = *total.value - *limit;
      r.message = std::string("--") + name + " " + fmt(*limit) + " exceeded: " + fmt(*total.value) + ", over by " +
                  fmt(over) + " (" + pct(over) + ")";
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
  auto known = [](uint64_t v) {
    Total t;
    t.value = v;
    return t;
  };
  if (files) {
    check("max-bytes", b.max_bytes, known(files->total_bytes()), true);
    check("max-gzip-bytes", b.max_gzip_bytes, known(files->total_gzip_bytes()), true);
    check("max-zstd-bytes", b.max_zstd_bytes, known(files->total_zstd_bytes()), true);
  }
  check("max-params", b.max_params, known(f.params), false);
  check("max-macs", b.max_macs, f.macs_total(), false);
  check("max-peak-activation-bytes", b.max_peak_activation_bytes, f.peak_activation_total(), true);
  return out;
}

Status budget_status(const std::vector<BudgetResult>& results, const std::string& model) {
  std::string msg;
  size_t exceeded = 0, unchecked = 0;
  for (auto& r : results) {
    if (r.passed) continue;
    msg += "\n  " + r.message;
    ++(r.unchecked ? unchecked : exceeded);
  }
  if (!exceeded && !unchecked) return ok();
  auto count = [](size_t n) { return std::to_string(n) + " budget" + (n > 1 ? "s" : ""); };
  std::string head;
  if (exceeded) head = count(exceeded) + " failed";
  if (unchecked)
    head += (head.empty() ? count(unchecked) : " and " + std::to_string(unchecked)) +
            " could not be checked (a budget on an unknown total fails)";
  return make_error(ErrorKind::CheckFailed, model + ": " + head + ":" + msg);
}

}  // namespace effopt
