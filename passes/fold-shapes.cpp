// fold-shapes: folds Shape/Size and the integer computations on them where the dims they read are static.
#include "analysis/shape_inference.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

#include <unordered_set>

namespace effopt::passes {

namespace {

using namespace util;

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
    TensorPtr t = fixed_constant(n.input(1));
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
      TensorPtr t = fixed_constant(n.input(i));
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

struct Match {
  Node* node;
  std::vector<TensorPtr> results;  // one per output
  const char* counter;
};

// Matches in topological order, so a value folded here (in `derived`) makes
// its readers candidates later in the same round.
class Folder {
 public:
  std::optional<Match> match(Node& n, pass::PassContext& ctx, SkipNotes& notes) {
    if (!is_onnx_domain(n.domain) || n.outputs().size() != 1 || !n.output(0) || (*ctx.pinned)(n.output(0)))
      return std::nullopt;
    std::optional<std::vector<int64_t>> dims;
    bool scalar = false;
    const char* counter = nullptr;
    if (n.op_type == "Shape" && n.input(0)) {
      bool windowed = ctx.opset(n.domain) >= 15 && (n.attr("start") || n.attr("end"));
      dims = known_dims(n.input(0), n.attr_int("start", 0), n.attr_int("end", INT64_MAX), !windowed);
      counter = "shapes-folded";
    } else if (n.op_type == "Size" && n.input(0)) {
      if (auto s = static_shape(n.input(0))) {
        int64_t p = 1;
        for (int64_t d : *s) p *= d;
        dims = std::vector<int64_t>{p};
        scalar = true;
      }
      counter = "sizes-folded";
    } else if ((n.op_type == "Gather" || n.op_type == "Slice") && n.input(0) &&
               is_shape_node(n.input(0)->producer())) {
      dims = picked_dims(n, *n.input(0)->producer(), ctx, scalar);
      counter = "shape-picks-folded";
    }
    if (dims) {
      std::vector<int64_t> tdims;
      if (!scalar) tdims.push_back(static_cast<int64_t>(dims->size()));
      return Match{&n, {tensor_from_ints(tdims, *dims)}, counter};
    }
    bool reads_derived = false;
    for (Value* in : n.inputs()) reads_derived = reads_derived || (in && derived_.count(in));
    if (!reads_derived || failed_.count(&n)) return std::nullopt;
    pass::PassResult ignored;  // why a derived node did not fold is not worth a note
    auto results = fold_node(n, ctx, kMaxDerivedBytes, ignored);
    if (!results) {
      failed_.insert(&n);
      return std::nullopt;
    }
    // A result larger than its inputs (ConstantOfShape of a shape, Range up
    // to a size) is left to fold-constants, which stores one only where the
    // model does not grow.
    uint64_t in_bytes = 0, out_bytes = 0;
    for (Value* v : n.inputs())
      if (TensorPtr t = v ? fixed_constant(v) : nullptr) in_bytes += t->byte_size();
    for (const TensorPtr& t : *results) out_bytes += t ? t->byte_size() : 0;
    if (out_bytes > in_bytes) {
      failed_.insert(&n);
      return notes.skip(n, "left to fold-constants, its result (" + std::to_string(out_bytes) +
                               " bytes) is larger than its inputs");
    }
    return Match{&n, std::move(*results), "derived-folded"};
  }

  void rewrite(Graph& g, pass::PassContext& ctx, const Match& m, pass::PassResult& r) {
    derived_.insert(m.node->output(0));
    replace_node_by_initializers(g, m.node, m.results, ctx);
    r.count(m.counter);
  }

 private:
  std::unordered_set<const Value*> derived_;  // values folded by this pass
  std::unordered_set<const Node*> failed_;    // derived candidates that did not fold (no node is created here)
};

Expected<pass::PassResult> run(Graph& g, pass::PassContext& ctx) {
  pass::PassResult r;
  if (in_function_body(g, ctx.model)) return r;
  bool any = false;
  for (auto& n : g.nodes()) any = any || (is_onnx_domain(n->domain) && (n->op_type == "Shape" || n->op_type == "Size"));
  if (!any) return r;
  ShapeInferenceStats stats;
  if (auto st = infer_shapes(ctx.model, {}, &stats); !st)
    r.note("shape inference failed, using the types already known: " + st.error().message);
  Folder folder;
  r.merge(util::run_pattern(
      g, ctx, "", [&](Node& n, pass::PassContext& c, SkipNotes& notes) { return folder.match(n, c, notes); },
      [&](Graph& gr, pass::PassContext& c, const Match& m, pass::PassResult& res) { folder.rewrite(gr, c, m, res); }));
  // Shape nodes left without readers (their readers folded) go.
  // Values, not nodes: one erasure may take an earlier producer with it.
  std::vector<Value*> shape_outputs;
  for (auto& n : g.nodes())
    if (is_shape_node(n.get()) && n->output(0)) shape_outputs.push_back(n->output(0));
  for (Value* v : shape_outputs)
    if (Node* s = v->producer(); s && erase_if_dead(g, s, *ctx.pinned)) {
      r.count("shapes-removed");
      r.changed = true;
    }
  if (r.changed) g.prune_dead_values();
  return r;
}

}  // namespace

void register_fold_shapes(pass::PassRegistry& r) {
  pass::PassInfo info;
  info.name = "fold-shapes";
  info.summary = "Folds Shape/Size and the integer computations on them where the dims are static";
  info.doc =
      "Folds Shape and Size, and the small integer computations derived from them, where the dims they read are "
      "static. First runs the shape-inference service (ONNX's inference, then effopt's propagation) so the types "
      "are as precise as possible, then visits the nodes in topological order. Shape nodes left without readers "
      "are removed.\n"
      "\n"
      "When: Shape(X) (opset 15: its start/end window) becomes an int64 initializer when every dim it reports is "
      "known; Size(X) becomes an int64 scalar when every dim of X is known; Gather(Shape(X), constant indices) and "
      "Slice(Shape(X), constant starts/ends, axis 0, step 1) become constants when the dims they pick are known, "
      "even if other dims of X are symbolic (Shape -> Gather -> Reshape on a dynamic batch: the channel dim still "
      "folds); any node reading a value folded here whose inputs are now all constant (Gather, Slice, Concat, "
      "Cast, Unsqueeze, arithmetic on shape vectors, ...) is evaluated on the executor (at most 64 KiB per "
      "output), so a Reshape target built from shapes becomes a constant.\n"
      "\n"
      "A derived result larger than its inputs (ConstantOfShape of a shape, Range up to a size) is left to "
      "fold-constants, which stores it only where the model does not grow.\n"
      "\n"
      "Not when: a needed dim is symbolic or unknown; the node writes a graph output; function bodies (no "
      "initializers).\n"
      "\n"
      "Before: s = Shape(X); c = Gather<axis = 0>(s, one); u = Unsqueeze(c, zero); t = Concat(minus1, u); "
      "Y = Reshape(X, t)\n"
      "        (X: float[N,64,7,7])\n"
      "After:  Y = Reshape(X, t)   (initializer int64[2] t = {-1, 64})";
  info.run_on_graph = run;
  r.add(std::move(info));
}

}  // namespace effopt::passes
