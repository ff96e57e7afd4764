#include "analysis/model_summary.h"

#include <sstream>

#include "ir/constants.h"
#include "ort/ort_ops.h"

namespace effopt {

namespace {

std::string op_key(const Node& n) { return is_onnx_domain(n.domain) ? n.op_type : n.domain + "." + n.op_type; }

int64_t opset_for(const std::vector<OpsetImport>& opsets, const std::string& domain) {
  for (auto& o : opsets)
    if (is_onnx_domain(domain) ? is_onnx_domain(o.domain) : o.domain == domain) return o.version;
  return 0;
}

void count_ops(const Graph& g, const std::vector<OpsetImport>& opsets, ModelSummary& s,
               std::map<std::string, ModelSummary::Unsupported>& unsupported) {
  for (auto& n : g.nodes()) {
    ++s.node_count;
    std::string key = op_key(*n);
    ++s.op_counts[key];
    int64_t v = opset_for(opsets, n->domain);
    if (!ort_cpu_supports(n->domain, n->op_type, v)) {
      auto& u = unsupported[key];
      if (u.count++ == 0) {
        u.op = key;
        u.opset = v;
        u.first_node = n->name.empty() ? "(unnamed " + n->op_type + ")" : n->name;
      }
    }
    for (Graph* sg : n->subgraphs()) {
      ++s.subgraph_count;
      count_ops(*sg, opsets, s, unsupported);
    }
  }
}

}  // namespace

ModelSummary summarize(const Model& m) {
  ModelSummary s;
  s.ir_version = m.ir_version;
  s.opsets = m.opset_imports;
  s.producer = m.producer_name + (m.producer_version.empty() ? "" : " " + m.producer_version);
  for (Value* v : m.graph->inputs()) {
    if (v->initializer || v->sparse_initializer) { ++s.initializer_inputs; continue; }
    s.inputs.push_back({v->name(), v->type.to_string()});
  }
  for (Value* v : m.graph->outputs()) s.outputs.push_back({v->name(), v->type.to_string()});
  std::map<std::string, ModelSummary::Unsupported> unsupported;
  count_ops(*m.graph, m.opset_imports, s, unsupported);
  for (auto& f : m.functions) {
    ++s.function_count;
    // Calls of local functions are not ORT kernels: drop them from the list.
    unsupported.erase(f.domain + "." + f.name);
    count_ops(*f.body, f.opset_imports.empty() ? m.opset_imports : f.opset_imports, s, unsupported);
  }
  for (auto& f : m.functions) unsupported.erase(f.domain + "." + f.name);
  for (auto& [k, u] : unsupported) s.ort_unsupported.push_back(u);
  for_each_stored_tensor(m, [&](const Tensor& t, ConstantHolder) {
    ++s.tensor_count;
    uint64_t n = t.element_count().value_or(0);
    s.parameter_count += n;
    uint64_t bytes = t.data_type == DataType::String ? 0 : t.byte_size();
    if (t.data_type == DataType::String)
      for (auto& str : t.strings) bytes += str.size();
    s.weight_bytes_by_type[data_type_name(t.data_type)] += bytes;
    s.weight_bytes += bytes;
  });
  return s;
}

nlohmann::json to_json(const ModelSummary& s) {
  using nlohmann::json;
  json j;
  j["ir_version"] = s.ir_version;
  json ops = json::array();
  for (auto& o : s.opsets) ops.push_back({{"domain", o.domain.empty() ? "ai.onnx" : o.domain}, {"version", o.version}});
  j["opset_imports"] = ops;
  j["producer"] = s.producer;
  auto ports = [](const std::vector<ModelSummary::Port>& ps) {
    json a = json::array();
    for (auto& p : ps) a.push_back({{"name", p.name}, {"type", p.type}});
    return a;
  };
  j["inputs"] = ports(s.inputs);
  j["outputs"] = ports(s.outputs);
  j["initializer_inputs"] = s.initializer_inputs;
  j["nodes"] = s.node_count;
  j["subgraphs"] = s.subgraph_count;
  j["functions"] = s.function_count;
  j["op_counts"] = s.op_counts;
  j["parameters"] = s.parameter_count;
  j["stored_tensors"] = s.tensor_count;
  j["weight_bytes"] = s.weight_bytes;
  j["weight_bytes_by_type"] = s.weight_bytes_by_type;
  json un = json::array();
  for (auto& u : s.ort_unsupported)
    un.push_back({{"op", u.op}, {"opset", u.opset}, {"count", u.count}, {"first_node", u.first_node}});
  j["onnxruntime_unsupported_ops"] = un;
  return j;
}

std::string to_text(const ModelSummary& s) {
  std::ostringstream os;
  os << "IR version      " << s.ir_version << "\n";
  os << "opsets          ";
  for (size_t i = 0; i < s.opsets.size(); ++i)
    os << (i ? ", " : "") << (s.opsets[i].domain.empty() ? "ai.onnx" : s.opsets[i].domain) << " " << s.opsets[i].version;
  os << "\n";
  if (!s.producer.empty()) os << "producer        " << s.producer << "\n";
  os << "inputs\n";
  for (auto& p : s.inputs) os << "  " << p.name << "  " << p.type << "\n";
  if (s.initializer_inputs)
    os << "  (+" << s.initializer_inputs << " initializers also listed as inputs, IR < 4 style)\n";
  os << "outputs\n";
  for (auto& p : s.outputs) os << "  " << p.name << "  " << p.type << "\n";
  os << "nodes           " << s.node_count;
  if (s.subgraph_count) os << " (" << s.subgraph_count << " subgraphs)";
  if (s.function_count) os << " (" << s.function_count << " local functions)";
  os << "\nops\n";
  for (auto& [op, n] : s.op_counts) os << "  " << op << "  " << n << "\n";
  os << "parameters      " << s.parameter_count << " in " << s.tensor_count << " stored tensors\n";
  os << "weight bytes    " << s.weight_bytes << "\n";
  for (auto& [t, b] : s.weight_bytes_by_type) os << "  " << t << "  " << b << "\n";
  if (s.ort_unsupported.empty()) {
    os << "ONNX Runtime 1.30 (CPU) implements every op in this model\n";
  } else {
    os << "not implemented by ONNX Runtime 1.30 (CPU):\n";
    for (auto& u : s.ort_unsupported)
      os << "  " << u.op << " (opset " << u.opset << ") x" << u.count << ", first at node " << u.first_node << "\n";
  }
  return os.str();
}

}  // namespace effopt
