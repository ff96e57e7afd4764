// fold-shapes: folds Shape and Size, and the small integer computations
// derived from them, where the dims they read are static.
//
// First runs the shape-inference service (ONNX's inference, then effopt's
// propagation) so Value::type is as precise as possible. Then, in
// topological order:
// - Shape(X) (opset 15: its start/end window) becomes an int64 initializer
//   when every dim it reports is known;
// - Size(X) becomes an int64 scalar when every dim of X is known;
// - Gather(Shape(X), const indices) and Slice(Shape(X), const starts/ends,
//   axis 0, step 1) become constants when the dims they pick are known, even
//   if other dims of X are symbolic (Shape -> Gather -> Reshape on a dynamic
//   batch: the channel dim still folds);
// - any node reading a value folded here whose inputs are now all constant
//   (Gather, Slice, Concat, Cast, Unsqueeze, arithmetic on shape vectors...)
//   is evaluated on the executor (at most 64 KiB per output), so a Reshape
//   target built from shapes becomes a constant; a result larger than its
//   inputs (ConstantOfShape of a shape, Range up to a size) is left to
//   fold-constants, which stores it only where the model does not grow.
// Shape nodes left without readers are removed. Must not fire where a needed
// dim is symbolic or unknown. Skipped in function bodies (no initializers).
//
//   Before (X: float[N,64,7,7]):
//     s = Shape(X)  c = Gather<axis = 0>(s, one)  u = Unsqueeze(c, zero)  t = Concat(minus1, u)  Y = Reshape(X, t)
//   After:
//     initializer int64[2] t = {-1, 64}                                     Y = Reshape(X, t)
#include "analysis/shape_propagation.h"
#include "passes/cleanup_util.h"
#include "passes/passes.h"

#include <unordered_set>

