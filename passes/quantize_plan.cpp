// quantize: the precision plan (passes/quantize.h): which constants become
// what, along which axis, and why.
#include <algorithm>
#include <cassert>
#include <functional>
#include <map>
#include <numeric>

#include "passes/pass_util.h"
#include "passes/quantize.h"

namespace effopt::passes::quant {

namespace {

using util::node_label;

// Ops whose inputs or outputs are already quantized: what feeds them is left alone.
bool is_quantized_op(const Node& n) {
  static const std::set<std::string> onnx_ops = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
                                                 "QLinearConv",    "QLinearMatMul",    "MatMulInteger",
                                                 "ConvInteger"};
  static const std::set<std::string> ms_ops = {
      "MatMulNBits",        "GatherBlockQuantized", "QGemm",          "QLinearAdd",    "QLinearMul",
      "QLinearConcat",      "QLinearAveragePool",   "QLinearGlobalAveragePool", "QLinearSigmoid",
      "QLinearLeakyRelu",   "QLinearSoftmax",       "DynamicQuantizeMatMul",    "MatMulIntegerToFloat",
      "QAttention",         "DynamicQuantizeLSTM",  "QuantizeLinear", "DequantizeLinear", "QEmbedLayerNormalization",
      "MatMulBnb4",         "MatMulFpQ4",           "QOrderedMatMul"};
  if (is_onnx_domain(n.domain)) return onnx_ops.count(n.op_type) > 0;
  return n.domain == "com.microsoft" && ms_ops.count(n.op_type) > 0;
}

// Inputs that an op needs in float whatever the options say (a scale, a
// shape, a limit), with the reason; nullptr when the slot is data.
const char* needs_float(const Node& n, size_t input) {
  struct Slot {
    const char* op;
    std::vector<size_t> inputs;  // empty = every input
    const char* why;
  };
  static const std::vector<Slot> table = {
      {"Resize", {1, 2, 3}, "Resize's roi and scales"},
      {"Upsample", {1}, "Upsample's scales"},
      {"Range", {}, "Range's start, limit and delta"},
      {"Pad", {1, 2, 3}, "Pad's pads and constant value"},
      {"Clip", {1, 2}, "Clip's bounds"},
      {"TopK", {1}, "TopK's k"},
      {"NonMaxSuppression", {2, 3, 4}, "NonMaxSuppression's thresholds"},
      {"RoiAlign", {1, 2}, "RoiAlign's rois"},
      {"CumSum", {1}, "CumSum's axis"},
      {"Slice", {1, 2, 3, 4}, "Slice's starts, ends, axes and steps"},
      {"Reshape", {1}, "Reshape's shape"},
      {"Expand", {1}, "Expand's shape"},
      {"Tile", {1}, "Tile's repeats"},
      {"ConstantOfShape", {}, "ConstantOfShape's shape"},
      {"OneHot", {1, 2}, "OneHot's depth and values"},
      {"BatchNormalization", {1, 2, 3, 4}, "BatchNormalization's statistics"},
      {"InstanceNormalization", {1, 2}, "InstanceNormalization's scale and bias"},
      {"LayerNormalization", {1, 2}, "LayerNormalization's scale and bias"},
      {"LSTM", {3, 5, 6, 7}, "LSTM's bias, initial state and peepholes"},
      {"GRU", {3, 5}, "GRU's bias and initial state"},
      {"RNN", {3, 5}, "RNN's bias and initial state"},
      {"Gemm", {2}, "Gemm's bias C"},
  };
  for (const Slot& s : table)
    if (n.op_type == s.op &&
        (s.inputs.empty() || std::find(s.inputs.begin(), s.inputs.end(), input) != s.inputs.end()))
      return s.why;
  return nullptr;
}

// Output dims of a Reshape/Flatten/Squeeze/Unsqueeze of a tensor with dims
// `in`; nullopt when they cannot be told from constants.
std::optional<std::vector<int64_t>> reshaped_dims(const Node& n, const std::vector<int64_t>& in, int64_t opset) {
  int64_t total = 1;
  for (int64_t d : in) total *= d;
  int64_t rank = static_cast<int64_t>(in.size());
  if (n.op_type == "Reshape") {
    auto shape = util::constant_ints(n.input(1));
    if (!shape) return std::nullopt;
    bool allowzero = n.attr_int("allowzero", 0) != 0;
    std::vector<int64_t> out;
    int64_t known = 1, infer = -1;
    for (size_t i = 0; i < shape->size(); ++i) {
      int64_t s = (*shape)[i];
      if (s == 0 && !allowzero) {
        if (static_cast<int64_t>(i) >= rank) return std::nullopt;
        s = in[i];
      }
      if (s == -1) {
        if (infer >= 0) return std::nullopt;
        infer = static_cast<int64_t>(i);
        out.push_back(-1);
        continue;
      }
      if (s < 0) return std::nullopt;
      known *= s;
      out.push_back(s);
    }
    if (infer >= 0) {
      if (known == 0 || total % known) return std::nullopt;
      out[static_cast<size_t>(infer)] = total / known;
    }
    return out;
  }
  if (n.op_type == "Flatten") {
    int64_t axis = n.attr_int("axis", 1);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis > rank) return std::nullopt;
    int64_t a = 1;
    for (int64_t i = 0; i < axis; ++i) a *= in[static_cast<size_t>(i)];
    return std::vector<int64_t>{a, a ? total / a : 0};
  }
  if (n.op_type == "Squeeze") {
    auto f = util::node_axes(&n, opset, 13, 1);
    if (!f.ok) return std::nullopt;
    std::vector<bool> drop(in.size(), false);
    if (!f.axes) {
      for (size_t i = 0; i < in.size(); ++i) drop[i] = in[i] == 1;
    } else {
      for (int64_t a : *f.axes) {
        if (a < 0) a += rank;
        if (a < 0 || a >= rank || in[static_cast<size_t>(a)] != 1) return std::nullopt;
        drop[static_cast<size_t>(a)] = true;
      }
    }
    std::vector<int64_t> out;
    for (size_t i = 0; i < in.size(); ++i)
      if (!drop[i]) out.push_back(in[i]);
    return out;
  }
  if (n.op_type == "Unsqueeze") {
    auto f = util::node_axes(&n, opset, 13, 1);
    if (!f.ok || !f.axes) return std::nullopt;
    int64_t out_rank = rank + static_cast<int64_t>(f.axes->size());
    std::vector<bool> added(static_cast<size_t>(out_rank), false);
    for (int64_t a : *f.axes) {
      if (a < 0) a += out_rank;
      if (a < 0 || a >= out_rank || added[static_cast<size_t>(a)]) return std::nullopt;
      added[static_cast<size_t>(a)] = true;
    }
    std::vector<int64_t> out;
    size_t k = 0;
    for (int64_t i = 0; i < out_rank; ++i) out.push_back(added[static_cast<size_t>(i)] ? 1 : in[k++]);
    return out;
  }
  return std::nullopt;
}

