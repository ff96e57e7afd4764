// fold-constants: evaluates nodes whose inputs are all constant; their results become initializers.
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

Expected<pass::PassResult> run(Graph& g, pass::PassContext& ctx) {
  pass::PassResult r;
  if (in_function_body(g, ctx.model)) return r;  // functions have no initializers
  uint64_t max_bytes = static_cast<uint64_t>(ctx.options.get_int("max-bytes"));
  std::vector<Node*> order;
  for (auto& n : g.nodes()) order.push_back(n.get());
  for (Node* n : order) try_fold_node(g, n, ctx, max_bytes, r);
  if (r.changed) g.prune_dead_values();
  return r;
}

}  // namespace

void register_fold_constants(pass::PassRegistry& r) {
  pass::PassInfo info;
  info.name = "fold-constants";
  info.summary = "Evaluates nodes with constant inputs on the executor; results become initializers";
  info.doc =
      "Evaluates nodes whose inputs are all constant and replaces them by initializers (of the same names) "
      "holding their results. Nodes are visited in topological order, so a chain of constant computations folds "
      "in one run. Each node runs on effopt's executor (a one-node model), so results are bit-identical on every "
      "machine and thread count: the pass is deterministic.\n"
      "\n"
      "When: a node (ai.onnx or any domain the executor runs) whose every present input is a fixed constant "
      "(an initializer no feed can override, a Constant node, an Identity of those) and whose every output would "
      "take at most max-bytes. For ConstantOfShape, Expand, Tile, Range, Pad, MatMul and broadcasting ops the "
      "size is predicted from the inputs before running, so a ConstantOfShape building a 400 MB weight is never "
      "even computed: weights built by ConstantOfShape (the onnx-backend light models) are materialized only "
      "within the limit.\n"
      "\n"
      "Not when (a note says why): QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear (Q/DQ pairs carry "
      "quantization for the runtime); random ops, Dropout, Identity (eliminate-identity's job: folding an Identity "
      "of a weight would copy it), Constant (hoist-constants), nodes with subgraphs, nodes writing a graph output; "
      "outputs over max-bytes; ops the executor cannot run (skipped with its message); function bodies "
      "(FunctionProto has no initializers).\n"
      "\n"
      "Before: S = Constant<value = int64[2] {2, 3}>(); Z = ConstantOfShape(S); Y = Add(X, Z)\n"
      "After:  Y = Add(X, Z)   (initializer float[2,3] Z = {0, 0, 0, 0, 0, 0}; the unused S is left to "
      "eliminate-dead-code)";
  pass::OptionSpec max_bytes;
  max_bytes.name = "max-bytes";
  max_bytes.type = pass::OptionType::Int;
  max_bytes.default_value = "1048576";
  max_bytes.help = "largest folded output, in bytes";
  max_bytes.min = 0;
  info.options.push_back(max_bytes);
  info.run_on_graph = run;
  r.add(std::move(info));
}

}  // namespace effopt::passes
