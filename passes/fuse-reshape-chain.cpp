// fuse-reshape-chain: a Reshape whose target is computed from its input's shape gets a constant 0/-1 target.
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

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
    if (TensorPtr t = fixed_constant(v)) {
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
    TensorPtr t = fixed_constant(v);
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
      TensorPtr it = p.input(1) ? fixed_constant(p.input(1)) : nullptr;
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

struct Match {
  Node* reshape;
  std::vector<int64_t> shape;  // the constant target: 0 = copy, -1 = inferred
};

std::optional<Match> match(Node& n, pass::PassContext& ctx, SkipNotes& notes) {
  if (!is_op(&n, "Reshape") || ctx.opset(n.domain) < 5) return std::nullopt;
  Value* x = n.input(0);
  Value* t = n.input(1);
  if (!x || !t || is_fixed_constant(t)) return std::nullopt;
  Tracer tracer(x, ctx);
  auto tr = tracer.trace(t);
  if (!tr || tr->scalar) return std::nullopt;
  bool copies = false;
  for (const Entry& e : tr->entries) copies = copies || e.kind == Entry::DimOf;
  if (!copies) return std::nullopt;
  if (n.attr_int("allowzero", 0) != 0) return notes.skip(n, "not fused, allowzero = 1 (0 would mean an empty dim)");
  std::vector<int64_t> shape;
  int minus_ones = 0;
  for (size_t p = 0; p < tr->entries.size(); ++p) {
    const Entry& e = tr->entries[p];
    switch (e.kind) {
      case Entry::DimOf:
        if (e.value != static_cast<int64_t>(p))
          return notes.skip(n, "not fused, dim " + std::to_string(e.value) + " moves to position " + std::to_string(p));
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
  if (minus_ones > 1) return notes.skip(n, "not fused, more than one element would be -1");
  return Match{&n, std::move(shape)};
}

void rewrite(Graph& g, pass::PassContext& ctx, const Match& m, pass::PassResult& r) {
  Value* t = m.reshape->input(1);
  Node* chain = t->producer();
  Value* c = add_constant(g, ctx, tensor_from_ints({static_cast<int64_t>(m.shape.size())}, m.shape),
                          t->name() + "_fused");
  m.reshape->set_input(1, c);
  if (chain && chain->graph() == &g)
    r.count("nodes-removed", static_cast<int64_t>(erase_if_dead(g, chain, *ctx.pinned)));
}

Expected<pass::PassResult> run(Graph& g, pass::PassContext& ctx) {
  if (in_function_body(g, ctx.model)) return pass::PassResult{};
  return util::run_pattern(g, ctx, "reshapes-fused", match, rewrite);
}

}  // namespace

void register_fuse_reshape_chain(pass::PassRegistry& r) {
  pass::PassInfo info;
  info.name = "fuse-reshape-chain";
  info.summary = "Shape -> Gather/Slice -> (Cast) -> Concat -> Reshape chains become a Reshape with 0/-1 entries";
  info.doc =
      "Rewrites a Reshape whose target is computed from the shape of its own input into a Reshape with a constant "
      "target of 0 and -1 entries (as ONNX Runtime's ReshapeFusion does), so the Shape/Gather/Slice/Cast/"
      "Unsqueeze/Concat chain goes away (its nodes are removed once unused).\n"
      "\n"
      "When: Reshape(X, T) with allowzero = 0 whose T elements can be traced through Concat (axis 0), Gather "
      "(constant indices, axis 0), Slice (constant starts/ends, axis 0, step 1), Unsqueeze / Squeeze of a "
      "one-element vector, and Casts to int32/int64, down to: Shape(X) dims (element p being dim p of X becomes "
      "0: Reshape with allowzero = 0 copies dim p of its input for a 0 entry); constants (kept: a constant 0 "
      "already meant copy); at most one other element (a one-element computation, e.g. N*C/4), which becomes -1, "
      "inferred as numel(X) / product(other entries): the original value whenever the original Reshape was valid "
      "and the other entries are nonzero (ONNX Runtime makes the same assumption). At least one dim must be "
      "copied and at most one -1 may result (counting constant -1s). PaddleOCR's chain Shape -> Cast -> Slice -> "
      "Cast -> Concat -> Reshape is covered: a Cast of a dim to int32 and back is exact for dims below 2^31 (a "
      "larger dim does not fit in the int32 shape tensor either).\n"
      "\n"
      "Not when: allowzero = 1 (0 would mean an empty dim); dim p of X copied to another position q != p (0 only "
      "copies in place); a Shape of another tensor (even one of equal shape); more than one unknown element; "
      "function bodies (no initializers).\n"
      "\n"
      "Before: s = Shape(X); d = Gather(s, zero); u = Unsqueeze(d, zero); t = Concat(u, k); Y = Reshape(X, t)\n"
      "        (k = int64[1] {-1})\n"
      "After:  Y = Reshape(X, t_fused)   (initializer int64[2] t_fused = {0, -1})";
  info.run_on_graph = run;
  r.add(std::move(info));
}

}  // namespace effopt::passes