// Which stored axis each axis of a reshaped tensor stands for: an output axis
// maps to an input axis with the same size and the same number of elements
// before it (so one scale per index of either is the same grouping).
std::vector<int64_t> reshape_map(const std::vector<int64_t>& in, const std::vector<int64_t>& out,
                                 const std::vector<int64_t>& map) {
  std::vector<int64_t> res(out.size(), -1);
  int64_t pin = 1;
  std::vector<int64_t> prefix_in(in.size());
  for (size_t i = 0; i < in.size(); ++i) prefix_in[i] = pin, pin *= in[i];
  int64_t pout = 1;
  for (size_t j = 0; j < out.size(); ++j) {
    if (out[j] > 1)
      for (size_t i = 0; i < in.size(); ++i)
        if (in[i] == out[j] && prefix_in[i] == pout) res[j] = map[i];
    pout *= out[j];
  }
  return res;
}

struct Walker {
  const Model& m;
  const Options& o;
  std::vector<ConstantUse>& out;

  ConstantUse use_of(Node* n, size_t input, const std::vector<int64_t>& map, const std::vector<int64_t>& dims,
                     bool direct) {
    ConstantUse u;
    u.node = n;
    u.input = input;
    u.direct = direct;
    auto at = [&](int64_t axis) -> std::optional<int64_t> {
      if (axis < 0 || axis >= static_cast<int64_t>(map.size()) || map[static_cast<size_t>(axis)] < 0)
        return std::nullopt;
      return map[static_cast<size_t>(axis)];
    };
    if (!is_onnx_domain(n->domain)) {
      u.role = ConstantUse::Role::NeedsFloat;
      u.why = "read by " + n->domain + "::" + n->op_type + " " + node_label(*n) + ", an op effopt does not know";
      return u;
    }
    if (is_quantized_op(*n)) {
      u.role = ConstantUse::Role::NeedsFloat;
      u.why = "read by " + node_label(*n) + ", which is quantized already";
      return u;
    }
    if (const char* why = needs_float(*n, input)) {
      u.role = ConstantUse::Role::NeedsFloat;
      u.why = std::string(why) + " (" + node_label(*n) + ") stay float";
      return u;
    }
    // The options and overrides that leave this node float.
    if (!o.op_types.count(n->op_type)) {
      u.role = ConstantUse::Role::Excluded;
      u.why = "read by " + node_label(*n) + ": " + n->op_type + " is not in op-types";
      return u;
    }
    if (o.exclude_ops.count(n->op_type)) {
      u.role = ConstantUse::Role::Excluded;
      u.why = "read by " + node_label(*n) + ": exclude-op " + n->op_type;
      return u;
    }
    if (o.exclude_node && std::regex_match(n->name, *o.exclude_node)) {
      u.role = ConstantUse::Role::Excluded;
      u.why = "read by " + node_label(*n) + ", which exclude-node matches";
      return u;
    }
    auto ov_op = o.overrides.op_types.find(n->op_type);
    auto ov_node = o.overrides.nodes.find(n->name);
    if ((ov_op != o.overrides.op_types.end() && ov_op->second.exclude.value_or(false)) ||
        (!n->name.empty() && ov_node != o.overrides.nodes.end() && ov_node->second.exclude.value_or(false))) {
      u.role = ConstantUse::Role::Excluded;
      u.why = "read by " + node_label(*n) + ", excluded by the overrides file";
      return u;
    }
    const std::string& op = n->op_type;
    int64_t r = static_cast<int64_t>(dims.size());
    u.role = ConstantUse::Role::Data;
    if (op == "Conv" && input == 1) {
      u.role = ConstantUse::Role::Weight;
      u.channel_axis = at(0);
    } else if (op == "ConvTranspose" && input == 1) {
      u.role = ConstantUse::Role::Weight;
      u.channel_axis = at(1);
    } else if (op == "Gemm" && input <= 1 && r == 2) {
      u.role = ConstantUse::Role::Weight;
      bool t = n->attr_int(input == 0 ? "transA" : "transB", 0) != 0;
      if (input == 1) {
        u.channel_axis = at(t ? 0 : 1);
        u.k_axis = at(t ? 1 : 0);
      } else {
        u.channel_axis = at(t ? 1 : 0);
      }
    } else if (op == "MatMul" && r >= 2 && input <= 1) {
      u.role = ConstantUse::Role::Weight;
      if (input == 1) {
        u.channel_axis = at(r - 1);
        u.k_axis = at(r - 2);
      } else {
        u.channel_axis = at(r - 2);
      }
    } else if ((op == "LSTM" || op == "GRU" || op == "RNN") && (input == 1 || input == 2)) {
      u.role = ConstantUse::Role::Weight;
      u.channel_axis = at(1);
    } else if (op == "Gather" && input == 0 && direct) {
      u.role = ConstantUse::Role::Embedding;
      int64_t axis = n->attr_int("axis", 0);
      if (axis < 0) axis += r;
      u.channel_axis = at(axis);
    }
    return u;
  }

