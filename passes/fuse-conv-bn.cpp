// fuse-conv-bn: folds an inference-mode BatchNormalization into the Conv or
// ConvTranspose that feeds it.
//
// Fires when: BatchNormalization (default domain) reads the output of a Conv /
// ConvTranspose that has no other consumer and is not a graph output; BN is in
// inference mode (training_mode unset or 0, is_test=1 before opset 7, spatial
// unset or 1 before opset 9, and only its first output used); BN's scale, B,
// mean and var and the conv's W (and B, if present) are constants of one
// float type (float, double, float16) with one value per output channel, and
// W is read by this conv alone (a folded copy of a shared weight would be
// stored beside the original: the file would grow by the weight's size).
// Not when any of that fails (a note says why).
//
// Before:  y = Conv(x, W[, b]);  z = BatchNormalization(y, gamma, beta, mean, var)
// After:   z = Conv(x, W', b')   (named after the Conv; z keeps its name)
//
// Maths, per output channel c: s[c] = gamma[c] / sqrt(var[c] + eps);
//   W'[c, ...] = W[c, ...] * s[c];  b'[c] = (b[c] - mean[c]) * s[c] + beta[c]  (b = 0 if absent).
// ConvTranspose's W is [Cin, Cout/group, k...]: output channel c of input
// channel i is g * (Cout/group) + j, g = i / (Cin/group), j the index on axis 1,
// so the scale goes on axis 1, per group. Everything is computed in double and
// rounded once to the weights' type.
#include <cmath>

#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace fusion;

struct Match {
  Node* conv;
  Node* bn;
};

std::optional<Match> match(Node& bn, pass::PassContext& ctx, SkipNotes& notes) {
  if (!is_op(&bn, "BatchNormalization")) return std::nullopt;
  Node* conv = bn.input(0) ? bn.input(0)->producer() : nullptr;
  if (!is_op(conv, "Conv") && !is_op(conv, "ConvTranspose")) return std::nullopt;
  if (!only_feeds(bn.input(0), &bn)) return notes.skip(*conv, "output has other consumers or is a graph output");
  int64_t opset = ctx.opset();
  if (bn.attr_int("training_mode", 0) != 0) return notes.skip(bn, "training mode");
  if (opset < 7 && bn.attr_int("is_test", 0) == 0) return notes.skip(bn, "is_test=0 (training mode)");
  if (opset < 9 && bn.attr_int("spatial", 1) != 1) return notes.skip(bn, "spatial=0 (per-activation statistics)");
  if (!only_first_output_used(&bn)) return notes.skip(bn, "running mean/var outputs are used");
  if (bn.inputs().size() < 5 || conv->inputs().size() < 2) return std::nullopt;
  TensorPtr w = constant_tensor(conv->input(1));
  if (!w) return notes.skip(*conv, "weights are not constant");
  if (!weight_read_only_by(conv->input(1), conv))
    return notes.skip(*conv, "weights are shared with other nodes (a folded copy would be stored beside them)");
  DataType dt = w->data_type;
  if (!is_foldable_float(dt)) return notes.skip(*conv, "weights are not float, double or float16");
  if (w->dims.size() < 3) return std::nullopt;
  int64_t group = conv->attr_int("group", 1);
  bool transposed = conv->op_type == "ConvTranspose";
  if (group < 1 || (transposed && w->dims[0] % group != 0)) return std::nullopt;
  int64_t cout = transposed ? w->dims[1] * group : w->dims[0];
  for (size_t i = 1; i < 5; ++i) {
    TensorPtr p = constant_tensor(bn.input(i));
    if (!p) return notes.skip(bn, "parameters are not constant");
    if (p->data_type != dt) return notes.skip(bn, "parameter types differ from the conv weights");
    if (p->dims.size() != 1 || p->dims[0] != cout) return notes.skip(bn, "parameters do not match the output channels");
  }
  if (Value* b = conv->input(2)) {
    TensorPtr bt = constant_tensor(b);
    if (!bt) return notes.skip(*conv, "bias is not constant");
    if (bt->data_type != dt || bt->dims.size() != 1 || bt->dims[0] != cout)
      return notes.skip(*conv, "bias does not match the output channels");
  }
  return Match{conv, &bn};
}

