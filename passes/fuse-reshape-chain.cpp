// fuse-reshape-chain: rewrites a Reshape whose target is computed from the
// shape of its own input into a Reshape with a constant target of 0 and -1
// entries (as ONNX Runtime's ReshapeFusion does), so the Shape/Gather/Slice/
// Cast/Unsqueeze/Concat chain goes away.
//
// Fires on Reshape(X, T) with allowzero = 0 when T's elements can be traced
// through Concat (axis 0), Gather (constant indices, axis 0), Slice (constant
// starts/ends, axis 0, step 1), Unsqueeze / Squeeze of a one-element vector,
// and Casts to int32/int64, down to
//   - Shape(X) dims: element p of T being dim p of X becomes 0 (Reshape with
//     allowzero = 0 copies dim p of the input for a 0 entry);
//   - constants: kept as they are (a constant 0 already meant "copy");
//   - at most one other element (a one-element computation, e.g. N*C/4):
//     becomes -1, which Reshape infers as numel(X) / product(other entries).
//     That is the original value whenever the original Reshape was valid and
//     the other entries are nonzero (ONNX Runtime makes the same assumption).
// Needs at least one copied dim, and at most one -1 in the result (counting
// constant -1s). PaddleOCR's chain Shape -> Cast -> Slice -> Cast -> Concat ->
// Reshape is covered: a Cast of a dim to int32 and back is exact for dims
// below 2^31 (a larger dim does not fit in the int32 shape tensor either).
//
// Must not fire: allowzero = 1 (0 would mean an empty dim), dim p of X copied
// to another position q != p (0 only copies in place), a Shape of another
// tensor (even one of equal shape), more than one unknown element, function
// bodies (no initializers). The chain's nodes are removed once unused.
//
//   Before: s = Shape(X)  d = Gather(s, zero)  u = Unsqueeze(d, zero)  t = Concat(u, k)  Y = Reshape(X, t)
//           (k = int64[1] {-1})
//   After:  initializer int64[2] t_fused = {0, -1}                                          Y = Reshape(X, t_fused)
#include "passes/cleanup_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace cleanup;

struct Entry {
  enum Kind { DimOf, Const, Unknown } kind = Unknown;
  int64_t value = 0;  // dim index of X, or the constant
};

struct Trace {
  std::vector<Entry> entries;
  bool scalar = false;
};

class Tracer {
 public:
  Tracer(const Value* x, const pass::PassContext& ctx) : x_(x), ctx_(ctx) {}

  std::optional<Trace> trace(const Value* v, int depth = 0) {
    if (!v || depth > 64) return std::nullopt;
    if (TensorPtr t = fixed_constant(v, ctx_.model)) {
      auto ints = tensor_ints(*t);
      if (!ints || t->dims.size() > 1) return std::nullopt;
      Trace tr;
      tr.scalar = t->dims.empty();
      for (int64_t c : *ints) tr.entries.push_back({Entry::Const, c});
      return tr;
    }
    const Node* p = v->producer();
    if (p && is_onnx_domain(p->domain)) {
      if (auto t = trace_node(*p, depth)) return t;
    }
    // Anything else: unknown elements, if we know how many.
    auto s = static_shape(v);
    if (!s || s->size() > 1) return std::nullopt;
    Trace tr;
    tr.scalar = s->empty();
    int64_t n = s->empty() ? 1 : (*s)[0];
    if (n > 16) return std::nullopt;
    for (int64_t i = 0; i < n; ++i) tr.entries.push_back({Entry::Unknown, 0});
    return tr;
  }

 private:
  std::optional<std::vector<int64_t>> const_ints(const Value* v) {
    if (!v) return std::nullopt;
    TensorPtr t = fixed_constant(v, ctx_.model);
    return t ? tensor_ints(*t) : std::nullopt;
  }

