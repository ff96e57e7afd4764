// fuse-layer-norm: a LayerNorm written out in primitive ops becomes one LayerNormalization.
#include <algorithm>
#include <cstdint>

#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

struct Match {
  std::vector<Node*> nodes;
  Value* x = nullptr;
  Value* out = nullptr;
  Value* gamma = nullptr;  // nullptr: a Scale of ones is needed
  Value* beta = nullptr;
  int64_t k = 0;
  double eps = 0;
  DataType dtype = DataType::Undefined;
  std::vector<int64_t> norm_dims;  // static normalized dims, when the ones are needed
};

// Normalizes ReduceMean axes to "the last k axes": returns k, or 0 if not that.
int64_t trailing_axes(const std::vector<int64_t>& axes, const Value* x) {
  int64_t k = static_cast<int64_t>(axes.size());
  if (k == 0 || k > 64) return 0;
  auto shape = shape_of(x);
  if (shape && static_cast<int64_t>(shape->size()) < k) return 0;
  uint64_t seen = 0;  // bit i: axis -1-i
  for (int64_t a : axes) {
    if (a >= 0) {
      if (!shape) return 0;
      a -= static_cast<int64_t>(shape->size());
    }
    if (a < -k || a > -1) return 0;
    seen |= uint64_t{1} << (-1 - a);
  }
  return seen == (k == 64 ? ~uint64_t{0} : (uint64_t{1} << k) - 1) ? k : 0;
}

std::optional<std::vector<int64_t>> reduce_axes(const Node* rm, int64_t opset) {
  if (rm->attr_int("keepdims", 1) != 1) return std::nullopt;
  AxesForm f = node_axes(rm, opset, 18, 1);
  if (!f.ok || !f.axes) return std::nullopt;
  return f.axes;
}

// A constant over the normalized axes only: its dims with leading 1s dropped
// must have rank k and agree with x's known trailing dims.
bool fits_normalized(const Value* c, const Value* x, int64_t k, DataType dt) {
  TensorPtr t = fixed_constant(c);
  if (!t || t->data_type != dt) return false;
  std::vector<int64_t> d = t->dims;
  while (static_cast<int64_t>(d.size()) > k && d.front() == 1) d.erase(d.begin());
  if (static_cast<int64_t>(d.size()) != k) return false;
  if (auto s = shape_of(x))
    for (int64_t i = 0; i < k; ++i) {
      const Dim& xd = (*s)[s->size() - static_cast<size_t>(k) + static_cast<size_t>(i)];
      if (xd.value && *xd.value != d[static_cast<size_t>(i)]) return false;
    }
  return true;
}

std::optional<Match> match(Node& rm1, pass::PassContext& ctx, SkipNotes& notes) {
  if (!is_op(&rm1, "ReduceMean")) return std::nullopt;
  const Pinned& pinned = *ctx.pinned;
  int64_t opset = ctx.opset();
  Value* x = rm1.input(0);
  Node* sub = sole_consumer(rm1.output(0), pinned);
  if (!is_op(sub, "Sub") || sub->input(0) != x || sub->input(1) != rm1.output(0)) return std::nullopt;
  Value* d = sub->output(0);
  // d feeds the square (once or twice) and the division.
  Node* sq = nullptr;
  Node* div = nullptr;
  for (const Use& u : d->uses()) {
    Node* n = u.node;
    if ((is_op(n, "Pow") && n->input(0) == d && constant_splat(n->input(1)) == 2.0) ||
        (is_op(n, "Mul") && n->input(0) == d && n->input(1) == d))
      sq = n;
    else if ((is_op(n, "Div") && n->input(0) == d) || is_op(n, "Mul"))
      div = n;
  }
  if (!sq || !div || pinned(d)) return std::nullopt;
  Node* rm2 = sole_consumer(sq->output(0), pinned);
  if (!is_op(rm2, "ReduceMean")) return std::nullopt;
  Node* add_eps = sole_consumer(rm2->output(0), pinned);
  if (!is_op(add_eps, "Add")) return std::nullopt;
  Value* eps_v = other_input(add_eps, rm2->output(0));
  Node* sqrt = sole_consumer(add_eps->output(0), pinned);
  if (!is_op(sqrt, "Sqrt")) return std::nullopt;
  std::vector<Node*> nodes = {&rm1, sub, sq, rm2, add_eps, sqrt};
  Node* last = nullptr;
  if (is_op(div, "Div")) {
    if (div->input(1) != sqrt->output(0)) return std::nullopt;
  } else {
    Node* rec = sole_consumer(sqrt->output(0), pinned);
    if (!is_op(rec, "Reciprocal") || rec != (other_input(div, d) ? other_input(div, d)->producer() : nullptr))
      return std::nullopt;
    if (!only_feeds(rec->output(0), div, pinned)) return std::nullopt;
    nodes.push_back(rec);
  }
  if (!sole_consumer(sqrt->output(0), pinned)) return std::nullopt;
  nodes.push_back(div);
  // d: exactly the square's and the division's uses.
  if (!used_only_by(d, {sq, div}, pinned)) return notes.skip(*sub, "x - mean has consumers outside the LayerNorm");
  if (opset < 17) return notes.skip(rm1, "LayerNorm pattern, but LayerNormalization needs opset 17");
  auto axes1 = reduce_axes(&rm1, opset), axes2 = reduce_axes(rm2, opset);
  if (!axes1 || !axes2) return notes.skip(rm1, "axes are not given as constants, or keepdims=0");
  int64_t k = trailing_axes(*axes1, x);
  if (k == 0 || trailing_axes(*axes2, x) != k) return notes.skip(rm1, "not both over the same last axes");
  TensorPtr eps_t = fixed_constant(eps_v);
  auto eps = constant_doubles(eps_v);
  if (!eps_t || !eps || eps->size() != 1) return notes.skip(*add_eps, "eps is not a one-element constant");
  DataType dt = eps_t->data_type;
  if (dt != DataType::Float && dt != DataType::Float16) return notes.skip(rm1, "not float or float16");
  if (elem_type(x) != DataType::Undefined && elem_type(x) != dt) return std::nullopt;
  Match m;
  m.nodes = nodes;
  m.x = x;
  m.k = k;
  m.eps = (*eps)[0];
  m.dtype = dt;
  last = div;
  if (Node* mul = sole_consumer(last->output(0), pinned); is_op(mul, "Mul")) {
    Value* g = other_input(mul, last->output(0));
    if (g && fits_normalized(g, x, k, dt)) {
      m.gamma = g;
      m.nodes.push_back(mul);
      last = mul;
    }
  }
  if (Node* add = sole_consumer(last->output(0), pinned); is_op(add, "Add")) {
    Value* b = other_input(add, last->output(0));
    if (b && fits_normalized(b, x, k, dt)) {
      m.beta = b;
      m.nodes.push_back(add);
      last = add;
    }
  }
  m.out = last->output(0);
  if (!m.gamma) {
    auto s = static_shape(x);
    if (!s) return notes.skip(rm1, "no gamma and x's normalized dims are not static");
    for (size_t i = s->size() - static_cast<size_t>(k); i < s->size(); ++i) m.norm_dims.push_back((*s)[i]);
  }
  return m;
}

