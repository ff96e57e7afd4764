// hoist-constants: turns Constant nodes into initializers of their graph (names kept).
#include "ir/constants.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

Expected<pass::PassResult> run(Graph& g, pass::PassContext& ctx) {
  pass::PassResult r;
  if (in_function_body(g, ctx.model)) return r;
  const Pinned& pinned = *ctx.pinned;
  std::vector<Node*> constants;
  for (auto& n : g.nodes())
    if (n->op_type == "Constant" && is_onnx_domain(n->domain)) constants.push_back(n.get());
  for (Node* n : constants) {
    Value* out = n->output(0);
    if (!out || n->outputs().size() != 1) continue;
    if (pinned(out)) {
      r.note(node_label(*n) + ": kept, its output is a graph output");
      continue;
    }
    bool ref = false;
    for (const Attribute& a : n->attributes) ref = ref || !a.ref_attr_name.empty();
    if (ref) {
      r.note(node_label(*n) + ": kept, its value is a function attribute reference");
      continue;
    }
    pass::allow_plain_initializers(ctx.model);
    const Attribute* sparse = n->attr("sparse_value");
    if (sparse && sparse->sparse_tensor) {
      std::vector<Use> uses = detach_uses(out);
      erase_node_deep(g, n);
      auto st = std::make_shared<SparseTensor>(*sparse->sparse_tensor);
      st->values.name = out->name();
      [[maybe_unused]] Value* v = g.add_sparse_initializer(std::move(st));
      restore_uses(out, uses);
      r.count("constants-hoisted");
      r.changed = true;
      continue;
    }
    TensorPtr t = constant_tensor(out);
    if (!t) {
      r.note(node_label(*n) + ": kept, no value attribute");
      continue;
    }
    uint64_t bytes = t->byte_size();
    replace_node_by_initializers(g, n, {t}, ctx);
    r.count("constants-hoisted");
    r.count("bytes-hoisted", static_cast<int64_t>(bytes));
    r.changed = true;
  }
  return r;
}

}  // namespace

void register_hoist_constants(pass::PassRegistry& r) {
  pass::PassInfo info;
  info.name = "hoist-constants";
  info.summary = "Constant nodes become initializers of their graph (names kept)";
  info.doc =
      "Turns Constant nodes into initializers of their graph: the output value becomes an initializer (a sparse "
      "initializer for sparse_value) of the same graph under the same name, so every reader, inside subgraphs "
      "too, keeps reading it. In subgraphs the initializer belongs to that subgraph.\n"
      "\n"
      "When: every ONNX Constant node (attribute value, value_float(s), value_int(s), value_string(s) or "
      "sparse_value).\n"
      "\n"
      "Not when (a note says why): the output is a graph output (an initializer that is also a graph output is "
      "not portable across runtimes); function bodies (FunctionProto has no initializers); an attribute is a "
      "function attribute reference.\n"
      "\n"
      "Before: W = Constant<value = float[2] {1, 2}>(); Y = Mul(X, W)\n"
      "After:  Y = Mul(X, W)   (initializer float[2] W = {1, 2})";
  info.run_on_graph = run;
  r.add(std::move(info));
}

}  // namespace effopt::passes
