// Replays effopt's encoding of ONNX Runtime 1.30's CPU graph transformers on
// a lightweight copy of the main graph (see ort_prediction.h for the list).
// The copy ("Sim") holds value/node records that rules rewrite in place; each
// surviving node remembers which input-model nodes it came from, so per-node
// fates fall out at the end. Rule conditions follow ORT's sources
// (onnxruntime/core/optimizer/*.cc, qdq_transformer/selectors_actions/*.cc,
// nchwc_transformer.cc); each rule names its ORT transformer.
#include "ort/ort_prediction.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <optional>
#include <queue>
#include <set>
#include <unordered_map>

#include "ir/constants.h"
#include "ir/dtype.h"

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

struct SVal {
  std::string name;
  int producer = -1;            // node id, -1 for graph inputs / constants
  bool is_const = false;        // an initializer ORT treats as constant, or a folded result
  TensorPtr tensor;             // when the constant's bytes are known (initializers, Constant nodes)
  DataType dt = DataType::Undefined;
  std::optional<std::vector<Dim>> shape;
  bool graph_output = false;
  // Known integer contents of a small int64/int32 constant, including ones
  // computed while folding shape arithmetic (Shape, Gather, Add, ...).
  std::optional<std::vector<int64_t>> ints;
};

struct SNode {
  std::string name, op, domain;  // domain "" = ai.onnx
  const Node* src = nullptr;     // attributes come from here unless overridden
  std::vector<int> in, out;      // value ids, -1 = absent optional
  std::map<std::string, std::string> str_attrs;  // overrides / additions (activation, ...)
  bool alive = true;
  std::vector<int> origins;  // input-model node indices merged into this node
  int primary = -1;          // the origin whose place this node takes (-1: inserted by ORT)
  std::string rule;          // last rule that rewrote it
  bool inserted = false;
};

struct Removal {
  std::string fate, rule;
};

class Sim {
 public:
  std::vector<SVal> vals;
  std::vector<SNode> nodes;
  std::vector<int> order;  // topological order of alive node ids
  std::vector<Removal> removed;  // per input-model node, when removed without a successor
  std::vector<int> first_output;  // per input-model node: its first output value
  std::map<std::string, uint64_t> hits;
  int64_t opset = 0;

  // ---- uses
  const std::vector<std::pair<int, int>>& uses(int v) {
    if (dirty_) rebuild();
    return uses_[v];
  }
  int use_count(int v) { return static_cast<int>(uses(v).size()); }
  // ORT's GetOutputEdgesCount: edges to consumer nodes, over all outputs.
  int output_edges(int n) {
    int c = 0;
    for (int v : nodes[n].out)
      if (v >= 0) c += use_count(v);
    return c;
  }
  bool feeds_graph_output(int n) {
    for (int v : nodes[n].out)
      if (v >= 0 && vals[v].graph_output) return true;
    return false;
  }
  // The single consumer node of node n's only used output, or -1.
  int single_consumer(int n) {
    if (output_edges(n) != 1 || feeds_graph_output(n)) return -1;
    for (int v : nodes[n].out)
      if (v >= 0 && use_count(v) == 1) return uses(v)[0].first;
    return -1;
  }
  int producer(int v) const { return v >= 0 ? vals[v].producer : -1; }
  void touch() { dirty_ = true; }

  int add_value(std::string name, DataType dt, std::optional<std::vector<Dim>> shape) {
    SVal sv;
    sv.name = std::move(name);
    sv.dt = dt;
    sv.shape = std::move(shape);
    vals.push_back(std::move(sv));
    dirty_ = true;
    return static_cast<int>(vals.size()) - 1;
  }
  int add_node(SNode n) {
    nodes.push_back(std::move(n));
    int id = static_cast<int>(nodes.size()) - 1;
    for (int v : nodes[id].out)
      if (v >= 0) vals[v].producer = id;
    dirty_ = true;
    return id;
  }
  void kill(int n, const std::string& fate, const std::string& rule) {
    nodes[n].alive = false;
    for (int v : nodes[n].out)
      if (v >= 0 && vals[v].producer == n) vals[v].producer = -1;
    for (int o : nodes[n].origins) removed[o] = {fate, rule};
    dirty_ = true;
  }
  // n absorbs m: m's origins join n; m disappears.
  void absorb(int n, int m, const std::string& rule) {
    for (int o : nodes[m].origins) nodes[n].origins.push_back(o);
    nodes[m].origins.clear();
    nodes[m].alive = false;
    for (int v : nodes[m].out)
      if (v >= 0 && vals[v].producer == m) vals[v].producer = -1;
    nodes[n].rule = rule;
    dirty_ = true;
  }
  // Node n now produces value v (taken over from the node that made it).
  void set_output(int n, size_t slot, int v) {
    if (nodes[n].out.size() <= slot) nodes[n].out.resize(slot + 1, -1);
    int old = nodes[n].out[slot];
    if (old >= 0 && old != v && vals[old].producer == n) vals[old].producer = -1;
    nodes[n].out[slot] = v;
    vals[v].producer = n;
    dirty_ = true;
  }
  // Every use of `from` reads `to` instead (graph outputs too, as ORT's
  // node-removal helpers rename).
  void replace_uses(int from, int to) {
    for (auto& nd : nodes) {
      if (!nd.alive) continue;
      for (int& v : nd.in)
        if (v == from) v = to;
    }
    if (vals[from].graph_output) vals[to].graph_output = true;
    dirty_ = true;
  }

  // Kahn's algorithm, ties broken by the previous position (inserted nodes go
  // where their inputs allow).
  void resort() {
    std::vector<int> pos(nodes.size(), -1);
    {
      int i = 0;
      for (int n : order) pos[n] = i++;
      for (size_t n = 0; n < nodes.size(); ++n)
        if (pos[n] < 0) pos[n] = i++;
    }
    std::vector<int> indeg(nodes.size(), 0);
    std::vector<std::vector<int>> succ(nodes.size());
    for (size_t n = 0; n < nodes.size(); ++n) {
      if (!nodes[n].alive) continue;
      for (int v : nodes[n].in) {
        int p = producer(v);
        if (p >= 0 && nodes[p].alive && p != static_cast<int>(n)) {
          succ[p].push_back(static_cast<int>(n));
          ++indeg[n];
        }
      }
    }
    auto cmp = [&](int a, int b) { return pos[a] > pos[b]; };
    std::priority_queue<int, std::vector<int>, decltype(cmp)> q(cmp);
    for (size_t n = 0; n < nodes.size(); ++n)
      if (nodes[n].alive && indeg[n] == 0) q.push(static_cast<int>(n));
    std::vector<int> out;
    while (!q.empty()) {
      int n = q.top();
      q.pop();
      out.push_back(n);
      for (int s : succ[n])
        if (--indeg[s] == 0) q.push(s);
    }
    // A cycle cannot arise from these rules; keep any leftover in old order.
    if (out.size() < nodes.size()) {
      std::vector<char> placed(nodes.size(), 0);
      for (int n : out) placed[n] = 1;
      for (size_t n = 0; n < nodes.size(); ++n)
        if (nodes[n].alive && !placed[n]) out.push_back(static_cast<int>(n));
    }
    order = std::move(out);
  }

  // ---- node queries
  bool is(int n, std::string_view op, std::string_view domain = "") const {
    return n >= 0 && nodes[n].alive && nodes[n].op == op && nodes[n].domain == domain;
  }
  const Attribute* attr(int n, std::string_view name) const {
    return nodes[n].src ? nodes[n].src->attr(name) : nullptr;
  }
  int64_t attr_int(int n, std::string_view name, int64_t def) const {
    const Attribute* a = attr(n, name);
    return a ? a->i : def;
  }
  std::string attr_str(int n, std::string_view name, std::string def) const {
    auto it = nodes[n].str_attrs.find(std::string(name));
    if (it != nodes[n].str_attrs.end()) return it->second;
    const Attribute* a = attr(n, name);
    return a ? a->s : def;
  }
  bool has_attr(int n, std::string_view name) const {
    return nodes[n].str_attrs.count(std::string(name)) || attr(n, name) != nullptr;
  }
  int in(int n, size_t i) const { return i < nodes[n].in.size() ? nodes[n].in[i] : -1; }
  int out(int n, size_t i = 0) const { return i < nodes[n].out.size() ? nodes[n].out[i] : -1; }
  bool is_const(int v) const { return v >= 0 && vals[v].is_const; }
  const Tensor* tensor(int v) const { return v >= 0 && vals[v].is_const ? vals[v].tensor.get() : nullptr; }
  DataType dt(int v) const { return v >= 0 ? vals[v].dt : DataType::Undefined; }
  std::optional<int64_t> rank(int v) const {
    if (v < 0) return std::nullopt;
    if (!vals[v].shape) {
      // A Reshape to a constant shape of known length has that rank.
      int p = producer(v);
      if (p >= 0 && nodes[p].op == "Reshape" && nodes[p].domain.empty()) {
        auto s = static_shape(in(p, 1));
        if (s && s->size() == 1 && is_const(in(p, 1))) return (*s)[0];
      }
      return std::nullopt;
    }
    return static_cast<int64_t>(vals[v].shape->size());
  }
  std::optional<std::vector<int64_t>> static_shape(int v) const {
    if (v < 0) return std::nullopt;
    if (const Tensor* t = tensor(v)) return t->dims;
    if (!vals[v].shape) return std::nullopt;
    std::vector<int64_t> d;
    for (const Dim& x : *vals[v].shape) {
      if (!x.value) return std::nullopt;
      d.push_back(*x.value);
    }
    return d;
  }
  std::optional<int64_t> const_elems(int v) const {
    if (const Tensor* t = tensor(v)) {
      int64_t n = 1;
      for (int64_t d : t->dims) n *= d;
      return n;
    }
    return std::nullopt;
  }
  // The single float value of a one-element constant, if known.
  std::optional<double> scalar(int v) const {
    if (v >= 0 && vals[v].is_const && vals[v].ints && vals[v].ints->size() == 1)
      return static_cast<double>((*vals[v].ints)[0]);
    const Tensor* t = tensor(v);
    if (!t || const_elems(v) != 1) return std::nullopt;
    DataType dt = t->data_type;
    if (dt != DataType::Float && dt != DataType::Double && dt != DataType::Int64 && dt != DataType::Int32)
      return std::nullopt;
    auto d = to_doubles(*t);
    if (!d) return std::nullopt;
    return (*d)[0];
  }