  std::optional<Trace> trace_node(const Node& p, int depth) {
    const std::string& op = p.op_type;
    int64_t opset = ctx_.opset(p.domain);
    if (op == "Shape") {
      if (p.input(0) != x_) return std::nullopt;
      auto rank = known_rank(x_);
      if (!rank) return std::nullopt;
      int64_t r = static_cast<int64_t>(*rank);
      int64_t s = p.attr_int("start", 0), e = p.attr_int("end", r);
      if (s < 0) s += r;
      if (e < 0) e += r;
      s = std::clamp<int64_t>(s, 0, r);
      e = std::clamp<int64_t>(e, 0, r);
      Trace tr;
      for (int64_t i = s; i < e; ++i) tr.entries.push_back({Entry::DimOf, i});
      return tr;
    }
    if (op == "Cast") {
      int64_t to = p.attr_int("to", 0);
      if (to != static_cast<int64_t>(DataType::Int64) && to != static_cast<int64_t>(DataType::Int32)) return std::nullopt;
      const Value* in = p.input(0);
      auto src = trace(in, depth + 1);
      if (!src) return std::nullopt;
      // Dims and constants traced here are integers already; a cast from a
      // float (or other) tensor only keeps the element count known.
      DataType from = in->type.is_tensor() ? in->type.elem_type : DataType::Undefined;
      if (from != DataType::Undefined && from != DataType::Int64 && from != DataType::Int32)
        for (Entry& e : src->entries) e = {Entry::Unknown, 0};
      return src;
    }
    if (op == "Concat") {
      if (p.attr_int("axis", 0) != 0) return std::nullopt;
      Trace tr;
      for (const Value* in : p.inputs()) {
        auto t = trace(in, depth + 1);
        if (!t || t->scalar) return std::nullopt;
        tr.entries.insert(tr.entries.end(), t->entries.begin(), t->entries.end());
      }
      return tr;
    }
    if (op == "Gather") {
      if (p.attr_int("axis", 0) != 0) return std::nullopt;
      auto src = trace(p.input(0), depth + 1);
      TensorPtr it = p.input(1) ? fixed_constant(p.input(1), ctx_.model) : nullptr;
      auto idx = it ? tensor_ints(*it) : std::nullopt;
      if (!src || src->scalar || !idx || it->dims.size() > 1) return std::nullopt;
      Trace tr;
      tr.scalar = it->dims.empty();
      int64_t n = static_cast<int64_t>(src->entries.size());
      for (int64_t i : *idx) {
        if (i < 0) i += n;
        if (i < 0 || i >= n) return std::nullopt;
        tr.entries.push_back(src->entries[static_cast<size_t>(i)]);
      }
      return tr;
    }
    if (op == "Slice") {
      auto src = trace(p.input(0), depth + 1);
      std::optional<std::vector<int64_t>> st, en, ax, sp;
      if (opset < 10) {  // starts/ends/axes attributes
        st = p.attr_ints("starts");
        en = p.attr_ints("ends");
        if (p.attr("axes")) ax = p.attr_ints("axes");
      } else {
        st = const_ints(p.input(1));
        en = const_ints(p.input(2));
        if (p.input(3)) {
          ax = const_ints(p.input(3));
          if (!ax) return std::nullopt;
        }
        if (p.input(4)) {
          sp = const_ints(p.input(4));
          if (!sp) return std::nullopt;
        }
      }
      if (!src || src->scalar || !st || !en || st->size() != 1 || en->size() != 1) return std::nullopt;
      if (ax && (ax->size() != 1 || ((*ax)[0] != 0 && (*ax)[0] != -1))) return std::nullopt;
      if (sp && (sp->size() != 1 || (*sp)[0] != 1)) return std::nullopt;
      int64_t n = static_cast<int64_t>(src->entries.size());
      int64_t s = (*st)[0], e = (*en)[0];
      if (s < 0) s += n;
      if (e < 0) e += n;
      s = std::clamp<int64_t>(s, 0, n);
      e = std::clamp<int64_t>(e, 0, n);
      Trace tr;
      for (int64_t i = s; i < e; ++i) tr.entries.push_back(src->entries[static_cast<size_t>(i)]);
      return tr;
    }
    if (op == "Unsqueeze" || op == "Squeeze") {
      std::vector<int64_t> axes;
      if (opset < 13) {
        axes = p.attr_ints("axes");
      } else if (p.input(1)) {
        auto a = const_ints(p.input(1));
        if (!a) return std::nullopt;
        axes = *a;
      }
      auto src = trace(p.input(0), depth + 1);
      if (!src || src->entries.size() != 1) return std::nullopt;
      if (op == "Unsqueeze") {
        if (!src->scalar || axes.size() != 1 || (axes[0] != 0 && axes[0] != -1)) return std::nullopt;
        src->scalar = false;
      } else {
        if (src->scalar || axes.size() > 1 || (axes.size() == 1 && axes[0] != 0 && axes[0] != -1))
          return std::nullopt;
        src->scalar = true;
      }
      return src;
    }
    return std::nullopt;
  }

