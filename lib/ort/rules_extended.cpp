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

// SimplifiedLayerNormFusion (onnxruntime/core/optimizer/layer_norm_fusion.cc,
// SimplifiedLayerNormFusion::ApplyImpl; CPU provider, right after LayerNormFusion): the RMSNorm
// Pow(x, .) -> ReduceMean -> Add(eps) -> Sqrt -> Div(x, .) -> Mul(scale) becomes
// SimplifiedLayerNormalization(x, scale) (ONNX domain, ORT's contrib kernel) when: Pow, ReduceMean, Add,
// Sqrt and Div each have one output edge (CheckOutputEdges 1) and the Pow makes no graph output (the Pow
// exponent is not checked); the Div reads the Pow's input as its first input; the Div's reader is the Mul
// (a Cast between them stops the CPU fusion); the ReduceMean reduces one axis, the last
// (CheckAxesOnReduceMean; "scale as 1D"); a Mul input has a 1-D shape (the scale); float or double, not
// float16 on the CPU.
bool fuse_simplified_layer_norm(Sim& s) {
  bool changed = false;
  auto one_edge = [&](int n) { return n >= 0 && s.output_edges(n) == 1 && !s.feeds_graph_output(n); };
  auto first_child = [&](int n, const char* op) {
    int v = s.out(n);
    return v >= 0 && s.use_count(v) == 1 && s.is(s.uses(v)[0].first, op) ? s.uses(v)[0].first : -1;
  };
  for (int pw : std::vector<int>(s.order)) {
    if (!s.nodes[pw].alive || !s.is(pw, "Pow") || !one_edge(pw)) continue;
    int x = s.in(pw, 0);
    if (s.dt(x) != DataType::Float && s.dt(x) != DataType::Double) continue;
    int rm = first_child(pw, "ReduceMean");
    if (!one_edge(rm)) continue;
    int add = first_child(rm, "Add");
    if (!one_edge(add)) continue;
    int sq = first_child(add, "Sqrt");
    if (!one_edge(sq)) continue;
    int dv = first_child(sq, "Div");
    if (!one_edge(dv) || s.in(dv, 0) != x) continue;
    int mul = first_child(dv, "Mul");
    if (mul < 0) continue;
    const Attribute* a = s.attr(rm, "axes");
    std::vector<int64_t> axes = a ? a->ints : std::vector<int64_t>{};
    if (!a && s.in(rm, 1) >= 0) {  // opset 18: a constant axes input
      auto one = s.scalar(s.in(rm, 1));
      if (one) axes = {static_cast<int64_t>(*one)};
    }
    auto r = s.rank(s.in(rm, 0));
    if (axes.size() != 1 || !(axes[0] == -1 || (r && axes[0] == *r - 1))) continue;
    int scale = -1;
    for (int v : s.nodes[mul].in)
      if (v >= 0 && s.vals[v].shape && s.vals[v].shape->size() == 1) scale = v;
    if (scale < 0) continue;
    // The SimplifiedLayerNormalization takes the Mul's place.
    s.nodes[mul].op = "SimplifiedLayerNormalization";
    s.nodes[mul].in = {x, scale};
    for (int m : {pw, rm, add, sq, dv}) s.absorb(mul, m, "SimplifiedLayerNormFusion");
    ++s.hits["SimplifiedLayerNormFusion"];
    changed = true;
  }
  if (changed) s.resort();
  return changed;
}

