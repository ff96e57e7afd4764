// fuse-conv-mul: folds a multiplication by a constant per-channel scale after a Conv into the Conv's weights and bias.
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

struct Match {
  Node* conv;
  Node* mul;
  Value* s;
};

std::optional<Match> match(Node& mul, pass::PassContext& ctx, SkipNotes& notes) {
  if (!is_op(&mul, "Mul") || mul.inputs().size() != 2 || ctx.opset() < 7) return std::nullopt;
  for (size_t side = 0; side < 2; ++side) {
    Node* conv = producer_of(mul.input(side), "Conv");
    Value* s = mul.input(1 - side);
    if (!conv || !is_fixed_constant(s) || conv->inputs().size() < 2) continue;
    if (!only_feeds(mul.input(side), &mul, *ctx.pinned))
      return notes.skip(*conv, "output has other consumers or is a graph output");
    TensorPtr w = fixed_constant(conv->input(1));
    if (!w || w->dims.size() < 3) return notes.skip(*conv, "weights are not constant");
    if (!weight_read_only_by(conv->input(1), conv, *ctx.pinned)) return notes.skip(*conv, "weights are shared with other nodes (a folded copy would be stored beside them)");
    if (!is_ieee_float_type(w->data_type) || elem_type(s) != w->data_type)
      return notes.skip(mul, "types are not one float type");
    if (conv->input(2) && !is_fixed_constant(conv->input(2))) return notes.skip(*conv, "bias is not constant");
    if (!per_channel_constant(s, w->dims.size(), w->dims[0])) return notes.skip(mul, "the scale is not per channel");
    return Match{conv, &mul, s};
  }
  return std::nullopt;
}

void rewrite(Graph& g, pass::PassContext& ctx, const Match& m) {
  TensorPtr w = fixed_constant(m.conv->input(1));
  int64_t cout = w->dims[0];
  std::vector<double> s = *per_channel_constant(m.s, w->dims.size(), cout);
  std::vector<double> wv = *constant_doubles(m.conv->input(1));
  size_t per = wv.size() / static_cast<size_t>(cout);
  for (size_t i = 0; i < wv.size(); ++i) wv[i] *= s[i / per];
  std::vector<Value*> inputs = {m.conv->input(0),
                                add_constant(g, ctx, tensor_from_values(w->data_type, w->dims, wv),
                                             m.conv->input(1)->name() + "_mul")};
  if (m.conv->input(2)) {
    std::vector<double> b = *constant_doubles(m.conv->input(2));
    for (size_t k = 0; k < b.size(); ++k) b[k] *= s[k];
    inputs.push_back(
        add_constant(g, ctx, tensor_from_values(w->data_type, {cout}, b), m.conv->input(2)->name() + "_mul"));
  }
  std::string name = m.conv->name;
  replace_with_node(g, *ctx.pinned, {m.conv, m.mul}, m.mul->output(0), "Conv", std::move(inputs),
                    copy_attributes(m.conv, g),
                    name);
}

}  // namespace

void register_fuse_conv_mul(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "fuse-conv-mul";
  p.summary = "Fold a per-channel constant scale after a Conv into its weights and bias";
  p.doc =
      "Folds a multiplication by a constant per-channel scale after a Conv into the Conv's weights (and "
      "bias).\n"
      "\n"
      "When: Mul (opset >= 7) has a Conv output as one operand and, as the other, a constant of the "
      "weights' float type (float, double, float16) that varies at most along the channel axis ([Cout, 1, "
      "1], [1, Cout, 1, 1], a scalar, ...); the Conv's W (and bias) are constants; its output has no other "
      "consumer and is not a graph output.\n"
      "\n"
      "Not when: the scale varies along a spatial axis or would enlarge the output, or W is shared with "
      "other nodes (a scaled copy would be stored beside it).\n"
      "\n"
      "Before: y = Conv(x, W, b); z = Mul(y, s)\n"
      "After:  z = Conv(x, W', b')   (named after the Conv; z keeps its name)\n"
      "\n"
      "Maths: the conv is linear in W and b, so s[k] * (W[k] * x + b[k]) = (s[k] W[k]) * x + s[k] b[k]: "
      "W'[k, ...] = W[k, ...] * s[k] (W is [Cout, Cin/group, k...]), b'[k] = b[k] * s[k]. In double, "
      "rounded once.";
  p.run_on_graph = [](Graph& g, pass::PassContext& ctx) -> Expected<pass::PassResult> {
    return util::run_pattern(g, ctx, "fused", match, rewrite);
  };
  r.add(std::move(p));
}

}  // namespace effopt::passes