 private:
  void rebuild() {
    uses_.assign(vals.size(), {});
    for (size_t n = 0; n < nodes.size(); ++n) {
      if (!nodes[n].alive) continue;
      for (size_t i = 0; i < nodes[n].in.size(); ++i)
        if (nodes[n].in[i] >= 0) uses_[nodes[n].in[i]].push_back({static_cast<int>(n), static_cast<int>(i)});
    }
    dirty_ = false;
  }
  std::vector<std::vector<std::pair<int, int>>> uses_;
  bool dirty_ = true;
};

// ---- building the simulation from the IR ---------------------------------------------------------------

Sim build_sim(const Model& m) {
  Sim s;
  s.opset = m.opset("");
  const Graph& g = *m.graph;
  std::unordered_map<const Value*, int> vid;
  auto value_id = [&](const Value* v) -> int {
    if (!v) return -1;
    auto it = vid.find(v);
    if (it != vid.end()) return it->second;
    int id = s.add_value(v->name(), v->type.elem_type, v->type.shape);
    // An initializer that is also a graph input can be overridden at run
    // time from IR 4 on, so ORT does not treat it as a constant.
    if (v->initializer && !(v->is_graph_input() && m.ir_version >= 4)) {
      s.vals[id].is_const = true;
      s.vals[id].tensor = v->initializer;
      s.vals[id].dt = v->initializer->data_type;
      std::vector<Dim> d;
      for (int64_t x : v->initializer->dims) d.push_back(Dim::known(x));
      s.vals[id].shape = d;
    }
    if (v->is_graph_output()) s.vals[id].graph_output = true;
    vid[v] = id;
    return id;
  };
  for (const Value* v : g.inputs()) value_id(v);
  s.removed.assign(g.nodes().size(), {});
  int idx = 0;
  for (auto& np : g.nodes()) {
    SNode n;
    n.name = np->name.empty() ? "#" + std::to_string(idx) + " (" + np->op_type + ")" : np->name;
    n.op = np->op_type;
    n.domain = is_onnx_domain(np->domain) ? "" : np->domain;
    n.src = np.get();
    for (const Value* v : np->inputs()) n.in.push_back(value_id(v));
    for (const Value* v : np->outputs()) n.out.push_back(value_id(v));
    n.origins = {idx};
    n.primary = idx;
    s.first_output.push_back(n.out.empty() ? -1 : n.out[0]);
    int id = s.add_node(std::move(n));
    s.order.push_back(id);
    ++idx;
  }
  for (const Value* v : g.outputs()) s.vals[value_id(v)].graph_output = true;
  return s;
}

// ---- level 1 -------------------------------------------------------------------------------------------

// Ops ORT's ConstantFolding never folds: non-deterministic, sequence/optional
// ops, and DequantizeLinear (kept for the QDQ selectors while QDQ fusion is on).
bool never_folded(const SNode& n) {
  static const std::set<std::string> ops = {
      "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
      "DequantizeLinear", "QuantizeLinear", "If", "Loop", "Scan", "SequenceConstruct", "SequenceEmpty",
      "SequenceInsert", "SequenceAt", "SplitToSequence", "ConcatFromSequence", "Optional", "OptionalGetElement",
      "OptionalHasElement", "Constant"};
  return !n.domain.empty() || ops.count(n.op) > 0;
}

// Values of a small int32/int64 constant (the shape arithmetic ORT folds).
std::optional<std::vector<int64_t>> tensor_ints(const Tensor* t) {
  if (!t || (t->data_type != DataType::Int64 && t->data_type != DataType::Int32)) return std::nullopt;
  if (t->element_count().value_or(65) > 64) return std::nullopt;
  return to_ints(*t);
}

// The integer value of a constant input, when known.
std::optional<std::vector<int64_t>> const_ints(Sim& s, int v) {
  if (v < 0 || !s.vals[v].is_const) return std::nullopt;
  if (s.vals[v].ints) return s.vals[v].ints;
  return tensor_ints(s.vals[v].tensor.get());
}

// Evaluates the shape arithmetic ORT folds (small integer tensors only), so
// later rules can read the values (Slice bounds, Reshape targets).
std::optional<std::vector<int64_t>> eval_ints(Sim& s, int n) {
  const SNode& nd = s.nodes[n];
  const std::string& op = nd.op;
  if (op == "Shape") {
    auto sh = s.static_shape(s.in(n, 0));
    if (!sh) return std::nullopt;
    int64_t r = static_cast<int64_t>(sh->size());
    int64_t b = s.attr_int(n, "start", 0), e = s.attr_int(n, "end", r);
    if (b < 0) b += r;
    if (e < 0) e += r;
    b = std::clamp<int64_t>(b, 0, r);
    e = std::clamp<int64_t>(e, b, r);
    return std::vector<int64_t>(sh->begin() + b, sh->begin() + e);
  }
  if (op == "Size") {
    auto sh = s.static_shape(s.in(n, 0));
    if (!sh) return std::nullopt;
    int64_t c = 1;
    for (int64_t d : *sh) c *= d;
    return std::vector<int64_t>{c};
  }
  std::vector<std::vector<int64_t>> in;
  for (int v : nd.in) {
    if (v < 0) { in.emplace_back(); continue; }
    auto x = const_ints(s, v);
    if (!x) return std::nullopt;
    in.push_back(*x);
  }
  if (op == "Identity" || op == "Cast" || op == "Squeeze" || op == "Unsqueeze" || op == "Reshape" ||
      op == "Flatten") {
    if (in.empty()) return std::nullopt;
    if (op == "Cast") {
      auto to = static_cast<DataType>(s.attr_int(n, "to", 0));
      if (to != DataType::Int64 && to != DataType::Int32) return std::nullopt;
    }
    return in[0];
  }
  if (op == "Concat") {
    std::vector<int64_t> out;
    for (auto& x : in) out.insert(out.end(), x.begin(), x.end());
    return out;
  }
  if (op == "Gather" && in.size() == 2) {
    std::vector<int64_t> out;
    for (int64_t i : in[1]) {
      int64_t k = i < 0 ? i + static_cast<int64_t>(in[0].size()) : i;
      if (k < 0 || k >= static_cast<int64_t>(in[0].size())) return std::nullopt;
      out.push_back(in[0][k]);
    }
    return out;
  }
  if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div") && in.size() == 2) {
    const auto &a = in[0], &b = in[1];
    if (a.empty() || b.empty() || (a.size() != b.size() && a.size() != 1 && b.size() != 1)) return std::nullopt;
    size_t m = std::max(a.size(), b.size());
    std::vector<int64_t> out(m);
    for (size_t i = 0; i < m; ++i) {
      int64_t x = a[a.size() == 1 ? 0 : i], y = b[b.size() == 1 ? 0 : i];
      if (op == "Add") out[i] = x + y;
      else if (op == "Sub") out[i] = x - y;
      else if (op == "Mul") out[i] = x * y;
      else {
        if (y == 0) return std::nullopt;
        out[i] = x / y;  // ONNX integer Div truncates
      }
    }
    return out;
  }
  return std::nullopt;
}

// ConstantFolding: a node whose inputs are all constants (Shape: whose input
// shape is static) is computed at load time and replaced by initializers.
bool fold_constants(Sim& s) {
  bool changed = false;
  for (int n : s.order) {
    SNode& nd = s.nodes[n];
    if (!nd.alive || never_folded(nd)) continue;
    bool all_const = true;
    if (nd.op == "Shape" || nd.op == "Size") {
      all_const = s.static_shape(s.in(n, 0)).has_value();
    } else {
      bool any = false;
      for (int v : nd.in) {
        if (v < 0) continue;
        any = true;
        if (!s.is_const(v)) all_const = false;
      }
      if (!any) all_const = false;
    }
    if (!all_const) continue;
    // ORT does not fold a node whose output is a graph output (it has to stay a produced value).
    if (s.feeds_graph_output(n)) continue;
    std::optional<std::vector<int64_t>> ints;
    if (s.dt(nd.out.empty() ? -1 : nd.out[0]) == DataType::Int64 || nd.op == "Shape" || nd.op == "Size")
      ints = eval_ints(s, n);
    for (int v : nd.out) {
      if (v < 0) continue;
      s.vals[v].ints = ints;
      s.vals[v].is_const = true;
      // Values stay unknown; shapes come from effopt's inference.
      s.vals[v].tensor = nullptr;
      // Identity of a known constant keeps the tensor (weights shared through Identity).
      if (nd.op == "Identity") s.vals[v].tensor = s.vals[s.in(n, 0)].tensor;
    }
    s.kill(n, "folded", "ConstantFolding");
    ++s.hits["ConstantFolding"];
    changed = true;
  }
  return changed;
}

// IdentityElimination / DropoutElimination: the node's input replaces its output.
// ORT keeps an Identity whose output is a graph output when its input is a
// graph input or is also consumed elsewhere (nothing to rename).
bool eliminate_noops(Sim& s) {
  bool changed = false;
  for (int n : s.order) {
    if (!s.nodes[n].alive) continue;
    bool identity = s.is(n, "Identity");
    bool dropout = s.is(n, "Dropout") && (s.out(n, 1) < 0 || s.use_count(s.out(n, 1)) == 0) &&
                   (s.out(n, 1) < 0 || !s.vals[s.out(n, 1)].graph_output);
    if (!identity && !dropout) continue;
    int x = s.in(n, 0), y = s.out(n, 0);
    if (x < 0 || y < 0) continue;
    if (s.vals[y].graph_output) {
      int p = s.producer(x);
      if (p < 0 || s.use_count(x) != 1 || s.vals[x].graph_output) continue;
      // The producer takes over the output name.
      for (size_t k = 0; k < s.nodes[p].out.size(); ++k)
        if (s.nodes[p].out[k] == x) s.set_output(p, k, y);
    } else {
      s.replace_uses(y, x);
    }
    const char* rule = identity ? "IdentityElimination" : "DropoutElimination";
    s.kill(n, "eliminated", rule);
    ++s.hits[rule];
    changed = true;
  }
  return changed;
}