// SkipLayerNormFusion (skip_layer_norm_fusion.cc): Add1(a, b) -> LayerNormalization becomes
// com.microsoft.SkipLayerNormalization. Conditions (CheckFirstAdd / CheckSecondAdd): every input of the
// LayerNormalization and the Adds float, float16 or bfloat16; Add1 with one output edge, no graph output,
// both inputs 3-D with equal dims (dim 0 may be the same symbolic name). A bias Add2(x, C) feeding Add1's
// input 0 (Format 1) or 1 (Format 2), with one output edge, no graph output, x 3-D and C a 1-D constant of
// x's last dim, goes in too (C becomes the fifth input).
namespace {
bool skip_ln_types_ok(Sim& s, int n) {
  for (int v : s.nodes[n].in) {
    if (v < 0) continue;
    DataType t = s.dt(v);
    if (t != DataType::Float && t != DataType::Float16 && t != DataType::BFloat16) return false;
  }
  return true;
}
bool skip_ln_first_add(Sim& s, int add) {
  if (!skip_ln_types_ok(s, add) || s.output_edges(add) != 1 || s.vals[s.out(add)].graph_output) return false;
  const auto& a = s.vals[s.in(add, 0)].shape;
  const auto& b = s.vals[s.in(add, 1)].shape;
  if (!a || !b || a->size() != 3 || b->size() != 3) return false;
  for (size_t i = 0; i < 3; ++i) {
    const Dim &x = (*a)[i], &y = (*b)[i];
    if (x.value && y.value && *x.value == *y.value) continue;
    if (i == 0 && !x.value && !y.value && !x.param.empty() && x.param == y.param) continue;
    return false;
  }
  return true;
}
bool skip_ln_bias_add(Sim& s, int add) {
  if (!s.is(add, "Add") || !skip_ln_types_ok(s, add) || s.output_edges(add) != 1 ||
      s.vals[s.out(add)].graph_output || !s.is_const(s.in(add, 1)))
    return false;
  const auto& x = s.vals[s.in(add, 0)].shape;
  const auto& c = s.vals[s.in(add, 1)].shape;
  return x && c && x->size() == 3 && c->size() == 1 && (*x)[2].value && (*c)[0].value &&
         *(*x)[2].value == *(*c)[0].value;
}
}  // namespace

