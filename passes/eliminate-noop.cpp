// eliminate-noop: removes nodes that provably return their input unchanged.
#include <climits>

#include "analysis/shape_inference.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

// The constant operand's dims broadcast onto `x` without changing x's shape.
bool broadcast_keeps_shape(const Value* x, const std::vector<int64_t>& cdims) {
  auto rank = known_rank(x);
  if (!rank || cdims.size() > *rank) return false;
  const auto& shape = *x->type.shape;
  for (size_t i = 0; i < cdims.size(); ++i) {
    const Dim& d = shape[*rank - cdims.size() + i];
    if (cdims[i] == 1) continue;
    if (!d.value || *d.value != cdims[i]) return false;
  }
  return true;
}

bool same_elem_type(const Value* a, const Value* b) {
  return a->type.is_tensor() && b->type.is_tensor() && a->type.elem_type != DataType::Undefined &&
         a->type.elem_type == b->type.elem_type;
}

// Which input the node passes through unchanged, or -1.
int noop_input(const Node& n, const pass::PassContext& ctx) {
  const std::string& op = n.op_type;
  Value* x = n.input(0);
  if (!x || n.outputs().size() != 1 || !n.output(0)) return -1;
  int64_t opset = ctx.opset(n.domain);
  if (op == "Transpose") {
    auto rank = known_rank(x);
    if (!rank) return -1;
    const Attribute* p = n.attr("perm");
    if (!p) return *rank <= 1 ? 0 : -1;
    if (p->ints.size() != *rank) return -1;
    for (size_t i = 0; i < p->ints.size(); ++i)
      if (p->ints[i] != static_cast<int64_t>(i)) return -1;
    return 0;
  }
  if (op == "Reshape") {
    auto rank = known_rank(x);
    if (!rank) return -1;
    std::vector<int64_t> target;
    if (opset < 5) {
      target = n.attr_ints("shape");
    } else {
      TensorPtr t = n.input(1) ? fixed_constant(n.input(1)) : nullptr;
      auto v = t ? tensor_ints(*t) : std::nullopt;
      if (!v) return -1;
      target = *v;
    }
    if (target.size() != *rank) return -1;
    bool allowzero = n.attr_int("allowzero", 0) != 0;
    const auto& s = *x->type.shape;
    int minus_one = -1;
    for (size_t i = 0; i < target.size(); ++i) {
      if (target[i] == 0 && !allowzero) continue;
      if (target[i] == -1) {
        if (minus_one >= 0) return -1;
        minus_one = static_cast<int>(i);
        continue;
      }
      if (!s[i].value || *s[i].value != target[i]) return -1;
    }
    if (minus_one >= 0)
      for (size_t i = 0; i < s.size(); ++i)
        if (static_cast<int>(i) != minus_one && (!s[i].value || *s[i].value == 0)) return -1;
    return 0;
  }
  if (op == "Cast") {
    if (!x->type.is_tensor() || x->type.elem_type == DataType::Undefined) return -1;
    if (opset >= 6 && n.attr_int("to", -1) == static_cast<int64_t>(x->type.elem_type)) return 0;
    return -1;
  }
  if (op == "CastLike") return n.input(1) && same_elem_type(x, n.input(1)) ? 0 : -1;
  if (op == "Pad") {
    std::vector<int64_t> pads;
    if (opset < 11) {
      pads = n.attr_ints(opset < 2 ? "paddings" : "pads");
    } else {
      TensorPtr t = n.input(1) ? fixed_constant(n.input(1)) : nullptr;
      auto v = t ? tensor_ints(*t) : std::nullopt;
      if (!v) return -1;
      pads = *v;
    }
    if (pads.empty()) return -1;
    for (int64_t p : pads)
      if (p != 0) return -1;
    return 0;
  }
  if (op == "Slice") {
    std::vector<int64_t> starts, ends, axes, steps;
    if (opset < 10) {
      starts = n.attr_ints("starts");
      ends = n.attr_ints("ends");
      axes = n.attr_ints("axes");
    } else {
      auto read = [&](size_t i, std::vector<int64_t>& out) {
        if (!n.input(i)) return true;  // absent
        TensorPtr t = fixed_constant(n.input(i));
        auto v = t ? tensor_ints(*t) : std::nullopt;
        if (!v) return false;
        out = *v;
        return true;
      };
      if (!n.input(1) || !n.input(2)) return -1;
      if (!read(1, starts) || !read(2, ends) || !read(3, axes) || !read(4, steps)) return -1;
    }
    if (starts.size() != ends.size() || starts.empty()) return -1;
    auto rank = known_rank(x);
    if (axes.empty())
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    if (axes.size() != starts.size() || (!steps.empty() && steps.size() != starts.size())) return -1;
    for (size_t i = 0; i < starts.size(); ++i) {
      if (!steps.empty() && steps[i] != 1) return -1;
      int64_t axis = axes[i];
      if (axis < 0) {
        if (!rank) return -1;
        axis += static_cast<int64_t>(*rank);
      }
      std::optional<int64_t> dim;
      if (rank && axis >= 0 && static_cast<size_t>(axis) < *rank) dim = (*x->type.shape)[axis].value;
      if (dim) {
        int64_t st = starts[i] < 0 ? starts[i] + *dim : starts[i];
        if (st > 0) return -1;
        if (ends[i] < *dim) return -1;
      } else {
        if (starts[i] != 0 || ends[i] < INT_MAX) return -1;
      }
    }
    return 0;
  }
  if (op == "Expand") {
    TensorPtr t = n.input(1) ? fixed_constant(n.input(1)) : nullptr;
    auto v = t ? tensor_ints(*t) : std::nullopt;
    if (!v) return -1;
    return broadcast_keeps_shape(x, *v) ? 0 : -1;
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    if (opset < 7) return -1;  // legacy broadcast attribute semantics
    double unit = (op == "Add" || op == "Sub") ? 0.0 : 1.0;
    bool commutes = op == "Add" || op == "Mul";
    for (int k = 0; k < (commutes ? 2 : 1); ++k) {
      Value* data = n.input(k);
      Value* c = n.input(1 - k);
      if (!data || !c) continue;
      TensorPtr t = fixed_constant(c);
      if (!t || !tensor_all_equal(*t, unit)) continue;
      if (!data->type.is_tensor() || data->type.elem_type != t->data_type) continue;
      if (broadcast_keeps_shape(data, t->dims)) return k;
    }
    return -1;
  }
  if (op == "Squeeze") {
    bool has_axes = opset < 13 ? n.attr("axes") != nullptr : n.input(1) != nullptr;
    if (has_axes) return -1;
    auto s = static_shape(x);
    if (!s) return -1;
    for (int64_t d : *s)
      if (d == 1) return -1;
    return 0;
  }
  if (op == "Concat" || op == "Sum" || op == "Max" || op == "Min" || op == "Mean")
    return n.inputs().size() == 1 ? 0 : -1;
  return -1;
}

