// Level basic (1) of the ONNX Runtime prediction (rules.h): Constant nodes are already initializers;
// ConstantFolding, IdentityElimination / DropoutElimination, ConvBNFusion / ConvMulFusion /
// ConvAddFusion, MatMulAddFusion and ReshapeFusion (both forms) run to a fixed point; before them, the
// function inlining ORT does at load.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "ir/dtype.h"
#include "ort/rules.h"

namespace effopt::ort_sim {

namespace {

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

}  // namespace

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

namespace {

// ConstantSharing (onnxruntime/core/optimizer/constant_sharing.cc, level 1, right before
// CommonSubexpressionElimination "by intention": it gives CSE equal inputs to work with): constant
// initializers that are not graph outputs, of type float16/float/double/int32/int64, with a static shape
// of 1..TENSOR_ELEM_COUNT_THRESHOLD (8) elements (IsAllowedToShare), and equal data type, rank, shape and
// bytes (InitializerValue::operator==) are all read through one shared initializer. No node count
// changes by itself. Values whose bytes the prediction does not know (a folded result it did not
// compute) are left apart.
bool share_constants(Sim& s) {
  constexpr uint64_t kMaxElements = 8;  // ConstantSharing::TENSOR_ELEM_COUNT_THRESHOLD
  auto sharable = [&](int v) -> std::optional<std::string> {
    const SVal& sv = s.vals[v];
    if (!sv.is_const || sv.graph_output || s.producer(v) >= 0 || !sv.shape) return std::nullopt;
    if (sv.dt != DataType::Float16 && sv.dt != DataType::Float && sv.dt != DataType::Double &&
        sv.dt != DataType::Int32 && sv.dt != DataType::Int64)
      return std::nullopt;
    uint64_t count = 1;
    std::string key = std::to_string(static_cast<int>(sv.dt)) + "|";
    for (const Dim& d : *sv.shape) {
      if (!d.value || *d.value < 0) return std::nullopt;
      count *= static_cast<uint64_t>(*d.value);
      if (count > kMaxElements) return std::nullopt;
      key += std::to_string(*d.value) + ",";
    }
    if (count == 0) return std::nullopt;
    key += "|";
    if (sv.tensor && sv.tensor->storage && sv.tensor->byte_size() > 0) {
      for (std::byte b : sv.tensor->bytes()) key += static_cast<char>(b);
    } else if (sv.ints && (sv.dt == DataType::Int64 || sv.dt == DataType::Int32)) {
      for (int64_t x : *sv.ints) key += std::to_string(x) + ",";
      key += "i";  // kept apart from byte keys
    } else {
      return std::nullopt;
    }
    return key;
  };
  std::map<std::string, int> shared;
  bool changed = false;
  for (int n : s.order) {
    if (!s.nodes[n].alive) continue;
    for (int& v : s.nodes[n].in) {
      if (v < 0) continue;
      auto key = sharable(v);
      if (!key) continue;
      auto [it, fresh] = shared.emplace(*key, v);
      if (fresh || it->second == v) continue;
      v = it->second;
      s.touch();
      changed = true;
      ++s.hits["ConstantSharing"];
    }
  }
  return changed;
}

// CommonSubexpressionElimination (onnxruntime/core/optimizer/common_subexpression_elimination.cc,
// level 1, after ConstantSharing and before ConstantFolding in each level-1 round): value numbering. Two
// node outputs are one value when the op, domain, output index and attributes are equal
// (EquivalenceClass::operator==) and the inputs are the same values; graph inputs and initializers are
// values by identity (only ConstantSharing makes small equal initializers one), trailing absent optional
// inputs do not count (Normalize). Attributes compare by value: ints, floats, strings and their lists,
// and — as ONNX Runtime 1.30 does, measured: two ConstantOfShape with equal `value` tensors merge, with
// different ones not — tensors by data type, shape and contents; graph-valued attributes never compare
// equal. IsNodeSupported excludes nodes with subgraphs, DequantizeLinear, and non-deterministic ops
// (optimizer_utils::IsOperationDeterministic: ONNX's RandomUniform/RandomNormal/RandomUniformLike/
// RandomNormalLike/Multinomial; in the MS domain everything but QuantizeLinear/DequantizeLinear; any
// other domain). Consumers of the other members read the survivor's outputs, except a member's graph
// outputs ("we don't support eliminating the graph's outputs"); a member is removed once it has no output
// edges and produces no graph output (CheckOutputEdges). Which member survives follows ORT's topological
// order (GraphViewer's reverse DFS from the leaves), where ORT 1.30 was measured to keep the member that
// comes last in the model's node order (a duplicated Conv branch of inception_v1, ConstantOfShape and Add
// pairs): the prediction keeps the last one.
bool same_tensor(const Tensor* a, const Tensor* b) {
  if (!a || !b) return false;
  if (a->data_type != b->data_type || a->dims != b->dims || a->strings != b->strings) return false;
  auto x = a->bytes(), y = b->bytes();
  return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin());
}

bool same_attr(const Attribute& a, const Attribute& b) {
  if (a.name != b.name || a.type != b.type) return false;
  switch (a.type) {
    case AttrType::Float: return a.f == b.f;
    case AttrType::Int: return a.i == b.i;
    case AttrType::String: return a.s == b.s;
    case AttrType::Floats: return a.floats == b.floats;
    case AttrType::Ints: return a.ints == b.ints;
    case AttrType::Strings: return a.strings == b.strings;
    case AttrType::Tensor: return same_tensor(a.t.get(), b.t.get());
    default: return false;
  }
}

bool same_attributes(const SNode& a, const SNode& b) {
  if (a.str_attrs != b.str_attrs) return false;
  static const std::vector<Attribute> none;
  const auto& aa = a.src ? a.src->attributes : none;
  const auto& ba = b.src ? b.src->attributes : none;
  if (aa.size() != ba.size()) return false;
  for (const Attribute& x : aa) {
    auto it = std::find_if(ba.begin(), ba.end(), [&](const Attribute& y) { return y.name == x.name; });
    if (it == ba.end() || !same_attr(x, *it)) return false;
  }
  return true;
}

bool cse_supported(const SNode& n) {
  if (n.src)
    for (const Attribute& a : n.src->attributes)
      if (a.type == AttrType::Graph || a.type == AttrType::Graphs) return false;
  if (n.domain.empty() || n.domain == "ai.onnx") {
    static const std::set<std::string> nondeterministic = {"RandomUniform", "RandomNormal", "RandomUniformLike",
                                                           "RandomNormalLike", "Multinomial"};
    return n.op != "DequantizeLinear" && nondeterministic.count(n.op) == 0;
  }
  return n.domain == "com.microsoft" && (n.op == "QuantizeLinear" || n.op == "DequantizeLinear");
}

bool eliminate_common_subexpressions(Sim& s) {
  s.resort();
  // Value numbering in topological order: each value's class is the first equal value met.
  std::vector<int> cls(s.vals.size());
  for (size_t v = 0; v < cls.size(); ++v) cls[v] = static_cast<int>(v);
  std::map<std::tuple<std::string, std::string, std::vector<int>>, std::vector<int>> heads;
  std::map<int, std::vector<int>> members;  // class head node -> its members, in order
  for (int n : s.order) {
    const SNode& nd = s.nodes[n];
    if (!nd.alive || !cse_supported(nd)) continue;
    std::vector<int> in;
    for (int v : nd.in) in.push_back(v < 0 ? -1 : cls[v]);
    while (!in.empty() && in.back() < 0) in.pop_back();
    auto& candidates = heads[{nd.op, nd.domain, std::move(in)}];
    int head = -1;
    for (int m : candidates)
      if (s.nodes[m].out.size() == nd.out.size() && same_attributes(s.nodes[m], nd)) head = m;
    if (head < 0) {
      candidates.push_back(n);
      continue;
    }
    members[head].push_back(n);
    for (size_t k = 0; k < nd.out.size(); ++k)
      if (nd.out[k] >= 0 && s.nodes[head].out[k] >= 0) cls[nd.out[k]] = s.nodes[head].out[k];
  }
  bool changed = false;
  for (auto& [head, rest] : members) {
    std::vector<int> all = {head};
    all.insert(all.end(), rest.begin(), rest.end());
    const int keep = all.back();
    for (int n : all) {
      if (n == keep) continue;
      bool replaced = false;
      for (size_t k = 0; k < s.nodes[n].out.size(); ++k) {
        int v = s.nodes[n].out[k], r = s.nodes[keep].out[k];
        if (v < 0 || r < 0 || s.vals[v].graph_output || s.use_count(v) == 0) continue;
        for (auto& other : s.nodes)
          if (other.alive)
            for (int& x : other.in)
              if (x == v) x = r;
        s.touch();
        replaced = true;
      }
      if (!replaced) continue;
      changed = true;
      ++s.hits["CommonSubexpressionElimination"];
      if (s.output_edges(n) == 0 && !s.feeds_graph_output(n))
        s.kill(n, "eliminated", "CommonSubexpressionElimination");
    }
  }
  if (changed) s.resort();
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
      // The Reshapes' shapes are constants ORT computes from A's static shape: [rows, K] and [rows, N].
      int64_t rows = 1;
      for (size_t k = 0; k + 1 < as->size(); ++k) rows *= (*as)[k];
      int a2 = s.add_value(s.vals[a].name + "/gemm_input", s.dt(a),
                           std::vector<Dim>{Dim::known(rows), Dim::known(as->back())});
      SNode r1;
      r1.name = "gemm_input_reshape";
      r1.op = "Reshape";
      r1.in = {a};
      r1.out = {a2};
      r1.inserted = true;
      r1.rule = "MatMulAddFusion";
      int y = s.out(n, 0);
      int y2 = s.add_value(s.vals[y].name + "/gemm_output", s.dt(y),
                           std::vector<Dim>{Dim::known(rows), Dim::known(N)});
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

// ReshapeFusion's contiguous-Reshape form (onnxruntime/core/optimizer/reshape_fusion.cc,
// FuseContiguousReshapes, tried first at every Reshape): a Reshape followed by a chain of Reshape /
// Squeeze / Unsqueeze nodes, each earlier one with a single output edge and no graph output, becomes one
// Reshape to the static output shape of the last chain node that has one (nothing fuses without). The
// Reshape MatMulAddFusion puts in front of a Gemm merges this way with a Reshape before it (a transformer
// block's attention output).
bool fuse_contiguous_reshapes(Sim& s) {
  bool changed = false;
  for (int n : std::vector<int>(s.order)) {
    if (!s.is(n, "Reshape")) continue;
    std::vector<int> chain = {n};
    for (;;) {
      int cur = chain.back();
      if (s.feeds_graph_output(cur) || s.output_edges(cur) != 1) break;
      int next = s.single_consumer(cur);
      if (!s.is(next, "Reshape") && !s.is(next, "Squeeze") && !s.is(next, "Unsqueeze")) break;
      chain.push_back(next);
    }
    size_t last = 0;
    for (size_t i = chain.size() - 1; i >= 1; --i)
      if (s.static_shape(s.out(chain[i]))) {
        last = i;
        break;
      }
    if (last == 0) continue;
    const int keep = chain[last];
    auto shape = s.static_shape(s.out(keep));
    int shape_v = s.add_value(s.nodes[keep].name + "/fused_shape", DataType::Int64,
                              std::vector<Dim>{Dim::known(static_cast<int64_t>(shape->size()))});
    s.vals[shape_v].is_const = true;
    s.vals[shape_v].ints = *shape;
    s.nodes[keep].op = "Reshape";
    s.nodes[keep].domain.clear();
    s.nodes[keep].in = {s.in(chain[0], 0), shape_v};
    for (size_t i = 0; i < last; ++i) s.absorb(keep, chain[i], "ReshapeFusion");
    ++s.hits["ReshapeFusion"];
    changed = true;
  }
  if (changed) s.resort();
  return changed;
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

// EnsureUniqueDQForNodeUnit (level 1, after the fusions above): a
// DequantizeLinear read by several node inputs of its graph gets a copy per
// extra input, so each QDQ node unit owns its DQ; the original keeps the first
// reader, or none when it also produces a graph output. A weight-only
// quantized model whose weights are shared keeps one DQ per reader in ORT.
bool ensure_unique_dq(Sim& s) {
  bool changed = false;
  for (int n : std::vector<int>(s.order)) {
    if (!s.nodes[n].alive || !s.is(n, "DequantizeLinear")) continue;
    int y = s.out(n, 0);
    if (y < 0) continue;
    std::vector<std::pair<int, int>> uses = s.uses(y);
    bool graph_output = s.vals[y].graph_output;
    if (uses.empty() || (uses.size() == 1 && !graph_output)) continue;
    for (size_t i = graph_output ? 0 : 1; i < uses.size(); ++i) {
      int y2 = s.add_value(s.vals[y].name + "/unique_dq" + std::to_string(i), s.vals[y].dt, s.vals[y].shape);
      SNode copy;
      copy.name = s.nodes[n].name + "/unique_dq" + std::to_string(i);
      copy.op = s.nodes[n].op;
      copy.domain = s.nodes[n].domain;
      copy.src = s.nodes[n].src;
      copy.str_attrs = s.nodes[n].str_attrs;
      copy.in = s.nodes[n].in;
      copy.out = {y2};
      copy.inserted = true;
      copy.rule = "EnsureUniqueDQForNodeUnit";
      s.add_node(std::move(copy));
      s.nodes[static_cast<size_t>(uses[i].first)].in[static_cast<size_t>(uses[i].second)] = y2;
      ++s.hits["EnsureUniqueDQForNodeUnit"];
      changed = true;
    }
  }
  if (changed) s.resort();
  return changed;
}

}  // namespace

// Function inlining at partitioning, after level 1 (onnxruntime/core/framework/graph_partitioner.cc: a node
// no execution provider has a kernel for is replaced by its ONNX function body, at every optimization
// level): ORT 1.30's CPU
// provider has no ai.onnx HardSwish kernel, so HardSwish(x) becomes HardSigmoid<alpha 1/6, beta 0.5>(x)
// -> Mul(x, .) (its opset-14 function body; checked in real ORT 1.30 on the MobileNetV3 family).
void inline_functions(Sim& s) {
  bool changed = false;
  for (int n : std::vector<int>(s.order)) {
    if (!s.is(n, "HardSwish")) continue;
    int x = s.in(n, 0), y = s.out(n, 0);
    int h = s.add_value(s.vals[y].name + "/HardSigmoid", s.dt(x), s.vals[x].shape);
    SNode hs;
    hs.name = s.nodes[n].name + "/HardSigmoid";
    hs.op = "HardSigmoid";
    hs.in = {x};
    hs.out = {h};
    hs.inserted = true;
    hs.rule = "function inlining";
    s.add_node(std::move(hs));
    s.nodes[n].op = "Mul";
    s.nodes[n].in = {x, h};
    s.nodes[n].rule = "function inlining";
    ++s.hits["function inlining"];
    changed = true;
  }
  if (changed) s.resort();
}

void run_level1(Sim& s) {
  // ORT's level-1 transformers loop until nothing changes.
  for (int iter = 0; iter < 10; ++iter) {
    bool changed = false;
    changed |= eliminate_noops(s);
    changed |= share_constants(s);
    changed |= eliminate_common_subexpressions(s);
    changed |= fold_constants(s);
    changed |= fuse_conv_affine(s);
    changed |= fuse_matmul_add(s);
    changed |= fuse_contiguous_reshapes(s);
    changed |= fuse_reshape(s);
    if (!changed) break;
  }
  ensure_unique_dq(s);
}

}  // namespace effopt::ort_sim
