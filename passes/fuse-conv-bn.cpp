// fuse-conv-bn: folds an inference-mode BatchNormalization into the Conv or ConvTranspose that feeds it.
#include "exec/batch_norm_fold.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

struct Match {
  Node* conv;
  Node* bn;
  exec::BatchNormFold fold;
};

std::optional<Match> match(Node& bn, pass::PassContext& ctx, SkipNotes& notes) {
  if (!is_op(&bn, "BatchNormalization")) return std::nullopt;
  Node* conv = bn.input(0) ? bn.input(0)->producer() : nullptr;
  if (!is_op(conv, "Conv") && !is_op(conv, "ConvTranspose")) return std::nullopt;
  exec::BatchNormFold fold = exec::fold_batch_norm(*conv, bn, ctx.opset(), ctx.model);
  if (!fold) return notes.skip(*fold.refused, fold.refusal);
  if (!weight_read_only_by(conv->input(1), conv, *ctx.pinned)) return notes.skip(*conv, "weights are shared with other nodes (a folded copy would be stored beside them)");
  return Match{conv, &bn, std::move(fold)};
}

void rewrite(Graph& g, pass::PassContext& ctx, const Match& m) {
  Node* conv = m.conv;
  Node* bn = m.bn;
  std::string base = conv->input(1)->name();
  Value* new_w = add_constant(g, ctx, m.fold.weight, base + "_bn");
  Value* new_b = add_constant(g, ctx, m.fold.bias, (conv->input(2) ? conv->input(2)->name() : base) + "_bn_bias");
  std::vector<Attribute> attrs = copy_attributes(conv, g);
  std::string op = conv->op_type, name = conv->name;
  replace_with_node(g, *ctx.pinned, {conv, bn}, bn->output(0), op, {conv->input(0), new_w, new_b}, std::move(attrs),
                    name);
}

}  // namespace

void register_fuse_conv_bn(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "fuse-conv-bn";
  p.summary = "Fold an inference BatchNormalization into the Conv/ConvTranspose before it";
  p.doc =
      "Folds an inference-mode BatchNormalization into the Conv or ConvTranspose that feeds it. Everything "
      "is computed in double and rounded once to the weights' type.\n"
      "\n"
      "When: BatchNormalization (default domain) reads the output of a Conv / ConvTranspose that has no "
      "other consumer and is not a graph output; BN is in inference mode (training_mode unset or 0, "
      "is_test = 1 before opset 7, spatial unset or 1 before opset 9, and only its first output used); "
      "BN's scale, B, mean and var and the conv's W (and B, if present) are fixed constants (never an "
      "initializer a feed can override) of one float type (float, double, float16) with one value per "
      "output channel; and W is read by this conv alone.\n"
      "\n"
      "Not when: any of that fails (a note says why); in particular a weight shared with other nodes, whose "
      "folded copy would be stored beside it (the file would grow by the weight's size).\n"
      "\n"
      "Before: y = Conv(x, W, b); z = BatchNormalization(y, gamma, beta, mean, var)\n"
      "After:  z = Conv(x, W', b')   (named after the Conv; z keeps its name)\n"
      "\n"
      "Maths: per output channel c, s[c] = gamma[c] / sqrt(var[c] + eps); W'[c, ...] = W[c, ...] * s[c]; "
      "b'[c] = (b[c] - mean[c]) * s[c] + beta[c] (b = 0 if absent). ConvTranspose's W is [Cin, Cout/group, "
      "k...]: output channel c of input channel i is g * (Cout/group) + j, g = i / (Cin/group), j the "
      "index on axis 1, so the scale goes on axis 1, per group.";
  p.run_on_graph = [](Graph& g, pass::PassContext& ctx) -> Expected<pass::PassResult> {
    return util::run_pattern(g, ctx, "fused", match, rewrite);
  };
  r.add(std::move(p));
}

}  // namespace effopt::passes
