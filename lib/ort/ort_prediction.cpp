// Replays effopt's encoding of ONNX Runtime 1.30's CPU graph transformers on
// a lightweight copy of the main graph (see ort_prediction.h for the list).
// The copy ("Sim", sim_graph.h) holds value/node records that rules rewrite in
// place; each surviving node remembers which input-model nodes it came from, so
// per-node fates fall out at the end. The rules live in one file per level
// (rules.h: rules_basic.cpp, rules_qdq.cpp + rules_extended.cpp,
// rules_nchwc.cpp); this file runs them and reads the results.
#include "ort/ort_prediction.h"

#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/constants.h"
#include "ort/rules.h"
#include "ort/sim_graph.h"

namespace effopt {

const char* ort_opt_level_name(OrtOptLevel l) {
  switch (l) {
    case OrtOptLevel::Basic: return "basic";
    case OrtOptLevel::Extended: return "extended";
    case OrtOptLevel::All: return "all";
  }
  return "?";
}

namespace {

using ort_sim::build_sim;
using ort_sim::run_level1;
using ort_sim::run_level2;
using ort_sim::run_nchwc;
using ort_sim::SNode;
using ort_sim::Sim;

bool integer_kernel_op(const SNode& n) {
  static const std::set<std::string> ops = {
      "QLinearConv", "QLinearMatMul", "MatMulInteger", "ConvInteger", "MatMulIntegerToFloat", "QLinearAdd",
      "QLinearMul", "QLinearAveragePool", "QLinearGlobalAveragePool", "QLinearConcat", "QLinearSigmoid",
      "QLinearLeakyRelu", "QLinearSoftmax", "QGemm", "DynamicQuantizeMatMul", "MatMulNBits", "QAttention",
      "DynamicQuantizeLSTM", "QLinearReduceMean", "QLinearWhere"};
  return ops.count(n.op) > 0;
}

std::string op_key(const SNode& n) { return n.domain.empty() ? n.op : n.domain + "." + n.op; }

}  // namespace

OrtPrediction predict_ort_optimization(const Model& model, const OrtPredictionOptions& opts) {
  OrtPrediction p;
  p.level = opts.level;
  p.nchwc_block_size = opts.nchwc_block_size;
  Sim s = build_sim(model);
  // ORT turns Constant nodes into initializers when it loads the graph.
  for (int n : s.order) {
    if (s.is(n, "Constant")) {
      for (int v : s.nodes[n].out) {
        if (v < 0) continue;
        s.vals[v].is_const = true;
        s.vals[v].tensor = constant_tensor(s.nodes[n].src->output(0));
      }
      s.kill(n, "folded", "Constant -> initializer");
    }
  }
  s.resort();
  run_level1(s);
  // InferenceSession::TransformGraph (inference_session.cc): EnsureUniqueDQForNodeUnit and the level-1
  // transformers run before partitioning, which inlines the functions the CPU provider has no kernel for;
  // so a DequantizeLinear read by a HardSwish is not copied for the HardSigmoid and Mul it becomes.
  ort_sim::inline_functions(s);
  s.resort();
  if (opts.level >= OrtOptLevel::Extended) {
    run_level2(s, opts);
    ort_sim::mark_not_predicted(s);
  }
  if (opts.level >= OrtOptLevel::All) {
    run_nchwc(s, opts.nchwc_block_size, opts.nchwc_conv_input_alignment);
  }
  s.resort();

  // Results.
  const Graph& g = *model.graph;
  std::vector<std::string> names;
  for (size_t i = 0; i < g.nodes().size(); ++i) names.push_back(s.nodes[i].name);
  p.nodes.resize(g.nodes().size());
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = *g.nodes()[i];
    p.nodes[i].node = names[i];
    p.nodes[i].op_type = is_onnx_domain(n.domain) ? n.op_type : n.domain + "." + n.op_type;
    p.nodes[i].fate = s.removed[i].fate;
    p.nodes[i].rule = s.removed[i].rule;
  }
  for (int n : s.order) {
    const SNode& nd = s.nodes[n];
    if (!nd.alive) continue;
    ++p.node_count;
    p.op_counts[op_key(nd)]++;
    bool integer = integer_kernel_op(nd);
    bool nchwc = nd.domain == "com.microsoft.nchwc";
    if (integer) ++p.integer_kernel_nodes;
    if (nchwc) ++p.nchwc_nodes;
    if (nd.inserted) ++p.inserted_nodes;
    OrtPrediction::FinalNode fn;
    fn.name = nd.primary >= 0 ? names[nd.primary] : nd.name;
    fn.op_type = op_key(nd);
    for (int o : nd.origins) {
      fn.from.push_back(names[o]);
      PredictedNodeFate& f = p.nodes[o];
      f.integer_kernel = integer;
      f.nchwc = nchwc;
      f.rule = nd.rule;
      if (o == nd.primary) {
        f.fate = op_key(nd) == f.op_type ? "kept" : "rewritten";
        if (f.fate == "kept") f.rule.clear();
      } else {
        f.fate = "fused";
      }
      if (f.fate != "kept") {
        f.into = fn.name;
        f.into_op = fn.op_type;
      }
    }
    p.final_nodes.push_back(std::move(fn));
  }
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    if (s.not_predicted[i].empty()) continue;
    p.nodes[i].not_predicted = s.not_predicted[i];
    ++p.not_predicted_nodes;
  }
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    int v = s.first_output[i];
    int prod = v >= 0 ? s.vals[v].producer : -1;
    if (prod >= 0 && s.nodes[prod].alive) p.nodes[i].output_producer = op_key(s.nodes[prod]);
  }
  for (auto& [rule, c] : s.hits) p.rule_applications[rule] = c;
  return p;
}

