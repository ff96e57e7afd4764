// The QDQ rules of level extended (2) of the ONNX Runtime prediction (rules.h): QDQS8ToU8Transformer
// (x86), QDQSelectorActionTransformer (its selectors and actions: qdq_selectors.cc / qdq_actions.cc) and
// DQMatMulToMatMulNBits.
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ort/rules.h"

namespace effopt::ort_sim {

namespace {

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
    // A DQ feeding several ops was copied per reader (ensure_unique_dq);
    // one that also makes a graph output stays for it.
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

}  // namespace

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
  // DropQDQNodesRules / UnaryOpQDQRules (qdq_selector_action_transformer.cc): the ops whose DQ -> op -> Q
  // group is dropped, and those replaced by a com.microsoft QLinear op (UnaryReplaceWithQLinear), on the CPU
  // provider. Not encoded: ReduceMax/ReduceMin (positive scalar scale, as MaxPool), Resize, Split
  // (SplitReplaceWithQuant), ArgMax (DropDQNodesRules), Clip/Relu made redundant by the Q.
  static const std::set<std::string> drop_ops = {"MaxPool", "Reshape", "Transpose", "Flatten", "Squeeze",
                                                 "Unsqueeze", "Expand", "Gather", "GatherElements", "Slice",
                                                 "Tile"};
  static const std::set<std::string> unary_ops = {"AveragePool", "GlobalAveragePool", "LeakyRelu", "Sigmoid",
                                                  "Softmax"};
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
      // GemmNodeGroupSelector -> QGemm is not predicted: real ORT 1.30 (CPU, x86) left every QDQ Gemm float
      // here (per-tensor and per-channel int8 B, transB 0 and 1, with and without a QuantizeLinear after
      // it, with an int32 bias: tests/unit/test_pass_quantize_static.cpp), so the Gemm and its
      // DequantizeLinears stay.
      continue;
    } else if (op == "Add" || op == "Mul") {
      // BinaryNodeGroupSelector: both inputs DQ, one Q, all the same type.
      auto g = select_qdq(s, n, 2, true);
      if (!g || g->dqs.size() != 2) continue;
      DataType t0 = q_type(s, g->dqs[0], true), t1 = q_type(s, g->dqs[1], true), ty = q_type(s, g->q, false);
      if (t0 != t1 || t0 != ty || (t0 != DataType::UInt8 && t0 != DataType::Int8)) continue;
      replace_group(s, n, *g, op == "Add" ? "QLinearAdd" : "QLinearMul", "com.microsoft",
                    "QDQSelectorActionTransformer(" + op + ")");
      changed = true;
    } else if (unary_ops.count(op)) {
      // UnaryNodeGroupSelector (one DQ input, one Q, the same 8-bit type) -> QLinearAveragePool,
      // QLinearGlobalAveragePool, QLinearLeakyRelu, QLinearSigmoid, QLinearSoftmax.
      auto g = select_qdq(s, n, 1, true);
      if (!g) continue;
      DataType tx = q_type(s, g->dqs[0], true), ty = q_type(s, g->q, false);
      if (tx != ty || (tx != DataType::UInt8 && tx != DataType::Int8)) continue;
      replace_group(s, n, *g, "QLinear" + op, "com.microsoft", "QDQSelectorActionTransformer(" + op + ")");
      changed = true;
    } else if (op == "Concat") {
      // VariadicNodeGroupSelector -> QLinearConcat (com.microsoft): every input a DQ, one Q, one type.
      auto g = select_qdq(s, n, s.nodes[n].in.size(), true);
      if (!g || g->dqs.size() != s.nodes[n].in.size()) continue;
      DataType ty = q_type(s, g->q, false);
      bool same = ty == DataType::UInt8 || ty == DataType::Int8;
      for (int dq : g->dqs) same &= q_type(s, dq, true) == ty;
      if (!same) continue;
      replace_group(s, n, *g, "QLinearConcat", "com.microsoft", "QDQSelectorActionTransformer(Concat)");
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

}  // namespace effopt::ort_sim
