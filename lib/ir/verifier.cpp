#include "ir/verifier.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "ir/topo_sort.h"

namespace effopt {

namespace {

std::string node_desc(const Node& n) {
  return "node '" + (n.name.empty() ? std::string("(unnamed)") : n.name) + "' (" + n.op_type + ")";
}

struct Verifier {
  std::vector<std::string> problems;

  void fail(std::string msg) {
    if (problems.size() < 10) problems.push_back(std::move(msg));
  }

  // `defined` holds values visible at this point: those of enclosing graphs
  // defined before the owner node, plus this graph's defined so far.
  void graph(const Graph& g, std::unordered_set<const Value*>& defined, const std::string& where) {
    std::vector<const Value*> added;
    auto define = [&](const Value* v) {
      if (defined.insert(v).second) added.push_back(v);
    };
    // Names must be unique across scopes (ONNX's SSA rule).
    for (auto& v : g.values())
      for (const Graph* p = g.parent(); p; p = p->parent())
        if (p->find_local(v->name()))
          fail(where + ": value '" + v->name() + "' shadows a value of an enclosing graph");
    for (Value* v : g.inputs()) {
      if (v->graph() != &g) fail(where + ": graph input '" + v->name() + "' belongs to another graph");
      define(v);
    }
    for (Value* v : g.initializers()) {
      if (!v->initializer) { fail(where + ": initializer '" + v->name() + "' has no tensor"); continue; }
      if (v->producer()) fail(where + ": initializer '" + v->name() + "' is also produced by a node");
      if (v->type.kind == Type::Kind::Tensor && v->type.elem_type != v->initializer->data_type)
        fail(where + ": initializer '" + v->name() + "' is " + data_type_name(v->initializer->data_type) +
             " but its declared type is " + v->type.to_string());
      define(v);
    }
    for (Value* v : g.sparse_initializers()) define(v);

    for (auto& np : g.nodes()) {
      const Node& n = *np;
      if (n.graph() != &g) fail(where + ": " + node_desc(n) + " is listed in a graph it does not belong to");
      for (size_t i = 0; i < n.inputs().size(); ++i) {
        Value* v = n.inputs()[i];
        if (!v) continue;
        if (!defined.count(v)) {
          bool in_scope = false;
          for (const Graph* s = &g; s; s = s->parent())
            if (v->graph() == s) in_scope = true;
          fail(where + ": " + node_desc(n) + " input '" + v->name() + "' " +
               (in_scope ? "is used before it is produced (not in topological order)" : "is not defined in scope"));
        }
        auto& uses = v->uses();
        if (std::find(uses.begin(), uses.end(), Use{const_cast<Node*>(&n), i}) == uses.end())
          fail(where + ": use list of '" + v->name() + "' misses " + node_desc(n));
      }
      for (Graph* sg : n.subgraphs()) {
        if (sg->parent() != &g || sg->owner_node() != &n)
          fail(where + ": a subgraph of " + node_desc(n) + " has the wrong parent");
        graph(*sg, defined, where + " > " + node_desc(n) + " subgraph '" + sg->name + "'");
      }
      for (size_t i = 0; i < n.outputs().size(); ++i) {
        Value* v = n.outputs()[i];
        if (!v) continue;
        if (v->producer() != &n || v->producer_index() != i)
          fail(where + ": output '" + v->name() + "' of " + node_desc(n) + " has a different producer");
        if (v->initializer) fail(where + ": '" + v->name() + "' is both an initializer and a node output");
        if (v->is_graph_input()) fail(where + ": '" + v->name() + "' is both a graph input and a node output");
        define(v);
      }
    }
    for (auto& v : g.values())
      for (const Use& u : v->uses()) {
        if (u.index >= u.node->inputs().size() || u.node->inputs()[u.index] != v.get())
          fail(where + ": use list of '" + v->name() + "' names a stale use");
      }
    for (Value* v : g.outputs())
      if (!defined.count(v)) fail(where + ": graph output '" + v->name() + "' is not defined");
    for (const Value* v : added) defined.erase(v);
  }
};

Status result(Verifier& v) {
  if (v.problems.empty()) return ok();
  std::string msg = "the graph is invalid:";
  for (auto& p : v.problems) msg += "\n  " + p;
  return invalid_model(msg);
}

}  // namespace

Status verify_graph(const Graph& graph) {
  Verifier v;
  std::unordered_set<const Value*> defined;
  v.graph(graph, defined, graph.name.empty() ? "main graph" : "graph '" + graph.name + "'");
  return result(v);
}

Status verify(const Model& model) {
  Verifier v;
  std::unordered_set<const Value*> defined;
  if (!model.graph) return invalid_model("the model has no graph");
  v.graph(*model.graph, defined, "main graph");
  for (auto& f : model.functions) {
    std::unordered_set<const Value*> fdefined;
    v.graph(*f.body, fdefined, "function '" + f.name + "'");
  }
  return result(v);
}

}  // namespace effopt