OrtPredictionCheck check_prediction(const OrtPrediction& p, const Model& model, const Model& ort_optimized) {
  OrtPredictionCheck c;
  std::map<std::string, uint64_t> actual;
  std::unordered_map<std::string, std::string> producer;
  for (auto& n : ort_optimized.graph->nodes()) {
    std::string k = is_onnx_domain(n->domain) ? n->op_type : n->domain + "." + n->op_type;
    actual[k]++;
    ++c.actual_nodes;
    for (const Value* v : n->outputs())
      if (v) producer[v->name()] = k;
  }
  c.predicted_nodes = p.node_count;
  std::set<std::string> ops;
  for (auto& [k, v] : p.op_counts) ops.insert(k);
  for (auto& [k, v] : actual) ops.insert(k);
  for (const std::string& k : ops) {
    uint64_t a = p.op_counts.count(k) ? p.op_counts.at(k) : 0, b = actual.count(k) ? actual.at(k) : 0;
    if (a != b) c.op_differences[k] = {a, b};
  }
  const auto& nodes = model.graph->nodes();
  for (size_t i = 0; i < nodes.size() && i < p.nodes.size(); ++i) {
    const Value* v = nodes[i]->output(0);
    if (!v) continue;
    ++c.fates_compared;
    auto it = producer.find(v->name());
    std::string got = it == producer.end() ? "" : it->second;
    if (got == p.nodes[i].output_producer) {
      ++c.fates_matching;
    } else {
      c.fate_mismatches.push_back(p.nodes[i].node + " (" + p.nodes[i].op_type + "): predicted " +
                                  (p.nodes[i].output_producer.empty() ? "-" : p.nodes[i].output_producer) + ", ORT " +
                                  (got.empty() ? "-" : got));
    }
  }
  return c;
}

nlohmann::json to_json(const OrtPrediction& p, bool per_node) {
  nlohmann::json j;
  j["prediction"] = true;
  j["runtime"] = p.runtime;
  j["runtime_version"] = p.runtime_version;
  j["device"] = p.device;
  j["optimization_level"] = ort_opt_level_name(p.level);
  if (p.level == OrtOptLevel::All) j["nchwc_block_size"] = p.nchwc_block_size;
  j["nodes"] = p.node_count;
  j["op_counts"] = p.op_counts;
  j["integer_kernel_nodes"] = p.integer_kernel_nodes;
  j["nchwc_nodes"] = p.nchwc_nodes;
  j["inserted_nodes"] = p.inserted_nodes;
  j["rule_applications"] = p.rule_applications;
  j["not_predicted_nodes"] = p.not_predicted_nodes;
  std::map<std::string, uint64_t> fates;
  for (const auto& f : p.nodes) fates[f.not_predicted.empty() ? f.fate : "not predicted"]++;
  j["fate_counts"] = fates;
  if (per_node) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& f : p.nodes) {
      nlohmann::json e = {{"node", f.node}, {"op_type", f.op_type}, {"fate", f.fate}};
      if (!f.not_predicted.empty()) {
        // What the encoded rules alone predict stays visible as `predicted_fate`.
        e["fate"] = "not predicted";
        e["unencoded_rule"] = f.not_predicted;
        e["predicted_fate"] = f.fate;
      }
      if (!f.into.empty()) {
        e["into"] = f.into;
        e["into_op"] = f.into_op;
      }
      if (!f.rule.empty()) e["rule"] = f.rule;
      if (f.integer_kernel) e["integer_kernel"] = true;
      if (f.nchwc) e["nchwc"] = true;
      arr.push_back(std::move(e));
    }
    j["per_node"] = arr;
  }
  return j;
}

