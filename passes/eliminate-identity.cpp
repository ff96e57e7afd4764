// eliminate-identity: removes Identity nodes and inference-mode Dropout.
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

struct Match {
  Node* node;
  Value* in;
};

// Why a Dropout is not an identity, or empty when it is one.
std::string dropout_blocker(const Node& n, const pass::PassContext& ctx) {
  int64_t opset = ctx.opset(n.domain);
  if (n.output(1) && ctx.pinned->is_read(n.output(1))) return "its mask output is used";
  if (opset < 7) return n.attr_int("is_test", 0) == 1 ? "" : "is_test = 0 (training mode)";
  if (opset < 12) return "";
  const Value* tm = n.input(2);
  if (!tm) return "";
  TensorPtr t = fixed_constant(tm);
  if (!t) return "training_mode is not a constant";
  if (t->data_type != DataType::Bool || t->byte_size() != 1) return "training_mode is not a bool scalar";
  return t->bytes()[0] == std::byte{0} ? "" : "training_mode is true";
}

std::optional<Match> match(Node& n, pass::PassContext& ctx, SkipNotes& notes) {
  if (!is_op(&n, "Identity") && !is_op(&n, "Dropout")) return std::nullopt;
  Value* in = n.input(0);
  if (!in || !n.output(0)) return std::nullopt;
  if (n.op_type == "Dropout")
    if (std::string why = dropout_blocker(n, ctx); !why.empty()) return notes.skip(n, "kept, " + why);
  std::string why;
  if (!can_bypass(*n.graph(), &n, 0, in, *ctx.pinned, &why)) return notes.skip(n, "kept, " + why);
  return Match{&n, in};
}

void rewrite(Graph& g, pass::PassContext& ctx, const Match& m, pass::PassResult& r) {
  r.count(m.node->op_type == "Identity" ? "identities-removed" : "dropouts-removed");
  bypass_node(g, m.node, 0, m.in, *ctx.pinned);
}

}  // namespace

void register_eliminate_identity(pass::PassRegistry& r) {
  pass::PassInfo info;
  info.name = "eliminate-identity";
  info.summary = "Removes Identity nodes and inference-mode Dropout (graph output names kept)";
  info.doc =
      "Identity (Y = X) and Dropout in inference mode, whose data output equals its input, are removed: their "
      "readers read the input.\n"
      "\n"
      "When: Identity (on any type: sequences and optionals are the same value too); Dropout with opset < 7 and "
      "is_test = 1, opset 7..11 always (ratio only matters in training, which those opsets leave to the runtime: "
      "ONNX Runtime runs them as identity), opset >= 12 with training_mode absent or a constant false. The mask "
      "output must be unused (in inference it would be all true, a tensor this pass does not build).\n"
      "\n"
      "Not when: Dropout in training mode (training_mode true or not constant; is_test = 0 before opset 7). A "
      "graph output keeps its name: when Y is a graph output, X's producer is rebuilt to write Y directly; when X "
      "is a graph input, an initializer, an outer-scope value or another graph output, the node stays (a note "
      "says why), as ONNX cannot give one value two names.\n"
      "\n"
      "Before: A = Relu(X); B = Identity(A); Y = Neg(B)\n"
      "After:  A = Relu(X); Y = Neg(A)";
  info.run_on_graph = [](Graph& g, pass::PassContext& ctx) -> Expected<pass::PassResult> {
    return util::run_pattern(g, ctx, "", match, rewrite);
  };
  r.add(std::move(info));
}

}  // namespace effopt::passes
