// fuse-matmul-bn: folds an inference-mode BatchNormalization that follows a
// Gemm or a 2-D MatMul with constant weights into that Gemm.
//
// Fires when: BatchNormalization reads a 2-D [N, F] output of Gemm(A, B[, C])
// or MatMul(A, B) (A of rank 2, B a constant [K, F]), so BN's channel axis 1 is
// the feature axis; the producer's output has no other consumer and is not a
// graph output; BN is in inference mode (as fuse-conv-bn checks) with constant
// [F] parameters of the weights' float type (float, double, float16); Gemm's C
// is absent or a constant that does not vary along N ([], [1], [F], [1, F],
// [1, 1]); B is read by this Gemm/MatMul alone (a scaled copy of a shared
// weight would be stored beside it). Not for MatMul of other ranks (BN's axis
// 1 is then not the last axis) or non-constant weights.
//
// Before:  y = Gemm(A, B, C) (or MatMul(A, B));  z = BatchNormalization(y, gamma, beta, mean, var)
// After:   z = Gemm(A, B', C')  (MatMul becomes Gemm; named after the Gemm/MatMul)
//
// Maths: s[f] = gamma[f] / sqrt(var[f] + eps). Column f of op(B) is scaled by
// s[f] (B[:, f] without transB, B[f, :] with it); alpha stays.
// C'[f] = (beta_attr * C[f] - mean[f]) * s[f] + beta[f] and Gemm's beta becomes 1.
// Computed in double, rounded once.
#include <cmath>

#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace fusion;

struct Match {
  Node* mm;
  Node* bn;
};

bool bn_inference(const Node& bn, int64_t opset) {
  if (bn.attr_int("training_mode", 0) != 0) return false;
  if (opset < 7 && bn.attr_int("is_test", 0) == 0) return false;
  if (opset < 9 && bn.attr_int("spatial", 1) != 1) return false;
  return only_first_output_used(&bn);
}

std::optional<Match> match(Node& bn, pass::PassContext& ctx, SkipNotes& notes) {
  if (!is_op(&bn, "BatchNormalization") || bn.inputs().size() < 5) return std::nullopt;
  Node* mm = bn.input(0) ? bn.input(0)->producer() : nullptr;
  bool gemm = is_op(mm, "Gemm");
  if (!gemm && !is_op(mm, "MatMul")) return std::nullopt;
  if (!only_feeds(bn.input(0), &bn)) return notes.skip(*mm, "output has other consumers or is a graph output");
  int64_t opset = ctx.opset();
  if (!bn_inference(bn, opset)) return notes.skip(bn, "not in inference mode");
  if (opset < 7) return notes.skip(bn, "opset < 7: Gemm would need the legacy broadcast attribute");
  TensorPtr b = constant_tensor(mm->input(1));
  if (!b || b->dims.size() != 2) return notes.skip(*mm, "weights are not a constant matrix");
  if (!weight_read_only_by(mm->input(1), mm))
    return notes.skip(*mm, "weights are shared with other nodes (a folded copy would be stored beside them)");
  DataType dt = b->data_type;
  if (!is_foldable_float(dt)) return notes.skip(*mm, "weights are not float, double or float16");
  auto a_shape = shape_of(mm->input(0));
  if (!a_shape || a_shape->size() != 2)
    return notes.skip(*mm, "input A is not known to be 2-D (BN's axis 1 must be the feature axis)");
  bool trans_b = gemm && mm->attr_int("transB", 0) != 0;
  int64_t f = trans_b ? b->dims[0] : b->dims[1];
  for (size_t i = 1; i < 5; ++i) {
    TensorPtr p = constant_tensor(bn.input(i));
    if (!p || p->data_type != dt || p->dims.size() != 1 || p->dims[0] != f)
      return notes.skip(bn, "parameters are not constant [F] tensors of the weights' type");
  }
  if (gemm && mm->input(2)) {
    TensorPtr c = constant_tensor(mm->input(2));
    if (!c || c->data_type != dt) return notes.skip(*mm, "C is not a constant of the weights' type");
    auto& d = c->dims;
    bool ok = d.empty() || (d.size() == 1 && (d[0] == 1 || d[0] == f)) ||
              (d.size() == 2 && d[0] == 1 && (d[1] == 1 || d[1] == f));
    if (!ok) return notes.skip(*mm, "C varies along N");
  }
  return Match{mm, &bn};
}

