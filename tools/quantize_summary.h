// What `effopt quantize` (or any pipeline with the quantize pass) did, for
// people and for the report: the mode and types and why, the size gain, and
// the DequantizeLinear nodes ONNX Runtime is predicted to run per inference
// (docs/report.md, "quantization").
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "pass/manager.h"

namespace effopt::cli {

// The report's `quantization` block from the pipeline's runs of the quantize
// pass (nullopt when it did not run). `file_bytes_before` / `_after` are 0
// when unknown (standard input or output).
std::optional<nlohmann::json> quantization_summary(const std::vector<pass::PassRun>& runs, uint64_t file_bytes_before,
                                                   uint64_t file_bytes_after);
// One line for the log, from that block.
std::string quantization_line(const nlohmann::json& q);

}  // namespace effopt::cli
