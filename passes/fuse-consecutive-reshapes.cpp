// fuse-consecutive-reshapes: chains of shape-only ops (Reshape, Squeeze, Unsqueeze, Flatten) collapse.
#include <algorithm>

#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

enum class Kind { ReshapeChain, Cancel, MergeUnsqueeze, MergeSqueeze };

struct Match {
  Kind kind;
  Node* first;
  Node* second;
  std::vector<int64_t> values;  // new shape (ReshapeChain) or combined axes (Merge*)
  bool shape_changed = false;
};

std::optional<std::vector<int64_t>> axes_of(const Node* n, int64_t opset) {
  AxesForm f = node_axes(n, opset, 13, 1);
  if (!f.ok || !f.axes) return std::nullopt;
  return f.axes;
}

// Axes normalized to [0, rank) and sorted; nullopt if a negative one needs an
// unknown rank (-1) or one is out of range.
std::optional<std::vector<int64_t>> normalized(std::vector<int64_t> axes, int64_t rank) {
  for (int64_t& a : axes) {
    if (a < 0) {
      if (rank < 0) return std::nullopt;
      a += rank;
    }
    if (a < 0 || (rank >= 0 && a >= rank)) return std::nullopt;
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) return std::nullopt;
  return axes;
}

// -1 when unknown.
int64_t rank_of(const Value* v) {
  auto s = shape_of(v);
  return s ? static_cast<int64_t>(s->size()) : -1;
}

std::optional<Match> match_reshape(Node& second, Node* first, int64_t opset, SkipNotes& notes) {
  auto s2 = constant_ints(second.input(1));
  if (!s2) return notes.skip(second, "target shape is not constant");
  bool allowzero2 = opset >= 14 && second.attr_int("allowzero", 0) != 0;
  Match m{Kind::ReshapeChain, first, &second, *s2};
  if (allowzero2) return m;
  for (size_t i = 0; i < s2->size(); ++i) {
    if ((*s2)[i] != 0) continue;
    if (!is_op(first, "Reshape")) return notes.skip(second, "a 0 in the shape copies a dim of the first node's output");
    bool allowzero1 = opset >= 14 && first->attr_int("allowzero", 0) != 0;
    auto s1 = constant_ints(first->input(1));
    if (s1 && i < s1->size() && (*s1)[i] > 0) {
      m.values[i] = (*s1)[i];
      m.shape_changed = true;
      continue;
    }
    if (s1 && i < s1->size() && (*s1)[i] == 0 && !allowzero1) continue;  // both copy x's dim i
    auto out = static_shape(first->output(0));
    if (out && i < out->size() && (*out)[i] > 0) {
      m.values[i] = (*out)[i];
      m.shape_changed = true;
      continue;
    }
    return notes.skip(second, "a 0 in the shape copies a dim that is not statically known");
  }
  return m;
}

std::optional<Match> match(Node& second, pass::PassContext& ctx, SkipNotes& notes) {
  int64_t opset = ctx.opset();
  bool second_reshape = is_op(&second, "Reshape") && opset >= 5;
  bool second_squeeze = is_op(&second, "Squeeze"), second_unsqueeze = is_op(&second, "Unsqueeze");
  if (!second_reshape && !second_squeeze && !second_unsqueeze) return std::nullopt;
  Node* first = second.input(0) ? second.input(0)->producer() : nullptr;
  bool first_reshape = is_op(first, "Reshape") && opset >= 5;
  bool first_squeeze = is_op(first, "Squeeze"), first_unsqueeze = is_op(first, "Unsqueeze");
  if (!first_reshape && !first_squeeze && !first_unsqueeze && !is_op(first, "Flatten")) return std::nullopt;
  if (second_reshape) {
    if (!only_feeds(second.input(0), &second, *ctx.pinned))
      return notes.skip(*first, "output has other consumers or is a graph output");
    return match_reshape(second, first, opset, notes);
  }
  if (!first_squeeze && !first_unsqueeze) return std::nullopt;
  if (!only_feeds(second.input(0), &second, *ctx.pinned))
    return notes.skip(*first, "output has other consumers or is a graph output");
  auto a = axes_of(first, opset), b = axes_of(&second, opset);
  if (!a || !b) return notes.skip(second, "axes are not given as constants");
  int64_t r = rank_of(first->input(0));
  auto plus = [](int64_t rank, size_t n) { return rank < 0 ? rank : rank + static_cast<int64_t>(n); };
  if (first_squeeze != second_squeeze) {
    // Both axes lists index a tensor of the same rank: x's for Squeeze -> Unsqueeze,
    // the middle one's for Unsqueeze -> Squeeze.
    int64_t same_rank = first_squeeze ? r : plus(r, a->size());
    auto sa = *a, sb = *b;
    std::sort(sa.begin(), sa.end());
    std::sort(sb.begin(), sb.end());
    auto one_sign = [](const std::vector<int64_t>& v) {
      return std::all_of(v.begin(), v.end(), [](int64_t x) { return x >= 0; }) ||
             std::all_of(v.begin(), v.end(), [](int64_t x) { return x < 0; });
    };
    // The same numbers, all of one sign, name the same axes whatever the rank.
    bool same_sign = one_sign(sa) && one_sign(sb);
    bool equal = (same_sign && sa == sb);
    if (!equal) {
      auto na = normalized(*a, same_rank), nb = normalized(*b, same_rank);
      equal = na && nb && *na == *nb;
    }
    if (!equal) return notes.skip(second, "axes differ (or need an unknown rank)");
    return Match{Kind::Cancel, first, &second, {}};
  }
  if (first_unsqueeze) {
    int64_t mid = plus(r, a->size()), fin = plus(mid, b->size());
    auto na = normalized(*a, mid), nb = normalized(*b, fin);
    if (!na || !nb) return notes.skip(second, "negative axes need the input rank");
    // Final positions not inserted by the second node map, in order, to the middle positions.
    std::vector<int64_t> combined = *nb;
    int64_t last_a = na->empty() ? -1 : na->back();
    for (int64_t p = 0, mid_pos = 0; mid_pos <= last_a; ++p) {
      if (std::binary_search(nb->begin(), nb->end(), p)) continue;
      if (std::binary_search(na->begin(), na->end(), mid_pos)) combined.push_back(p);
      ++mid_pos;
    }
    std::sort(combined.begin(), combined.end());
    return Match{Kind::MergeUnsqueeze, first, &second, combined};
  }
  // Squeeze -> Squeeze.
  auto na = normalized(*a, r);
  int64_t mid = r < 0 ? r : r - static_cast<int64_t>(a->size());
  auto nb = normalized(*b, mid);
  if (!na || !nb) return notes.skip(second, "negative axes need the input rank");
  std::vector<int64_t> combined = *na;
  int64_t last_b = nb->empty() ? -1 : nb->back();
  for (int64_t p = 0, mid_pos = 0; mid_pos <= last_b; ++p) {
    if (std::binary_search(na->begin(), na->end(), p)) continue;
    if (std::binary_search(nb->begin(), nb->end(), mid_pos)) combined.push_back(p);
    ++mid_pos;
  }
  std::sort(combined.begin(), combined.end());
  if (combined.size() != na->size() + nb->size()) return std::nullopt;
  return Match{Kind::MergeSqueeze, first, &second, combined};
}

