#include "ir/topo_sort.h"

#include <unordered_map>
#include <unordered_set>

namespace effopt {

namespace {
void collect_outer_reads(const Graph& sg, const Graph& outer, std::unordered_set<Value*>& seen,
                         std::vector<Value*>& out) {
  for (auto& n : sg.nodes()) {
    for (Value* v : n->inputs()) {
      if (!v) continue;
      // Read from `outer` or above: for `outer`'s own sort only values of
      // `outer` itself matter, but callers want all outer reads.
      const Graph* vg = v->graph();
      bool is_outer = false;
      for (const Graph* g = &outer; g; g = g->parent())
        if (vg == g) { is_outer = true; break; }
      if (is_outer && seen.insert(v).second) out.push_back(v);
    }
    for (Graph* ssg : n->subgraphs()) collect_outer_reads(*ssg, outer, seen, out);
  }
  for (Value* v : sg.outputs()) {
    const Graph* vg = v->graph();
    for (const Graph* g = &outer; g; g = g->parent())
      if (vg == g) { if (seen.insert(v).second) out.push_back(v); break; }
  }
}
}  // namespace

std::vector<Value*> implicit_inputs(const Node& n) {
  std::vector<Value*> out;
  std::unordered_set<Value*> seen;
  for (Graph* sg : n.subgraphs()) collect_outer_reads(*sg, *n.graph(), seen, out);
  return out;
}

Status topo_sort(Graph& g, bool* changed) {
  const auto& nodes = g.nodes();
  std::unordered_map<const Node*, size_t> pos;
  for (size_t i = 0; i < nodes.size(); ++i) pos[nodes[i].get()] = i;
  enum : uint8_t { kNew, kOnStack, kDone };
  std::vector<uint8_t> state(nodes.size(), kNew);
  std::vector<Node*> order;
  order.reserve(nodes.size());

  // Dependencies of a node within g, in input order.
  auto deps = [&](const Node* n) {
    std::vector<size_t> d;
    auto add = [&](Value* v) {
      if (v && v->graph() == &g && v->producer()) d.push_back(pos.at(v->producer()));
    };
    for (Value* v : n->inputs()) add(v);
    if (!n->subgraphs().empty())
      for (Value* v : implicit_inputs(*n)) add(v);
    return d;
  };

  // Iterative DFS: deep unsorted chains must not overflow the stack.
  struct Frame { size_t node; std::vector<size_t> deps; size_t next; };
  for (size_t root = 0; root < nodes.size(); ++root) {
    if (state[root] != kNew) continue;
    std::vector<Frame> stack;
    stack.push_back({root, deps(nodes[root].get()), 0});
    state[root] = kOnStack;
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next < f.deps.size()) {
        size_t d = f.deps[f.next++];
        if (state[d] == kDone) continue;
        if (state[d] == kOnStack) {
          const Node* n = nodes[d].get();
          return invalid_model("the graph has a cycle through node '" + (n->name.empty() ? n->op_type : n->name) +
                               "' (" + n->op_type + ")");
        }
        state[d] = kOnStack;
        stack.push_back({d, deps(nodes[d].get()), 0});
        continue;
      }
      state[f.node] = kDone;
      order.push_back(nodes[f.node].get());
      stack.pop_back();
    }
  }
  bool moved = false;
  for (size_t i = 0; i < order.size(); ++i)
    if (order[i] != nodes[i].get()) { moved = true; break; }
  if (moved) g.reorder(std::move(order));
  if (changed) *changed = *changed || moved;
  return ok();
}

Status topo_sort_all(Graph& g, bool* changed) {
  EFFOPT_TRY(topo_sort(g, changed));
  for (auto& n : g.nodes())
    for (Graph* sg : n->subgraphs()) EFFOPT_TRY(topo_sort_all(*sg, changed));
  return ok();
}

}  // namespace effopt