bool conv_like(Sim& s, int n) { return s.is(n, "Conv") && s.opset >= 1; }

// Conv's weight and optional bias as ORT's ConvBN/Mul/AddFusion need them:
// constant initializers of a floating type.
bool conv_params_const(Sim& s, int conv) {
  int w = s.in(conv, 1);
  if (!s.is_const(w) || !is_ieee_float_type(s.dt(w))) return false;
  int b = s.in(conv, 2);
  return b < 0 || s.is_const(b);
}

// Per-output-channel constant ([C,1,..] or [1,C,1,..] up to the conv's
// rank, as ConvMulFusion/ConvAddFusion accept).
bool per_channel_const(Sim& s, int conv, int v) {
  auto ws = s.static_shape(s.in(conv, 1));
  auto cs = s.static_shape(v);
  if (!ws || ws->size() < 3 || !cs || !s.is_const(v)) return false;
  int64_t C = (*ws)[0];
  size_t wr = ws->size();
  std::vector<int64_t> d = *cs;
  if (d.size() == wr) {
    if (d[0] != 1) return false;
    d.erase(d.begin());
  }
  if (d.size() != wr - 1) return false;
  if (d[0] != C) return false;
  for (size_t i = 1; i < d.size(); ++i)
    if (d[i] != 1) return false;
  return true;
}

// ConvBNFusion, ConvMulFusion, ConvAddFusion (ORT's level-1 rewrite rules):
// Conv -> {BatchNormalization | Mul by a per-channel constant | Add of a
// per-channel constant}, where the Conv's only consumer is that node, the Conv
// output is not a graph output and its weights are constant. The Conv keeps
// its kernel with new weights; the other node disappears.
bool fuse_conv_affine(Sim& s) {
  bool changed = false;
  for (int n : s.order) {
    if (!s.nodes[n].alive || !conv_like(s, n) || !conv_params_const(s, n)) continue;
    int next = s.single_consumer(n);
    if (next < 0) continue;
    std::string rule;
    if (s.is(next, "BatchNormalization")) {
      bool ok = s.out(next, 1) < 0 || s.use_count(s.out(next, 1)) == 0;
      for (int k = 1; k <= 4; ++k) ok = ok && s.is_const(s.in(next, k));
      if (s.has_attr(next, "spatial") && s.attr_int(next, "spatial", 1) != 1) ok = false;
      if (!ok) continue;
      rule = "ConvBNFusion";
    } else if (s.is(next, "Mul") || s.is(next, "Add")) {
      int other = s.in(next, 0) == s.out(n) ? s.in(next, 1) : s.in(next, 0);
      if (!per_channel_const(s, n, other)) continue;
      rule = s.is(next, "Mul") ? "ConvMulFusion" : "ConvAddFusion";
    } else {
      continue;
    }
    s.set_output(n, 0, s.out(next, 0));
    s.absorb(n, next, rule);
    ++s.hits[rule];
    changed = true;
  }
  return changed;
}

// MatMulAddFusion: MatMul(A, B) -> Add(bias) becomes Gemm when B is a 2-D
// constant-shaped weight, the bias broadcasts over the last dim ([N] or
// [1,N]), the MatMul output feeds only the Add, and A is 2-D; a 3-D or higher
// A with static shape becomes Reshape -> Gemm -> Reshape (ORT 1.30).
bool fuse_matmul_add(Sim& s) {
  bool changed = false;
  for (int n : s.order) {
    if (!s.is(n, "MatMul")) continue;
    int add = s.single_consumer(n);
    if (!s.is(add, "Add")) continue;
    int a = s.in(n, 0), b = s.in(n, 1);
    auto bs = s.static_shape(b);
    auto as = s.static_shape(a);
    // A 2-D input needs no static shape; higher ranks do (for the Reshapes).
    bool two_d = s.rank(a) == 2;
    if (!bs || bs->size() != 2 || (!two_d && (!as || as->size() < 2))) continue;
    if (!is_ieee_float_type(s.dt(b))) continue;
    int bias = s.in(add, 0) == s.out(n) ? s.in(add, 1) : s.in(add, 0);
    auto cs = s.static_shape(bias);
    if (!cs) continue;
    int64_t N = (*bs)[1];
    bool bias_ok = (cs->size() == 1 && (*cs)[0] == N) || (cs->size() == 2 && (*cs)[0] == 1 && (*cs)[1] == N);
    if (!bias_ok) continue;
    s.nodes[n].op = "Gemm";
    s.nodes[n].in = {a, b, bias};
    s.set_output(n, 0, s.out(add, 0));
    s.absorb(n, add, "MatMulAddFusion");
    ++s.hits["MatMulAddFusion"];
    if (!two_d) {
      // Reshape in front of and behind the Gemm.
      int a2 = s.add_value(s.vals[a].name + "/gemm_input", s.dt(a), std::nullopt);
      SNode r1;
      r1.name = "gemm_input_reshape";
      r1.op = "Reshape";
      r1.in = {a};
      r1.out = {a2};
      r1.inserted = true;
      r1.rule = "MatMulAddFusion";
      int y = s.out(n, 0);
      int y2 = s.add_value(s.vals[y].name + "/gemm_output", s.dt(y), std::nullopt);
      SNode r2 = r1;
      r2.name = "gemm_output_reshape";
      r2.in = {y2};
      r2.out = {y};
      s.nodes[n].in[0] = a2;
      s.set_output(n, 0, y2);
      s.add_node(std::move(r1));
      s.add_node(std::move(r2));
    }
    changed = true;
  }
  if (changed) s.resort();
  return changed;
}

// Follows Cast nodes upstream from v.
int skip_casts(Sim& s, int v) {
  while (s.is(s.producer(v), "Cast")) v = s.in(s.producer(v), 0);
  return v;
}

// The [start, end) a Slice on axis 0 with step 1 takes (attributes before
// opset 10, constant inputs from then on); nullopt otherwise.
std::optional<std::pair<int64_t, int64_t>> slice_range(Sim& s, int sl) {
  int64_t st = 0, en = 0;
  if (s.nodes[sl].in.size() == 1) {
    const Attribute* a = s.attr(sl, "starts");
    const Attribute* b = s.attr(sl, "ends");
    const Attribute* ax = s.attr(sl, "axes");
    if (!a || !b || a->ints.size() != 1 || b->ints.size() != 1) return std::nullopt;
    if (ax && (ax->ints.size() != 1 || ax->ints[0] != 0)) return std::nullopt;
    st = a->ints[0];
    en = b->ints[0];
  } else {
    auto sv = s.scalar(s.in(sl, 1)), ev = s.scalar(s.in(sl, 2));
    if (!sv || !ev) return std::nullopt;
    if (s.in(sl, 3) >= 0 && s.scalar(s.in(sl, 3)).value_or(-1) != 0) return std::nullopt;
    if (s.in(sl, 4) >= 0 && s.scalar(s.in(sl, 4)).value_or(-1) != 1) return std::nullopt;
    st = static_cast<int64_t>(*sv);
    en = static_cast<int64_t>(*ev);
  }
  if (st < 0 || en <= st || en > 64) return std::nullopt;
  return std::make_pair(st, en);
}

// ReshapeFusion: Reshape(x, Concat(parts)) where each part is a 1-D
// constant or a Slice (through Casts) of Shape(x) that takes the dims at the
// same positions: the shape becomes a constant (0 = copy the dim) and the
// Shape/Slice/Cast/Concat nodes go (when nothing else reads them).
bool fuse_reshape(Sim& s) {
  bool changed = false;
  for (int n : std::vector<int>(s.order)) {
    if (!s.is(n, "Reshape") || s.is_const(s.in(n, 1))) continue;
    int x = s.in(n, 0);
    int cc = s.producer(s.in(n, 1));
    if (!s.is(cc, "Concat")) continue;
    int64_t pos = 0;
    bool ok = true;
    std::vector<int> chain;
    for (int part : s.nodes[cc].in) {
      if (s.is_const(part)) {
        auto sh = s.static_shape(part);
        if (!sh || sh->size() != 1) { ok = false; break; }
        pos += (*sh)[0];
        continue;
      }
      int v = skip_casts(s, part);
      int sl = s.producer(v);
      if (!s.is(sl, "Slice")) { ok = false; break; }
      auto r = slice_range(s, sl);
      int shp = s.producer(skip_casts(s, s.in(sl, 0)));
      if (!r || !s.is(shp, "Shape") || s.in(shp, 0) != x || r->first != pos) { ok = false; break; }
      pos = r->second;
      for (int w = part; w != s.in(shp, 0);) {
        int p = s.producer(w);
        chain.push_back(p);
        w = s.in(p, 0);
      }
    }
    if (!ok || chain.empty()) continue;
    int shape_v = s.add_value(s.vals[s.in(n, 1)].name + "/fused", DataType::Int64, std::vector<Dim>{Dim::known(pos)});
    s.vals[shape_v].is_const = true;
    int old = s.in(n, 1);
    s.nodes[n].in[1] = shape_v;
    s.touch();
    // Remove the shape computation back to front while nothing else reads it.
    std::vector<int> dead = {s.producer(old)};
    for (int c : chain) dead.push_back(c);
    for (int d : dead) {
      if (d < 0 || !s.nodes[d].alive) continue;
      bool used = false;
      for (int v : s.nodes[d].out)
        if (v >= 0 && (s.use_count(v) > 0 || s.vals[v].graph_output)) used = true;
      if (!used) s.absorb(n, d, "ReshapeFusion");
    }
    s.nodes[n].rule = "ReshapeFusion";
    ++s.hits["ReshapeFusion"];
    changed = true;
  }
  return changed;
}

void run_level1(Sim& s) {
  // ORT's level-1 transformers loop until nothing changes.
  for (int iter = 0; iter < 10; ++iter) {
    bool changed = false;
    changed |= eliminate_noops(s);
    changed |= fold_constants(s);
    changed |= fuse_conv_affine(s);
    changed |= fuse_matmul_add(s);
    changed |= fuse_reshape(s);
    if (!changed) break;
  }
}

// ---- level 2: QDQ --------------------------------------------------------------------------------------