void rewrite(Graph& g, pass::PassContext& ctx, const Match& m) {
  Node* conv = m.conv;
  Node* bn = m.bn;
  TensorPtr w = constant_tensor(conv->input(1));
  DataType dt = w->data_type;
  std::vector<double> wv = *constant_doubles(conv->input(1));
  std::vector<double> gamma = *constant_doubles(bn->input(1)), beta = *constant_doubles(bn->input(2)),
                      mean = *constant_doubles(bn->input(3)), var = *constant_doubles(bn->input(4));
  std::vector<double> bias(gamma.size(), 0.0);
  if (conv->input(2)) bias = *constant_doubles(conv->input(2));
  double eps = static_cast<double>(bn->attr_float("epsilon", 1e-5f));
  size_t cout = gamma.size();
  std::vector<double> scale(cout);
  for (size_t c = 0; c < cout; ++c) scale[c] = gamma[c] / std::sqrt(var[c] + eps);

  int64_t group = conv->attr_int("group", 1);
  size_t inner = 1;
  for (size_t i = 2; i < w->dims.size(); ++i) inner *= static_cast<size_t>(w->dims[i]);
  if (conv->op_type == "Conv") {
    size_t per_channel = wv.size() / cout;
    for (size_t i = 0; i < wv.size(); ++i) wv[i] *= scale[i / per_channel];
  } else {
    size_t cin = static_cast<size_t>(w->dims[0]), cout_g = static_cast<size_t>(w->dims[1]);
    size_t cin_g = cin / static_cast<size_t>(group);
    for (size_t i = 0; i < cin; ++i)
      for (size_t j = 0; j < cout_g; ++j) {
        double s = scale[(i / cin_g) * cout_g + j];
        double* p = &wv[(i * cout_g + j) * inner];
        for (size_t k = 0; k < inner; ++k) p[k] *= s;
      }
  }
  std::vector<double> b2(cout);
  for (size_t c = 0; c < cout; ++c) b2[c] = (bias[c] - mean[c]) * scale[c] + beta[c];

  std::string base = conv->input(1)->name();
  Value* new_w = add_constant(g, ctx, tensor_from_doubles(dt, w->dims, wv), base + "_bn");
  Value* new_b = add_constant(g, ctx, tensor_from_doubles(dt, {static_cast<int64_t>(cout)}, b2),
                              (conv->input(2) ? conv->input(2)->name() : base) + "_bn_bias");
  std::vector<Attribute> attrs = copy_attributes(conv, g);
  std::string op = conv->op_type, name = conv->name;
  replace_with_node(g, {conv, bn}, bn->output(0), op, {conv->input(0), new_w, new_b}, std::move(attrs), name);
}

}  // namespace

void register_fuse_conv_bn(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "fuse-conv-bn";
  p.summary = "Fold an inference BatchNormalization into the Conv/ConvTranspose before it";
  p.doc =
      "Folds an inference-mode BatchNormalization into the Conv or ConvTranspose before it.\n"
      "Fires when the conv output feeds only the BN (and is not a graph output), BN is in inference mode "
      "(training_mode 0, is_test 1 before opset 7, spatial 1 before opset 9, only its first output used), and "
      "W, the conv bias and the four BN parameters are constants of one type (float, double, float16) with one "
      "value per output channel, and W is read by this conv alone (a folded copy of a shared weight would be "
      "stored beside it).\n"
      "Before: y = Conv(x, W, b); z = BatchNormalization(y, gamma, beta, mean, var)\n"
      "After:  z = Conv(x, W', b'), s = gamma/sqrt(var+eps), W' = W*s per output channel (ConvTranspose: "
      "axis 1, per group), b' = (b - mean)*s + beta; computed in double, rounded once.";
  p.run_on_graph = [](Graph& g, pass::PassContext& ctx) -> Expected<pass::PassResult> {
    return fusion::run_pattern(g, ctx, "fused", match, rewrite);
  };
  r.add(std::move(p));
}

}  // namespace effopt::passes
