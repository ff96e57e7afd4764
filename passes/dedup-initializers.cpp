// dedup-initializers: merges constant tensors with identical contents, across scopes where visibility allows.
#include <algorithm>
#include <unordered_map>

#include "ir/constants.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

// (type, dims): only tensors sharing it with another can be duplicates, so
// only those are hashed (a weight with a unique shape is never read; on a
// mapped model its pages are never touched).
std::string signature(const Tensor& t) {
  std::string s = std::to_string(static_cast<int>(t.data_type));
  for (int64_t d : t.dims) s += "," + std::to_string(d);
  return s;
}

bool is_constant_node(const Node& n) { return n.op_type == "Constant" && is_onnx_domain(n.domain) && n.output(0); }

// The tensors of subgraphs below `g` that may merge across scopes: their
// initializers (not subgraph inputs) and Constant nodes, in graph order.
std::vector<Value*> tensors_below(Graph& g, const Model& m) {
  std::vector<Value*> out;
  if (in_function_body(g, m)) return out;
  for (auto& n : g.nodes())
    for (Graph* sg : n->subgraphs())
      for_each_graph(*sg, [&](Graph& x) {
        for (Value* v : x.initializers())
          if (!v->is_graph_input() && v->initializer) out.push_back(v);
        for (auto& c : x.nodes())
          if (is_constant_node(*c) && fixed_constant(c->output(0))) out.push_back(c->output(0));
      });
  return out;
}

// `inner` is `outer` or nested below it (so values of `outer` are visible in `inner`).
bool sees(const Graph* inner, const Graph* outer) {
  for (const Graph* x = inner; x; x = x->parent())
    if (x == outer) return true;
  return false;
}

// Readers of `v` read `into`; `v` (an initializer or a Constant node's output) goes.
void merge_into(Value* v, Value* into, pass::PassResult& r) {
  Graph& home = *v->graph();
  uint64_t bytes = constant_tensor(v)->byte_size();
  home.replace_all_uses(v, into);
  if (v->initializer) {
    home.remove_initializer(v);
    r.count("initializers-merged");
  } else {
    erase_node_deep(home, v->producer());
    r.count("constants-merged");
  }
  r.count("bytes-saved", static_cast<int64_t>(bytes));
  home.prune_dead_values();
}

// The initializer `v` of a subgraph becomes an initializer of `g` (same name
// and tensor; every reader follows).
Value* move_up(Value* v, Graph& g) {
  Graph& home = *v->graph();
  TensorPtr t = v->initializer;
  std::string name = v->name();
  std::vector<Use> uses = detach_uses(v);
  home.remove_initializer(v);
  home.prune_dead_values();  // frees the name: no shadowing
  auto moved = std::make_shared<Tensor>(*t);
  moved->name = name;
  Value* up = g.add_initializer(moved);
  restore_uses(up, uses);
  return up;
}