bool fuse_skip_layer_norm(Sim& s) {
  bool changed = false;
  for (int n : std::vector<int>(s.order)) {
    if (!s.is(n, "LayerNormalization") || !skip_ln_types_ok(s, n)) continue;
    int add = s.producer(s.in(n, 0));
    if (!s.is(add, "Add") || !skip_ln_first_add(s, add)) continue;
    std::vector<int> ins = {s.in(add, 0), s.in(add, 1), s.in(n, 1), s.in(n, 2)};
    int bias_add = -1;
    for (int slot : {0, 1}) {  // Format 1, then Format 2
      int a2 = s.producer(s.in(add, static_cast<size_t>(slot)));
      if (a2 < 0 || !skip_ln_bias_add(s, a2)) continue;
      bias_add = a2;
      ins[static_cast<size_t>(slot)] = s.in(a2, 0);
      ins.push_back(s.in(a2, 1));
      break;
    }
    s.nodes[n].op = "SkipLayerNormalization";
    s.nodes[n].domain = "com.microsoft";
    s.nodes[n].in = ins;
    s.absorb(n, add, "SkipLayerNormFusion");
    if (bias_add >= 0) s.absorb(n, bias_add, "SkipLayerNormFusion");
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

// BiasGeluFusion (onnxruntime/core/optimizer/bias_gelu_fusion.cc): Add(x, bias) -> com.microsoft.Gelu becomes
// com.microsoft.BiasGelu(x, bias), and Add(x, bias) -> com.microsoft.FastGelu(x) becomes FastGelu(x, bias),
// when the Add has one output edge and makes no graph output, both inputs have a known, equal last dim and
// one of them (the bias) is 1-D. (The bias need not be constant.)
bool fuse_bias_gelu(Sim& s) {
  bool changed = false;
  for (int n : std::vector<int>(s.order)) {
    if (!s.is(n, "Gelu", "com.microsoft") && !s.is(n, "Gelu") && !s.is(n, "FastGelu", "com.microsoft")) continue;
    const bool fast = s.nodes[n].op == "FastGelu";
    if (fast && s.nodes[n].in.size() > 1) continue;
    int add = s.producer(s.in(n, 0));
    if (!s.is(add, "Add") || s.output_edges(add) != 1 || s.feeds_graph_output(add)) continue;
    auto a = s.static_shape(s.in(add, 0)), b = s.static_shape(s.in(add, 1));
    if (!a || !b || a->empty() || b->empty() || a->back() != b->back()) continue;
    int bias = b->size() == 1 ? s.in(add, 1) : a->size() == 1 ? s.in(add, 0) : -1;
    if (bias < 0) continue;
    s.nodes[n].op = fast ? "FastGelu" : "BiasGelu";
    s.nodes[n].domain = "com.microsoft";
    s.nodes[n].in = {other_input(s, add, bias), bias};
    s.absorb(n, add, "BiasGeluFusion");
    ++s.hits["BiasGeluFusion"];
    changed = true;
  }
  return changed;
}

// optimizer_utils::IsInitializerWithExpectedValue (onnxruntime/core/optimizer/utils.cc): a scalar (rank 0 or
// [1]) constant of a floating type within atol 1e-8 + rtol 1e-5 of `expected`.
bool is_const_near(Sim& s, int v, double expected) {
  if (!s.is_const(v) || !is_ieee_float_type(s.dt(v))) return false;
  auto sh = s.static_shape(v);
  if (!sh || sh->size() > 1 || (sh->size() == 1 && (*sh)[0] != 1)) return false;
  auto x = s.scalar(v);
  return x && std::abs(*x - expected) <= 1e-8 + 1e-5 * std::abs(expected);
}

// The consumer of node n's first output when n has exactly one output edge and makes no graph output
// (ORT's GetOutputEdgesCount() == 1 && !NodeProducesGraphOutput), else -1.
int one_edge_consumer(Sim& s, int n) {
  if (n < 0 || s.output_edges(n) != 1 || s.feeds_graph_output(n)) return -1;
  return s.single_consumer(n);
}

// QuickGeluFusion (onnxruntime/core/optimizer/quick_gelu_fusion.cc, CPU): Sigmoid(x) -> Mul(x, .) (SiLU /
// Swish), or Mul(x, alpha) -> Sigmoid -> Mul(x, .) with a scalar float constant alpha, becomes
// com.microsoft.QuickGelu(x) taking the last Mul's output. The alpha Mul and the Sigmoid each need one output
// edge and no graph output; the last Mul's other input must be x itself. No type or shape condition.
bool fuse_quick_gelu(Sim& s) {
  bool changed = false;
  for (int n : std::vector<int>(s.order)) {
    if (!s.nodes[n].alive) continue;
    std::vector<int> parts;
    int x = -1, sig = n;
    if (s.is(n, "Mul") && one_edge_consumer(s, n) >= 0) {
      for (int k = 0; k < 2 && x < 0; ++k) {
        int c = s.in(n, k);
        auto sh = s.static_shape(c);
        if (s.is_const(c) && is_ieee_float_type(s.dt(c)) && sh && (sh->empty() || (sh->size() == 1 && (*sh)[0] == 1)))
          x = s.in(n, 1 - k);
      }
      if (x >= 0) {
        parts.push_back(n);
        sig = one_edge_consumer(s, n);
      }
    }
    if (!s.is(sig, "Sigmoid")) continue;
    if (x < 0) x = s.in(sig, 0);
    int mul = one_edge_consumer(s, sig);
    if (!s.is(mul, "Mul") || other_input(s, mul, s.out(sig)) != x) continue;
    parts.push_back(sig);
    s.nodes[mul].op = "QuickGelu";
    s.nodes[mul].domain = "com.microsoft";
    s.nodes[mul].in = {x};
    for (int p : parts) s.absorb(mul, p, "QuickGeluFusion");
    s.nodes[mul].rule = "QuickGeluFusion";
    ++s.hits["QuickGeluFusion"];
    changed = true;
  }
  if (changed) s.resort();
  return changed;
}

// FastGeluFusion (onnxruntime/core/optimizer/fast_gelu_fusion.cc, CPU: float only, every node of the
// pattern on float inputs) fuses the tanh approximation of Gelu into com.microsoft.FastGelu(x):
//   first formula:  Mul(x, 0.044715) -> Mul(., x) -> Add(., 1) -> Mul(., Mul(x, 0.7978845834732056)) -> Tanh
//   second formula: Pow(x, 3) -> Mul(., 0.044715) -> Add(x, .) -> Mul(., 0.7978845834732056) -> Tanh
// then, for both: Tanh -> Add(., 1) -> Mul(., Mul(x, 0.5)). Every node but the last Mul and the Mul(x, 0.5)
// needs one output edge; none may make a graph output. The fused node takes the last Mul's output. (The
// Cast-wrapped fp16 variant of the second formula is not encoded: effopt's models put no Cast there.)
bool fuse_fast_gelu(Sim& s) {
  bool changed = false;
  auto float_node = [&](int n) {
    if (n < 0 || !s.nodes[n].alive || s.feeds_graph_output(n)) return false;
    for (int v : s.nodes[n].in)
      if (v >= 0 && s.dt(v) != DataType::Float) return false;
    return true;
  };
  auto check = [&](int n, const char* op, bool single) {
    return s.is(n, op) && float_node(n) && (!single || s.output_edges(n) == 1);
  };
  auto next = [&](int n) { return s.output_edges(n) >= 1 ? s.uses(s.out(n))[0].first : -1; };
  for (int n : std::vector<int>(s.order)) {
    if (!s.nodes[n].alive) continue;
    std::vector<int> parts;
    int x = -1, tanh_in = -1;
    // First formula, anchored at Mul(x, 0.044715).
    if (check(n, "Mul", true)) {
      int k = is_const_near(s, s.in(n, 0), 0.044715) ? 0 : is_const_near(s, s.in(n, 1), 0.044715) ? 1 : -1;
      if (k >= 0) {
        x = s.in(n, 1 - k);
        int m2 = next(n), a1 = -1, m3 = -1, m4 = -1;
        bool ok = check(m2, "Mul", true) && other_input(s, m2, s.out(n)) == x;
        if (ok) a1 = next(m2);
        ok = ok && check(a1, "Add", true) && is_const_near(s, other_input(s, a1, s.out(m2)), 1.0);
        if (ok) m3 = next(a1);
        ok = ok && check(m3, "Mul", true);
        if (ok) m4 = s.producer(other_input(s, m3, s.out(a1)));
        ok = ok && check(m4, "Mul", true);
        if (ok) {
          int kk = is_const_near(s, s.in(m4, 0), 0.7978845834732056) ? 0
                   : is_const_near(s, s.in(m4, 1), 0.7978845834732056) ? 1 : -1;
          ok = kk >= 0 && s.in(m4, 1 - kk) == x;
        }
        if (ok) {
          parts = {n, m2, a1, m3, m4};
          tanh_in = m3;
        }
      }
    }
    // Second formula, anchored at Pow(x, 3).
    if (tanh_in < 0 && check(n, "Pow", true) && is_const_near(s, s.in(n, 1), 3.0)) {
      x = s.in(n, 0);
      int m1 = next(n), a1 = -1, m2 = -1;
      bool ok = check(m1, "Mul", true) && is_const_near(s, other_input(s, m1, s.out(n)), 0.044714998453855515);
      if (ok) a1 = next(m1);
      ok = ok && check(a1, "Add", true) && other_input(s, a1, s.out(m1)) == x;
      if (ok) m2 = next(a1);
      ok = ok && check(m2, "Mul", true) && is_const_near(s, other_input(s, m2, s.out(a1)), 0.7978845834732056);
      if (ok) {
        parts = {n, m1, a1, m2};
        tanh_in = m2;
      }
    }
    if (tanh_in < 0) continue;
    int th = next(tanh_in);
    if (!check(th, "Tanh", true)) continue;
    int a2 = next(th);
    if (!check(a2, "Add", true) || !is_const_near(s, other_input(s, a2, s.out(th)), 1.0)) continue;
    int m5 = next(a2);
    if (!check(m5, "Mul", false)) continue;
    int m6 = s.producer(other_input(s, m5, s.out(a2)));
    if (!check(m6, "Mul", false)) continue;
    int k6 = is_const_near(s, s.in(m6, 0), 0.5) ? 0 : is_const_near(s, s.in(m6, 1), 0.5) ? 1 : -1;
    if (k6 < 0 || s.in(m6, 1 - k6) != x) continue;
    for (int p : {th, a2, m6}) parts.push_back(p);
    s.nodes[m5].op = "FastGelu";
    s.nodes[m5].domain = "com.microsoft";
    s.nodes[m5].in = {x};
    for (int p : parts) s.absorb(m5, p, "FastGeluFusion");
    s.nodes[m5].rule = "FastGeluFusion";
    ++s.hits["FastGeluFusion"];
    changed = true;
  }
  if (changed) s.resort();
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

// GatherSliceToSplitFusion (onnxruntime/core/optimizer/gather_fusion.cc, CPU; the model's ai.onnx opset >= 13):
// a value (a graph input or initializer read more than once, or the only output of a node other than Shape
// with more than one output edge) whose Gather and Slice readers (as input 0) all cut one axis, with a
// known dim there, into pieces that do not overlap and together cover it, becomes one Split; the other
// readers stay. A Gather needs a scalar int64 constant index on that axis (a rank-0 index gets a Squeeze
// after its Split output); a Slice needs a scalar int64 constant axes input naming the axis, scalar int64
// constant starts and ends (clamped as Slice does, start < end) and, if given, a constant step 1. The
// axis is the first such reader's. A channel split written as two Slices therefore becomes a Split.
bool fuse_gather_slice_to_split(Sim& s) {
  if (s.opset < 13) return false;
  auto scalar_i64 = [&](int v) -> std::optional<int64_t> {
    auto sh = s.static_shape(v);
    if (!s.is_const(v) || s.dt(v) != DataType::Int64 || !sh || sh->size() > 1 || (sh->size() == 1 && (*sh)[0] != 1))
      return std::nullopt;
    auto x = s.scalar(v);
    if (!x) return std::nullopt;
    return static_cast<int64_t>(*x);
  };
  std::vector<int> candidates;
  for (size_t v = 0; v < s.vals.size(); ++v) {
    int p = s.producer(static_cast<int>(v));
    if (p < 0) {
      if (s.use_count(static_cast<int>(v)) > 1) candidates.push_back(static_cast<int>(v));
    } else if (s.nodes[p].alive && !s.is(p, "Shape") && s.nodes[p].out.size() == 1 && s.output_edges(p) > 1 &&
               s.nodes[p].out[0] == static_cast<int>(v)) {
      candidates.push_back(static_cast<int>(v));
    }
  }
  bool changed = false;
  for (int v : candidates) {
    auto sh = s.static_shape(v);
    auto rank = s.rank(v);
    if (!rank) continue;
    std::vector<int> readers;
    for (auto& u : s.uses(v))
      if (u.second == 0 && (s.is(u.first, "Gather") || s.is(u.first, "Slice")) &&
          std::find(readers.begin(), readers.end(), u.first) == readers.end())
        readers.push_back(u.first);
    if (readers.size() < 2) continue;
    auto axis_of = [&](int n) -> std::optional<int64_t> {
      int64_t ax = 0;
      if (s.is(n, "Gather")) {
        ax = s.attr_int(n, "axis", 0);
      } else {
        auto a = s.nodes[n].in.size() >= 4 ? scalar_i64(s.in(n, 3)) : std::nullopt;
        if (!a) return std::nullopt;
        ax = *a;
      }
      return ax < 0 ? ax + *rank : ax;
    };
    auto axis = axis_of(readers[0]);
    if (!axis || *axis < 0 || *axis >= *rank || !sh) continue;
    const int64_t dim = (*sh)[static_cast<size_t>(*axis)];
    if (dim <= 0 || dim > 4096) continue;
    std::vector<char> consumed(static_cast<size_t>(dim), 0);
    std::vector<std::pair<int64_t, int>> pieces;  // (start, reader)
    std::map<int, bool> squeeze;                  // Gather with a rank-0 index
    bool ok = true;
    for (int n : readers) {
      if (axis_of(n) != axis) { ok = false; break; }
      int64_t start = 0, end = 0;
      if (s.is(n, "Gather")) {
        auto i = scalar_i64(s.in(n, 1));
        if (!i) { ok = false; break; }
        start = *i < 0 ? *i + dim : *i;
        end = start + 1;
        if (start < 0 || start >= dim) { ok = false; break; }
        squeeze[n] = s.static_shape(s.in(n, 1))->empty();
      } else {
        auto st = scalar_i64(s.in(n, 1)), en = scalar_i64(s.in(n, 2));
        if (!st || !en) { ok = false; break; }
        start = std::clamp<int64_t>(*st < 0 ? *st + dim : *st, 0, dim);
        end = std::clamp<int64_t>(*en < 0 ? *en + dim : *en, 0, dim);
        if (start >= end) { ok = false; break; }
        if (s.nodes[n].in.size() >= 5 && s.in(n, 4) >= 0 && scalar_i64(s.in(n, 4)).value_or(0) != 1) {
          ok = false;
          break;
        }
      }
      for (int64_t k = start; k < end && ok; ++k) {
        if (consumed[static_cast<size_t>(k)]) ok = false;
        consumed[static_cast<size_t>(k)] = 1;
      }
      pieces.push_back({start, n});
    }
    if (!ok || std::find(consumed.begin(), consumed.end(), 0) != consumed.end()) continue;
    std::sort(pieces.begin(), pieces.end());
    // ORT adds a new Split node; here the first reader in graph order takes its place.
    int keep = readers[0];
    std::vector<int> outs;
    for (auto& [start, n] : pieces) {
      int y = s.out(n, 0);
      if (squeeze[n]) {
        int y2 = s.add_value(s.vals[y].name + "/split_output", s.dt(y), std::nullopt);
        SNode sq;
        sq.name = s.nodes[n].name + "/Squeeze";
        sq.op = "Squeeze";
        sq.in = {y2};
        sq.out = {y};
        sq.inserted = true;
        sq.rule = "GatherSliceToSplitFusion";
        s.add_node(std::move(sq));
        y = y2;
      }
      outs.push_back(y);
    }
    s.nodes[keep].op = "Split";
    s.nodes[keep].in = {v};
    for (auto& [start, n] : pieces)
      if (n != keep) s.absorb(keep, n, "GatherSliceToSplitFusion");
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

// Where a level-2 transformer effopt does not encode would start matching in the predicted graph: every
// input-model node merged into the anchor (and the named pattern nodes) is "not predicted", so a report never
// passes off a node such a transformer may rewrite as kept.
void mark_not_predicted(Sim& s) {
  auto mark = [&](int n, const char* rule) {
    if (n < 0 || !s.nodes[n].alive) return;
    for (int o : s.nodes[n].origins)
      if (s.not_predicted[o].empty()) s.not_predicted[o] = rule;
  };
  for (int n : s.order) {
    if (!s.nodes[n].alive) continue;
    // AttentionFusion (onnxruntime/core/optimizer/attention_fusion.cc, CPU): starts at a LayerNormalization
    // with four output edges, one Add (the residual) and three MatMuls (separate Q, K and V projections).
    if (s.is(n, "LayerNormalization") && s.output_edges(n) == 4) {
      std::vector<int> matmuls;
      int adds = 0;
      for (auto& u : s.uses(s.out(n))) {
        if (s.is(u.first, "Add")) ++adds;
        if (s.is(u.first, "MatMul")) matmuls.push_back(u.first);
      }
      if (adds == 1 && matmuls.size() == 3) {
        mark(n, "AttentionFusion");
        for (int m : matmuls) mark(m, "AttentionFusion");
        // EmbedLayerNormFusion (embed_layer_norm_fusion.cc) needs an Attention below the LayerNormalization,
        // so it can only follow AttentionFusion: the embedding Add (Gather + Gather, or with a segment
        // Gather) in front of an attention's LayerNormalization is not predicted either.
        // The embedding Add is Add(Gather, Gather) (DistilBERT) or Add(Add(Gather, ...), Gather) (BERT).
        int add = s.producer(s.in(n, 0));
        auto gather_inputs = [&](int a) {
          std::vector<int> g;
          for (int v : s.nodes[a].in)
            if (s.is(s.producer(v), "Gather")) g.push_back(s.producer(v));
          return g;
        };
        if (s.is(add, "Add")) {
          std::vector<int> pattern = gather_inputs(add);
          for (int v : s.nodes[add].in) {
            int inner = s.producer(v);
            if (!pattern.empty() && s.is(inner, "Add") && !gather_inputs(inner).empty()) {
              pattern.push_back(inner);
              for (int g : gather_inputs(inner)) pattern.push_back(g);
            }
          }
          if (!pattern.empty()) {
            mark(add, "EmbedLayerNormFusion");
            for (int m : pattern) mark(m, "EmbedLayerNormFusion");
          }
        }
      }
    }
  }
}

void run_level2(Sim& s, const OrtPredictionOptions& o) {
  if (o.s8_to_u8_activations && !o.int8_activations_allowed) convert_s8_activations(s);
  fuse_qdq(s, o);
  fuse_dq_matmul_nbits(s);
  // ORT's level-2 list (optimizer/graph_transformer_utils.cc, GenerateTransformers, TransformerLevel::Level2) in
  // its order; GraphTransformerManager repeats the list until no transformer changes the graph (at most 10
  // steps), so a fusion that enables an earlier one (FastGelu -> BiasGelu) lands in the next step.
  for (int step = 0; step < 10; ++step) {
    bool changed = false;
    changed |= fuse_matmul_integer_to_float(s);
    changed |= fuse_activation(s, "Gemm", "FusedGemm", "GemmActivationFusion");
    changed |= fuse_activation(s, "Conv", "FusedConv", "ConvActivationFusion");
    changed |= fuse_gelu(s);
    changed |= fuse_layer_norm(s);
    changed |= fuse_simplified_layer_norm(s);
    changed |= fuse_gather_slice_to_split(s);
    changed |= fuse_matmul_transpose(s);
    changed |= fuse_bias_gelu(s);
    changed |= fuse_skip_layer_norm(s);
    changed |= fuse_fast_gelu(s);
    changed |= fuse_quick_gelu(s);
    changed |= fuse_matmul_scale(s);
    changed |= fuse_matmul_nbits_bias(s);
    s.resort();
    if (!changed) break;
  }
  // The level-1 rules run again after level 2 in ORT's loop (fusions expose new constants rarely).
  fold_constants(s);
}

}  // namespace effopt::ort_sim