bool is_dq(Sim& s, int n) { return s.is(n, "DequantizeLinear"); }
bool is_q(Sim& s, int n) { return s.is(n, "QuantizeLinear"); }
// The quantized type of a DQ's input / a Q's output (the zero point's type when the value's is unknown).
DataType q_type(Sim& s, int qdq, bool is_dq_node) {
  int v = is_dq_node ? s.in(qdq, 0) : s.out(qdq, 0);
  DataType t = s.dt(v);
  if (t == DataType::Undefined && s.in(qdq, 2) >= 0) t = s.dt(s.in(qdq, 2));
  if (t == DataType::Undefined && !is_dq_node) t = DataType::UInt8;  // Q's default
  return t;
}
bool qparams_const(Sim& s, int qdq) {
  return s.is_const(s.in(qdq, 1)) && (s.in(qdq, 2) < 0 || s.is_const(s.in(qdq, 2)));
}
bool same_tensor_bytes(const Tensor* a, const Tensor* b) {
  if (!a || !b || a->data_type != b->data_type || a->byte_size() != b->byte_size()) return false;
  auto x = a->bytes(), y = b->bytes();
  return std::memcmp(x.data(), y.data(), x.size()) == 0;
}
// IsQDQPairSupported: same scale and zero point (compared by value).
bool same_qparams(Sim& s, int q, int dq) {
  if (s.in(q, 1) == s.in(dq, 1) && s.in(q, 2) == s.in(dq, 2)) return true;
  if (!same_tensor_bytes(s.tensor(s.in(q, 1)), s.tensor(s.in(dq, 1)))) return false;
  if (s.in(q, 2) < 0 && s.in(dq, 2) < 0) return true;
  return same_tensor_bytes(s.tensor(s.in(q, 2)), s.tensor(s.in(dq, 2)));
}

struct QdqGroup {
  std::vector<int> dqs;  // per input slot that has one
  int q = -1;            // the single QuantizeLinear consuming the output, or -1
};

// NodeGroupSelector's common checks: every listed input comes from a DQ with
// constant parameters, the output goes only to one Q (constant parameters,
// not a graph output), and nothing else reads the op's output.
std::optional<QdqGroup> select_qdq(Sim& s, int n, size_t num_inputs, bool need_q) {
  QdqGroup g;
  for (size_t i = 0; i < num_inputs; ++i) {
    int v = s.in(n, i);
    if (v < 0) continue;
    int p = s.producer(v);
    if (!is_dq(s, p) || !qparams_const(s, p) || s.feeds_graph_output(p)) return std::nullopt;
    g.dqs.push_back(p);
  }
  if (g.dqs.empty()) return std::nullopt;
  int y = s.out(n, 0);
  if (y < 0) return std::nullopt;
  if (s.use_count(y) == 1 && !s.vals[y].graph_output && s.output_edges(n) == 1) {
    int c = s.uses(y)[0].first;
    if (is_q(s, c) && qparams_const(s, c)) g.q = c;
  }
  if (need_q && g.q < 0) return std::nullopt;
  return g;
}

void replace_group(Sim& s, int n, const QdqGroup& g, const std::string& op, const std::string& domain,
                   const std::string& rule) {
  s.nodes[n].op = op;
  s.nodes[n].domain = domain;
  std::vector<int> ins;
  for (int dq : g.dqs) {
    // A DQ feeding several ops stays for the others (ORT duplicates nothing:
    // the shared DQ remains only while something still reads it).
    ins.push_back(s.in(dq, 0));
  }
  s.nodes[n].in = ins;
  if (g.q >= 0) {
    s.set_output(n, 0, s.out(g.q, 0));
    s.absorb(n, g.q, rule);
  }
  for (int dq : g.dqs) {
    if (!s.nodes[dq].alive) continue;
    bool other_use = false;
    for (auto& u : s.uses(s.out(dq))) other_use |= u.first != n;
    if (!other_use && !s.vals[s.out(dq)].graph_output) s.absorb(n, dq, rule);
  }
  s.nodes[n].rule = rule;
  ++s.hits[rule];
}

bool act_type_ok(DataType t, const OrtPredictionOptions& o) {
  return t == DataType::UInt8 || (t == DataType::Int8 && o.int8_activations_allowed);
}

// QDQS8ToU8Transformer (x86): an int8 QuantizeLinear with constant
// parameters whose every consumer is a DequantizeLinear becomes uint8 (new
// zero point, new output value); its DequantizeLinears follow.
bool convert_s8_activations(Sim& s) {
  bool changed = false;
  for (int n : s.order) {
    if (!is_q(s, n) || !qparams_const(s, n) || q_type(s, n, false) != DataType::Int8) continue;
    int y = s.out(n, 0);
    if (s.vals[y].graph_output || s.use_count(y) == 0) continue;
    bool all_dq = true;
    for (auto& u : s.uses(y)) all_dq &= is_dq(s, u.first) && u.second == 0;
    if (!all_dq) continue;
    int nv = s.add_value(s.vals[y].name + "/s8_to_u8", DataType::UInt8, s.vals[y].shape);
    s.replace_uses(y, nv);
    s.set_output(n, 0, nv);
    s.nodes[n].rule = "QDQS8ToU8Transformer";
    ++s.hits["QDQS8ToU8Transformer"];
    changed = true;
  }
  return changed;
}

// QDQSelectorActionTransformer (qdq_selectors.cc / qdq_actions.cc).
bool fuse_qdq(Sim& s, const OrtPredictionOptions& o) {
  bool changed = false;
  static const std::set<std::string> drop_ops = {"MaxPool", "Reshape", "Transpose", "Flatten",
                                                 "Squeeze", "Unsqueeze"};
  for (int n : std::vector<int>(s.order)) {
    if (!s.nodes[n].alive || !s.nodes[n].domain.empty()) continue;
    const std::string op = s.nodes[n].op;
    if (op == "Conv") {
      // ConvNodeGroupSelector: DQ on X, W (and B: int32), Q on Y; input type
      // equals output type; int8 activations only where allowed (not x86).
      auto g = select_qdq(s, n, 3, true);
      if (!g || g->dqs.size() < 2) continue;
      DataType tx = q_type(s, g->dqs[0], true), tw = q_type(s, g->dqs[1], true), ty = q_type(s, g->q, false);
      if (tx != ty || !act_type_ok(tx, o)) continue;
      if (tw != DataType::Int8 && tw != DataType::UInt8) continue;
      if (tx == DataType::Int8 && tw != DataType::Int8) continue;
      if (g->dqs.size() == 3 && q_type(s, g->dqs[2], true) != DataType::Int32) continue;
      if (!s.is_const(s.in(g->dqs[1], 0))) continue;
      replace_group(s, n, *g, "QLinearConv", "", "QDQSelectorActionTransformer(Conv)");
      changed = true;
    } else if (op == "MatMul") {
      // MatMulNodeGroupSelector: with a Q after it -> QLinearMatMul; without
      // (float output) -> MatMulIntegerToFloat (com.microsoft).
      auto g = select_qdq(s, n, 2, false);
      if (!g || g->dqs.size() != 2) continue;
      DataType ta = q_type(s, g->dqs[0], true), tb = q_type(s, g->dqs[1], true);
      if (!act_type_ok(ta, o)) continue;
      if (tb != DataType::Int8 && tb != DataType::UInt8) continue;
      if (ta == DataType::Int8 && tb != DataType::Int8) continue;
      if (g->q >= 0) {
        if (q_type(s, g->q, false) != ta) continue;
        replace_group(s, n, *g, "QLinearMatMul", "", "QDQSelectorActionTransformer(MatMul)");
      } else {
        replace_group(s, n, *g, "MatMulIntegerToFloat", "com.microsoft", "QDQSelectorActionTransformer(MatMul)");
      }
      changed = true;
    } else if (op == "Gemm") {
      // GemmNodeGroupSelector -> QGemm (com.microsoft); Q optional (float output allowed).
      auto g = select_qdq(s, n, 2, false);
      if (!g || g->dqs.size() != 2) continue;
      if (s.in(n, 2) >= 0) {
        int pb = s.producer(s.in(n, 2));
        if (!is_dq(s, pb) || q_type(s, pb, true) != DataType::Int32) continue;
        g->dqs.push_back(pb);
      }
      DataType ta = q_type(s, g->dqs[0], true), tb = q_type(s, g->dqs[1], true);
      if (!act_type_ok(ta, o) || (tb != DataType::Int8 && tb != DataType::UInt8)) continue;
      if (g->q >= 0 && q_type(s, g->q, false) != ta) continue;
      replace_group(s, n, *g, "QGemm", "com.microsoft", "QDQSelectorActionTransformer(Gemm)");
      changed = true;
    } else if (op == "Add" || op == "Mul") {
      // BinaryNodeGroupSelector: both inputs DQ, one Q, all the same type.
      auto g = select_qdq(s, n, 2, true);
      if (!g || g->dqs.size() != 2) continue;
      DataType t0 = q_type(s, g->dqs[0], true), t1 = q_type(s, g->dqs[1], true), ty = q_type(s, g->q, false);
      if (t0 != t1 || t0 != ty || (t0 != DataType::UInt8 && t0 != DataType::Int8)) continue;
      replace_group(s, n, *g, op == "Add" ? "QLinearAdd" : "QLinearMul", "com.microsoft",
                    "QDQSelectorActionTransformer(" + op + ")");
      changed = true;
    } else if (op == "AveragePool" || op == "GlobalAveragePool") {
      // UnaryNodeGroupSelector -> QLinearAveragePool / QLinearGlobalAveragePool.
      auto g = select_qdq(s, n, 1, true);
      if (!g) continue;
      DataType tx = q_type(s, g->dqs[0], true), ty = q_type(s, g->q, false);
      if (tx != ty || (tx != DataType::UInt8 && tx != DataType::Int8)) continue;
      replace_group(s, n, *g, "QLinear" + op, "com.microsoft", "QDQSelectorActionTransformer(" + op + ")");
      changed = true;
    } else if (drop_ops.count(op)) {
      // DropQDQNodesSelector: DQ -> op -> Q with equal parameters: the op
      // runs on the quantized tensor and both DQ and Q go.
      auto g = select_qdq(s, n, 1, true);
      if (!g) continue;
      int dq = g->dqs[0];
      if (s.use_count(s.out(dq)) != 1 || !same_qparams(s, g->q, dq)) continue;
      if (q_type(s, dq, true) != q_type(s, g->q, false)) continue;
      s.nodes[n].in[0] = s.in(dq, 0);
      s.set_output(n, 0, s.out(g->q, 0));
      s.absorb(n, g->q, "QDQSelectorActionTransformer(drop DQ/Q)");
      s.absorb(n, dq, "QDQSelectorActionTransformer(drop DQ/Q)");
      ++s.hits["QDQSelectorActionTransformer(drop DQ/Q)"];
      changed = true;
    }
  }
  if (changed) s.resort();
  return changed;
}

