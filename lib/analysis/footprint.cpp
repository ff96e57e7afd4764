#include "analysis/footprint.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <set>
#include <string_view>
#include <unordered_map>

#include "analysis/shape_propagation.h"
#include "ir/constants.h"
#include "ir/dtype.h"
#include "support/shell_quote.h"

namespace effopt {

namespace {

using Shape = std::vector<Dim>;

std::optional<Shape> shape_of(const Value* v) {
  if (!v) return std::nullopt;
  if (v->type.kind == Type::Kind::Tensor && v->type.shape) return *v->type.shape;
  if (TensorPtr t = constant_tensor(v)) {
    Shape s;
    for (int64_t d : t->dims) s.push_back(Dim::known(d));
    return s;
  }
  return std::nullopt;
}

// nullopt also when the product passes 2^62: no real tensor is that large,
// and the sums below must not overflow (a --shape or a model can say anything).
std::optional<uint64_t> product(const Shape& s, size_t from = 0, size_t to = SIZE_MAX) {
  uint64_t p = 1;
  bool zero = false;
  to = std::min(to, s.size());
  for (size_t i = from; i < to; ++i) {
    if (!s[i].is_known() || *s[i].value < 0) return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(*s[i].value);
    if (d == 0) { zero = true; continue; }
    if (p > (uint64_t{1} << 62) / d) return std::nullopt;
    p *= d;
  }
  return zero ? 0 : p;
}

// Sums of byte counts saturate instead of wrapping.
uint64_t saturating_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

std::optional<uint64_t> elements(const Value* v) {
  auto s = shape_of(v);
  if (!s) return std::nullopt;
  return product(*s);
}

std::string describe(const Value* v) {
  if (!v) return "(absent)";
  std::string t = v->type.kind == Type::Kind::None ? "no type" : v->type.to_string();
  return "'" + v->name() + "' " + t;
}

const std::set<std::string>& elementwise_ops() {
  static const std::set<std::string> s = {
      "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "Relu", "LeakyRelu", "Sigmoid",
      "Tanh", "Clip", "HardSigmoid", "HardSwish", "Exp", "Log", "Sqrt", "Neg", "Abs", "Erf", "Elu", "Selu",
      "PRelu", "Reciprocal", "Softplus", "Gelu", "Celu", "Mish", "BatchNormalization", "InstanceNormalization",
      "LayerNormalization", "Softmax", "LogSoftmax", "QuantizeLinear", "DequantizeLinear", "Equal", "Less",
      "Greater", "Not", "And", "Or", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "ThresholdedRelu"};
  return s;
}

// Nonzero elements; `zero` is the value that counts as zero (a quantized
// tensor's zero point), integers only.
uint64_t count_nonzero(const Tensor& t, int64_t zero = 0) {
  if (t.data_type == DataType::String) {
    uint64_t n = 0;
    for (auto& s : t.strings) n += !s.empty();
    return n;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(t.bytes().data());
  const uint64_t size = t.byte_size();
  const uint64_t count = t.element_count().value_or(0);
  const int bits = data_type_bits(t.data_type);
  if (bits == 4) {
    const bool sign = t.data_type == DataType::Int4;
    uint64_t n = 0;
    for (uint64_t i = 0; i < count && i / 2 < size; ++i) {
      int v = (p[i / 2] >> ((i % 2) * 4)) & 0xF;
      if (sign && v >= 8) v -= 16;
      n += v != zero;
    }
    return n;
  }
  const uint64_t w = static_cast<uint64_t>(bits) / 8;
  if (w == 0) return 0;
  uint64_t n = 0;
  const uint64_t elems = std::min(count, size / w);
  if (is_any_float_type(t.data_type)) {  // -0.0 counts as zero
    for (uint64_t i = 0; i < elems; ++i) {
      const unsigned char* e = p + i * w;
      bool nz = (e[w - 1] & 0x7F) != 0;
      for (uint64_t k = 0; k + 1 < w && !nz; ++k) nz = e[k] != 0;
      n += nz;
    }
    return n;
  }
  if (zero != 0 && w == 1) {
    const bool sign = t.data_type == DataType::Int8;
    for (uint64_t i = 0; i < elems; ++i) n += (sign ? static_cast<int64_t>(static_cast<int8_t>(p[i])) : p[i]) != zero;
    return n;
  }
  for (uint64_t i = 0; i < elems; ++i) {
    const unsigned char* e = p + i * w;
    bool nz = false;
    for (uint64_t k = 0; k < w && !nz; ++k) nz = e[k] != 0;
    n += nz;
  }
  return n;
}

std::optional<int64_t> scalar_int(const Value* v) {
  TensorPtr t = v ? constant_tensor(v) : nullptr;
  if (!t || t->element_count().value_or(0) != 1 || t->byte_size() < 1) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(t->bytes().data());
  switch (t->data_type) {
    case DataType::UInt8: return p[0];
    case DataType::Int8: return static_cast<int8_t>(p[0]);
    case DataType::Int4: { int x = p[0] & 0xF; return x >= 8 ? x - 16 : x; }
    case DataType::UInt4: return p[0] & 0xF;
    default: return std::nullopt;
  }
}

// Weight input of a prunable layer (through a DequantizeLinear of a constant),
// with its zero point when quantized.
struct WeightRef { const Value* value = nullptr; TensorPtr tensor; int64_t zero = 0; };

WeightRef weight_of(const Node& n) {
  const std::string& op = n.op_type;
  auto from = [](const Value* v, const Value* zp) -> WeightRef {
    WeightRef r;
    if (!v) return r;
    if (TensorPtr t = constant_tensor(v)) {
      while (v->producer() && v->producer()->op_type == "Identity" && v->producer()->input(0)) v = v->producer()->input(0);
      r.value = v; r.tensor = t; r.zero = scalar_int(zp).value_or(0); return r; }
    const Node* p = v->producer();
    if (p && p->op_type == "DequantizeLinear" && is_onnx_domain(p->domain)) {
      if (TensorPtr t = constant_tensor(p->input(0))) {
        r.value = p->input(0); r.tensor = t; r.zero = scalar_int(p->input(2)).value_or(0);
      }
    }
    return r;
  };
  if (op == "Conv" || op == "ConvTranspose") return from(n.input(1), nullptr);
  if (op == "ConvInteger" || op == "MatMulInteger") return from(n.input(1), n.input(3));
  if (op == "QLinearConv" || op == "QLinearMatMul") return from(n.input(3), n.input(5));
  if (op == "LSTM" || op == "GRU" || op == "RNN") return from(n.input(1), nullptr);
  if (op == "Gemm" || op == "MatMul") {
    WeightRef r = from(n.input(1), nullptr);
    if (!r.tensor) r = from(n.input(0), nullptr);
    return r;
  }
  return {};
}

struct MacResult {
  std::optional<uint64_t> macs;
  uint64_t elementwise = 0;
  bool elementwise_unknown = false;  // the node does element-wise work whose size is unknown
  std::string unknown;
  bool is_mac_op = false;
};

MacResult count_macs(const Node& n) {
  MacResult r;
  const std::string& op = n.op_type;
  if (!is_onnx_domain(n.domain) && n.domain != "com.microsoft") return r;
  auto need = [&](std::optional<uint64_t> x, const Value* v, const char* what) -> std::optional<uint64_t> {
    if (!x && r.unknown.empty()) r.unknown = std::string(what) + " " + describe(v) + " has unknown dims";
    return x;
  };
  auto out_elems = elements(n.output(0));
  if (op == "Conv" || op == "ConvInteger" || op == "QLinearConv" || op == "ConvTranspose") {
    r.is_mac_op = true;
    const Value* w = n.input(op == "QLinearConv" ? 3 : 1);
    auto ws = shape_of(w);
    std::optional<uint64_t> per = ws && ws->size() >= 2 ? product(*ws, 1) : std::nullopt;
    need(per, w, "weight");
    if (op == "ConvTranspose") {
      auto in = need(elements(n.input(0)), n.input(0), "input");
      if (per && in) r.macs = *in * *per;
    } else {
      auto out = need(out_elems, n.output(0), "output");
      if (per && out) r.macs = *out * *per;
    }
    const Value* bias = n.input(op == "QLinearConv" ? 8 : (op == "ConvInteger" ? 99 : 2));
    if (bias) {
      if (out_elems) r.elementwise = *out_elems;
      else r.elementwise_unknown = true;
    }
    return r;
  }
  if (op == "MatMul" || op == "MatMulInteger" || op == "QLinearMatMul") {
    r.is_mac_op = true;
    auto as = shape_of(n.input(0));
    std::optional<uint64_t> k = as && !as->empty() ? product(*as, as->size() - 1) : std::nullopt;
    need(k, n.input(0), "input A");
    auto out = need(out_elems, n.output(0), "output");
    if (k && out) r.macs = *out * *k;
    return r;
  }
  if (op == "Gemm") {
    r.is_mac_op = true;
    auto as = shape_of(n.input(0));
    bool ta = n.attr_int("transA", 0) != 0;
    std::optional<uint64_t> k;
    if (as && as->size() == 2) k = product(*as, ta ? 0 : 1, ta ? 1 : 2);
    need(k, n.input(0), "input A");
    auto out = need(out_elems, n.output(0), "output");
    if (k && out) r.macs = *out * *k;
    if (n.input(2)) {
      if (out_elems) r.elementwise = *out_elems;
      else r.elementwise_unknown = true;
    }
    return r;
  }
  if (op == "Einsum") {
    std::string eq;
    for (char c : n.attr_string("equation", "")) if (c != ' ') eq += c;
    std::string lhs = eq.substr(0, eq.find("->"));
    std::vector<std::string> terms;
    size_t pos = 0;
    while (true) {
      size_t c = lhs.find(',', pos);
      terms.push_back(lhs.substr(pos, c == std::string::npos ? std::string::npos : c - pos));
      if (c == std::string::npos) break;
      pos = c + 1;
    }
    if (terms.size() < 2) {
      if (out_elems) r.elementwise = *out_elems;
      else r.elementwise_unknown = true;
      return r;
    }
    r.is_mac_op = true;
    if (eq.find("...") != std::string::npos) { r.unknown = "Einsum with '...' is not counted"; return r; }
    std::map<char, uint64_t> size;
    for (size_t i = 0; i < terms.size(); ++i) {
      auto s = shape_of(n.input(i));
      if (!s || s->size() != terms[i].size()) { need(std::nullopt, n.input(i), "input"); return r; }
      for (size_t k = 0; k < s->size(); ++k) {
        if (!(*s)[k].is_known()) { need(std::nullopt, n.input(i), "input"); return r; }
        size[terms[i][k]] = std::max<uint64_t>(size[terms[i][k]], static_cast<uint64_t>(*(*s)[k].value));
      }
    }
    uint64_t p = 1;
    for (auto& [c, v] : size) p *= v;
    r.macs = p * (terms.size() - 1);
    return r;
  }
  if (op == "LSTM" || op == "GRU" || op == "RNN") {
    r.is_mac_op = true;
    auto xs = shape_of(n.input(0));
    bool batch_first = n.attr_int("layout", 0) != 0;
    std::optional<uint64_t> seq_batch = xs && xs->size() == 3 ? product(*xs, 0, 2) : std::nullopt;
    need(seq_batch, n.input(0), "input X");
    auto w = need(elements(n.input(1)), n.input(1), "W");
    auto rr = need(elements(n.input(2)), n.input(2), "R");
    (void)batch_first;  // [seq, batch] or [batch, seq]: the product is the same
    if (seq_batch && w && rr) r.macs = *seq_batch * (*w + *rr);
    if (n.input(3)) {
      auto b = elements(n.input(3));
      if (seq_batch && b) r.elementwise = *seq_batch * *b;
      else r.elementwise_unknown = true;
    }
    return r;
  }
  if (elementwise_ops().count(op)) {
    if (out_elems) r.elementwise = *out_elems;
    else r.elementwise_unknown = true;
  }
  return r;
}

bool contains_mac_op(const Graph& g) {
  for (auto& n : g.nodes()) {
    static const std::set<std::string> mac = {"Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "MatMul",
                                              "MatMulInteger", "QLinearMatMul", "Gemm", "Einsum", "LSTM", "GRU",
                                              "RNN"};
    if (mac.count(n->op_type)) return true;
    for (Graph* sg : n->subgraphs()) if (contains_mac_op(*sg)) return true;
  }
  return false;
}

std::string label_of(const Node& n) {
  std::string op = is_onnx_domain(n.domain) ? n.op_type : n.domain + "." + n.op_type;
  return (n.name.empty() ? "(unnamed " + n.op_type + ")" : n.name) + " (" + op + ")";
}

// MACs, element-wise work and parameters of one node, its subgraphs
// included, or of a whole graph.
struct Cost {
  bool has_macs = false;                  // a MAC op, or bodies that hold MAC ops
  uint64_t counted = 0;                   // what could be counted
  uint64_t lower = 0;                     // a proven lower bound of the real MACs
  std::map<std::string, uint64_t> by_op;  // counted, by op type
  uint64_t elementwise = 0;
  uint64_t params = 0;
  std::vector<std::string> unknown;       // "path: reason", one per node that could not be counted
  std::vector<std::string> upper_bound;   // "path: why", nodes whose figure is an upper bound
  std::vector<std::string> elementwise_unknown;  // "path", nodes whose element-wise work could not be counted
  std::optional<uint64_t> total() const { return unknown.empty() ? std::optional<uint64_t>(counted) : std::nullopt; }
  bool has_elementwise() const { return elementwise > 0 || !elementwise_unknown.empty(); }
  void add(const Cost& c, uint64_t times = 1) {
    has_macs |= c.has_macs;
    counted += c.counted * times;
    lower += c.lower * times;
    for (auto& [op, m] : c.by_op) by_op[op] += m * times;
    elementwise += c.elementwise * times;
    params += c.params;
    unknown.insert(unknown.end(), c.unknown.begin(), c.unknown.end());
    upper_bound.insert(upper_bound.end(), c.upper_bound.begin(), c.upper_bound.end());
    elementwise_unknown.insert(elementwise_unknown.end(), c.elementwise_unknown.begin(), c.elementwise_unknown.end());
  }
};

struct NodeCost {
  Cost cost;
  std::optional<SubgraphMacs> sub;
};

std::string count_text(std::optional<uint64_t> x) { return x ? std::to_string(*x) : std::string("unknown"); }

NodeCost node_cost(const Node& n, const std::string& path, int64_t opset);

Cost graph_cost(const Graph& g, const std::string& path, int64_t opset) {
  Cost c;
  for (auto& up : g.nodes()) c.add(node_cost(*up, path, opset).cost);
  return c;
}

Graph* body_attr(const Node& n, const char* name) {
  const Attribute* a = n.attr(name);
  return a && a->g ? a->g.get() : nullptr;
}

NodeCost node_cost(const Node& n, const std::string& path, int64_t opset) {
  NodeCost r;
  Cost& c = r.cost;
  const std::string label = path + label_of(n);
  const std::string inner = label + " > ";
  for (Value* in : n.inputs())
    if (TensorPtr t = in ? constant_tensor(in) : nullptr) c.params += t->element_count().value_or(0);
  const bool onnx = is_onnx_domain(n.domain);
  if (onnx && n.op_type == "If" && body_attr(n, "then_branch") && body_attr(n, "else_branch")) {
    Cost t = graph_cost(*body_attr(n, "then_branch"), inner + "then_branch > ", opset);
    Cost e = graph_cost(*body_attr(n, "else_branch"), inner + "else_branch > ", opset);
    c.params += t.params + e.params;
    auto take_elementwise_unknown = [&] {
      for (Cost* b : {&t, &e})
        c.elementwise_unknown.insert(c.elementwise_unknown.end(), b->elementwise_unknown.begin(),
                                     b->elementwise_unknown.end());
    };
    if (!t.has_macs && !e.has_macs) {
      c.elementwise = std::max(t.elementwise, e.elementwise);
      take_elementwise_unknown();
      return r;
    }
    SubgraphMacs s;
    s.then_macs = t.total();
    s.else_macs = e.total();
    std::optional<bool> cond = constant_condition(n.input(0));
    if (cond) {
      Cost& b = *cond ? t : e;
      b.params = 0;
      c.add(b);
      s.derivation = std::string("the condition is a constant ") + (*cond ? "true: then_branch" : "false: else_branch") +
                     " (" + count_text(b.total()) + " MACs), exact";
    } else {
      // The larger branch; both branches' unknown nodes are listed.
      const bool then_larger = t.counted >= e.counted;
      Cost& big = then_larger ? t : e;
      Cost& small = then_larger ? e : t;
      c.has_macs = true;
      c.counted = big.counted;
      c.lower = std::min(t.lower, e.lower);  // either branch may run
      c.by_op = big.by_op;
      c.elementwise = big.elementwise;
      take_elementwise_unknown();
      for (Cost* b : {&t, &e}) {
        c.unknown.insert(c.unknown.end(), b->unknown.begin(), b->unknown.end());
        c.upper_bound.insert(c.upper_bound.end(), b->upper_bound.begin(), b->upper_bound.end());
      }
      s.upper_bound = big.counted != small.counted || !big.total() || !small.total();
      s.derivation = "the larger branch: then_branch " + count_text(t.total()) + ", else_branch " +
                     count_text(e.total()) + " MACs" +
                     (s.upper_bound ? "; an upper bound (the condition is known at run time only)"
                                    : "; both branches cost the same, exact");
      if (s.upper_bound && t.total() && e.total())
        c.upper_bound.push_back(label + ": the larger of its branches (then " + count_text(t.total()) + ", else " +
                                count_text(e.total()) + ")");
    }
    r.sub = s;
    return r;
  }
  if (onnx && n.op_type == "Loop" && body_attr(n, "body")) {
    Cost b = graph_cost(*body_attr(n, "body"), inner + "body > ", opset);
    c.params += b.params;
    b.params = 0;
    LoopTripCount tc = loop_trip_count(n);
    if (!tc.trips && b.has_elementwise()) c.elementwise_unknown.push_back(label + ": trip count unknown");
    if (!b.has_macs) {
      if (tc.trips) {
        c.elementwise = b.elementwise * static_cast<uint64_t>(*tc.trips);
        c.elementwise_unknown.insert(c.elementwise_unknown.end(), b.elementwise_unknown.begin(),
                                     b.elementwise_unknown.end());
      }
      return r;
    }
    SubgraphMacs s;
    s.body_macs = b.total();
    if (tc.trips) {
      const uint64_t trips = static_cast<uint64_t>(*tc.trips);
      s.iterations = *tc.trips;
      c.add(b, trips);
      s.upper_bound = tc.may_stop_early && trips > 0;
      if (s.upper_bound) c.lower = 0;  // the condition may end it before the first iteration
      s.derivation = "body " + count_text(b.total()) + " MACs x trip count M = " + std::to_string(trips) +
                     (s.upper_bound ? "; an upper bound: its condition can end the loop earlier" : ", exact");
      if (s.upper_bound && b.total())
        c.upper_bound.push_back(label + ": trip count M = " + std::to_string(trips) +
                                ", its condition can end the loop earlier");
    } else {
      c.has_macs = true;
      c.unknown.push_back(label + ": " + tc.why_unknown + ", body " + count_text(b.total()) +
                          " MACs per iteration not counted; an M known before run time would make it countable "
                          "(a constant, or computed from dims that --shape binds; fold-constants / fold-shapes "
                          "write it into the model)");
      c.unknown.insert(c.unknown.end(), b.unknown.begin(), b.unknown.end());
      s.derivation = "body " + count_text(b.total()) + " MACs per iteration; trip count unknown (" + tc.why_unknown +
                     "): not counted";
    }
    r.sub = s;
    return r;
  }
  if (onnx && n.op_type == "Scan" && body_attr(n, "body")) {
    Cost b = graph_cost(*body_attr(n, "body"), inner + "body > ", opset);
    c.params += b.params;
    b.params = 0;
    std::string why;
    std::optional<int64_t> iters = opset >= 9 ? scan_iterations(n, &why) : std::nullopt;
    if (opset < 9) why = "Scan-8 (batched, with sequence_lens) is not counted";
    if (!iters && b.has_elementwise()) c.elementwise_unknown.push_back(label + ": iteration count unknown");
    if (!b.has_macs) {
      if (iters) {
        c.elementwise = b.elementwise * static_cast<uint64_t>(*iters);
        c.elementwise_unknown.insert(c.elementwise_unknown.end(), b.elementwise_unknown.begin(),
                                     b.elementwise_unknown.end());
      }
      return r;
    }
    SubgraphMacs s;
    s.body_macs = b.total();
    if (iters) {
      s.iterations = *iters;
      c.add(b, static_cast<uint64_t>(*iters));
      s.derivation = "body " + count_text(b.total()) + " MACs x " + std::to_string(*iters) +
                     " iterations (the scan axis length), exact";
    } else {
      c.has_macs = true;
      c.unknown.push_back(label + ": " + why + ", body " + count_text(b.total()) +
                          " MACs per iteration not counted; bind the scan input's shape with --shape");
      c.unknown.insert(c.unknown.end(), b.unknown.begin(), b.unknown.end());
      s.derivation = "body " + count_text(b.total()) + " MACs per iteration; iteration count unknown (" + why +
                     "): not counted";
    }
    r.sub = s;
    return r;
  }
  MacResult mr = count_macs(n);
  c.elementwise = mr.elementwise;
  if (mr.elementwise_unknown) c.elementwise_unknown.push_back(label);
  if (mr.is_mac_op) {
    c.has_macs = true;
    if (mr.macs) {
      c.counted = *mr.macs;
      c.lower = *mr.macs;
      c.by_op[is_onnx_domain(n.domain) ? n.op_type : n.domain + "." + n.op_type] = *mr.macs;
    } else {
      c.unknown.push_back(label + ": " + mr.unknown);
    }
  }
  for (Graph* sg : n.subgraphs())
    if (contains_mac_op(*sg)) {
      c.has_macs = true;
      c.unknown.push_back(label + ": MAC ops inside a subgraph of " + n.op_type + " are not counted");
      break;
    }
  for (Graph* sg : n.subgraphs())
    if (graph_cost(*sg, inner, opset).has_elementwise()) {
      c.elementwise_unknown.push_back(label + ": element-wise work inside a subgraph of " + n.op_type +
                                      " is not counted");
      break;
    }
  return r;
}

void count_ops(const Graph& g, Footprint& f) {
  for (auto& n : g.nodes()) {
    ++f.node_count;
    f.op_counts[is_onnx_domain(n->domain) ? n->op_type : n->domain + "." + n->op_type]++;
    for (Graph* sg : n->subgraphs()) count_ops(*sg, f);
  }
}

}  // namespace

Footprint compute_footprint(const Model& model, const FootprintOptions& opts) {
  Footprint f;
  // --- parameters and weight bytes
  std::unordered_map<const Tensor*, uint64_t> nonzero_cache;
  std::unordered_map<const Tensor*, int64_t> zero_points;  // quantized weights with a scalar zero point
  if (model.graph && opts.read_tensor_bytes) {
    for_each_graph(*model.graph, [&](Graph& g) {
      for (auto& n : g.nodes()) {
        WeightRef w = weight_of(*n);
        if (w.tensor && w.zero != 0) zero_points[w.tensor.get()] = w.zero;
        if (n->op_type == "DequantizeLinear")
          if (TensorPtr t = constant_tensor(n->input(0)))
            if (auto z = scalar_int(n->input(2)); z && *z != 0) zero_points[t.get()] = *z;
      }
    });
  }
  uint64_t nonzero = 0;
  std::unordered_map<size_t, std::vector<const Tensor*>> by_hash;
  uint64_t dedup = 0;
  for_each_stored_tensor(model, [&](const Tensor& t, ConstantHolder) {
    ++f.stored_tensors;
    uint64_t n = t.element_count().value_or(0);
    f.params += n;
    uint64_t bytes = t.data_type == DataType::String ? 0 : t.byte_size();
    if (t.data_type == DataType::String)
      for (auto& s : t.strings) bytes += s.size();
    f.weight_bytes_by_type[data_type_name(t.data_type)] += bytes;
    f.weight_bytes += bytes;
    if (!opts.read_tensor_bytes) return;
    auto zp = zero_points.find(&t);
    uint64_t nz = count_nonzero(t, zp == zero_points.end() ? 0 : zp->second);
    nonzero_cache[&t] = nz;
    nonzero += nz;
    // Deduplication: same type, dims and bytes.
    std::string key_dims;
    for (int64_t d : t.dims) key_dims += std::to_string(d) + ",";
    std::string_view body(reinterpret_cast<const char*>(t.bytes().data()), t.bytes().size());
    size_t h = std::hash<std::string_view>{}(body) ^ (std::hash<std::string>{}(key_dims) * 31) ^
               static_cast<size_t>(t.data_type);
    if (t.data_type == DataType::String) {
      std::string all;
      for (auto& s : t.strings) all += s + '\0';
      h ^= std::hash<std::string>{}(all);
    }
    auto& bucket = by_hash[h];
    for (const Tensor* o : bucket) {
      if (o->data_type == t.data_type && o->dims == t.dims && o->strings == t.strings &&
          o->byte_size() == t.byte_size() &&
          (t.byte_size() == 0 || std::memcmp(o->bytes().data(), t.bytes().data(), t.byte_size()) == 0))
        return;  // a duplicate
    }
    bucket.push_back(&t);
    dedup += n;
  });
  if (opts.read_tensor_bytes) { f.params_nonzero = nonzero; f.params_dedup = dedup; }
  if (!model.graph) return f;
  const Graph& g = *model.graph;
  count_ops(g, f);
  for (auto& fn : model.functions) count_ops(*fn.body, f);

  // --- per node: MACs, element-wise work, output bytes
  const int64_t opset = model.opset("");
  std::unordered_map<const Node*, size_t> index;
  for (size_t i = 0; i < g.nodes().size(); ++i) index[g.nodes()[i].get()] = i;
  for (auto& up : g.nodes()) {
    const Node& n = *up;
    NodeFootprint nf;
    nf.name = n.name;
    nf.op_type = is_onnx_domain(n.domain) ? n.op_type : n.domain + "." + n.op_type;
    const std::string label = label_of(n);
    for (Value* o : n.outputs()) nf.output_shapes.push_back(o ? o->type.to_string() : "");
    NodeCost nc = node_cost(n, "", opset);
    const Cost& c = nc.cost;
    nf.params = c.params;
    nf.elementwise_ops = c.elementwise;
    nf.elementwise_unknown = !c.elementwise_unknown.empty();
    f.elementwise_ops += c.elementwise;
    f.elementwise_unknown_nodes.insert(f.elementwise_unknown_nodes.end(), c.elementwise_unknown.begin(),
                                       c.elementwise_unknown.end());
    f.macs += c.counted;
    f.macs_lower_bound += c.lower;
    for (auto& [op, m] : c.by_op) f.macs_by_op[op] += m;
    if (c.has_macs) {
      nf.macs = c.total();
      if (!c.unknown.empty()) {
        nf.macs_unknown = true;
        // The node's own reason, without its label; nested nodes at fault are named in full.
        for (const std::string& u : c.unknown) {
          std::string reason = u.rfind(label + ": ", 0) == 0 ? u.substr(label.size() + 2) : u;
          nf.unknown_reason += (nf.unknown_reason.empty() ? "" : "; ") + reason;
        }
      }
    }
    f.macs_unknown_nodes.insert(f.macs_unknown_nodes.end(), c.unknown.begin(), c.unknown.end());
    f.macs_upper_bound_nodes.insert(f.macs_upper_bound_nodes.end(), c.upper_bound.begin(), c.upper_bound.end());
    nf.subgraph_macs = nc.sub;
    // Layers with a constant weight.
    WeightRef w = weight_of(n);
    if (w.tensor) {
      LayerParams lp;
      lp.node = n.name;
      lp.op_type = nf.op_type;
      lp.tensor = w.value->name();
      lp.params = w.tensor->element_count().value_or(0);
      if (auto it = nonzero_cache.find(w.tensor.get()); it != nonzero_cache.end()) lp.nonzero = it->second;
      else if (opts.read_tensor_bytes) lp.nonzero = count_nonzero(*w.tensor, w.zero);
      f.layers.push_back(lp);
    }
    uint64_t ob = 0;
    bool known = true;
    for (Value* o : n.outputs()) {
      if (!o || is_constant(o)) continue;
      auto e = elements(o);
      int bits = data_type_bits(o->type.elem_type);
      if (!e || bits == 0) { known = false; continue; }
      ob += packed_byte_size(o->type.elem_type, *e);
    }
    if (known) nf.output_bytes = ob;
    f.nodes.push_back(std::move(nf));
  }

  // --- activation memory under the topological schedule
  const size_t N = g.nodes().size();
  std::vector<uint64_t> allocated(N + 2, 0), released(N + 2, 0);  // bytes made live / freed at each step
  std::set<const Value*> outputs(g.outputs().begin(), g.outputs().end());
  for (size_t i = 0; i < N; ++i) {
    const Node& n = *g.nodes()[i];
    bool unknown = false;
    for (Value* o : n.outputs()) {
      if (!o || is_constant(o)) continue;
      auto e = elements(o);
      int bits = data_type_bits(o->type.elem_type);
      if (!e || bits == 0) { unknown = true; continue; }
      uint64_t bytes = packed_byte_size(o->type.elem_type, *e);
      size_t last = i;
      if (outputs.count(o)) last = N;
      for (const Use& u : o->uses()) {
        const Node* user = u.node;
        while (user && user->graph() != &g) user = user->graph()->owner_node();
        if (!user) continue;
        if (auto it = index.find(user); it != index.end()) last = std::max(last, it->second);
      }
      f.activation_bytes = saturating_add(f.activation_bytes, bytes);
      allocated[i] = saturating_add(allocated[i], bytes);
      released[last + 1] = saturating_add(released[last + 1], bytes);
    }
    if (unknown)
      f.activation_unknown_nodes.push_back((n.name.empty() ? "(unnamed " + n.op_type + ")" : n.name) + " (" +
                                           n.op_type + ")");
  }
  uint64_t live = 0;
  for (size_t i = 0; i <= N; ++i) {
    live = saturating_add(live, allocated[i]);
    live = live >= released[i] ? live - released[i] : 0;
    if (live > f.peak_activation_bytes) {
      f.peak_activation_bytes = live;
      f.peak_after_node = i < N ? g.nodes()[i]->name : "(end)";
    }
  }
  f.inference_ram_bytes = saturating_add(f.weight_bytes, f.peak_activation_bytes);
  f.unbound_inputs = unbound_inputs(g);
  return f;
}

namespace {

std::string list_some(const std::vector<std::string>& items, size_t max = 3) {
  std::string s;
  for (size_t i = 0; i < items.size() && i < max; ++i) s += (i ? "; " : "") + items[i];
  if (items.size() > max) s += "; and " + std::to_string(items.size() - max) + " more";
  return s;
}

std::string nodes_word(size_t n) { return std::to_string(n) + (n == 1 ? " node" : " nodes"); }

// The reason a total is unknown, with the --shape that would bind the inputs.
std::string with_hint(std::string reason, const std::vector<UnboundInput>& inputs) {
  if (inputs.empty())
    return reason + "; every graph input's dims are known, so --shape cannot help: these depend on values known at "
                    "run time only, or on ops effopt's shape inference does not size";
  return reason + "; the graph inputs have unknown dims " + unbound_dims_text(inputs) + ": bind them, e.g. " +
         suggested_shape_flags(inputs);
}

Total make_total(uint64_t counted, uint64_t lower, bool complete, std::string reason) {
  Total t;
  if (complete) {
    t.value = counted;
    t.lower_bound = counted;
  } else {
    t.lower_bound = lower;
    t.unknown_reason = std::move(reason);
  }
  return t;
}

}  // namespace

Total Footprint::macs_total() const {
  return make_total(macs, macs_lower_bound, macs_complete(),
                    with_hint(nodes_word(macs_unknown_nodes.size()) + " could not be counted: " +
                                  list_some(macs_unknown_nodes),
                              unbound_inputs));
}

Total Footprint::elementwise_total() const {
  // No lower bound: If counts its larger branch here, not the smaller.
  return make_total(elementwise_ops, 0, elementwise_complete(),
                    with_hint("the element-wise work of " + nodes_word(elementwise_unknown_nodes.size()) +
                                  " could not be counted: " + list_some(elementwise_unknown_nodes),
                              unbound_inputs));
}

namespace {
std::string activation_reason(const Footprint& f) {
  return with_hint(nodes_word(f.activation_unknown_nodes.size()) + " of the main graph have outputs of unknown size: " +
                       list_some(f.activation_unknown_nodes),
                   f.unbound_inputs);
}
}  // namespace

// Tensors of unknown size only add bytes: what was counted is a lower bound.
Total Footprint::activation_total() const {
  return make_total(activation_bytes, activation_bytes, activations_complete(), activation_reason(*this));
}

Total Footprint::peak_activation_total() const {
  return make_total(peak_activation_bytes, peak_activation_bytes, activations_complete(), activation_reason(*this));
}

Total Footprint::inference_ram_total() const {
  return make_total(inference_ram_bytes, inference_ram_bytes, activations_complete(),
                    "the peak activation bytes are unknown: " + activation_reason(*this));
}

std::string unbound_dims_text(const std::vector<UnboundInput>& inputs) {
  std::string s;
  for (const UnboundInput& u : inputs) {
    if (!u.shape) {
      s += (s.empty() ? "" : ", ") + std::string("rank unknown (") + u.input + ")";
      continue;
    }
    for (size_t i = 0; i < u.shape->size(); ++i) {
      const Dim& d = (*u.shape)[i];
      if (d.is_known()) continue;
      s += (s.empty() ? "" : ", ") + (d.param.empty() ? std::string("?") : d.param) + " (" + u.input + "[" +
           std::to_string(i) + "])";
    }
  }
  return s;
}

std::string suggested_shape_flags(const std::vector<UnboundInput>& inputs) {
  std::string s;
  std::set<std::string> added;
  auto add = [&](const std::string& binding) {
    if (added.insert(binding).second) s += (s.empty() ? "" : " ") + std::string("--shape ") + shell_quote(binding);
  };
  for (const UnboundInput& u : inputs) {
    if (!u.suggested_binding.empty()) add(u.suggested_binding);
    else if (!u.shape) add(u.input + "=D0,D1,...");
    else  // the input's name holds '=': bind its named dims instead
      for (const Dim& d : *u.shape)
        if (!d.is_known() && !d.param.empty() && d.param.find('=') == std::string::npos) add(d.param + "=1");
  }
  return s;
}

std::vector<UnboundInput> unbound_inputs(const Graph& g) {
  std::vector<UnboundInput> out;
  for (const Value* v : g.inputs()) {
    if (v->initializer || v->sparse_initializer || v->type.kind != Type::Kind::Tensor) continue;
    UnboundInput u;
    u.input = v->name();
    u.shape = v->type.shape;
    if (u.shape) {
      bool unknown = false;
      std::string dims;
      for (const Dim& d : *u.shape) {
        unknown |= !d.is_known();
        dims += (dims.empty() ? "" : ",") + (d.is_known() ? std::to_string(*d.value) : std::string("1"));
      }
      if (!unknown) continue;
      // --shape splits NAME=DIMS at the first '=': an input name holding one cannot be bound.
      if (u.input.find('=') == std::string::npos) u.suggested_binding = u.input + "=" + dims;
    }
    out.push_back(std::move(u));
  }
  return out;
}

nlohmann::json to_json(const Footprint& f, bool per_node) {
  using nlohmann::json;
  json j;
  json params = {{"total", f.params}, {"stored_tensors", f.stored_tensors}};
  params["deduplicated"] = f.params_dedup ? json(*f.params_dedup) : json(nullptr);
  params["nonzero"] = f.params_nonzero ? json(*f.params_nonzero) : json(nullptr);
  params["sparsity"] = f.params_nonzero && f.params
                           ? json(1.0 - static_cast<double>(*f.params_nonzero) / static_cast<double>(f.params))
                           : json(nullptr);
  json layers = json::array();
  for (auto& l : f.layers) {
    json lj = {{"node", l.node}, {"op_type", l.op_type}, {"tensor", l.tensor}, {"params", l.params}};
    lj["nonzero"] = l.nonzero ? json(*l.nonzero) : json(nullptr);
    lj["sparsity"] = l.nonzero && l.params
                         ? json(1.0 - static_cast<double>(*l.nonzero) / static_cast<double>(l.params))
                         : json(nullptr);
    layers.push_back(lj);
  }
  params["layers"] = layers;
  j["parameters"] = params;
  j["weight_bytes"] = {{"total", f.weight_bytes}, {"by_type", f.weight_bytes_by_type}};
  j["macs"] = {{"counted", f.macs},
               {"complete", f.macs_complete()},
               {"by_op_type", f.macs_by_op},
               {"unknown_nodes", f.macs_unknown_nodes},
               {"upper_bound", !f.macs_upper_bound_nodes.empty()},
               {"upper_bound_nodes", f.macs_upper_bound_nodes},
               {"convention", "one multiply-accumulate each; bias adds and other element-wise work are counted "
                              "in elementwise_ops, not here. If/Loop/Scan carry their bodies' MACs: Scan body x "
                              "iterations (scan axis length), Loop body x M known before run time (an upper bound when "
                              "its condition can end it earlier; unknown M: not counted), If the larger branch (an "
                              "upper bound; a constant condition picks its branch)"}};
  auto known = [](const Total& t) { return t.value ? json(*t.value) : json(nullptr); };
  j["macs"]["lower_bound"] = f.macs_lower_bound;
  j["elementwise_ops"] = known(f.elementwise_total());
  j["elementwise_unknown_nodes"] = f.elementwise_unknown_nodes;
  j["activations"] = {{"total_bytes", known(f.activation_total())},
                      {"peak_bytes", known(f.peak_activation_total())},
                      {"counted_total_bytes", f.activation_bytes},
                      {"counted_peak_bytes", f.peak_activation_bytes},
                      {"peak_after_node", f.activations_complete() ? json(f.peak_after_node) : json(nullptr)},
                      {"complete", f.activations_complete()},
                      {"unknown_nodes", f.activation_unknown_nodes}};
  j["inference_ram_bytes"] = known(f.inference_ram_total());
  j["op_counts"] = f.op_counts;
  j["node_count"] = f.node_count;
  if (per_node) {
    json nodes = json::array();
    for (auto& n : f.nodes) {
      json nj = {{"name", n.name}, {"op_type", n.op_type}, {"output_shapes", n.output_shapes}, {"params", n.params}};
      nj["macs"] = n.macs ? json(*n.macs) : json(nullptr);
      if (n.macs_unknown) nj["macs_unknown"] = n.unknown_reason;
      if (n.subgraph_macs) {
        const SubgraphMacs& s = *n.subgraph_macs;
        auto opt = [](const auto& x) { return x ? json(*x) : json(nullptr); };
        json sj = {{"derivation", s.derivation}, {"upper_bound", s.upper_bound}};
        if (n.op_type == "If") {
          sj["then_branch"] = opt(s.then_macs);
          sj["else_branch"] = opt(s.else_macs);
        } else {
          sj["body"] = opt(s.body_macs);
          sj["iterations"] = opt(s.iterations);
        }
        nj["subgraph_macs"] = sj;
      }
      nj["elementwise_ops"] = n.elementwise_unknown ? json(nullptr) : json(n.elementwise_ops);
      nj["output_bytes"] = n.output_bytes ? json(*n.output_bytes) : json(nullptr);
      nodes.push_back(nj);
    }
    j["nodes"] = nodes;
  }
  return j;
}

}  // namespace effopt
