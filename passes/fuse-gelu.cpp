// fuse-gelu: GELU written out in primitive ops becomes one Gelu (opset 20).
#include <cmath>

#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

struct Match {
  std::vector<Node*> nodes;
  Value* x;
  Value* out;
  bool tanh;
};

double tolerance(DataType t) { return t == DataType::Float16 ? 1e-3 : 1e-6; }

bool is_const_near(const Value* v, double want, DataType dt) {
  TensorPtr t = fixed_constant(v);
  auto s = constant_splat(v);
  return t && s && t->data_type == dt && near(*s, want, tolerance(dt));
}

// Leaves of the Mul tree rooted at `root`: descends into Mul operands used only by the tree.
void mul_leaves(Node* mul, std::vector<Value*>& leaves, std::vector<Node*>& nodes, int depth, const Pinned& pinned) {
  nodes.push_back(mul);
  for (Value* v : mul->inputs()) {
    Node* p = producer_of(v, "Mul");
    if (p && depth < 3 && only_feeds(v, mul, pinned)) mul_leaves(p, leaves, nodes, depth + 1, pinned);
    else leaves.push_back(v);
  }
}

// x / sqrt(2) or x * (1/sqrt(2)); returns x.
Value* match_scaled_x(Node* n, DataType dt, std::vector<Node*>& nodes) {
  if (is_op(n, "Div") && is_const_near(n->input(1), std::sqrt(2.0), dt)) {
    nodes.push_back(n);
    return n->input(0);
  }
  if (is_op(n, "Mul") && n->inputs().size() == 2)
    for (size_t i = 0; i < 2; ++i)
      if (is_const_near(n->input(1 - i), 1.0 / std::sqrt(2.0), dt)) {
        nodes.push_back(n);
        return n->input(i);
      }
  return nullptr;
}

// x^3 in one of its spellings; returns x.
Value* match_cube(Node* n, std::vector<Node*>& nodes, const Pinned& pinned) {
  if (is_op(n, "Pow") && constant_splat(n->input(1)) == 3.0) {
    nodes.push_back(n);
    return n->input(0);
  }
  if (!is_op(n, "Mul") || n->inputs().size() != 2) return nullptr;
  for (size_t i = 0; i < 2; ++i) {
    Node* sq = producer_of(n->input(i), "Mul");
    Value* x = n->input(1 - i);
    if (sq && sq->input(0) == x && sq->input(1) == x && only_feeds(sq->output(0), n, pinned)) {
      nodes.push_back(n);
      nodes.push_back(sq);
      return x;
    }
  }
  return nullptr;
}

// sqrt(2/pi) * (x + 0.044715 * x^3); returns x.
Value* match_tanh_arg(Node* n, DataType dt, std::vector<Node*>& nodes, const Pinned& pinned) {
  if (!is_op(n, "Mul") || n->inputs().size() != 2) return nullptr;
  for (size_t i = 0; i < 2; ++i) {
    if (!is_const_near(n->input(1 - i), std::sqrt(2.0 / M_PI), dt)) continue;
    Node* add = producer_of(n->input(i), "Add");
    if (!add || !only_feeds(add->output(0), n, pinned) || add->inputs().size() != 2) return nullptr;
    for (size_t j = 0; j < 2; ++j) {
      Value* x = add->input(j);
      Node* scaled = producer_of(add->input(1 - j), "Mul");
      if (!scaled || !only_feeds(scaled->output(0), add, pinned) || scaled->inputs().size() != 2) continue;
      for (size_t q = 0; q < 2; ++q) {
        if (!is_const_near(scaled->input(1 - q), 0.044715, dt)) continue;
        Node* cube = scaled->input(q) ? scaled->input(q)->producer() : nullptr;
        if (!cube || !only_feeds(scaled->input(q), scaled, pinned)) continue;
        std::vector<Node*> sub = {n, add, scaled};
        if (match_cube(cube, sub, pinned) == x) {
          nodes.insert(nodes.end(), sub.begin(), sub.end());
          return x;
        }
      }
    }
  }
  return nullptr;
}