// DQMatMulToMatMulNBits: a constant 4-bit weight, block-wise quantized along
// axis 0 (block size a power of two >= 16), dequantized straight into a
// MatMul's B input becomes MatMulNBits (com.microsoft).
bool fuse_dq_matmul_nbits(Sim& s) {
  bool changed = false;
  for (int n : s.order) {
    if (!s.is(n, "MatMul")) continue;
    int dq = s.producer(s.in(n, 1));
    if (!is_dq(s, dq) || s.use_count(s.out(dq)) != 1) continue;
    DataType t = s.dt(s.in(dq, 0));
    if (t != DataType::Int4 && t != DataType::UInt4) continue;
    if (!s.is_const(s.in(dq, 0)) || !qparams_const(s, dq)) continue;
    int64_t bs = s.attr_int(dq, "block_size", 0);
    if (s.attr_int(dq, "axis", 1) != 0 || bs < 16 || (bs & (bs - 1)) != 0) continue;
    auto ws = s.static_shape(s.in(dq, 0));
    if (!ws || ws->size() != 2) continue;
    s.nodes[n].op = "MatMulNBits";
    s.nodes[n].domain = "com.microsoft";
    s.nodes[n].in[1] = s.in(dq, 0);
    s.absorb(n, dq, "DQMatMulToMatMulNBits");
    ++s.hits["DQMatMulToMatMulNBits"];
    changed = true;
  }
  return changed;
}

// ---- level 2: float fusions ----------------------------------------------------------------------------