Expected<pass::PassResult> run(Graph& g, pass::PassContext& ctx) {
  pass::PassResult r;
  const Pinned& pinned = *ctx.pinned;
  std::vector<Value*> below = tensors_below(g, ctx.model);
  std::unordered_map<std::string, int> shape_count;
  for (Value* v : g.initializers())
    if (!v->is_graph_input() && v->initializer) ++shape_count[signature(*v->initializer)];
  for (auto& n : g.nodes())
    if (is_constant_node(*n))
      if (TensorPtr t = fixed_constant(n->output(0))) ++shape_count[signature(*t)];
  for (Value* v : below) ++shape_count[signature(*constant_tensor(v))];
  auto may_have_twin = [&](const Tensor& t) { return shape_count[signature(t)] > 1; };
  // First holder of each distinct tensor: hash -> values holding it.
  std::unordered_map<uint64_t, std::vector<Value*>> seen;
  auto find_same = [&](uint64_t h, const Tensor& t) -> Value* {
    auto it = seen.find(h);
    if (it == seen.end()) return nullptr;
    for (Value* v : it->second)
      if (TensorPtr o = constant_tensor(v); o && same_tensor_contents(*o, t)) return v;
    return nullptr;
  };

  std::vector<Value*> dup_inits;
  for (Value* v : g.initializers()) {
    if (v->is_graph_input() || !v->initializer || !may_have_twin(*v->initializer)) continue;
    uint64_t h = tensor_content_hash(*v->initializer);
    Value* first = find_same(h, *v->initializer);
    if (!first) {
      seen[h].push_back(v);
      continue;
    }
    if (pinned(v)) {
      r.note("initializer '" + v->name() + "': same as '" + first->name() + "', kept: it is a graph output");
      continue;
    }
    g.replace_all_uses(v, first);
    dup_inits.push_back(v);
    r.count("initializers-merged");
    r.count("bytes-saved", static_cast<int64_t>(v->initializer->byte_size()));
  }
  for (Value* v : dup_inits) g.remove_initializer(v);

  std::vector<Node*> constants;
  for (auto& n : g.nodes())
    if (is_constant_node(*n)) constants.push_back(n.get());
  for (Node* n : constants) {
    Value* out = n->output(0);
    TensorPtr t = fixed_constant(out);
    if (!t || !may_have_twin(*t)) continue;
    uint64_t h = tensor_content_hash(*t);
    Value* first = find_same(h, *t);
    if (!first) {
      seen[h].push_back(out);
      continue;
    }
    if (pinned(out)) {
      r.note(node_label(*n) + ": same tensor as '" + first->name() + "', kept: its output is a graph output");
      continue;
    }
    g.replace_all_uses(out, first);
    erase_node_deep(g, n);
    r.count("constants-merged");
    r.count("bytes-saved", static_cast<int64_t>(t->byte_size()));
  }
  if (!dup_inits.empty() || r.counter("constants-merged") > 0) g.prune_dead_values();

  // Subgraph tensors: into an equal initializer of `g`, or into an equal
  // earlier one below that they see, or both into `g` when neither sees the other.
  std::unordered_map<uint64_t, std::vector<Value*>> seen_below;
  for (Value* v : below) {
    TensorPtr t = constant_tensor(v);
    if (!may_have_twin(*t)) continue;
    uint64_t h = tensor_content_hash(*t);
    Value* first = find_same(h, *t);
    if (first && !first->initializer) first = nullptr;  // a Constant node of g: its position may come too late
    std::vector<Value*>& twins = seen_below[h];
    Value* twin = nullptr;  // an earlier equal tensor below, one that v sees if there is one
    for (Value* w : twins) {
      if (!same_tensor_contents(*constant_tensor(w), *t)) continue;
      if (sees(v->graph(), w->graph())) {
        twin = w;
        break;
      }
      if (!twin) twin = w;
    }
    if (!first && twin && !sees(v->graph(), twin->graph())) {
      if (!twin->initializer || pinned(twin)) twin = nullptr;  // cannot move up: v stays a holder of its own
      else {
        first = move_up(twin, g);
        twins.erase(std::find(twins.begin(), twins.end(), twin));
        seen[h].push_back(first);
        r.count("initializers-moved-up");
        r.changed = true;
        twin = nullptr;
      }
    }
    Value* into = first ? first : twin;
    if (!into) {
      twins.push_back(v);
      continue;
    }
    if (pinned(v)) {
      r.note("'" + v->name() + "' in a subgraph: same tensor as '" + into->name() + "', kept: it is a graph output");
      twins.push_back(v);
      continue;
    }
    merge_into(v, into, r);
  }
  r.changed = r.changed || !dup_inits.empty() || r.counter("constants-merged") > 0 ||
              r.counter("initializers-merged") > 0;
  return r;
}

}  // namespace

void register_dedup_initializers(pass::PassRegistry& r) {
  pass::PassInfo info;
  info.name = "dedup-initializers";
  info.summary = "Merges initializers and Constant tensors with identical type, dims and bytes";
  info.doc =
      "Merges constant tensors with identical contents. Only tensors whose (type, dims) occur twice or more are "
      "hashed (a weight with a unique shape is never read: on a mapped model its pages are never touched); "
      "candidates are grouped by a hash of (type, dims, bytes) and a hash match is confirmed byte for byte.\n"
      "\n"
      "When: initializers with the same element type, dims and bytes (strings: the same strings): readers of the "
      "later ones read the first (in initializer order), and the later ones are removed; Constant nodes whose "
      "tensors are identical to an initializer or to an earlier Constant node of the same graph: their readers "
      "read that one (an earlier node dominates the later one's readers, so the order stays topological) and the "
      "Constant node is removed. Across scopes, where visibility allows: a subgraph's initializer or Constant "
      "equal to an initializer of an enclosing graph is replaced by it (subgraphs read outer values); equal ones "
      "in subgraphs that do not see each other (two If branches) become one initializer of the enclosing graph, "
      "which both see.\n"
      "\n"
      "Not when: initializers that are graph inputs (overridable defaults); values that are graph outputs (their "
      "names are the interface; also a subgraph's own outputs); sparse initializers; Constants with attribute "
      "references; Constant nodes of the enclosing graph as cross-scope targets (their position would have to "
      "precede the subgraph's owner); across scopes inside function bodies (no initializers).\n"
      "\n"
      "Before: Y = Add(X, A); Z = Mul(X, B)   (initializers A = float[2] {1, 2}, B = float[2] {1, 2})\n"
      "After:  Y = Add(X, A); Z = Mul(X, A)   (initializer A = float[2] {1, 2})";
  info.run_on_graph = run;
  r.add(std::move(info));
}

}  // namespace effopt::passes
