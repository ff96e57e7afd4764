// eliminate-identity: removes Identity nodes and inference-mode Dropout.
//
// Fires on:
// - Identity (ai.onnx): Y = X, so Y's readers read X.
// - Dropout in inference mode, whose data output equals its input:
//   opset < 7 with is_test = 1; opset 7..11 always (ratio only matters in
//   training, which those opsets leave to the runtime: ONNX Runtime runs them
//   as identity); opset >= 12 when training_mode is absent or a constant
//   false. The mask output must be unused (in inference it would be all
//   true, a tensor this pass does not build).
// Must not fire: Dropout with training_mode true or not constant, or with
// is_test = 0 (opset < 7); Identity on sequences/optionals is fine (same value).
//
// A graph output keeps its name: when Y is a graph output, X's producer is
// rebuilt to write Y directly. When X is a graph input, an initializer, an
// outer-scope value or another graph output, the node stays (a note says
// why): ONNX cannot give one value two names.
//
//   Before: A = Relu(X)  B = Identity(A)  Y = Neg(B)
//   After:  A = Relu(X)  Y = Neg(A)
#include "passes/cleanup_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace cleanup;

// Why a Dropout is not an identity, or empty when it is one.
std::string dropout_blocker(const Node& n, const pass::PassContext& ctx, const Pinned& pinned) {
  int64_t opset = ctx.opset(n.domain);
  if (n.output(1) && pinned.is_read(n.output(1))) return "its mask output is used";
  if (opset < 7) return n.attr_int("is_test", 0) == 1 ? "" : "is_test = 0 (training mode)";
  if (opset < 12) return "";
  const Value* tm = n.input(2);
  if (!tm) return "";
  TensorPtr t = fixed_constant(tm, ctx.model);
  if (!t) return "training_mode is not a constant";
  if (t->data_type != DataType::Bool || t->byte_size() != 1) return "training_mode is not a bool scalar";
  return t->bytes()[0] == std::byte{0} ? "" : "training_mode is true";
}

Expected<pass::PassResult> run(Graph& g, pass::PassContext& ctx) {
  pass::PassResult r;
  Pinned pinned(g);
  std::vector<Node*> cands;
  for (auto& n : g.nodes())
    if (is_onnx_domain(n->domain) && (n->op_type == "Identity" || n->op_type == "Dropout")) cands.push_back(n.get());
  for (Node* n : cands) {
    Value* in = n->input(0);
    Value* out = n->output(0);
    if (!in || !out) continue;
    if (n->op_type == "Dropout") {
      std::string why = dropout_blocker(*n, ctx, pinned);
      if (!why.empty()) {
        r.note(node_label(*n) + ": kept, " + why);
        continue;
      }
    }
    std::string op = n->op_type, label = node_label(*n);
    std::string why;
    if (!bypass_node(g, n, 0, in, pinned, &why)) {
      r.note(label + ": kept, " + why);
      continue;
    }
    r.count(op == "Identity" ? "identities-removed" : "dropouts-removed");
    r.changed = true;
  }
  if (r.changed) g.prune_dead_values();
  return r;
}

}  // namespace

void register_eliminate_identity(pass::PassRegistry& r) {
  pass::PassInfo info;
  info.name = "eliminate-identity";
  info.summary = "Removes Identity nodes and inference-mode Dropout (graph output names kept)";
  info.doc =
      "Identity and Dropout in inference mode (opset < 7: is_test = 1; 7..11: always; >= 12: training_mode "
      "absent or constant false; mask output unused) are removed; their readers read the input. A graph "
      "output keeps its name (the input's producer writes it); when the input is a graph input, initializer, "
      "outer-scope value or graph output the node stays.\n"
      "Before: A = Relu(X); B = Identity(A); Y = Neg(B)\n"
      "After:  A = Relu(X); Y = Neg(A)";
  info.run_on_graph = run;
  r.add(std::move(info));
}

}  // namespace effopt::passes
