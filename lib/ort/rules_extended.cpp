// The float fusions of level extended (2) of the ONNX Runtime prediction, and the level's order
// (run_level2: the QDQ rules of rules_qdq.cpp first).
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ir/dtype.h"
#include "ort/rules.h"

namespace effopt::ort_sim {

namespace {

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
      if (!a && s.in(rm, 1) >= 0) {  // opset 18: a constant axes input
        auto one = s.scalar(s.in(rm, 1));
        if (one) axes = {static_cast<int64_t>(*one)};
      }
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
    // From opset 20 ONNX has Gelu, and ORT fuses into it (checked in real ORT 1.30 on tiny_bert at opset 21).
    s.nodes[last].domain = s.opset >= 20 ? "" : "com.microsoft";
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
    if (!s.is(n, "Gelu", "com.microsoft") && !s.is(n, "Gelu")) continue;
    int add = s.producer(s.in(n, 0));
    if (!s.is(add, "Add") || s.use_count(s.out(add)) != 1 || s.vals[s.out(add)].graph_output) continue;
    int bias = s.is_const(s.in(add, 1)) ? s.in(add, 1) : s.in(add, 0);
    int x = other_input(s, add, bias);
    auto bs = s.static_shape(bias);
    auto xs = s.static_shape(x);
    if (!s.is_const(bias) || !bs || bs->size() != 1 || !xs || xs->empty() || xs->back() != (*bs)[0]) continue;
    s.nodes[n].op = "BiasGelu";
    s.nodes[n].domain = "com.microsoft";
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

// MatMulIntegerToFloatFusion (level 2, after the QDQ rules): Mul(Cast(MatMulInteger(A, B, a_zp, b_zp)),
// Mul(a_scale, b_scale)) [+ Add with a constant bias [1.., N], N > 1, either input] becomes com.microsoft
// MatMulIntegerToFloat (A, B, a_scale, b_scale, a_zp, b_zp[, bias]); the MatMulInteger, the Cast and
// the scale Mul must each have one consumer and make no graph output. Then DynamicQuantizeMatMulFusion:
// a MatMulIntegerToFloat whose A, scale and zero point are the three outputs of a
// DynamicQuantizeLinear becomes com.microsoft DynamicQuantizeMatMul on the float input (A, B,
// b_scale, b_zp[, bias]); the DynamicQuantizeLinear goes once nothing else reads it. This is
// what effopt quantize mode=dynamic writes (checked in real ORT 1.30 on tiny_bert).
bool fuse_matmul_integer_to_float(Sim& s) {
  bool changed = false;
  auto one_edge = [&](int n) { return s.output_edges(n) == 1 && !s.feeds_graph_output(n); };
  auto first_parent = [&](int n, const char* op) {
    for (int v : s.nodes[n].in) {
      int p = s.producer(v);
      if (p >= 0 && s.is(p, op)) return p;
    }
    return -1;
  };
  for (int n : std::vector<int>(s.order)) {
    if (!s.nodes[n].alive || !s.is(n, "Mul")) continue;
    int cast = first_parent(n, "Cast");
    int mmi = cast >= 0 ? first_parent(cast, "MatMulInteger") : -1;
    int right = first_parent(n, "Mul");
    if (mmi < 0 || right < 0 || !one_edge(cast) || !one_edge(mmi) || !one_edge(right)) continue;
    int add = -1;
    if (one_edge(n)) {
      int c = s.single_consumer(n);
      // The bias may be either input (real ORT 1.30 fuses PyTorch's Add(bias, x) too).
      int bias = c >= 0 && s.in(c, 0) == s.out(n, 0) ? s.in(c, 1) : (c >= 0 ? s.in(c, 0) : -1);
      if (c >= 0 && s.is(c, "Add") && s.is_const(bias)) {
        auto bs = s.static_shape(bias);
        bool ok = bs && !bs->empty() && bs->back() > 1;
        for (size_t i = 0; ok && i + 1 < bs->size(); ++i) ok = (*bs)[i] == 1;
        if (ok) add = c;
      }
    }
    std::vector<int> in = {s.in(mmi, 0), s.in(mmi, 1), s.in(right, 0), s.in(right, 1), s.in(mmi, 2), s.in(mmi, 3)};
    if (add >= 0) in.push_back(s.in(add, 0) == s.out(n, 0) ? s.in(add, 1) : s.in(add, 0));
    s.nodes[n].op = "MatMulIntegerToFloat";
    s.nodes[n].domain = "com.microsoft";
    s.nodes[n].in = in;
    if (add >= 0) s.set_output(n, 0, s.out(add, 0));
    for (int m : {mmi, cast, right, add})
      if (m >= 0) s.absorb(n, m, "MatMulIntegerToFloatFusion");
    ++s.hits["MatMulIntegerToFloatFusion"];
    changed = true;
  }
  for (int n : std::vector<int>(s.order)) {
    if (!s.nodes[n].alive || !s.is(n, "MatMulIntegerToFloat", "com.microsoft")) continue;
    int dql = s.producer(s.in(n, 0));
    if (dql < 0 || !s.is(dql, "DynamicQuantizeLinear") || s.in(n, 2) != s.out(dql, 1) ||
        s.in(n, 4) != s.out(dql, 2))
      continue;
    std::vector<int> in = {s.in(dql, 0), s.in(n, 1), s.in(n, 3), s.in(n, 5)};
    if (s.in(n, 6) >= 0) in.push_back(s.in(n, 6));
    s.nodes[n].op = "DynamicQuantizeMatMul";
    s.nodes[n].in = in;
    s.nodes[n].rule = "DynamicQuantizeMatMulFusion";
    ++s.hits["DynamicQuantizeMatMulFusion"];
    if (s.output_edges(dql) == 0 && !s.feeds_graph_output(dql)) s.absorb(n, dql, "DynamicQuantizeMatMulFusion");
    changed = true;
  }
  if (changed) s.resort();
  return changed;
}

// MatMulNBitsFusion (CPU, after SkipLayerNormFusion and MatMulScaleFusion):
// a com.microsoft MatMulNBits without a bias whose only consumer is an Add
// (opset 7/13/14) of a [N] bias takes the bias as its input 5 and the Add's
// output.
bool fuse_matmul_nbits_bias(Sim& s) {
  bool changed = false;
  for (int n : std::vector<int>(s.order)) {
    if (!s.nodes[n].alive || !s.is(n, "MatMulNBits", "com.microsoft") || s.in(n, 5) >= 0) continue;
    int add = s.single_consumer(n);
    if (add < 0 || !s.is(add, "Add")) continue;
    int y = s.out(n, 0);
    int bias = s.in(add, 0) == y ? s.in(add, 1) : s.in(add, 0);
    auto bs = s.static_shape(bias);
    int64_t N = s.attr_int(n, "N", 0);
    if (!bs || bs->size() != 1 || (*bs)[0] != N) continue;
    s.nodes[n].in.resize(6, -1);
    s.nodes[n].in[5] = bias;
    s.set_output(n, 0, s.out(add, 0));
    s.absorb(n, add, "MatMulNBitsFusion");
    ++s.hits["MatMulNBitsFusion"];
    changed = true;
  }
  if (changed) s.resort();
  return changed;
}

}  // namespace

void run_level2(Sim& s, const OrtPredictionOptions& o) {
  if (o.s8_to_u8_activations && !o.int8_activations_allowed) convert_s8_activations(s);
  fuse_qdq(s, o);
  fuse_dq_matmul_nbits(s);
  fuse_matmul_integer_to_float(s);
  fuse_activation(s, "Gemm", "FusedGemm", "GemmActivationFusion");
  fuse_activation(s, "Conv", "FusedConv", "ConvActivationFusion");
  fuse_gelu(s);
  fuse_layer_norm(s);
  fuse_bias_gelu(s);
  fuse_skip_layer_norm(s);
  fuse_slices_to_split(s);
  fuse_matmul_transpose(s);
  fuse_matmul_scale(s);
  fuse_matmul_nbits_bias(s);
  fuse_matmul_transpose(s);
  s.resort();
  // The level-1 rules run again after level 2 in ORT's loop (fusions expose new constants rarely).
  fold_constants(s);
}

}  // namespace effopt::ort_sim