  void walk(Value* v, const std::vector<int64_t>& map, const std::vector<int64_t>& dims, bool direct, int depth) {
    if (v->is_output_of_any_graph()) {
      ConstantUse u;
      u.role = ConstantUse::Role::NeedsFloat;
      u.why = "it is a graph output ('" + v->name() + "')";
      out.push_back(u);
    }
    for (const Use& use : v->uses()) {
      Node* n = use.node;
      bool onnx = is_onnx_domain(n->domain);
      if (onnx && n->op_type == "Identity" && depth < 64 && n->output(0)) {
        walk(n->output(0), map, dims, direct, depth + 1);
        continue;
      }
      if (onnx && use.index == 0 && n->output(0) && depth < 64) {
        if (n->op_type == "Transpose") {
          std::vector<int64_t> perm = n->attr_ints("perm");
          if (perm.empty())
            for (size_t i = dims.size(); i-- > 0;) perm.push_back(static_cast<int64_t>(i));
          if (perm.size() == dims.size()) {
            std::vector<int64_t> m2, d2;
            bool ok = true;
            for (int64_t p : perm) {
              if (p < 0 || p >= static_cast<int64_t>(dims.size())) ok = false;
              else m2.push_back(map[static_cast<size_t>(p)]), d2.push_back(dims[static_cast<size_t>(p)]);
            }
            if (ok) {
              walk(n->output(0), m2, d2, false, depth + 1);
              continue;
            }
          }
        } else if (n->op_type == "Reshape" || n->op_type == "Flatten" || n->op_type == "Squeeze" ||
                   n->op_type == "Unsqueeze") {
          if (auto d2 = reshaped_dims(*n, dims, m.opset())) {
            walk(n->output(0), reshape_map(dims, *d2, map), *d2, false, depth + 1);
            continue;
          }
        }
      }
      out.push_back(use_of(n, use.index, map, dims, direct));
    }
  }
};