void rewrite(Graph& g, pass::PassContext& ctx, const Match& m) {
  Node* mm = m.mm;
  Node* bn = m.bn;
  bool gemm = mm->op_type == "Gemm";
  TensorPtr bt = constant_tensor(mm->input(1));
  DataType dt = bt->data_type;
  bool trans_b = gemm && mm->attr_int("transB", 0) != 0;
  size_t rows = static_cast<size_t>(bt->dims[0]), cols = static_cast<size_t>(bt->dims[1]);
  std::vector<double> bv = *constant_doubles(mm->input(1));
  std::vector<double> gamma = *constant_doubles(bn->input(1)), beta = *constant_doubles(bn->input(2)),
                      mean = *constant_doubles(bn->input(3)), var = *constant_doubles(bn->input(4));
  size_t f = gamma.size();
  double eps = static_cast<double>(bn->attr_float("epsilon", 1e-5f));
  std::vector<double> s(f);
  for (size_t i = 0; i < f; ++i) s[i] = gamma[i] / std::sqrt(var[i] + eps);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) bv[r * cols + c] *= s[trans_b ? r : c];
  std::vector<double> cv(f, 0.0);
  if (gemm && mm->input(2)) {
    std::vector<double> c0 = *constant_doubles(mm->input(2));
    double beta_attr = static_cast<double>(mm->attr_float("beta", 1.0f));
    for (size_t i = 0; i < f; ++i) cv[i] = beta_attr * (c0.size() == 1 ? c0[0] : c0[i]);
  }
  for (size_t i = 0; i < f; ++i) cv[i] = (cv[i] - mean[i]) * s[i] + beta[i];
  std::string base = mm->input(1)->name();
  Value* new_b = add_constant(g, ctx, tensor_from_doubles(dt, bt->dims, bv), base + "_bn");
  Value* new_c = add_constant(g, ctx, tensor_from_doubles(dt, {static_cast<int64_t>(f)}, cv), base + "_bn_bias");
  std::vector<Attribute> attrs;
  if (gemm) attrs = copy_attributes(mm, g, {"beta"});
  std::string name = mm->name;
  replace_with_node(g, {mm, bn}, bn->output(0), "Gemm", {mm->input(0), new_b, new_c}, std::move(attrs), name);
}

}  // namespace

void register_fuse_matmul_bn(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "fuse-matmul-bn";
  p.summary = "Fold an inference BatchNormalization into the Gemm/2-D MatMul before it";
  p.doc =
      "Folds an inference-mode BatchNormalization over the feature axis into the Gemm or 2-D MatMul before it.\n"
      "Fires when A is known to be 2-D, the weights are a constant matrix, the BN parameters are constant [F] "
      "tensors of the weights' type, Gemm's C (if any) does not vary along N, the producer's output feeds "
      "only the BN, and B is read by the producer alone (a scaled copy of a shared weight would be stored beside "
      "it). Not for batched MatMul (BN's axis 1 is then not the feature axis).\n"
      "Before: y = Gemm(A, B, C) or MatMul(A, B); z = BatchNormalization(y, gamma, beta, mean, var)\n"
      "After:  z = Gemm(A, B', C'), columns of op(B) scaled by s = gamma/sqrt(var+eps), "
      "C' = (beta_attr*C - mean)*s + beta.";
  p.run_on_graph = [](Graph& g, pass::PassContext& ctx) -> Expected<pass::PassResult> {
    return fusion::run_pattern(g, ctx, "fused", match, rewrite);
  };
  r.add(std::move(p));
}

}  // namespace effopt::passes
