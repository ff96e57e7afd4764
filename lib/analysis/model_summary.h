// What `effopt inspect` shows: versions, signature, op counts (subgraphs and
// functions included), stored parameters and weight bytes by element type,
// and the ops ONNX Runtime 1.30's CPU provider lacks.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ir/ir.h"

namespace effopt {

struct ModelSummary {
  int64_t ir_version = 0;
  std::vector<OpsetImport> opsets;
  std::string producer;
  struct Port { std::string name; std::string type; };
  std::vector<Port> inputs, outputs;
  size_t initializer_inputs = 0;  // IR < 4 style
  std::map<std::string, uint64_t> op_counts;  // "Conv", "com.microsoft.FusedConv"
  uint64_t node_count = 0, subgraph_count = 0, function_count = 0;
  uint64_t parameter_count = 0;  // elements of every stored constant tensor
  uint64_t tensor_count = 0;
  std::map<std::string, uint64_t> weight_bytes_by_type;
  uint64_t weight_bytes = 0;
  struct Unsupported { std::string op; int64_t opset; uint64_t count; std::string first_node; };
  std::vector<Unsupported> ort_unsupported;
};

ModelSummary summarize(const Model& model);
nlohmann::json to_json(const ModelSummary& s);
std::string to_text(const ModelSummary& s);

}  // namespace effopt