// ConvActivationFusion (CPU): a float Conv whose only consumer is Relu,
// Sigmoid, Tanh, LeakyRelu, HardSigmoid or Clip with constant min/max becomes
// com.microsoft.FusedConv with that activation. The Conv output must not be a
// graph output.
// GemmActivationFusion: a float Gemm followed the same way by one of ORT's
// MLAS activations becomes com.microsoft.FusedGemm.
bool fuse_activation(Sim& s, const std::string& op, const std::string& fused, const std::string& rule) {
  static const std::set<std::string> acts = {"Relu", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid", "Clip"};
  bool changed = false;
  for (int n : s.order) {
    if (!s.is(n, op)) continue;
    DataType t = s.dt(s.in(n, 0));
    if (t != DataType::Float && !(t == DataType::Undefined && is_ieee_float_type(s.dt(s.in(n, 1))))) continue;
    int next = s.single_consumer(n);
    if (next < 0 || !s.nodes[next].domain.empty() || !acts.count(s.nodes[next].op)) continue;
    if (s.nodes[next].op == "Clip") {
      if ((s.in(next, 1) >= 0 && !s.is_const(s.in(next, 1))) || (s.in(next, 2) >= 0 && !s.is_const(s.in(next, 2))))
        continue;
    }
    if (op == "Gemm" && s.nodes[next].op == "Clip") {
      // FusedGemm takes the activation's attributes; Clip's min/max are inputs from opset 11 on.
      if (s.opset >= 11) continue;
    }
    std::string act = s.nodes[next].op;
    s.nodes[n].op = fused;
    s.nodes[n].domain = "com.microsoft";
    s.nodes[n].str_attrs["activation"] = act;
    s.set_output(n, 0, s.out(next, 0));
    s.absorb(n, next, rule);
    ++s.hits[rule];
    changed = true;
  }
  return changed;
}

// Follows x through single-consumer nodes: the consumer of v if it is op `op`
// (one of its inputs is v), else -1.
int only_consumer_op(Sim& s, int v, const std::string& op) {
  if (v < 0 || s.use_count(v) != 1 || s.vals[v].graph_output) return -1;
  int c = s.uses(v)[0].first;
  return s.is(c, op) ? c : -1;
}
int other_input(Sim& s, int n, int v) { return s.in(n, 0) == v ? s.in(n, 1) : s.in(n, 0); }

// LayerNormFusion: ReduceMean(x) -> Sub(x, mean) -> Pow(d, 2) -> ReduceMean ->
// Add(eps) -> Sqrt -> Div(d, .) -> Mul(gamma) -> Add(beta) becomes
// LayerNormalization (ai.onnx, opset 17 kernel in ORT) when both ReduceMeans
// reduce the last axis and the intermediate values have no other consumers
// (the Sub output feeds Pow and Div only).
bool fuse_layer_norm(Sim& s) {
  bool changed = false;
  for (int n : std::vector<int>(s.order)) {
    if (!s.is(n, "ReduceMean")) continue;
    int x = s.in(n, 0);
    int mean = s.out(n);
    if (s.use_count(mean) != 1) continue;
    int sub = s.uses(mean)[0].first;
    if (!s.is(sub, "Sub") || s.in(sub, 0) != x || s.in(sub, 1) != mean) continue;
    int d = s.out(sub);
    if (s.use_count(d) != 2 || s.vals[d].graph_output) continue;
    int pw = -1, dv = -1;
    for (auto& u : s.uses(d)) {
      if (s.is(u.first, "Pow") && u.second == 0) pw = u.first;
      if (s.is(u.first, "Div") && u.second == 0) dv = u.first;
    }
    if (pw < 0 || dv < 0) continue;
    auto e = s.scalar(s.in(pw, 1));
    if (e && *e != 2.0) continue;
    int rm2 = only_consumer_op(s, s.out(pw), "ReduceMean");
    int add_eps = rm2 >= 0 ? only_consumer_op(s, s.out(rm2), "Add") : -1;
    int sq = add_eps >= 0 ? only_consumer_op(s, s.out(add_eps), "Sqrt") : -1;
    if (sq < 0 || only_consumer_op(s, s.out(sq), "Div") != dv || s.in(dv, 1) != s.out(sq)) continue;
    if (!s.is_const(other_input(s, add_eps, s.out(rm2)))) continue;
    // Both ReduceMeans over the last axis (axes attribute, or input from opset 18).
    auto last_axis = [&](int rm) {
      const Attribute* a = s.attr(rm, "axes");
      std::vector<int64_t> axes = a ? a->ints : std::vector<int64_t>{};
      if (axes.size() != 1) return false;
      auto r = s.rank(s.in(rm, 0));
      return axes[0] == -1 || (r && axes[0] == *r - 1);
    };
    if (!last_axis(n) || !last_axis(rm2)) continue;
    int mul = only_consumer_op(s, s.out(dv), "Mul");
    if (mul < 0 || !s.is_const(other_input(s, mul, s.out(dv)))) continue;
    int add = only_consumer_op(s, s.out(mul), "Add");
    if (add < 0 || !s.is_const(other_input(s, add, s.out(mul)))) continue;
    // The LayerNormalization takes the last node's place.
    s.nodes[add].op = "LayerNormalization";
    s.nodes[add].in = {x, other_input(s, mul, s.out(dv)), other_input(s, add, s.out(mul))};
    for (int m : {n, sub, pw, rm2, add_eps, sq, dv, mul}) s.absorb(add, m, "LayerNormFusion");
    ++s.hits["LayerNormFusion"];
    changed = true;
  }
  if (changed) s.resort();
  return changed;
}

// SkipLayerNormFusion: Add(a, b) -> LayerNormalization, where a and b are
// 3-D with the same static shape, the Add output feeds only the
// LayerNormalization (or also leaves as a graph output in ORT's variant with a
// second output, not encoded), becomes com.microsoft.SkipLayerNormalization.
bool fuse_skip_layer_norm(Sim& s) {
  bool changed = false;
  for (int n : std::vector<int>(s.order)) {
    if (!s.is(n, "LayerNormalization")) continue;
    int add = s.producer(s.in(n, 0));
    if (!s.is(add, "Add") || s.use_count(s.out(add)) != 1 || s.vals[s.out(add)].graph_output) continue;
    auto a = s.static_shape(s.in(add, 0)), b = s.static_shape(s.in(add, 1));
    if (!a || !b || a->size() != 3 || *a != *b) continue;
    s.nodes[n].op = "SkipLayerNormalization";
    s.nodes[n].domain = "com.microsoft";
    s.nodes[n].in = {s.in(add, 0), s.in(add, 1), s.in(n, 1), s.in(n, 2)};
    s.absorb(n, add, "SkipLayerNormFusion");
    ++s.hits["SkipLayerNormFusion"];
    changed = true;
  }
  return changed;
}

// GeluFusion: Div(x, sqrt(2)) -> Erf -> Add(1) -> Mul(x, .) -> Mul(0.5)
// (either Mul order) becomes com.microsoft.Gelu; intermediate values single-use.
bool fuse_gelu(Sim& s) {
  bool changed = false;
  for (int n : std::vector<int>(s.order)) {
    if (!s.is(n, "Erf")) continue;
    int dv = s.producer(s.in(n, 0));
    if (!s.is(dv, "Div") || s.use_count(s.out(dv)) != 1) continue;
    auto c = s.scalar(s.in(dv, 1));
    if (!c || std::abs(*c - std::sqrt(2.0)) > 1e-3) continue;
    int x = s.in(dv, 0);
    int add = only_consumer_op(s, s.out(n), "Add");
    if (add < 0) continue;
    auto one = s.scalar(other_input(s, add, s.out(n)));
    if (!one || *one != 1.0) continue;
    int m1 = only_consumer_op(s, s.out(add), "Mul");
    if (m1 < 0) continue;
    int last = -1;
    std::vector<int> parts = {dv, n, add, m1};
    int o1 = other_input(s, m1, s.out(add));
    if (o1 == x) {
      int m2 = only_consumer_op(s, s.out(m1), "Mul");
      auto h = m2 >= 0 ? s.scalar(other_input(s, m2, s.out(m1))) : std::nullopt;
      if (!h || *h != 0.5) continue;
      last = m2;
    } else {
      // Mul(x, 0.5) first, then Mul(that, erf part).
      int mh = s.producer(o1);
      if (!s.is(mh, "Mul") || s.use_count(s.out(mh)) != 1) continue;
      auto h = s.scalar(other_input(s, mh, x));
      if ((s.in(mh, 0) != x && s.in(mh, 1) != x) || !h || *h != 0.5) continue;
      parts.push_back(mh);
      last = m1;
    }
    s.nodes[last].op = "Gelu";
    s.nodes[last].domain = "com.microsoft";
    s.nodes[last].in = {x};
    for (int p : parts)
      if (p != last && s.nodes[p].alive) s.absorb(last, p, "GeluFusion");
    ++s.hits["GeluFusion"];
    changed = true;
  }
  if (changed) s.resort();
  return changed;
}

// BiasGeluFusion: Add(x, 1-D constant bias) -> Gelu becomes
// com.microsoft.BiasGelu when the Add feeds only the Gelu.
bool fuse_bias_gelu(Sim& s) {
  bool changed = false;
  for (int n : s.order) {
    if (!s.is(n, "Gelu", "com.microsoft")) continue;
    int add = s.producer(s.in(n, 0));
    if (!s.is(add, "Add") || s.use_count(s.out(add)) != 1 || s.vals[s.out(add)].graph_output) continue;
    int bias = s.is_const(s.in(add, 1)) ? s.in(add, 1) : s.in(add, 0);
    int x = other_input(s, add, bias);
    auto bs = s.static_shape(bias);
    auto xs = s.static_shape(x);
    if (!s.is_const(bias) || !bs || bs->size() != 1 || !xs || xs->empty() || xs->back() != (*bs)[0]) continue;
    s.nodes[n].op = "BiasGelu";
    s.nodes[n].in = {x, bias};
    s.absorb(n, add, "BiasGeluFusion");
    ++s.hits["BiasGeluFusion"];
    changed = true;
  }
  return changed;
}

// MatMulScaleFusion: a MatMul (or FusedMatMul) whose input is Mul/Div by a
// scalar constant, or whose single consumer is such a Mul/Div, becomes
// com.microsoft.FusedMatMul with alpha (float types).
bool fuse_matmul_scale(Sim& s) {
  bool changed = false;
  for (int n : std::vector<int>(s.order)) {
    if (!s.is(n, "MatMul") && !s.is(n, "FusedMatMul", "com.microsoft")) continue;
    if (!is_ieee_float_type(s.dt(s.out(n)))) continue;
    auto scalar_scale = [&](int m, int v) {
      if (!s.is(m, "Mul") && !s.is(m, "Div")) return false;
      int c = other_input(s, m, v);
      if (s.is(m, "Div") && s.in(m, 0) != v) return false;
      return s.is_const(c) && s.const_elems(c).value_or(0) == 1;
    };
    bool fused = false;
    for (int k = 0; k < 2 && !fused; ++k) {
      int v = s.in(n, k);
      int m = s.producer(v);
      if (m < 0 || s.use_count(v) != 1 || s.vals[v].graph_output) continue;
      int src = s.is_const(s.in(m, 1)) ? s.in(m, 0) : s.in(m, 1);
      if (!scalar_scale(m, src)) continue;
      s.nodes[n].in[k] = src;
      s.absorb(n, m, "MatMulScaleFusion");
      fused = true;
    }
    if (!fused) {
      int m = s.single_consumer(n);
      if (m >= 0 && scalar_scale(m, s.out(n))) {
        s.set_output(n, 0, s.out(m, 0));
        s.absorb(n, m, "MatMulScaleFusion");
        fused = true;
      }
    }
    if (!fused) continue;
    s.nodes[n].op = "FusedMatMul";
    s.nodes[n].domain = "com.microsoft";
    ++s.hits["MatMulScaleFusion"];
    changed = true;
  }
  return changed;
}

// MatmulTransposeFusion: a MatMul/FusedMatMul input that is a Transpose of
// rank n >= 2 with perm [0..n-3, n-1, n-2] (trans), [1..n-2, 0, n-1]
// (trans_batch) or [1..n-2, n-1, 0] (both), read by nothing else, is folded
// into com.microsoft.FusedMatMul's transA/transB (transBatchA/B) attributes.
bool fuse_matmul_transpose(Sim& s) {
  bool changed = false;
  for (int n : std::vector<int>(s.order)) {
    if (!s.is(n, "MatMul") && !s.is(n, "FusedMatMul", "com.microsoft")) continue;
    if (!is_ieee_float_type(s.dt(s.out(n)))) continue;
    for (int k = 0; k < 2; ++k) {
      std::string tk = k == 0 ? "transA" : "transB", bk = k == 0 ? "transBatchA" : "transBatchB";
      if (s.nodes[n].str_attrs.count(tk) || s.nodes[n].str_attrs.count(bk)) continue;
      int v = s.in(n, k);
      int t = s.producer(v);
      if (!s.is(t, "Transpose") || s.use_count(v) != 1 || s.vals[v].graph_output) continue;
      const Attribute* pa = s.attr(t, "perm");
      if (!pa) continue;
      const std::vector<int64_t>& perm = pa->ints;
      int64_t r = static_cast<int64_t>(perm.size());
      if (r < 2) continue;
      std::vector<int64_t> tr, tb, both;
      for (int64_t i = 0; i < r - 2; ++i) tr.push_back(i);
      tr.push_back(r - 1);
      tr.push_back(r - 2);
      for (int64_t i = 1; i <= r - 2; ++i) tb.push_back(i), both.push_back(i);
      tb.push_back(0);
      tb.push_back(r - 1);
      both.push_back(r - 1);
      both.push_back(0);
      bool trans = perm == tr || (r > 2 && perm == both);
      bool batch = r > 2 && (perm == tb || perm == both);
      if (!trans && !batch) continue;
      if (trans) s.nodes[n].str_attrs[tk] = "1";
      if (batch) s.nodes[n].str_attrs[bk] = "1";
      s.nodes[n].in[k] = s.in(t, 0);
      s.absorb(n, t, "MatmulTransposeFusion");
      s.nodes[n].op = "FusedMatMul";
      s.nodes[n].domain = "com.microsoft";
      ++s.hits["MatmulTransposeFusion"];
      changed = true;
    }
  }
  return changed;
}

// GatherSliceToSplitFusion (Slice form): when every consumer of a value is a
// Slice along one axis (constant starts/ends, step 1) and together they cut
// the (known) dim into contiguous pieces from 0 to its end, they become one
// Split.
bool fuse_slices_to_split(Sim& s) {
  bool changed = false;
  for (size_t v = 0; v < s.vals.size(); ++v) {
    const auto uses = s.uses(static_cast<int>(v));
    if (uses.size() < 2 || s.vals[v].graph_output) continue;
    auto sh = s.static_shape(static_cast<int>(v));
    if (!sh) continue;
    std::vector<std::pair<int64_t, int>> pieces;  // (start, slice node)
    int64_t axis = -999;
    bool ok = true;
    std::map<int64_t, int64_t> end_of;
    for (auto& u : uses) {
      int sl = u.first;
      if (!s.is(sl, "Slice") || u.second != 0 || s.nodes[sl].in.size() < 3) { ok = false; break; }
      auto st = s.scalar(s.in(sl, 1)), en = s.scalar(s.in(sl, 2));
      if (!st || !en) { ok = false; break; }
      int64_t ax = 0;
      if (s.in(sl, 3) >= 0) {
        auto a = s.scalar(s.in(sl, 3));
        if (!a) { ok = false; break; }
        ax = static_cast<int64_t>(*a);
      }
      if (ax < 0) ax += static_cast<int64_t>(sh->size());
      if (s.in(sl, 4) >= 0 && s.scalar(s.in(sl, 4)).value_or(0) != 1) { ok = false; break; }
      if (axis != -999 && ax != axis) { ok = false; break; }
      axis = ax;
      if (axis < 0 || axis >= static_cast<int64_t>(sh->size())) { ok = false; break; }
      int64_t dim = (*sh)[axis];
      int64_t b = static_cast<int64_t>(*st), e = static_cast<int64_t>(std::min<double>(*en, static_cast<double>(dim)));
      if (b < 0 || e <= b || end_of.count(b)) { ok = false; break; }
      end_of[b] = e;
      pieces.push_back({b, sl});
    }
    if (!ok) continue;
    int64_t at = 0;
    for (auto& [b, e] : end_of) {
      if (b != at) { ok = false; break; }
      at = e;
    }
    if (!ok || at != (*sh)[axis]) continue;
    std::sort(pieces.begin(), pieces.end());
    // The Split takes the place of the last Slice in graph order.
    int keep = pieces.front().second;
    for (auto& pc : pieces)
      if (std::find(s.order.begin(), s.order.end(), pc.second) > std::find(s.order.begin(), s.order.end(), keep))
        keep = pc.second;
    std::vector<int> outs;
    for (auto& pc : pieces) outs.push_back(s.out(pc.second, 0));
    s.nodes[keep].op = "Split";
    s.nodes[keep].in = {static_cast<int>(v)};
    for (auto& pc : pieces)
      if (pc.second != keep) s.absorb(keep, pc.second, "GatherSliceToSplitFusion");
    s.nodes[keep].out.clear();
    for (size_t i = 0; i < outs.size(); ++i) s.set_output(keep, i, outs[i]);
    s.nodes[keep].rule = "GatherSliceToSplitFusion";
    ++s.hits["GatherSliceToSplitFusion"];
    changed = true;
  }
  if (changed) s.resort();
  return changed;
}

void run_level2(Sim& s, const OrtPredictionOptions& o) {
  if (o.s8_to_u8_activations && !o.int8_activations_allowed) convert_s8_activations(s);
  fuse_qdq(s, o);
  fuse_dq_matmul_nbits(s);
  fuse_activation(s, "Gemm", "FusedGemm", "GemmActivationFusion");
  fuse_activation(s, "Conv", "FusedConv", "ConvActivationFusion");
  fuse_gelu(s);
  fuse_layer_norm(s);
  fuse_bias_gelu(s);
  fuse_skip_layer_norm(s);
  fuse_slices_to_split(s);
  fuse_matmul_transpose(s);
  fuse_matmul_scale(s);
  fuse_matmul_transpose(s);
  s.resort();
  // The level-1 rules run again after level 2 in ORT's loop (fusions expose new constants rarely).
  fold_constants(s);
}

// ---- level 3: NCHWc ------------------------------------------------------------------------------------

// NchwcTransformer (nchwc_transformer.cc), replayed node by node in
// topological order with ORT's bookkeeping: every NCHWc output tracks how
// many original uses remain; those still read in NCHW get a ReorderOutput.
class Nchwc {
 public:
  Nchwc(Sim& s, int block, int conv_align) : s_(s), block_(block), conv_align_(conv_align) {}

  void run() {
    for (int n : std::vector<int>(s_.order)) {
      if (!s_.nodes[n].alive) continue;
      transform(n);
    }
    finalize();
    s_.resort();
  }

 private:
  struct DimRef {
    int value = -1, index = 0, shift = 0;
    bool operator==(const DimRef&) const = default;
  };
  struct Arg {
    int node;        // the NCHWc node producing it
    int nchwc_val;   // the NCHWc-layout value
    int start_uses, remaining;
    int64_t channels;
    std::array<DimRef, 4> shape;
  };

  std::array<DimRef, 4> fresh_shape(int v) {
    std::array<DimRef, 4> d;
    for (int i = 0; i < 4; ++i) d[i] = {v, i, 0};
    return d;
  }
  // ORT's RemoveOutputEdges: edge count (+1 for a graph output).
  int original_uses(int n) {
    int c = s_.output_edges(n);
    if (s_.feeds_graph_output(n)) ++c;
    return c;
  }
  void mark(int n, const std::string& rule) {
    s_.nodes[n].rule = rule;
    ++s_.hits[rule];
  }
  // The node now writes an NCHWc value; its original output value keeps its consumers.
  void create_arg(int orig_out, int nchwc_node, int64_t channels, std::array<DimRef, 4> shape, int uses_of) {
    int nv = s_.add_value(s_.vals[orig_out].name + "_nchwc", DataType::Float, std::nullopt);
    Arg a{nchwc_node, nv, uses_of, uses_of, channels, shape};
    args_[orig_out] = a;
    pending_out_[nchwc_node] = {orig_out, nv};
  }
  void fuse_arg(int orig_out, const Arg& into, int uses_of) {
    Arg a = into;
    a.start_uses = a.remaining = uses_of;
    args_[orig_out] = a;
  }
  int reorder_input(int v) {
    auto it = reorder_inputs_.find(v);
    if (it != reorder_inputs_.end()) return it->second;
    int nv = s_.add_value(s_.vals[v].name + "_reorder", DataType::Float, std::nullopt);
    SNode r;
    r.name = "ReorderInput";
    r.op = "ReorderInput";
    r.domain = "com.microsoft.nchwc";
    r.in = {v};
    r.out = {nv};
    r.inserted = true;
    r.rule = "NchwcTransformer";
    s_.add_node(std::move(r));
    reorder_inputs_[v] = nv;
    return nv;
  }
  // Consumes an NCHWc input: returns its NCHWc value, counting one original use less.
  int use_arg(int v) {
    Arg& a = args_.at(v);
    --a.remaining;
    return a.nchwc_val;
  }
  // The node's inputs all come from nodes this transformer already rewrote
  // (ORT: GetInputEdgesCount() == 0 after their output edges were removed).
  bool inputs_all_converted(int n) {
    if (s_.nodes[n].in.empty()) return false;
    for (int v : s_.nodes[n].in) {
      int p = s_.producer(v);
      if (p >= 0 && !converted_.count(p)) return false;
    }
    return true;
  }
  bool same_dim(int v0, const Arg& a0, int v1, const Arg& a1, int i) {
    if (a0.shape[i] == a1.shape[i]) return true;
    const auto& s0 = s_.vals[v0].shape;
    const auto& s1 = s_.vals[v1].shape;
    if (!s0 || !s1 || s0->size() != 4 || s1->size() != 4) return false;
    const Dim &d0 = (*s0)[i], &d1 = (*s1)[i];
    if (d0.value && d1.value && *d0.value > 0 && *d0.value == *d1.value) return true;
    return !d0.param.empty() && d0.param == d1.param;
  }
  // ConvPoolShapeInference: batch from the input; a spatial dim survives
  // when padding + 1 == kernel (or auto_pad SAME) with stride 1 or 2.
  std::array<DimRef, 4> conv_pool_shape(int n, const std::array<DimRef, 4>& in, std::array<DimRef, 4> out,
                                         std::optional<std::vector<int64_t>> wshape) {
    out[0] = in[0];
    const Attribute* pads = s_.attr(n, "pads");
    const Attribute* strides = s_.attr(n, "strides");
    const Attribute* dil = s_.attr(n, "dilations");
    if ((pads && pads->ints.size() != 4) || (strides && strides->ints.size() != 2) || (dil && dil->ints.size() != 2))
      return out;
    const Attribute* ks = nullptr;
    if (!wshape) {
      ks = s_.attr(n, "kernel_shape");
      if (!ks || ks->ints.size() != 2) return out;
    }
    std::string ap = s_.attr_str(n, "auto_pad", "NOTSET");
    bool same = false;
    if (ap != "NOTSET") {
      if (ap == "SAME_UPPER" || ap == "SAME_LOWER") same = true;
      else if (ap != "VALID") return out;
      pads = nullptr;
    }
    for (int i = 0; i < 2; ++i) {
      if (dil && dil->ints[i] != 1) continue;
      int64_t stride = strides ? strides->ints[i] : 1;
      if (stride != 1 && stride != 2) continue;
      int64_t padding = pads ? pads->ints[i] + pads->ints[i + 2] : 0;
      int64_t kernel = ks ? ks->ints[i] : (*wshape)[2 + i];
      if (padding + 1 == kernel || same) {
        out[2 + i] = in[2 + i];
        out[2 + i].shift = in[2 + i].shift + static_cast<int>(stride) - 1;
      }
    }
    return out;
  }

  void transform_conv(int n) {
    int w = s_.in(n, 1);
    auto ws = s_.static_shape(w);
    if (!s_.is_const(w) || s_.dt(w) != DataType::Float || !ws || ws->size() != 4) return;
    if (s_.in(n, 3) >= 0) return;  // FusedConv with a Sum input (not produced by CPU level 2)
    int64_t oc = (*ws)[0], ic = (*ws)[1];
    int64_t group = s_.attr_int(n, "group", 1);
    bool reorder_in = true;
    if (group > 1) {
      if (oc % conv_align_ != 0) return;
      if (!(ic == 1 && oc == group) &&
          (ic % conv_align_ != 0 || oc % group != 0 || (oc / group) % conv_align_ != 0))
        return;
    } else {
      if (ic < block_) reorder_in = false;
      else if (ic % conv_align_ != 0) return;
    }
    int b = s_.in(n, 2);
    if (b >= 0) {
      auto bs = s_.static_shape(b);
      if (!s_.is_const(b) || s_.dt(b) != DataType::Float || !bs || bs->size() != 1 || (*bs)[0] != oc) return;
    }
    int y = s_.out(n);
    auto shape = fresh_shape(y);
    if (reorder_in) {
      int x = s_.in(n, 0);
      auto it = args_.find(x);
      if (it == args_.end()) {
        s_.nodes[n].in[0] = reorder_input(x);
      } else {
        s_.nodes[n].in[0] = use_arg(x);
        shape = conv_pool_shape(n, it->second.shape, shape, *ws);
      }
    }
    s_.nodes[n].domain = "com.microsoft.nchwc";
    s_.nodes[n].op = "Conv";
    mark(n, "NchwcTransformer");
    converted_.insert(n);
    create_arg(y, n, oc, shape, original_uses(n));
  }

  void transform_pool(int n, bool global) {
    if (s_.nodes[n].out.size() > 1 && s_.out(n, 1) >= 0) return;
    int x = s_.in(n, 0);
    if (s_.dt(x) != DataType::Float || !s_.vals[x].shape || s_.vals[x].shape->size() != 4) return;
    const Dim& c = (*s_.vals[x].shape)[1];
    auto it = args_.find(x);
    int64_t channels = c.value ? *c.value : -1;
    if (!c.value) return;
    if (channels % block_ != 0) return;
    int y = s_.out(n);
    auto shape = fresh_shape(y);
    if (it == args_.end()) {
      if (global) return;
      s_.nodes[n].in[0] = reorder_input(x);
    } else {
      s_.nodes[n].in[0] = use_arg(x);
      shape = conv_pool_shape(n, it->second.shape, shape, std::nullopt);
    }
    s_.nodes[n].domain = "com.microsoft.nchwc";
    mark(n, "NchwcTransformer");
    converted_.insert(n);
    create_arg(y, n, channels, shape, original_uses(n));
  }

  void transform_binary(int n, bool add) {
    std::vector<int> ins = s_.nodes[n].in;
    for (int v : ins)
      if (!args_.count(v)) return;
    const Arg a0 = args_.at(ins[0]);
    bool match = true;
    for (size_t k = 1; k < ins.size(); ++k) {
      const Arg& ak = args_.at(ins[k]);
      if (ak.channels != a0.channels) return;
      for (int i = 0; i < 4; ++i)
        if (!same_dim(ins[0], a0, ins[k], ak, i)) match = false;
    }
    int y = s_.out(n);
    if (match) {
      std::vector<Arg> as;
      for (int v : ins) as.push_back(args_.at(v));
      for (size_t k = 0; k < ins.size(); ++k) s_.nodes[n].in[k] = use_arg(ins[k]);
      if (add && ins.size() == 2) {
        for (int k = 0; k < 2; ++k) {
          int cn = as[k].node;
          if (s_.is(cn, "Conv", "com.microsoft.nchwc") && s_.nodes[cn].in.size() < 4 && as[k].start_uses == 1 &&
              !s_.has_attr(cn, "activation") && !sum_fused_.count(cn)) {
            // NchwcConvSumFusion: the other operand becomes the Conv's Sum input.
            s_.nodes[cn].in.resize(4, -1);
            s_.nodes[cn].in[3] = as[k ^ 1].nchwc_val;
            sum_fused_.insert(cn);
            int uses = original_uses(n);
            s_.absorb(cn, n, "NchwcTransformer");
            converted_.insert(n);
            fuse_arg(y, as[k], uses);
            pending_takeover_[y] = cn;
            return;
          }
        }
      }
      mark(n, "NchwcTransformer");
      converted_.insert(n);
      create_arg(y, n, a0.channels, a0.shape, original_uses(n));
      return;
    }
    if (!add) return;
    // Shapes not provably equal: Reshape each NCHWc operand to the explicit
    // blocked shape and the result back.
    for (size_t k = 0; k < ins.size(); ++k) {
      int rv = s_.add_value("reshape", DataType::Float, std::nullopt);
      SNode r;
      r.name = "Reshape";
      r.op = "Reshape";
      r.in = {use_arg(ins[k])};
      r.out = {rv};
      r.inserted = true;
      r.rule = "NchwcTransformer";
      s_.add_node(std::move(r));
      s_.nodes[n].in[k] = rv;
    }
    int mid = s_.add_value("reshape", DataType::Float, std::nullopt);
    SNode r;
    r.name = "Reshape";
    r.op = "Reshape";
    r.in = {mid};
    r.inserted = true;
    r.rule = "NchwcTransformer";
    int uses = original_uses(n);
    int rn = s_.add_node(std::move(r));
    converted_.insert(n);
    converted_.insert(rn);
    mark(n, "NchwcTransformer");
    // The Add writes `mid`; the trailing Reshape writes the NCHWc value of y.
    s_.set_output(n, 0, mid);
    int nv = s_.add_value(s_.vals[y].name + "_nchwc", DataType::Float, std::nullopt);
    s_.set_output(rn, 0, nv);
    Arg a{rn, nv, uses, uses, a0.channels, fresh_shape(y)};
    args_[y] = a;
    detached_.insert(y);
  }

  void transform_concat(int n) {
    if (s_.attr_int(n, "axis", 0) != 1) return;
    std::vector<int> ins = s_.nodes[n].in;
    int64_t total = 0;
    for (int v : ins) {
      auto it = args_.find(v);
      if (it == args_.end() || it->second.channels % block_ != 0) return;
      total += it->second.channels;
    }
    auto shape = args_.at(ins[0]).shape;
    int y = s_.out(n);
    shape[1] = {y, 1, 0};
    for (size_t k = 0; k < ins.size(); ++k) s_.nodes[n].in[k] = use_arg(ins[k]);
    mark(n, "NchwcTransformer");
    converted_.insert(n);
    create_arg(y, n, total, shape, original_uses(n));
  }

  void transform_activation(int n) {
    int x = s_.in(n, 0);
    auto it = args_.find(x);
    if (it == args_.end()) return;
    Arg a = it->second;
    s_.nodes[n].in[0] = use_arg(x);
    int y = s_.out(n);
    int cn = a.node;
    if (s_.is(cn, "Conv", "com.microsoft.nchwc") && a.start_uses == 1 && !s_.has_attr(cn, "activation")) {
      s_.nodes[cn].str_attrs["activation"] = s_.nodes[n].op;
      int uses = original_uses(n);
      s_.absorb(cn, n, "NchwcTransformer");
      converted_.insert(n);
      fuse_arg(y, a, uses);
      pending_takeover_[y] = cn;
      return;
    }
    mark(n, "NchwcTransformer");
    converted_.insert(n);
    create_arg(y, n, a.channels, a.shape, original_uses(n));
  }

  void transform_bn(int n) {
    if (s_.nodes[n].out.size() > 1 && s_.out(n, 1) >= 0) return;
    int x = s_.in(n, 0);
    auto it = args_.find(x);
    if (it == args_.end()) return;
    if (s_.has_attr(n, "spatial") && s_.attr_int(n, "spatial", 1) != 1) return;
    if (!s_.attr(n, "epsilon")) return;  // ORT requires the attribute to be present
    for (int k = 1; k <= 4; ++k) {
      int v = s_.in(n, k);
      auto sh = s_.static_shape(v);
      if (!s_.is_const(v) || s_.dt(v) != DataType::Float || !sh || sh->size() != 1 || (*sh)[0] != it->second.channels)
        return;
    }
    Arg a = it->second;
    s_.nodes[n].in = {use_arg(x)};
    s_.nodes[n].op = "Conv";
    s_.nodes[n].domain = "com.microsoft.nchwc";
    mark(n, "NchwcTransformer");
    converted_.insert(n);
    create_arg(s_.out(n), n, a.channels, a.shape, original_uses(n));
  }

  void transform_transpose(int n) {
    int x = s_.in(n, 0);
    auto it = args_.find(x);
    if (it == args_.end()) return;
    const Attribute* perm = s_.attr(n, "perm");
    if (!perm || perm->ints != std::vector<int64_t>{0, 2, 3, 1}) return;
    s_.nodes[n].in[0] = use_arg(x);
    s_.nodes[n].op = "ReorderOutput";
    s_.nodes[n].domain = "com.microsoft.nchwc";
    mark(n, "NchwcTransformer");
    converted_.insert(n);
  }

  void transform_resize(int n) {
    int x = s_.in(n, 0);
    auto it = args_.find(x);
    if (it == args_.end()) return;
    if (s_.attr_str(n, "mode", "nearest") != "nearest") return;
    int scales = -1;
    bool v11 = s_.nodes[n].op == "Resize" && s_.opset >= 11;
    if (v11) {
      if (s_.nodes[n].in.size() != 3) return;
      scales = s_.in(n, 2);
      if (s_.attr_str(n, "coordinate_transformation_mode", "") != "asymmetric") return;
      if (s_.attr_str(n, "nearest_mode", "") != "floor") return;
    } else {
      scales = s_.in(n, 1);
    }
    const Tensor* t = s_.tensor(scales);
    if (!t || t->data_type != DataType::Float || t->dims != std::vector<int64_t>{4} || !t->storage) return;
    auto sc = t->as<float>();
    for (int i = 0; i < 4; ++i) {
      auto iv = static_cast<int64_t>(sc[i]);
      if (iv <= 0 || static_cast<float>(iv) != sc[i]) return;
    }
    if (sc[0] != 1 || sc[1] != 1) return;
    Arg a = it->second;
    s_.nodes[n].in = {use_arg(x)};
    s_.nodes[n].op = "Upsample";
    s_.nodes[n].domain = "com.microsoft.nchwc";
    mark(n, "NchwcTransformer");
    converted_.insert(n);
    create_arg(s_.out(n), n, a.channels, fresh_shape(s_.out(n)), original_uses(n));
  }

  void transform(int n) {
    SNode& nd = s_.nodes[n];
    const std::string op = nd.op;
    if ((op == "Conv" && nd.domain.empty()) || (op == "FusedConv" && nd.domain == "com.microsoft")) {
      transform_conv(n);
    } else if (nd.domain.empty() && (op == "MaxPool" || op == "AveragePool")) {
      transform_pool(n, false);
    } else if (nd.domain.empty() && inputs_all_converted(n)) {
      int64_t v = s_.opset;
      if ((op == "Add" && (v >= 7 && v <= 13)) || (op == "Sum" && v >= 6 && v <= 13)) transform_binary(n, true);
      else if (op == "Mul" && v >= 7 && v <= 13) transform_binary(n, false);
      else if (op == "Concat" && v >= 4 && v <= 13) transform_concat(n);
      else if ((op == "Relu" || op == "Sigmoid" || op == "Tanh") && v >= 6 && v <= 13) transform_activation(n);
      else if (op == "BatchNormalization" && v >= 7 && v <= 13) transform_bn(n);
      else if (op == "Transpose" && v <= 20) transform_transpose(n);
      else if ((op == "Resize" && v >= 10 && v <= 18) || (op == "Upsample" && v >= 9)) transform_resize(n);
      else if (op == "GlobalMaxPool" || op == "GlobalAveragePool") transform_pool(n, true);
    }
  }

  // Rewires outputs: each converted node writes its NCHWc value; original
  // values still read in NCHW come from a ReorderOutput.
  void finalize() {
    for (auto& [node, pv] : pending_out_) {
      auto [orig, nv] = pv;
      s_.set_output(node, 0, nv);
    }
    for (auto& [orig, cn] : pending_takeover_) (void)cn;
    for (auto& [orig, a] : args_) {
      // The original value: is it still read (or a graph output)?
      if (a.remaining > 0) {
        SNode r;
        r.name = "ReorderOutput";
        r.op = "ReorderOutput";
        r.domain = "com.microsoft.nchwc";
        r.in = {a.nchwc_val};
        r.inserted = true;
        r.rule = "NchwcTransformer";
        int rn = s_.add_node(std::move(r));
        s_.set_output(rn, 0, orig);
      } else if (s_.vals[orig].producer >= 0 && converted_.count(s_.vals[orig].producer)) {
        // Nothing reads it in NCHW any more.
        s_.vals[orig].producer = -1;
      }
    }
    // Rewire converted consumers that still name an original value.
    s_.touch();
  }

  Sim& s_;
  int block_, conv_align_;
  std::map<int, Arg> args_;  // original value -> NCHWc argument
  std::map<int, int> reorder_inputs_;
  std::set<int> converted_, sum_fused_, detached_;
  std::map<int, std::pair<int, int>> pending_out_;
  std::map<int, int> pending_takeover_;
};

// ---- results -------------------------------------------------------------------------------------------

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
  s.resort();
  if (opts.level >= OrtOptLevel::Extended) run_level2(s, opts);
  if (opts.level >= OrtOptLevel::All) {
    Nchwc(s, opts.nchwc_block_size, opts.nchwc_conv_input_alignment).run();
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
  std::map<std::string, uint64_t> fates;
  for (const auto& f : p.nodes) fates[f.fate]++;
  j["fate_counts"] = fates;
  if (per_node) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& f : p.nodes) {
      nlohmann::json e = {{"node", f.node}, {"op_type", f.op_type}, {"fate", f.fate}};
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

nlohmann::json runtime_prediction_block(const Model& model, bool per_node) {
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
  j["extended"] = e;
  return j;
}

}  // namespace effopt
