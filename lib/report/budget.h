// Budgets for CI: `effopt check MODEL --max-bytes 5MB ...` and the same flags
// on transforming commands. A budget never passes on a guess: a MAC or
// activation budget on a total that is not known fails ("could not be
// checked", naming the nodes and the --shape that binds the inputs), or
// fails as exceeded when what was counted already passes the limit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/footprint.h"
#include "report/file_stats.h"
#include "support/error.h"

namespace effopt {

// "5MB" (10^6), "5MiB" (2^20), "5000", "1.5GB"; kB/MB/GB and KiB/MiB/GiB, "B" optional.
Expected<uint64_t> parse_size(const std::string& text);
// "25M", "1.8G", "500K", "1000".
Expected<uint64_t> parse_count(const std::string& text);

struct Budgets {
  std::optional<uint64_t> max_bytes, max_gzip_bytes, max_zstd_bytes, max_params, max_macs,
      max_peak_activation_bytes;
  bool needs_file_stats() const { return max_bytes || max_gzip_bytes || max_zstd_bytes; }
  bool any() const {
    return needs_file_stats() || max_params || max_macs || max_peak_activation_bytes;
  }
};

struct BudgetResult {
  std::string name;     // "max-bytes"
  uint64_t limit = 0;
  std::optional<uint64_t> actual;  // nullopt: the total is not known
  bool passed = true;
  bool unchecked = false;  // failed because the total is not known (and its lower bound is within the limit)
  std::string message;  // why it failed ("exceeded by ...", "could not be checked: ...")
};

// Checks every set budget. `files` is needed when a size budget is set.
std::vector<BudgetResult> check_budgets(const Budgets& b, const Footprint& f, const ModelFileStats* files);
// Ok, or a check-failed error (exit 3) naming each failed budget.
Status budget_status(const std::vector<BudgetResult>& results, const std::string& model);

}  // namespace effopt