// `c` as a constant of exactly the normalized rank (leading 1s dropped).
Value* normalized_constant(Graph& g, pass::PassContext& ctx, Value* c, int64_t k) {
  TensorPtr t = fixed_constant(c);
  if (static_cast<int64_t>(t->dims.size()) == k) return c;
  auto copy = std::make_shared<Tensor>(*t);
  copy->dims.assign(t->dims.end() - k, t->dims.end());
  copy->external.reset();
  return add_constant(g, ctx, copy, c->name() + "_ln");
}

void rewrite(Graph& g, pass::PassContext& ctx, const Match& m) {
  Value* scale = nullptr;
  if (m.gamma) {
    scale = normalized_constant(g, ctx, m.gamma, m.k);
  } else {
    size_t n = 1;
    for (int64_t d : m.norm_dims) n *= static_cast<size_t>(d);
    scale = add_constant(g, ctx, tensor_from_values(m.dtype, m.norm_dims, std::vector<double>(n, 1.0)),
                         m.out->name() + "_scale");
  }
  std::vector<Value*> inputs = {m.x, scale};
  if (m.beta) inputs.push_back(normalized_constant(g, ctx, m.beta, m.k));
  std::vector<Attribute> attrs;
  attrs.push_back(Attribute::make_int("axis", -m.k));
  attrs.push_back(Attribute::make_float("epsilon", static_cast<float>(m.eps)));
  std::string name = m.out->producer()->name;
  replace_with_node(g, *ctx.pinned, m.nodes, m.out, "LayerNormalization", inputs, std::move(attrs), name);
}

}  // namespace

void register_fuse_layer_norm(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "fuse-layer-norm";
  p.summary = "Replace a decomposed LayerNorm (ReduceMean, Sub, Pow, Sqrt, Div, ...) by LayerNormalization";
  p.doc =
      "A LayerNorm written out in primitive ops (as PyTorch exports it before opset 17) becomes one "
      "LayerNormalization (the model's own opset must be >= 17; the opset is never raised). Axes come from "
      "the attribute before opset 18 and from the second input from 18.\n"
      "\n"
      "When: the chain\n"
      "  mean = ReduceMean(x, axes)       keepdims=1, axes = the last k axes of x\n"
      "  d    = Sub(x, mean)\n"
      "  sq   = Pow(d, 2) | Mul(d, d)\n"
      "  var  = ReduceMean(sq, same axes) keepdims=1\n"
      "  sd   = Sqrt(Add(var, eps))       eps: a one-element constant (either operand order)\n"
      "  n    = Div(d, sd) | Mul(d, Reciprocal(sd))\n"
      "  [y   = Mul(n, gamma)]            gamma: constant over the normalized axes\n"
      "  [z   = Add(y, beta)]             beta: likewise (either operand order)\n"
      "with float or float16 data (LayerNormalization computes in float, the decomposition in the data "
      "type: double is left alone), every intermediate used only inside the pattern and none a graph "
      "output. Axes given as non-negative numbers need x's rank. gamma/beta must cover exactly the "
      "normalized axes (leading 1s are dropped); without gamma, x's normalized dims must be static to "
      "build a Scale of ones.\n"
      "\n"
      "Not when: the statistics are taken over other axes, keepdims=0, eps is not constant, or the "
      "exponent is not 2.\n"
      "\n"
      "Before: the chain above\n"
      "After:  z = LayerNormalization<axis=-k, epsilon=eps>(x, gamma[, beta])\n"
      "\n"
      "Maths: LayerNormalization is (x - E[x]) / sqrt(Var[x] + eps) * Scale + B over the axes from `axis` "
      "on, with Var the biased variance E[(x - E[x])^2]: exactly the chain.";
  p.run_on_graph = [](Graph& g, pass::PassContext& ctx) -> Expected<pass::PassResult> {
    return util::run_pattern(g, ctx, "fused", match, rewrite);
  };
  r.add(std::move(p));
}

}  // namespace effopt::passes