// The settings of one tensor: the options, then op-type, node and tensor
// overrides, each overriding the one before.
struct Settings {
  int bits;
  bool per_channel, symmetric;
  Mode mode;
  std::vector<std::string> sources;  // which overrides applied, for the reason
  bool bits_overridden = false;
};

void apply_override(Settings& s, const Override& ov, const std::string& source) {
  bool any = false;
  if (ov.bits) s.bits = *ov.bits, any = true, s.bits_overridden = true;
  if (ov.per_channel) s.per_channel = *ov.per_channel, any = true;
  if (ov.symmetric) s.symmetric = *ov.symmetric, any = true;
  if (ov.mode) s.mode = *ov.mode, any = true;
  if (any) s.sources.push_back(source);
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

struct Candidate {
  Graph* graph;
  Value* value;
  TensorPtr tensor;
};

void collect_candidates(Graph& g, std::vector<Candidate>& out) {
  for (Value* v : g.initializers()) {
    if (!v->initializer || v->is_graph_input()) continue;
    out.push_back({&g, v, v->initializer});
  }
  for (const auto& n : g.nodes()) {
    if (util::is_op(n.get(), "Constant") && n->output(0)) {
      const Attribute* a = n->attr("value");
      if (a && a->type == AttrType::Tensor && a->t && a->ref_attr_name.empty()) out.push_back({&g, n->output(0), a->t});
    }
    for (Graph* sg : n->subgraphs()) collect_candidates(*sg, out);
  }
}

bool is_quantizable_float(DataType t) {
  return t == DataType::Float || t == DataType::Float16 || t == DataType::BFloat16;
}

}  // namespace

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::Weight: return "weight";
    case Mode::Dynamic: return "dynamic";
    case Mode::Static: return "static";
    case Mode::Fp16: return "fp16";
  }
  return "?";
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::Float: return "float";
    case Precision::Int8: return "int8";
    case Precision::UInt8: return "uint8";
    case Precision::Int4: return "int4";
    case Precision::UInt4: return "uint4";
  }
  return "?";
}

DataType precision_type(Precision p) {
  switch (p) {
    case Precision::Int8: return DataType::Int8;
    case Precision::UInt8: return DataType::UInt8;
    case Precision::Int4: return DataType::Int4;
    case Precision::UInt4: return DataType::UInt4;
    case Precision::Float: break;
  }
  return DataType::Undefined;
}

int precision_bits(Precision p) {
  switch (p) {
    case Precision::Int8: case Precision::UInt8: return 8;
    case Precision::Int4: case Precision::UInt4: return 4;
    case Precision::Float: break;
  }
  return 0;
}

std::string granularity_text(const Granularity& g) {
  switch (g.kind) {
    case Granularity::Kind::PerTensor: return "per-tensor";
    case Granularity::Kind::PerAxis: return "per-channel along axis " + std::to_string(g.axis);
    case Granularity::Kind::Blocked:
      return "blocks of " + std::to_string(g.block_size) + " along axis " + std::to_string(g.axis);
  }
  return "?";
}

std::string scope_of(const Graph& g) {
  const Graph* parent = g.parent();
  const Node* owner = g.owner_node();
  if (!parent || !owner) return "";
  std::vector<Graph*> subs = owner->subgraphs();
  size_t k = static_cast<size_t>(std::find(subs.begin(), subs.end(), &g) - subs.begin());
  std::string up = scope_of(*parent);
  return up + (up.empty() ? "" : "/") + std::to_string(parent->index_of(owner)) + "." + std::to_string(k);
}