std::optional<Match> match(Node& top, pass::PassContext& ctx, SkipNotes& notes) {
  if (!is_op(&top, "Mul") || top.inputs().size() != 2) return std::nullopt;
  std::vector<Value*> leaves;
  std::vector<Node*> nodes;
  mul_leaves(&top, leaves, nodes, 0, *ctx.pinned);
  if (leaves.size() != 3) return std::nullopt;
  for (size_t h = 0; h < 3; ++h) {
    TensorPtr half = fixed_constant(leaves[h]);
    if (!half) continue;
    DataType dt = half->data_type;
    if (!is_ieee_float_type(dt) || !is_const_near(leaves[h], 0.5, dt)) continue;
    for (size_t a = 0; a < 3; ++a) {
      if (a == h) continue;
      Value* x = leaves[3 - h - a];
      Node* add = producer_of(leaves[a], "Add");
      Node* consumer = leaves[a]->uses().empty() ? nullptr : leaves[a]->uses()[0].node;
      if (!add || add->inputs().size() != 2 || !only_feeds(leaves[a], consumer, *ctx.pinned))
        continue;
      for (size_t e = 0; e < 2; ++e) {
        if (!is_const_near(add->input(1 - e), 1.0, dt)) continue;
        Node* f = add->input(e) ? add->input(e)->producer() : nullptr;
        if (!f || !only_feeds(add->input(e), add, *ctx.pinned) || f->inputs().size() != 1) continue;
        std::vector<Node*> all = nodes;
        all.push_back(add);
        all.push_back(f);
        Node* arg = f->input(0) ? f->input(0)->producer() : nullptr;
        if (!arg || !only_feeds(f->input(0), f, *ctx.pinned)) continue;
        Value* found = nullptr;
        bool is_tanh = is_op(f, "Tanh");
        if (is_op(f, "Erf")) found = match_scaled_x(arg, dt, all);
        else if (is_tanh) found = match_tanh_arg(arg, dt, all, *ctx.pinned);
        if (!found || found != x) continue;
        if (elem_type(x) != DataType::Undefined && elem_type(x) != dt) continue;
        if (ctx.opset() < 20) return notes.skip(top, "GELU pattern, but Gelu needs opset 20");
        return Match{all, x, top.output(0), is_tanh};
      }
    }
  }
  return std::nullopt;
}

void rewrite(Graph& g, pass::PassContext& ctx, const Match& m) {
  std::vector<Attribute> attrs;
  if (m.tanh) attrs.push_back(Attribute::make_string("approximate", "tanh"));
  std::string name = m.out->producer()->name;
  replace_with_node(g, *ctx.pinned, m.nodes, m.out, "Gelu", {m.x}, std::move(attrs), name);
}

}  // namespace

void register_fuse_gelu(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "fuse-gelu";
  p.summary = "Replace GELU written out with Erf or Tanh by Gelu (opset >= 20)";
  p.doc =
      "GELU written out in primitive ops becomes one Gelu (the model's own opset must be >= 20; the opset "
      "is never raised).\n"
      "\n"
      "When: a tree of Mul nodes multiplies exactly three factors, in any order and grouping: x, a "
      "constant 0.5, and Add(E, 1) (either operand order), where\n"
      "- erf form: E = Erf(Div(x, sqrt(2))) or Erf(Mul(x, 1/sqrt(2))), giving approximate=\"none\";\n"
      "- tanh form: E = Tanh(Mul(sqrt(2/pi), Add(x, Mul(0.044715, x^3)))) with x^3 = Pow(x, 3), Mul(x, "
      "Mul(x, x)) or Mul(Mul(x, x), x), giving approximate=\"tanh\";\n"
      "and every constant is a splat within a tight relative tolerance of its exact value (1e-6 for float "
      "and double data, 1e-3 for float16, which cannot hold the constants closer). Every intermediate is "
      "used only inside the pattern and none is a graph output; data types are float, double or float16.\n"
      "\n"
      "Not when: opset < 20 (a note says the pattern was seen), or any constant is off.\n"
      "\n"
      "Before: m = Mul(x, Add(Erf(Div(x, 1.4142135)), 1)); y = Mul(m, 0.5)\n"
      "After:  y = Gelu<approximate=\"none\">(x)   (named after the last Mul; y keeps its name)\n"
      "\n"
      "Maths: Gelu(x) = 0.5 x (1 + erf(x / sqrt(2))); its tanh approximation is 0.5 x (1 + tanh(sqrt(2/pi) "
      "(x + 0.044715 x^3))), exactly ONNX's definitions.";
  p.run_on_graph = [](Graph& g, pass::PassContext& ctx) -> Expected<pass::PassResult> {
    return util::run_pattern(g, ctx, "fused", match, rewrite);
  };
  r.add(std::move(p));
}

}  // namespace effopt::passes
