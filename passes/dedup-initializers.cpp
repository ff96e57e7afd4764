// dedup-initializers: merges constant tensors with identical contents.
#include <cstring>
#include <string_view>
#include <unordered_map>

#include "ir/constants.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

uint64_t tensor_hash(const Tensor& t) {
  uint64_t h = fnv1a(&t.data_type, sizeof t.data_type);
  for (int64_t d : t.dims) h = fnv1a(&d, sizeof d, h);
  if (t.data_type == DataType::String) {
    for (const std::string& s : t.strings) h = fnv1a(s.data(), s.size(), h ^ s.size());
    return h;
  }
  auto b = t.bytes();
  // std::hash over the bytes is much faster than a byte loop on big weights.
  return h ^ std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

// (type, dims): only tensors sharing it with another can be duplicates, so
// only those are hashed (a weight with a unique shape is never read; on a
// mapped model its pages are never touched).
std::string signature(const Tensor& t) {
  std::string s = std::to_string(static_cast<int>(t.data_type));
  for (int64_t d : t.dims) s += "," + std::to_string(d);
  return s;
}

Expected<pass::PassResult> run(Graph& g, pass::PassContext& ctx) {
  pass::PassResult r;
  const Pinned& pinned = *ctx.pinned;
  std::unordered_map<std::string, int> shape_count;
  for (Value* v : g.initializers())
    if (!v->is_graph_input() && v->initializer) ++shape_count[signature(*v->initializer)];
  for (auto& n : g.nodes())
    if (n->op_type == "Constant" && is_onnx_domain(n->domain) && n->output(0))
      if (TensorPtr t = fixed_constant(n->output(0))) ++shape_count[signature(*t)];
  auto may_have_twin = [&](const Tensor& t) { return shape_count[signature(t)] > 1; };
  // First holder of each distinct tensor: hash -> values holding it.
  std::unordered_map<uint64_t, std::vector<Value*>> seen;
  auto find_same = [&](uint64_t h, const Tensor& t) -> Value* {
    auto it = seen.find(h);
    if (it == seen.end()) return nullptr;
    for (Value* v : it->second)
      if (TensorPtr o = constant_tensor(v); o && same_tensor(*o, t)) return v;
    return nullptr;
  };

  std::vector<Value*> dup_inits;
  for (Value* v : g.initializers()) {
    if (v->is_graph_input() || !v->initializer || !may_have_twin(*v->initializer)) continue;
    uint64_t h = tensor_hash(*v->initializer);
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
    if (n->op_type == "Constant" && is_onnx_domain(n->domain) && n->output(0)) constants.push_back(n.get());
  for (Node* n : constants) {
    Value* out = n->output(0);
    TensorPtr t = fixed_constant(out);
    if (!t || !may_have_twin(*t)) continue;
    uint64_t h = tensor_hash(*t);
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
  r.changed = !dup_inits.empty() || r.counter("constants-merged") > 0;
  if (r.changed) g.prune_dead_values();
  return r;
}

}  // namespace

void register_dedup_initializers(pass::PassRegistry& r) {
  pass::PassInfo info;
  info.name = "dedup-initializers";
  info.summary = "Merges initializers and Constant tensors with identical type, dims and bytes";
  info.doc =
      "Merges constant tensors with identical contents, per graph. Only tensors whose (type, dims) occur twice or "
      "more are hashed (a weight with a unique shape is never read: on a mapped model its pages are never "
      "touched); candidates are grouped by a hash of (type, dims, bytes) and a hash match is confirmed byte for "
      "byte.\n"
      "\n"
      "When: initializers with the same element type, dims and bytes (strings: the same strings): readers of the "
      "later ones read the first (in initializer order), and the later ones are removed; Constant nodes whose "
      "tensors are identical to an initializer or to an earlier Constant node of the same graph: their readers "
      "read that one (an earlier node dominates the later one's readers, so the order stays topological) and the "
      "Constant node is removed.\n"
      "\n"
      "Not when: initializers that are graph inputs (overridable defaults); values that are graph outputs (their "
      "names are the interface); sparse initializers; Constants with attribute references.\n"
      "\n"
      "Before: Y = Add(X, A); Z = Mul(X, B)   (initializers A = float[2] {1, 2}, B = float[2] {1, 2})\n"
      "After:  Y = Add(X, A); Z = Mul(X, A)   (initializer A = float[2] {1, 2})";
  info.run_on_graph = run;
  r.add(std::move(info));
}

}  // namespace effopt::passes