Graph* graph_at(Model& m, const std::string& scope) {
  Graph* g = m.graph.get();
  size_t start = 0;
  while (g && start < scope.size()) {
    size_t end = std::min(scope.find('/', start), scope.size());
    std::string step = scope.substr(start, end - start);
    size_t dot = step.find('.');
    if (dot == std::string::npos) return nullptr;
    size_t ni = std::stoul(step.substr(0, dot)), si = std::stoul(step.substr(dot + 1));
    if (ni >= g->nodes().size()) return nullptr;
    std::vector<Graph*> subs = g->nodes()[ni]->subgraphs();
    g = si < subs.size() ? subs[si] : nullptr;
    start = end + 1;
  }
  return g;
}

std::vector<ConstantUse> constant_uses(const Model& m, Value* v, const std::vector<int64_t>& dims, const Options& o) {
  std::vector<ConstantUse> out;
  std::vector<int64_t> map(dims.size());
  std::iota(map.begin(), map.end(), 0);
  Walker w{m, o, out};
  w.walk(v, map, dims, true, 0);
  return out;
}

Expected<PrecisionPlan> make_plan(Model& m, const Options& o, int64_t opset_cap) {
  PrecisionPlan plan;
  plan.mode = o.mode;
  int64_t opset = m.opset();
  plan.opset = opset;
  std::vector<Candidate> cands;
  collect_candidates(*m.graph, cands);
  size_t in_functions = 0;
  for (const Function& f : m.functions)
    if (f.body)
      for (const auto& n : f.body->nodes())
        if (util::is_op(n.get(), "Constant")) ++in_functions;
  if (in_functions)
    plan.notes.push_back(std::to_string(in_functions) + " constants inside local functions stay float");
  std::set<std::string> fallbacks;
  std::set<std::string> bn_notes;
  int64_t need = 0;  // opset the plan needs (0: none)

  for (const Candidate& c : cands) {
    const Tensor& t = *c.tensor;
    if (!is_quantizable_float(t.data_type)) continue;
    auto count = t.element_count();
    if (!count || *count == 0) continue;
    TensorPlan tp;
    tp.scope = scope_of(*c.graph);
    tp.name = c.value->name();
    tp.dims = t.dims;
    tp.float_type = t.data_type;
    tp.elements = *count;
    tp.symmetric = o.symmetric;
    tp.reduce_range = o.reduce_range;
    auto ov_tensor = o.overrides.tensors.find(tp.name);
    bool forced = ov_tensor != o.overrides.tensors.end() && !ov_tensor->second.exclude.value_or(false);
    auto keep_float = [&](std::string why) {
      tp.precision = Precision::Float;
      tp.reason = std::move(why);
      plan.tensors.push_back(tp);
    };
    if (ov_tensor != o.overrides.tensors.end() && ov_tensor->second.exclude.value_or(false)) {
      keep_float("excluded by the overrides file");
      continue;
    }
    if (!forced && t.dims.size() < 2) continue;  // 1-D tensors and scalars stay float, unlisted
    if (!forced && *count < static_cast<uint64_t>(o.min_size)) continue;
    std::vector<ConstantUse> uses = constant_uses(m, c.value, t.dims, o);
    if (uses.empty()) continue;
    const ConstantUse* blocker = nullptr;
    for (const ConstantUse& u : uses)
      if (u.role == ConstantUse::Role::NeedsFloat || u.role == ConstantUse::Role::Excluded) {
        blocker = &u;
        break;
      }
    if (blocker) {
      keep_float(blocker->why);
      continue;
    }
    if (!all_finite(t)) {
      keep_float("it holds inf or NaN");
      continue;
    }
    // Settings: options, then op-type, node and tensor overrides.
    Settings s{o.bits, o.per_channel, o.symmetric, o.mode, {}, false};
    for (const ConstantUse& u : uses) {
      auto it = o.overrides.op_types.find(u.node->op_type);
      if (it != o.overrides.op_types.end()) apply_override(s, it->second, "op type " + u.node->op_type);
    }
    for (const ConstantUse& u : uses) {
      auto it = o.overrides.nodes.find(u.node->name);
      if (!u.node->name.empty() && it != o.overrides.nodes.end())
        apply_override(s, it->second, "node '" + u.node->name + "'");
    }
    if (ov_tensor != o.overrides.tensors.end()) apply_override(s, ov_tensor->second, "tensor '" + tp.name + "'");
    tp.symmetric = s.symmetric;
    std::vector<std::string> why;
    if (!s.sources.empty()) why.push_back("overrides for " + join(s.sources));

    // Which node types read it, for the reason.
    std::vector<std::string> readers;
    for (const ConstantUse& u : uses) {
      std::string r = node_label(*u.node);
      if (std::find(readers.begin(), readers.end(), r) == readers.end()) readers.push_back(r);
    }
    bool has_embedding = false, all_kn = true;
    std::set<int64_t> axes, k_axes;
    for (const ConstantUse& u : uses) {
      if (u.role == ConstantUse::Role::Embedding) has_embedding = true;
      if (u.channel_axis && (u.role == ConstantUse::Role::Weight || u.role == ConstantUse::Role::Embedding))
        axes.insert(*u.channel_axis);
      if (u.k_axis) k_axes.insert(*u.k_axis);
      else all_kn = false;
      // A BatchNormalization right after a Conv/MatMul whose weight this is:
      // it should have been folded into the float weight first.
      if (u.role == ConstantUse::Role::Weight && u.node->output(0)) {
        const auto& ou = u.node->output(0)->uses();
        if (ou.size() == 1 && util::is_op(ou[0].node, "BatchNormalization"))
          bn_notes.insert(node_label(*ou[0].node) + " follows " + node_label(*u.node) +
                          ", whose weight is quantized: fold it first (fuse-conv-bn / fuse-matmul-bn; effopt quantize "
                          "does), or it scales the rounding error");
      }
    }

    // Precision.
    bool int4 = s.bits == 4;
    if (int4 && has_embedding) {
      int4 = false;
      why.push_back("int8, not int4: Gather reads it and standard Gather takes no int4");
    } else if (int4 && !s.bits_overridden && !(all_kn && k_axes.size() == 1)) {
      // bits=4 alone is for MatMul/Gemm weights; other constants stay int8 (int4 elsewhere only through overrides).
      int4 = false;
      why.push_back("int8: bits=4 applies to MatMul/Gemm weights");
    }
    if (int4 && opset_cap < 21) {
      int4 = false;
      fallbacks.insert("int8 instead of int4: int4 DequantizeLinear needs opset 21, max-opset is " +
                       std::to_string(opset_cap));
      why.push_back("int8: int4 needs opset 21 (max-opset " + std::to_string(opset_cap) + ")");
    }
    tp.precision = int4 ? (s.symmetric ? Precision::Int4 : Precision::UInt4)
                        : (s.symmetric ? Precision::Int8 : Precision::UInt8);
    if (tp.float_type != DataType::Float && opset_cap < 19) {
      fallbacks.insert(std::string("float16/bfloat16 tensors stay float: their scales need opset 19, max-opset is ") +
                       std::to_string(opset_cap));
      keep_float("a " + std::string(data_type_name(tp.float_type)) + " scale needs opset 19 (max-opset " +
                 std::to_string(opset_cap) + ")");
      continue;
    }

    // Dynamic mode: MatMul/Gemm nodes reading it directly become MatMulInteger.
    std::vector<const ConstantUse*> gemm_t;
    size_t direct_gemm_t = 0;
    if (s.mode == Mode::Dynamic && !int4 && tp.float_type == DataType::Float) {
      for (const ConstantUse& u : uses) {
        if (u.role != ConstantUse::Role::Weight || !u.direct || u.input != 1) continue;
        bool mm = u.node->op_type == "MatMul";
        bool gemm = u.node->op_type == "Gemm" && u.node->attr_int("transA", 0) == 0;
        if (!mm && !gemm) continue;
        if (gemm && u.node->attr_int("transB", 0) != 0) ++direct_gemm_t;
        tp.integer_nodes.push_back(node_label(*u.node));
      }
    }
    // Gemm(transB=1) readers: store [K, N] so the int4 / integer kernels get their layout.
    if ((int4 || !tp.integer_nodes.empty()) && t.dims.size() == 2) {
      bool all_gemm_t = true;
      for (const ConstantUse& u : uses)
        if (!(u.direct && u.input == 1 && u.node->op_type == "Gemm" && u.node->attr_int("transB", 0) != 0))
          all_gemm_t = false;
      if (all_gemm_t) tp.store_transposed = true;
      else if (direct_gemm_t) {
        // Mixed readers: the Gemms with transB=1 get a DequantizeLinear instead.
        std::vector<std::string> keep;
        for (const ConstantUse& u : uses)
          if (u.node->op_type == "MatMul" && u.direct && u.input == 1) keep.push_back(node_label(*u.node));
        tp.integer_nodes = keep;
      }
    }

    // Granularity.
    if (int4 && all_kn && k_axes.size() == 1 && s.per_channel) {
      int64_t k = *k_axes.begin();
      if (tp.store_transposed) k = 0;
      tp.granularity = {Granularity::Kind::Blocked, k, o.block_size};
      why.push_back("blocks of " + std::to_string(o.block_size) + " along K");
    } else if (!s.per_channel) {
      tp.granularity = {};
      why.push_back("per-tensor (per-channel=false)");
    } else if (axes.size() == 1) {
      int64_t axis = *axes.begin();
      if (tp.store_transposed) axis = 1 - axis;
      tp.granularity = {Granularity::Kind::PerAxis, axis, 0};
      why.push_back("per-channel along the output-channel axis " + std::to_string(axis));
    } else if (axes.size() > 1) {
      tp.granularity = {};
      why.push_back("per-tensor: its readers want different channel axes");
    } else {
      tp.granularity = {};
      why.push_back("per-tensor: no reader has an output-channel axis");
    }
    // A gathered table dequantizes the gathered rows with their own scales:
    // only a per-row scale (along the gather axis) or one scale works.
    if (has_embedding && tp.granularity.kind == Granularity::Kind::PerAxis) {
      for (const ConstantUse& u : uses)
        if (u.role == ConstantUse::Role::Embedding && u.channel_axis != tp.granularity.axis) {
          tp.granularity = {};
          why.back() = "per-tensor: Gather and another reader want different axes";
          break;
        }
    }
    if (tp.granularity.kind == Granularity::Kind::PerAxis && opset_cap < 13) {
      bool dq_needed = false;
      for (const ConstantUse& u : uses)
        if (u.role != ConstantUse::Role::Embedding) dq_needed = true;
      if (dq_needed) {
        fallbacks.insert("per-tensor instead of per-channel: per-axis DequantizeLinear needs opset 13, max-opset is " +
                         std::to_string(opset_cap));
        tp.granularity = {};
        why.back() = "per-tensor: per-channel needs opset 13 (max-opset " + std::to_string(opset_cap) + ")";
      }
    }
    if (!tp.integer_nodes.empty()) why.push_back("MatMulInteger for " + join(tp.integer_nodes));
    if (tp.store_transposed) why.push_back("stored transposed [K, N] (its Gemms get transB=0)");
    if (has_embedding) why.push_back("gathered rows dequantized after Gather");

    // The opset this tensor's form needs.
    bool has_dq = false;
    for (const ConstantUse& u : uses) {
      bool integer = std::find(tp.integer_nodes.begin(), tp.integer_nodes.end(), node_label(*u.node)) !=
                     tp.integer_nodes.end();
      if (u.role != ConstantUse::Role::Embedding && !integer) has_dq = true;
    }
    bool per_row_gather = has_embedding && tp.granularity.kind == Granularity::Kind::PerAxis;
    if (has_dq || (has_embedding && !per_row_gather)) need = std::max<int64_t>(need, 10);
    if (has_dq && tp.granularity.kind == Granularity::Kind::PerAxis) need = std::max<int64_t>(need, 13);
    if (!tp.integer_nodes.empty()) need = std::max<int64_t>(need, 11);
    if (int4 || tp.granularity.kind == Granularity::Kind::Blocked) need = std::max<int64_t>(need, 21);
    if (tp.float_type != DataType::Float && (has_dq || (has_embedding && !per_row_gather)))
      need = std::max<int64_t>(need, 19);
    std::string readers_text = join(readers);
    if (readers.size() > 3) readers_text = join({readers[0], readers[1], readers[2]}) + " and " +
                                           std::to_string(readers.size() - 3) + " more";
    tp.reason = std::string(precision_name(tp.precision)) + " (read by " + readers_text + "): " + join(why, "; ");
    plan.tensors.push_back(std::move(tp));
  }
  for (const std::string& f : fallbacks) plan.notes.push_back("max-opset: " + f);
  for (const std::string& b : bn_notes) plan.notes.push_back(b);
  plan.opset = std::max(opset, need);
  return plan;
}

}  // namespace effopt::passes::quant