namespace effopt::passes {

namespace {

using namespace cleanup;

constexpr uint64_t kMaxDerivedBytes = 64 * 1024;

// Known dims of `x` in [start, end) (Shape's opset-15 window), or nullopt.
std::optional<std::vector<int64_t>> known_dims(const Value* x, int64_t start, int64_t end, bool whole) {
  auto rank = known_rank(x);
  if (!rank) return std::nullopt;
  int64_t r = static_cast<int64_t>(*rank);
  if (whole) { start = 0; end = r; }
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  std::vector<int64_t> out;
  for (int64_t i = start; i < end; ++i) {
    const Dim& d = (*x->type.shape)[static_cast<size_t>(i)];
    if (!d.value) return std::nullopt;
    out.push_back(*d.value);
  }
  return out;
}

// For a Shape node with no window: the dims picked by Gather/Slice `n` if all known.
std::optional<std::vector<int64_t>> picked_dims(const Node& n, const Node& shape, const pass::PassContext& ctx,
                                                bool& scalar) {
  const Value* x = shape.input(0);
  auto rank = known_rank(x);
  if (!rank || shape.attr("start") || shape.attr("end")) return std::nullopt;
  int64_t r = static_cast<int64_t>(*rank);
  auto dim_at = [&](int64_t i) -> std::optional<int64_t> {
    if (i < 0) i += r;
    if (i < 0 || i >= r) return std::nullopt;
    return (*x->type.shape)[static_cast<size_t>(i)].value;
  };
  std::vector<int64_t> out;
  if (n.op_type == "Gather") {
    if (n.attr_int("axis", 0) != 0 || !n.input(1)) return std::nullopt;
    TensorPtr t = fixed_constant(n.input(1), ctx.model);
    auto idx = t ? tensor_ints(*t) : std::nullopt;
    if (!idx || t->dims.size() > 1) return std::nullopt;
    scalar = t->dims.empty();
    for (int64_t i : *idx) {
      auto d = dim_at(i);
      if (!d) return std::nullopt;
      out.push_back(*d);
    }
    return out;
  }
  if (n.op_type == "Slice" && ctx.opset(n.domain) >= 10) {
    auto read = [&](size_t i) -> std::optional<std::vector<int64_t>> {
      if (!n.input(i)) return std::nullopt;
      TensorPtr t = fixed_constant(n.input(i), ctx.model);
      return t ? tensor_ints(*t) : std::nullopt;
    };
    auto st = read(1), en = read(2);
    if (!st || !en || st->size() != 1 || en->size() != 1) return std::nullopt;
    if (n.input(3)) {
      auto ax = read(3);
      if (!ax || ax->size() != 1 || ((*ax)[0] != 0 && (*ax)[0] != -1)) return std::nullopt;
    }
    if (n.input(4)) {
      auto sp = read(4);
      if (!sp || sp->size() != 1 || (*sp)[0] != 1) return std::nullopt;
    }
    int64_t s = (*st)[0], e = (*en)[0];
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = std::clamp<int64_t>(s, 0, r);
    e = std::clamp<int64_t>(e, 0, r);
    scalar = false;
    for (int64_t i = s; i < e; ++i) {
      auto d = dim_at(i);
      if (!d) return std::nullopt;
      out.push_back(*d);
    }
    return out;
  }
  return std::nullopt;
}

bool is_shape_node(const Node* n) {
  return n && is_onnx_domain(n->domain) && n->op_type == "Shape";
}

Expected<pass::PassResult> run(Graph& g, pass::PassContext& ctx) {
  pass::PassResult r;
  if (in_function_body(g, ctx.model)) return r;
  bool any = false;
  for (auto& n : g.nodes()) any = any || (is_onnx_domain(n->domain) && (n->op_type == "Shape" || n->op_type == "Size"));
  if (!any) return r;
  register_effopt_shape_propagation();
  ShapeInferenceStats stats;
  if (auto st = infer_shapes(ctx.model, {}, &stats); !st)
    r.note("shape inference failed, using the types already known: " + st.error().message);

  Pinned pinned(g);
  std::unordered_set<const Value*> derived;  // values folded by this pass
  std::vector<Value*> shape_outputs;  // of Shape nodes left in place
  std::vector<Node*> order;
  for (auto& n : g.nodes()) order.push_back(n.get());
  for (Node* n : order) {
    if (!is_onnx_domain(n->domain) || n->outputs().size() != 1 || !n->output(0) || pinned(n->output(0)))
      continue;
    Value* out = n->output(0);
    std::optional<std::vector<int64_t>> dims;
    bool scalar = false;
    if (n->op_type == "Shape" && n->input(0)) {
      bool windowed = ctx.opset(n->domain) >= 15 && (n->attr("start") || n->attr("end"));
      dims = known_dims(n->input(0), n->attr_int("start", 0), n->attr_int("end", INT64_MAX), !windowed);
      if (!dims) shape_outputs.push_back(out);
    } else if (n->op_type == "Size" && n->input(0)) {
      auto s = static_shape(n->input(0));
      if (s) {
        int64_t p = 1;
        for (int64_t d : *s) p *= d;
        dims = std::vector<int64_t>{p};
        scalar = true;
      }
    } else if ((n->op_type == "Gather" || n->op_type == "Slice") && n->input(0) &&
               is_shape_node(n->input(0)->producer())) {
      dims = picked_dims(*n, *n->input(0)->producer(), ctx, scalar);
    }
    if (dims) {
      std::string op = n->op_type;
      allow_plain_initializers(ctx.model, r);
      replace_node_by_initializers(g, n, {make_int64_tensor(out->name(), *dims, scalar)});
      derived.insert(out);
      r.count(op == "Shape" ? "shapes-folded" : op == "Size" ? "sizes-folded" : "shape-picks-folded");
      r.changed = true;
      continue;
    }
    bool reads_derived = false;
    for (Value* in : n->inputs()) reads_derived = reads_derived || (in && derived.count(in));
    if (!reads_derived) continue;
    // A result larger than its inputs (ConstantOfShape of a shape, Range up
    // to a size) is left to fold-constants, which stores one only where the
    // model does not grow.
    std::vector<TensorPtr> ins;
    uint64_t in_bytes = 0;
    for (Value* v : n->inputs()) {
      TensorPtr t = v ? fixed_constant(v, ctx.model) : nullptr;
      if (v && !t) break;
      ins.push_back(t);
      in_bytes += t ? t->byte_size() : 0;
    }
    if (ins.size() != n->inputs().size()) continue;
    pass::PassResult fr;
    auto res = fold_results(n, ins, ctx, kMaxDerivedBytes, pinned, fr);
    if (!res) continue;
    uint64_t out_bytes = 0;
    for (const TensorPtr& t : *res) out_bytes += t ? t->byte_size() : 0;
    if (out_bytes > in_bytes) {
      r.note(node_label(*n) + ": left to fold-constants, its result (" + std::to_string(out_bytes) +
             " bytes) is larger than its inputs");
      continue;
    }
    allow_plain_initializers(ctx.model, r);
    replace_node_by_initializers(g, n, *res);
    derived.insert(out);
    r.count("derived-folded");
    r.changed = true;
  }
  for (Value* v : shape_outputs)
    if (Node* s = v->producer(); s && erase_if_dead(g, s, pinned)) r.count("shapes-removed");
  if (r.changed) g.prune_dead_values();
  return r;
}

}  // namespace

void register_fold_shapes(pass::PassRegistry& r) {
  pass::PassInfo info;
  info.name = "fold-shapes";
  info.summary = "Folds Shape/Size and the integer computations on them where the dims are static";
  info.doc =
      "Runs shape inference, then replaces Shape and Size by constants where the dims they read are known, "
      "Gather/Slice of a Shape where the picked dims are known, and evaluates the nodes computing on those "
      "(Concat, Cast, Unsqueeze, arithmetic, ...) so Reshape targets become constants. A result larger than its "
      "inputs (ConstantOfShape of a shape, Range up to a size) is left to fold-constants, which stores it only "
      "where the model does not grow.\n"
      "Before (X: float[N,64,7,7]): s = Shape(X); c = Gather(s, 1); u = Unsqueeze(c, 0); t = Concat(-1, u); "
      "Y = Reshape(X, t)\n"
      "After:  initializer int64[2] t = {-1, 64}; Y = Reshape(X, t)";
  info.run_on_graph = run;
  r.add(std::move(info));
}

}  // namespace effopt::passes