bool is_candidate_op(const std::string& op) {
  static const char* ops[] = {"Transpose", "Reshape", "Cast", "CastLike", "Pad", "Slice", "Expand",
                              "Add", "Sub", "Mul", "Div", "Squeeze"};
  for (const char* o : ops)
    if (op == o) return true;
  return false;
}

struct Match {
  Node* node;
  Value* in;
};

std::optional<Match> match(Node& n, pass::PassContext& ctx, SkipNotes& notes) {
  if (!is_onnx_domain(n.domain)) return std::nullopt;
  int k = noop_input(n, ctx);
  if (k < 0) return std::nullopt;
  Value* in = n.input(static_cast<size_t>(k));
  std::string why;
  if (!can_bypass(*n.graph(), &n, 0, in, *ctx.pinned, &why)) return notes.skip(n, "a no-op, kept: " + why);
  return Match{&n, in};
}

void rewrite(Graph& g, pass::PassContext& ctx, const Match& m, pass::PassResult& r) {
  r.count("removed-" + m.node->op_type);
  bypass_node(g, m.node, 0, m.in, *ctx.pinned);
}

Expected<pass::PassResult> run(Graph& g, pass::PassContext& ctx) {
  pass::PassResult r;
  bool needs_types = false;
  for (auto& n : g.nodes())
    if (is_onnx_domain(n->domain) && is_candidate_op(n->op_type))
      for (Value* in : n->inputs())
        if (in && !static_shape(in)) needs_types = true;
  // Types decide every rule here: refine them first (only Value::type changes).
  if (needs_types && !in_function_body(g, ctx.model)) {
    if (auto st = infer_shapes(ctx.model); !st)
      r.note("shape inference failed, using the types already known: " + st.error().message);
  }
  r.merge(util::run_pattern(g, ctx, "nodes-removed", match, rewrite));
  return r;
}

}  // namespace

void register_eliminate_noop(pass::PassRegistry& r) {
  pass::PassInfo info;
  info.name = "eliminate-noop";
  info.summary = "Removes nodes that provably return their input (identity Transpose, same-shape Reshape, x*1, ...)";
  info.doc =
      "Removes nodes that return their (first) input unchanged, only where shapes and element types prove it. "
      "Types come from the model and the shape-inference service (run first when a candidate's input shape is "
      "not fully known).\n"
      "\n"
      "When (X = the data input, S = X's shape):\n"
      "- Transpose with perm = [0, 1, ..., r-1] (or no perm and rank <= 1);\n"
      "- Reshape whose constant target gives S back: same rank, every entry S[i] (known) or 0 with "
      "allowzero = 0 (copies S[i]), with at most one -1 whose dim is then forced (the other dims known and "
      "nonzero);\n"
      "- Cast / CastLike to X's own element type;\n"
      "- Pad with all pads zero (constant);\n"
      "- Slice that keeps every element: steps 1, each start 0 (or -dim), each end >= dim (dim known) or "
      ">= 2^31-1 (dim unknown);\n"
      "- Expand whose constant shape broadcasts to S itself: at most rank(X) entries, each 1 or equal to a known "
      "S[i];\n"
      "- Add / Sub (X - 0) with a constant all-zero operand, Mul / Div (X / 1) with an all-one operand, when "
      "broadcasting keeps S: the constant has at most rank(X) dims, each 1 or equal to a known S[i] (x + 0 turns "
      "-0.0 into +0.0: equal as numbers, so still exact; NaN stays NaN);\n"
      "- Squeeze without axes on a fully known S with no 1 in it;\n"
      "- Concat, Sum, Max, Min, Mean with a single input.\n"
      "\n"
      "Not when: S or the element types are unknown where the rule needs them; Unsqueeze, and Squeeze with an "
      "empty constant axes list (ambiguous). A graph output keeps its name as in eliminate-identity (the node "
      "stays, with a note, when that is impossible).\n"
      "\n"
      "Before: T = Transpose<perm = [0, 1]>(X); Y = Mul(T, One)   (One = float[1] {1})\n"
      "After:  readers of Y read X";
  info.run_on_graph = run;
  r.add(std::move(info));
}

}  // namespace effopt::passes
