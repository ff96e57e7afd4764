// fuse-consecutive-transposes: Transpose -> Transpose becomes one Transpose (or none, for the identity).
#include <numeric>

#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

struct Match {
  Node* first;
  Node* second;
  std::vector<int64_t> perm;
};

std::optional<std::vector<int64_t>> perm_of(const Node* t, std::optional<size_t> rank) {
  std::vector<int64_t> p;
  if (const Attribute* a = t->attr("perm")) {
    p = a->ints;
  } else {
    if (!rank) return std::nullopt;
    for (size_t i = 0; i < *rank; ++i) p.push_back(static_cast<int64_t>(*rank - 1 - i));
  }
  std::vector<bool> seen(p.size(), false);
  for (int64_t v : p) {
    if (v < 0 || v >= static_cast<int64_t>(p.size()) || seen[static_cast<size_t>(v)]) return std::nullopt;
    seen[static_cast<size_t>(v)] = true;
  }
  return p;
}

std::optional<Match> match(Node& second, pass::PassContext& ctx, SkipNotes& notes) {
  if (!is_op(&second, "Transpose")) return std::nullopt;
  Node* first = producer_of(second.input(0), "Transpose");
  if (!first) return std::nullopt;
  if (!only_feeds(second.input(0), &second, *ctx.pinned))
    return notes.skip(*first, "output has other consumers or is a graph output");
  std::optional<size_t> rank;
  if (auto s = shape_of(first->input(0))) rank = s->size();
  auto p1 = perm_of(first, rank);
  if (p1) rank = p1->size();
  auto p2 = perm_of(&second, rank);
  if (!p1 || !p2) return notes.skip(second, "a perm is absent and the rank is unknown");
  if (p1->size() != p2->size()) return std::nullopt;
  std::vector<int64_t> q(p2->size());
  for (size_t j = 0; j < q.size(); ++j) q[j] = (*p1)[static_cast<size_t>((*p2)[j])];
  return Match{first, &second, q};
}

void rewrite(Graph& g, pass::PassContext& ctx, const Match& m) {
  std::vector<int64_t> identity(m.perm.size());
  std::iota(identity.begin(), identity.end(), 0);
  Value* x = m.first->input(0);
  Value* out = m.second->output(0);
  if (m.perm == identity) {
    replace_with_value(g, *ctx.pinned, {m.first, m.second}, out, x);
    return;
  }
  std::vector<Attribute> attrs;
  attrs.push_back(Attribute::make_ints("perm", m.perm));
  std::string name = m.second->name;
  replace_with_node(g, *ctx.pinned, {m.first, m.second}, out, "Transpose", {x}, std::move(attrs), name);
}

}  // namespace

void register_fuse_consecutive_transposes(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "fuse-consecutive-transposes";
  p.summary = "Compose Transpose -> Transpose into one Transpose (or none)";
  p.doc =
      "Transpose -> Transpose becomes one Transpose with the composed perm, or nothing when the "
      "composition is the identity.\n"
      "\n"
      "When: a Transpose reads the output of another Transpose that has no other consumer and is not a "
      "graph output; both perms are given, or the rank is known so that an absent perm (reverse the axes) "
      "can be spelled out. When the second Transpose's output is a graph output and the composition is the "
      "identity, an Identity keeps the output's name.\n"
      "\n"
      "Not when: a perm is absent and the rank is unknown.\n"
      "\n"
      "Before: t = Transpose<perm=p1>(x); y = Transpose<perm=p2>(t)\n"
      "After:  y = Transpose<perm=q>(x), q[j] = p1[p2[j]]   (or y = x when q is the identity)\n"
      "\n"
      "Maths: out axis j of Transpose<perm=p> is axis p[j] of its input; out axis j of the second is axis "
      "p2[j] of t, which is axis p1[p2[j]] of x.";
  p.run_on_graph = [](Graph& g, pass::PassContext& ctx) -> Expected<pass::PassResult> {
    return util::run_pattern(g, ctx, "fused", match, rewrite);
  };
  r.add(std::move(p));
}

}  // namespace effopt::passes
