// fuse-conv-add: folds the addition of a constant per-channel bias after a Conv into the Conv's bias.
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

struct Match {
  Node* conv;
  Node* add;
  Value* c;
};

std::optional<Match> match(Node& add, pass::PassContext& ctx, SkipNotes& notes) {
  if (!is_op(&add, "Add") || add.inputs().size() != 2 || ctx.opset() < 7) return std::nullopt;
  for (size_t side = 0; side < 2; ++side) {
    Node* conv = producer_of(add.input(side), "Conv");
    Value* c = add.input(1 - side);
    if (!conv || !is_fixed_constant(c) || conv->inputs().size() < 2) continue;
    if (!only_feeds(add.input(side), &add, *ctx.pinned))
      return notes.skip(*conv, "output has other consumers or is a graph output");
    TensorPtr w = fixed_constant(conv->input(1));
    if (!w || w->dims.size() < 3) return notes.skip(*conv, "weights are not constant");
    if (!is_ieee_float_type(w->data_type) || elem_type(c) != w->data_type)
      return notes.skip(add, "types are not one float type");
    if (conv->input(2) && !is_fixed_constant(conv->input(2))) return notes.skip(*conv, "bias is not constant");
    if (!per_channel_constant(c, w->dims.size(), w->dims[0]))
      return notes.skip(add, "the constant is not per channel");
    return Match{conv, &add, c};
  }
  return std::nullopt;
}

void rewrite(Graph& g, pass::PassContext& ctx, const Match& m) {
  TensorPtr w = fixed_constant(m.conv->input(1));
  int64_t cout = w->dims[0];
  std::vector<double> c = *per_channel_constant(m.c, w->dims.size(), cout);
  std::vector<double> b(static_cast<size_t>(cout), 0.0);
  if (m.conv->input(2)) b = *constant_doubles(m.conv->input(2));
  for (size_t k = 0; k < b.size(); ++k) b[k] += c[k];
  std::string hint = (m.conv->input(2) ? m.conv->input(2)->name() : m.conv->input(1)->name() + "_bias") + "_add";
  Value* nb = add_constant(g, ctx, tensor_from_values(w->data_type, {cout}, b), hint);
  std::string name = m.conv->name;
  replace_with_node(g, *ctx.pinned, {m.conv, m.add}, m.add->output(0), "Conv", {m.conv->input(0), m.conv->input(1), nb},
                    copy_attributes(m.conv, g), name);
}

}  // namespace

void register_fuse_conv_add(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "fuse-conv-add";
  p.summary = "Fold the addition of a per-channel constant after a Conv into its bias";
  p.doc =
      "Folds the addition of a constant per-channel bias after a Conv into the Conv's bias.\n"
      "\n"
      "When: Add (opset >= 7, numpy broadcasting) has a Conv output as one operand and, as the other, a "
      "constant of the conv weights' float type (float, double, float16) that varies at most along the "
      "channel axis: [Cout, 1, 1] or [1, Cout, 1, 1] for a 2-D conv, a scalar, all-ones shapes. The Conv's "
      "W (and bias, if any) are constants; its output has no other consumer and is not a graph output.\n"
      "\n"
      "Not when: the constant would broadcast the sum to a larger shape or varies along a spatial axis.\n"
      "\n"
      "Before: y = Conv(x, W, b); z = Add(y, c)\n"
      "After:  z = Conv(x, W, b + c)   (named after the Conv; z keeps its name)\n"
      "\n"
      "Maths: b'[k] = b[k] + c[k] (b = 0 if absent), in double, rounded once.";
  p.run_on_graph = [](Graph& g, pass::PassContext& ctx) -> Expected<pass::PassResult> {
    return util::run_pattern(g, ctx, "fused", match, rewrite);
  };
  r.add(std::move(p));
}

}  // namespace effopt::passes