  const Value* x_;
  const pass::PassContext& ctx_;
};

Expected<pass::PassResult> run(Graph& g, pass::PassContext& ctx) {
  pass::PassResult r;
  if (in_function_body(g, ctx.model)) return r;
  Pinned pinned(g);
  std::vector<Node*> reshapes;
  for (auto& n : g.nodes())
    if (n->op_type == "Reshape" && is_onnx_domain(n->domain) && ctx.opset(n->domain) >= 5) reshapes.push_back(n.get());
  for (Node* n : reshapes) {
    Value* x = n->input(0);
    Value* t = n->input(1);
    if (!x || !t || fixed_constant(t, ctx.model)) continue;
    Tracer tracer(x, ctx);
    auto tr = tracer.trace(t);
    if (!tr || tr->scalar) continue;
    bool copies = false;
    for (const Entry& e : tr->entries) copies = copies || e.kind == Entry::DimOf;
    if (!copies) continue;
    if (n->attr_int("allowzero", 0) != 0) {
      r.note(node_label(*n) + ": not fused, allowzero = 1 (0 would mean an empty dim)");
      continue;
    }
    std::vector<int64_t> shape;
    int minus_ones = 0;
    std::string why;
    for (size_t p = 0; p < tr->entries.size() && why.empty(); ++p) {
      const Entry& e = tr->entries[p];
      switch (e.kind) {
        case Entry::DimOf:
          if (e.value != static_cast<int64_t>(p)) why = "dim " + std::to_string(e.value) + " moves to position " + std::to_string(p);
          shape.push_back(0);
          break;
        case Entry::Const:
          minus_ones += e.value == -1;
          shape.push_back(e.value);
          break;
        case Entry::Unknown:
          ++minus_ones;
          shape.push_back(-1);
          break;
      }
    }
    if (why.empty() && minus_ones > 1) why = "more than one element would be -1";
    if (!why.empty()) {
      r.note(node_label(*n) + ": not fused, " + why);
      continue;
    }
    Node* chain = t->producer();
    std::string name = fresh_name(g, t->name() + "_fused");
    allow_plain_initializers(ctx.model, r);
    Value* c = g.add_initializer(make_int64_tensor(name, shape));
    n->set_input(1, c);
    if (chain && chain->graph() == &g) r.count("nodes-removed", static_cast<int64_t>(erase_if_dead(g, chain, pinned)));
    r.count("reshapes-fused");
    r.changed = true;
  }
  if (r.changed) g.prune_dead_values();
  return r;
}

}  // namespace

void register_fuse_reshape_chain(pass::PassRegistry& r) {
  pass::PassInfo info;
  info.name = "fuse-reshape-chain";
  info.summary = "Shape -> Gather/Slice -> (Cast) -> Concat -> Reshape chains become a Reshape with 0/-1 entries";
  info.doc =
      "A Reshape whose target copies dims of its own input in place (traced through Concat, Gather, Slice, "
      "Unsqueeze/Squeeze and int Casts) gets a constant target: 0 for each copied dim, constants kept, at most "
      "one other element as -1. Not with allowzero = 1. The chain is removed when unused.\n"
      "Before: s = Shape(X); d = Gather(s, 0); u = Unsqueeze(d, 0); t = Concat(u, -1); Y = Reshape(X, t)\n"
      "After:  Y = Reshape(X, {0, -1})";
  info.run_on_graph = run;
  r.add(std::move(info));
}

}  // namespace effopt::passes
