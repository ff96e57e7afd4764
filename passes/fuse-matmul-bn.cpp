// fuse-matmul-bn: folds an inference-mode BatchNormalization after a Gemm or 2-D MatMul into that Gemm.
#include "exec/batch_norm_fold.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

struct Match {
  Node* mm;
  Node* bn;
  exec::BatchNormFold fold;
};

std::optional<Match> match(Node& bn, pass::PassContext& ctx, SkipNotes& notes) {
  if (!is_op(&bn, "BatchNormalization")) return std::nullopt;
  Node* mm = bn.input(0) ? bn.input(0)->producer() : nullptr;
  if (!is_op(mm, "Gemm") && !is_op(mm, "MatMul")) return std::nullopt;
  exec::BatchNormFold fold = exec::fold_batch_norm(*mm, bn, ctx.opset(), ctx.model);
  if (!fold) return notes.skip(*fold.refused, fold.refusal);
  if (!weight_read_only_by(mm->input(1), mm, *ctx.pinned)) return notes.skip(*mm, "weights are shared with other nodes (a folded copy would be stored beside them)");
  return Match{mm, &bn, std::move(fold)};
}

void rewrite(Graph& g, pass::PassContext& ctx, const Match& m) {
  Node* mm = m.mm;
  Node* bn = m.bn;
  std::string base = mm->input(1)->name();
  Value* new_b = add_constant(g, ctx, m.fold.weight, base + "_bn");
  Value* new_c = add_constant(g, ctx, m.fold.bias, base + "_bn_bias");
  std::vector<Attribute> attrs;
  if (mm->op_type == "Gemm") attrs = copy_attributes(mm, g, {"beta"});  // C' holds beta * C
  std::string name = mm->name;
  replace_with_node(g, *ctx.pinned, {mm, bn}, bn->output(0), "Gemm", {mm->input(0), new_b, new_c}, std::move(attrs),
                    name);
}

}  // namespace

void register_fuse_matmul_bn(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "fuse-matmul-bn";
  p.summary = "Fold an inference BatchNormalization into the Gemm/2-D MatMul before it";
  p.doc =
      "Folds an inference-mode BatchNormalization that follows a Gemm or a 2-D MatMul with constant "
      "weights into that Gemm (a MatMul becomes a Gemm). Computed in double, rounded once.\n"
      "\n"
      "When: BatchNormalization reads a 2-D [N, F] output of Gemm(A, B[, C]) or MatMul(A, B) (MatMul's A "
      "known to be of rank 2, B a constant [K, F]), so BN's channel axis 1 is the feature axis; the producer's output has no "
      "other consumer and is not a graph output; BN is in inference mode (as fuse-conv-bn checks) with "
      "constant [F] parameters of the weights' float type (float, double, float16); Gemm's C is absent or "
      "a constant that does not vary along N ([], [1], [F], [1, F], [1, 1]).\n"
      "\n"
      "Not when: MatMul of other ranks (BN's axis 1 is then not the last axis), non-constant weights, or "
      "weights shared with other nodes (a scaled copy would be stored beside them).\n"
      "\n"
      "Before: y = Gemm(A, B, C) (or MatMul(A, B)); z = BatchNormalization(y, gamma, beta, mean, var)\n"
      "After:  z = Gemm(A, B', C')   (named after the Gemm/MatMul; z keeps its name)\n"
      "\n"
      "Maths: s[f] = gamma[f] / sqrt(var[f] + eps). Column f of op(B) is scaled by s[f] (B[:, f] without "
      "transB, B[f, :] with it); alpha stays. C'[f] = (beta_attr * C[f] - mean[f]) * s[f] + beta[f] and "
      "Gemm's beta becomes 1.";
  p.run_on_graph = [](Graph& g, pass::PassContext& ctx) -> Expected<pass::PassResult> {
    return util::run_pattern(g, ctx, "fused", match, rewrite);
  };
  r.add(std::move(p));
}

}  // namespace effopt::passes