IntegerKernelMacs integer_kernel_macs(const OrtPrediction& p, const Model& model,
                                      const std::vector<std::optional<uint64_t>>& node_macs) {
  // Ops whose QDQ node units are encoded (rules_qdq.cpp): their fate is predicted either way.
  static const std::set<std::string> encoded = {"Conv", "MatMul", "Gemm"};
  IntegerKernelMacs r;
  const auto& nodes = model.graph->nodes();
  for (size_t i = 0; i < nodes.size() && i < p.nodes.size() && i < node_macs.size(); ++i) {
    const Node& n = *nodes[i];
    if (!node_macs[i]) {
      bool mac_op = n.op_type == "Conv" || n.op_type == "ConvTranspose" || n.op_type == "MatMul" || n.op_type == "Gemm";
      r.macs_unknown |= mac_op;
      continue;
    }
    uint64_t macs = *node_macs[i];
    r.total_macs += macs;
    if (p.nodes[i].integer_kernel) {
      r.integer_macs += macs;
      continue;
    }
    bool reads_dq = false;
    for (const Value* v : n.inputs())
      if (v && v->producer() && v->producer()->op_type == "DequantizeLinear" && is_onnx_domain(v->producer()->domain)) {
        const Value* q = v->producer()->input(0);
        bool weight = q && (q->initializer || (q->producer() && q->producer()->op_type == "Constant"));
        reads_dq |= !weight;  // an activation DequantizeLinear: a QDQ node unit
      }
    if (reads_dq && macs > 0 && is_onnx_domain(n.domain) && !encoded.count(n.op_type)) {
      r.not_predicted_macs += macs;
      r.not_predicted.push_back(p.nodes[i].node + " (" + p.nodes[i].op_type + ")");
    }
  }
  return r;
}

namespace {

void add_integer_kernel_macs(nlohmann::json& j, const IntegerKernelMacs& m) {
  j["integer_kernel_macs"] = m.integer_macs;
  uint64_t predicted = m.total_macs - m.not_predicted_macs;
  if (predicted > 0 && !m.macs_unknown)
    j["integer_kernel_mac_fraction"] = static_cast<double>(m.integer_macs) / static_cast<double>(predicted);
  else
    j["integer_kernel_mac_fraction"] = nullptr;
  if (!m.not_predicted.empty()) {
    j["integer_kernel_not_predicted"] = {
        {"macs", m.not_predicted_macs},
        {"nodes", m.not_predicted},
        {"note", "not predicted: no rule for these ops' QDQ fusion is encoded; left out of the fraction"}};
  }
}

}  // namespace

nlohmann::json runtime_prediction_block(const Model& model, bool per_node,
                                        const std::vector<std::optional<uint64_t>>* node_macs) {
  OrtPredictionOptions o;
  o.level = OrtOptLevel::All;
  OrtPrediction all = predict_ort_optimization(model, o);
  o.level = OrtOptLevel::Extended;
  OrtPrediction ext = predict_ort_optimization(model, o);
  nlohmann::json j = to_json(all, per_node);
  j["note"] =
      "predicted from effopt's encoding of onnxruntime 1.30's CPU graph transformers (not measured); level 'all' "
      "includes the NCHWc layout rewrite as ORT does it on an x86 CPU with AVX-512 (MLAS block size 16; other CPUs "
      "use other blocks or none, so level 'all' applies to AVX-512 hosts; level 'extended' does not depend on it)";
  nlohmann::json e = to_json(ext, false);
  e.erase("prediction");
  e.erase("runtime");
  e.erase("runtime_version");
  e.erase("device");
  if (node_macs) {
    add_integer_kernel_macs(j, integer_kernel_macs(all, model, *node_macs));
    add_integer_kernel_macs(e, integer_kernel_macs(ext, model, *node_macs));
  }
  j["extended"] = e;
  return j;
}

}  // namespace effopt