void rewrite(Graph& g, pass::PassContext& ctx, const Match& m) {
  Value* x = m.first->input(0);
  if (m.kind == Kind::Cancel) {
    replace_with_value(g, *ctx.pinned, {m.first, m.second}, m.second->output(0), x);
    return;
  }
  Value* old_param = m.second->input(1);
  m.second->set_input(0, x);
  if (m.kind == Kind::ReshapeChain) {
    if (m.shape_changed)
      m.second->set_input(1, add_constant(g, ctx, tensor_from_ints({static_cast<int64_t>(m.values.size())}, m.values),
                                          old_param->name() + "_merged"));
  } else if (ctx.opset() >= 13) {
    m.second->set_input(1, add_constant(g, ctx, tensor_from_ints({static_cast<int64_t>(m.values.size())}, m.values),
                                        (old_param ? old_param->name() : m.second->name) + "_merged"));
  } else {
    m.second->set_attr(Attribute::make_ints("axes", m.values));
  }
  std::vector<Value*> first_inputs = m.first->inputs();
  g.erase_node(m.first);
  for (Value* v : first_inputs) drop_if_dead(g, v, *ctx.pinned);
  if (old_param && old_param != m.second->input(1)) drop_if_dead(g, old_param, *ctx.pinned);
}

}  // namespace

void register_fuse_consecutive_reshapes(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "fuse-consecutive-reshapes";
  p.summary = "Collapse Reshape chains and cancel or merge Squeeze/Unsqueeze pairs";
  p.doc =
      "Chains of shape-only ops collapse. Axes come from the attribute before opset 13 and from the second "
      "input from 13.\n"
      "\n"
      "When:\n"
      "- Reshape(R(x), s2) -> Reshape(x, s2') where R is a Reshape, Squeeze, Unsqueeze or Flatten (they "
      "keep the element count, and a Reshape looks at its input only for the element count, for -1, and "
      "for the dims a 0 copies). s2 must be constant. With allowzero=1 (opset >= 14) or no 0 in s2, s2' = "
      "s2: -1 is inferred from the element count, which R keeps. A 0 at index i (allowzero=0) copies R's "
      "output dim i; it is resolved only when R is a Reshape with a constant shape s1: s1[i] > 0 gives "
      "that literal; s1[i] = 0 (R's allowzero=0) copies x's dim i, as a 0 at index i does when reading x "
      "directly, so it stays 0; otherwise R's output dim i must be statically known.\n"
      "- Squeeze(axes a) -> Unsqueeze(axes a), Unsqueeze(a) -> Squeeze(a): the pair is the identity and "
      "goes (an Identity stays if the result is a graph output, to keep its name).\n"
      "- Unsqueeze -> Unsqueeze and Squeeze -> Squeeze merge into one node with the combined axes "
      "(negative axes need the input rank).\n"
      "The first node's output must have no other consumer and not be a graph output.\n"
      "\n"
      "Not when: R's output dim copied by a 0 is -1-inferred and unknown, or R's allowzero=1 met a 0; "
      "Squeeze without axes (squeeze every 1); axes that are not constant.\n"
      "\n"
      "Before: t = Reshape(x, [2, 12]); y = Reshape(t, [0, 3, 4])\n"
      "After:  y = Reshape(x, [2, 3, 4])   (the second node keeps its name and output)";
  p.run_on_graph = [](Graph& g, pass::PassContext& ctx) -> Expected<pass::PassResult> {
    return util::run_pattern(g, ctx, "fused", match, rewrite);
  };
  r.add(std::move(p));
}

}  // namespace effopt::passes
