// fuse-matmul-add: a 2-D MatMul with constant weights followed by the addition of a bias becomes one Gemm.
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

struct Match {
  Node* mm;
  Node* add;
  Value* bias;
};

bool same_dim(const Dim& a, const Dim& b) {
  if (a.value && b.value) return *a.value == *b.value;
  return !a.param.empty() && a.param == b.param;
}

std::optional<Match> match(Node& add, pass::PassContext& ctx, SkipNotes& notes) {
  if (!is_op(&add, "Add") || add.inputs().size() != 2 || ctx.opset() < 7) return std::nullopt;
  for (size_t side = 0; side < 2; ++side) {
    Node* mm = producer_of(add.input(side), "MatMul");
    Value* bias = add.input(1 - side);
    if (!mm || !bias || bias == add.input(side)) continue;
    if (!only_feeds(add.input(side), &add, *ctx.pinned))
      return notes.skip(*mm, "output has other consumers or is a graph output");
    auto a = shape_of(mm->input(0));
    if (!a || a->size() != 2) return notes.skip(*mm, "A is not known to be 2-D");
    TensorPtr b = fixed_constant(mm->input(1));
    if (!b || b->dims.size() != 2) return notes.skip(*mm, "B is not a constant matrix");
    if (!is_ieee_float_type(b->data_type) || elem_type(mm->input(0)) != b->data_type ||
        elem_type(bias) != b->data_type)
      return notes.skip(add, "types are not one float type");
    auto bs = shape_of(bias);
    if (!bs) return notes.skip(add, "the bias shape is unknown");
    Dim m = (*a)[0], n = Dim::known(b->dims[1]);
    auto fits = [](const Dim& d, const Dim& want) { return (d.value && *d.value == 1) || same_dim(d, want); };
    bool ok = bs->size() == 0 || (bs->size() == 1 && fits((*bs)[0], n)) ||
              (bs->size() == 2 && fits((*bs)[0], m) && fits((*bs)[1], n));
    if (!ok) return notes.skip(add, "the bias does not broadcast to [M, N]");
    return Match{mm, &add, bias};
  }
  return std::nullopt;
}

void rewrite(Graph& g, pass::PassContext& ctx, const Match& m) {
  std::string name = m.mm->name;
  replace_with_node(g, *ctx.pinned, {m.mm, m.add}, m.add->output(0), "Gemm", {m.mm->input(0), m.mm->input(1), m.bias},
                    {}, name);
}

}  // namespace

void register_fuse_matmul_add(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "fuse-matmul-add";
  p.summary = "Turn a 2-D MatMul with constant weights plus a bias into one Gemm";
  p.doc =
      "A 2-D MatMul with constant weights followed by the addition of a bias becomes one Gemm.\n"
      "\n"
      "When: Add (opset >= 7, where Gemm broadcasts C unidirectionally) has as one operand the output of "
      "MatMul(A, B) with A known to be 2-D [M, K] and B a constant [K, N], and as the other a bias of the "
      "same float type (float, double, float16) whose shape is known and broadcasts to [M, N] without "
      "enlarging it: [], [1], [N], [1, N], [M, 1], [M, N] (M equal as a known value or the same symbol). "
      "The MatMul output has no other consumer and is not a graph output.\n"
      "\n"
      "Not when: batched (3-D and up) or 1-D MatMul: Gemm is 2-D only.\n"
      "\n"
      "Before: y = MatMul(A, B); z = Add(y, bias)\n"
      "After:  z = Gemm(A, B, bias)   (named after the MatMul; z keeps its name)\n"
      "\n"
      "Maths: Gemm computes alpha * A B + beta * C with alpha = beta = 1.";
  p.run_on_graph = [](Graph& g, pass::PassContext& ctx) -> Expected<pass::PassResult> {
    return util::run_pattern(g, ctx, "fused", match, rewrite);
  };
  r.add(std::move(p));
}

}  // namespace effopt::passes
