// What `effopt prune` (or any pipeline with the prune or sparse-storage pass)
// did, for people and for the report: per layer the target and reached
// sparsity, the sparsity over the prunable tensors, what sparse storage saved,
// and where the gain is (docs/report.md, "pruning").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pass/manager.h"

namespace effopt::cli {

// The report's `pruning` block from the pipeline's last run of the prune pass
// and its last run of sparse-storage (nullopt when neither ran).
std::optional<nlohmann::json> pruning_summary(const std::vector<pass::PassRun>& runs);
// One line for the log, from that block.
std::string pruning_line(const nlohmann::json& p);

}  // namespace effopt::cli
