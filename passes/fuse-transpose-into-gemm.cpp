// fuse-transpose-into-gemm: a 2-D Transpose feeding Gemm's A or B becomes Gemm's transA / transB flag.
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

struct Match {
  Node* gemm;
  Node* transpose;
  size_t slot;  // 0 = A, 1 = B
};

bool is_2d_swap(const Node* t) {
  if (const Attribute* p = t->attr("perm")) return p->ints == std::vector<int64_t>{1, 0};
  auto s = shape_of(t->input(0));
  return s && s->size() == 2;
}

std::optional<Match> match(Node& gemm, pass::PassContext& ctx, SkipNotes& notes) {
  if (!is_op(&gemm, "Gemm")) return std::nullopt;
  for (size_t slot = 0; slot < 2; ++slot) {
    Node* t = producer_of(gemm.input(slot), "Transpose");
    if (!t || !is_2d_swap(t)) continue;
    if (!only_feeds(gemm.input(slot), &gemm, *ctx.pinned)) {
      notes.skip(*t, "output has other consumers or is a graph output");
      continue;
    }
    return Match{&gemm, t, slot};
  }
  return std::nullopt;
}

void rewrite(Graph& g, pass::PassContext&, const Match& m) {
  const char* flag = m.slot == 0 ? "transA" : "transB";
  m.gemm->set_attr(Attribute::make_int(flag, m.gemm->attr_int(flag, 0) ? 0 : 1));
  m.gemm->set_input(m.slot, m.transpose->input(0));
  g.erase_node(m.transpose);  // its output fed only this Gemm slot
}

}  // namespace

void register_fuse_transpose_into_gemm(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "fuse-transpose-into-gemm";
  p.summary = "Absorb a 2-D Transpose feeding Gemm's A or B into transA/transB";
  p.doc =
      "A 2-D Transpose feeding Gemm's A or B becomes Gemm's transA / transB flag (an already set flag is "
      "toggled off). Both A and B are handled (in one or two rounds).\n"
      "\n"
      "When: the Transpose's perm is [1, 0] (or absent, which reverses the axes, with an input known to be "
      "2-D); its output feeds only that Gemm input and is not a graph output.\n"
      "\n"
      "Not when: the Transpose has other consumers (it would stay, and Gemm would read its input directly: "
      "no saving), or another perm.\n"
      "\n"
      "Before: t = Transpose<perm=[1,0]>(a); y = Gemm<transA=0>(t, b, c)\n"
      "After:  y = Gemm<transA=1>(a, b, c)   (the Gemm keeps its name and output)\n"
      "\n"
      "Maths: Gemm computes op(A) op(B) with op = transpose when the flag is set; flipping the flag "
      "absorbs the transpose exactly (op(op(A)) = A).";
  p.run_on_graph = [](Graph& g, pass::PassContext& ctx) -> Expected<pass::PassResult> {
    return util::run_pattern(g, ctx, "fused", match, rewrite);
  };
  r.add(std::move(p));
}

}  // namespace effopt::passes
