// eliminate-dead-code: removes nodes and initializers whose results nobody reads.
#include "ir/constants.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

bool subgraphs_pure(const Node& n, const Model& m, int depth = 0);

// A call of a model-local function is as pure as the function's body.
bool is_pure_domain(const Node& n, const Model& m, int depth = 0) {
  if (depth > 32) return false;
  for (const Function& f : m.functions)
    if (f.name == n.op_type && f.domain == n.domain) {
      if (!f.body) return false;
      for (auto& inner : f.body->nodes())
        if (!is_pure_domain(*inner, m, depth + 1) || !subgraphs_pure(*inner, m, depth + 1)) return false;
      return true;
    }
  return is_onnx_domain(n.domain) || n.domain == "ai.onnx.ml" || n.domain == "com.microsoft";
}

bool subgraphs_pure(const Node& n, const Model& m, int depth) {
  for (Graph* sg : n.subgraphs())
    for (auto& inner : sg->nodes())
      if (!is_pure_domain(*inner, m, depth + 1) || !subgraphs_pure(*inner, m, depth + 1)) return false;
  return true;
}

Expected<pass::PassResult> run(Graph& g, pass::PassContext& ctx) {
  pass::PassResult r;
  const Model& m = ctx.model;
  const Pinned& pinned = *ctx.pinned;
  // Last to first: a node's readers are visited before it.
  std::vector<Node*> order;
  for (auto& n : g.nodes()) order.push_back(n.get());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* n = *it;
    bool used = false;
    for (Value* o : n->outputs())
      if (o && pinned.is_read(o)) used = true;
    if (used) continue;
    if (!is_pure_domain(*n, m) || !subgraphs_pure(*n, m)) {
      r.note(node_label(*n) + ": unused but kept, a custom op may have side effects");
      continue;
    }
    erase_node_deep(g, n);
    r.count("nodes-removed");
    r.changed = true;
  }

  std::vector<Value*> dead_inits;
  for (Value* v : g.initializers())
    if (!pinned.is_read(v) && !v->is_graph_input()) dead_inits.push_back(v);
  for (Value* v : g.sparse_initializers())
    if (!pinned.is_read(v) && !v->is_graph_input()) dead_inits.push_back(v);
  for (Value* v : dead_inits) {
    r.count("initializers-removed");
    r.count("bytes-removed", static_cast<int64_t>(v->initializer ? v->initializer->byte_size() : 0));
    g.remove_initializer(v);
    r.changed = true;
  }
  if (r.changed) g.prune_dead_values();
  return r;
}

}  // namespace

void register_eliminate_dead_code(pass::PassRegistry& r) {
  pass::PassInfo info;
  info.name = "eliminate-dead-code";
  info.summary = "Removes unused nodes and initializers";
  info.doc =
      "Removes nodes whose results nobody reads and unused initializers. ONNX ops have no side effects, so they "
      "go; nodes are visited last to first, so whole dead chains go in one run. In IR < 4 models the initializers "
      "listed among the main graph's inputs stop being inputs and the model moves to IR 4, as before every graph "
      "pass (lib/pass/pass.h, allow_plain_initializers); unused ones are then removed.\n"
      "\n"
      "When: a node none of whose outputs is read (by a node of this graph or, as an outer-scope value, by a node "
      "inside a subgraph) or is a graph output; an initializer nobody reads that is neither a graph output nor a "
      "graph input.\n"
      "\n"
      "Not when: nodes of domains other than ai.onnx, ai.onnx.ml and com.microsoft, and calls of model-local "
      "functions holding such nodes, are kept (a custom op may have side effects), and so is a node whose "
      "subgraphs contain such a node; in IR >= 4 models, initializers listed as graph inputs are overridable "
      "defaults and stay, used or not, as do all inputs of subgraphs and functions (their signature is fixed by "
      "the caller).\n"
      "\n"
      "Before: A = Relu(X); B = Neg(A); Y = Sigmoid(X)   (outputs: Y)\n"
      "After:  Y = Sigmoid(X)";
  info.run_on_graph = run;
  r.add(std::move(info));
}

}  // namespace effopt::passes
