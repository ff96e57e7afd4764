#include "analysis/node_count.h"

#include <unordered_set>

namespace effopt {

namespace {

uint64_t nodes_in_subgraphs(const Node& n) {
  uint64_t c = 0;
  for (const Graph* g : n.subgraphs())
    for (const auto& sn : g->nodes()) c += 1 + nodes_in_subgraphs(*sn);
  return c;
}

// True when `n` or a node in its subgraphs reads a value in `dynamic`.
bool reads_dynamic(const Node& n, const std::unordered_set<const Value*>& dynamic) {
  for (const Value* v : n.inputs())
    if (v && dynamic.count(v)) return true;
  for (const Graph* g : n.subgraphs())
    for (const auto& sn : g->nodes())
      if (reads_dynamic(*sn, dynamic)) return true;
  return false;
}

}  // namespace

NodeCount count_work_nodes(const Model& m) {
  NodeCount c;
  if (!m.graph) return c;
  const Graph& g = *m.graph;
  std::unordered_set<const Value*> dynamic;
  for (const Value* v : g.inputs())
    if (!v->initializer && !v->sparse_initializer) dynamic.insert(v);
  for (const auto& n : g.nodes()) {
    uint64_t inner = nodes_in_subgraphs(*n);
    c.all_nodes += 1 + inner;
    if (!reads_dynamic(*n, dynamic)) continue;
    c.work_nodes += 1 + inner;
    for (const Value* o : n->outputs())
      if (o) dynamic.insert(o);
  }
  return c;
}

}  // namespace effopt
