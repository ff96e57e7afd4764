// The pass helper layer (pass_util.h): constants, matching, shapes, graph surgery.
#include "passes/pass_util.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "ir/constants.h"

namespace effopt::passes::util {

// ---------------------------------------------------------------- constants

bool is_overridable_initializer(const Value* v) { return is_listed_initializer_input(v); }

TensorPtr fixed_constant(const Value* v) { return fixed_constant_tensor(v); }

bool is_fixed_constant(const Value* v) { return fixed_constant(v) != nullptr; }

std::optional<std::vector<int64_t>> constant_ints(const Value* v) {
  TensorPtr t = fixed_constant(v);
  if (!t || !t->storage) return std::nullopt;
  return tensor_ints(*t);
}

std::optional<double> constant_splat(const Value* v) {
  auto vals = constant_doubles(v);
  if (!vals || vals->empty()) return std::nullopt;
  for (double x : *vals)
    if (!(x == (*vals)[0])) return std::nullopt;
  return (*vals)[0];
}

std::optional<std::vector<double>> per_channel_constant(const Value* v, size_t rank, int64_t channels) {
  TensorPtr t = fixed_constant(v);
  if (!t || t->dims.size() > rank || rank < 2) return std::nullopt;
  auto vals = constant_doubles(v);
  if (!vals) return std::nullopt;
  size_t lead = rank - t->dims.size();  // right-aligned against the output's axes
  int64_t along = 1;
  for (size_t i = 0; i < t->dims.size(); ++i) {
    int64_t d = t->dims[i];
    if (lead + i == 1) {
      if (d != 1 && d != channels) return std::nullopt;
      along = d;
    } else if (d != 1) {
      return std::nullopt;
    }
  }
  if (along == channels) return vals;
  return std::vector<double>(static_cast<size_t>(channels), (*vals)[0]);
}

bool near(double a, double b, double rel) { return std::fabs(a - b) <= rel * std::fabs(b); }

AxesForm node_axes(const Node* n, int64_t opset, int64_t input_since, size_t input_index, std::string_view attr) {
  AxesForm f;
  if (opset >= input_since) {
    const Value* v = n->input(input_index);
    if (!v) return f;
    auto ints = constant_ints(v);
    if (!ints) {
      f.ok = false;
      return f;
    }
    f.axes = *ints;
    return f;
  }
  if (n->attr(attr)) f.axes = n->attr_ints(attr);
  return f;
}

bool in_function_body(const Graph& g, const Model& m) {
  const Graph* root = &g;
  while (root->parent()) root = root->parent();
  return root != m.graph.get();
}

// ---------------------------------------------------------------- matching

bool is_op(const Node* n, std::string_view op) { return n && n->op_type == op && is_onnx_domain(n->domain); }

Node* producer_of(const Value* v, std::string_view op) {
  if (!v) return nullptr;
  Node* p = v->producer();
  return is_op(p, op) ? p : nullptr;
}

bool only_feeds(const Value* v, const Node* consumer, const Pinned& pinned) {
  // Same graph: a pattern never spans a subgraph boundary.
  return v && v->uses().size() == 1 && v->uses()[0].node == consumer && consumer->graph() == v->graph() &&
         !pinned(v);
}

bool used_only_by(const Value* v, const std::vector<const Node*>& nodes, const Pinned& pinned) {
  if (!v || pinned(v)) return false;
  for (const Use& u : v->uses())
    if (std::find(nodes.begin(), nodes.end(), u.node) == nodes.end()) return false;
  return true;
}

bool weight_read_only_by(const Value* w, const Node* reader, const Pinned& pinned) {
  for (int hops = 0; w && hops < 1000; ++hops) {
    if (!used_only_by(w, {reader}, pinned)) return false;
    const Node* p = w->producer();
    if (!p || !is_op(p, "Identity")) return true;
    reader = p;
    w = p->input(0);
  }
  return false;
}

Node* sole_consumer(const Value* v, const Pinned& pinned) {
  if (!v || v->uses().size() != 1 || pinned(v)) return nullptr;
  Node* n = v->uses()[0].node;
  return n->graph() == v->graph() ? n : nullptr;
}

bool only_first_output_used(const Node* n, const Pinned& pinned) {
  for (size_t i = 1; i < n->outputs().size(); ++i) {
    const Value* o = n->output(i);
    if (o && pinned.is_read(o)) return false;
  }
  return true;
}

Value* other_input(const Node* n, const Value* v) {
  if (n->inputs().size() != 2) return nullptr;
  if (n->input(0) == v) return n->input(1);
  if (n->input(1) == v) return n->input(0);
  return nullptr;
}

bool is_nondeterministic_op(const Node& n) {
  if (!is_onnx_domain(n.domain)) return false;
  static const char* ops[] = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                              "Multinomial", "Bernoulli"};
  for (const char* op : ops)
    if (n.op_type == op) return true;
  return false;
}

namespace {
void collect_stored_constants(Graph& g, std::vector<StoredConstant>& out) {
  for (Value* v : g.initializers()) {
    if (!v->initializer || v->is_graph_input()) continue;
    out.push_back({&g, v, v->initializer});
  }
  for (const auto& n : g.nodes()) {
    if (is_op(n.get(), "Constant") && n->output(0)) {
      const Attribute* a = n->attr("value");
      if (a && a->type == AttrType::Tensor && a->t && a->ref_attr_name.empty()) out.push_back({&g, n->output(0), a->t});
    }
    for (Graph* sg : n->subgraphs()) collect_stored_constants(*sg, out);
  }
}
}  // namespace

std::vector<StoredConstant> stored_constants(Graph& g) {
  std::vector<StoredConstant> out;
  collect_stored_constants(g, out);
  return out;
}

std::string node_label(const Node& n) {
  std::string op = is_onnx_domain(n.domain) ? n.op_type : n.domain + "." + n.op_type;
  if (!n.name.empty()) return op + " '" + n.name + "'";
  size_t i = n.graph() ? n.graph()->index_of(&n) : SIZE_MAX;
  return op + " #" + std::to_string(i);
}

// ---------------------------------------------------------------- types and shapes

DataType elem_type(const Value* v) {
  if (!v) return DataType::Undefined;
  if (TensorPtr t = fixed_constant(v)) return t->data_type;
  return v->type.is_tensor() ? v->type.elem_type : DataType::Undefined;
}

std::optional<std::vector<Dim>> shape_of(const Value* v) {
  if (!v) return std::nullopt;
  if (TensorPtr t = fixed_constant(v)) {
    std::vector<Dim> d;
    for (int64_t x : t->dims) d.push_back(Dim::known(x));
    return d;
  }
  if (!v->type.is_tensor() || !v->type.shape) return std::nullopt;
  return *v->type.shape;
}

std::optional<std::vector<int64_t>> static_shape(const Value* v) {
  auto s = shape_of(v);
  if (!s) return std::nullopt;
  std::vector<int64_t> out;
  for (const Dim& d : *s) {
    if (!d.value || *d.value < 0) return std::nullopt;
    out.push_back(*d.value);
  }
  return out;
}

std::optional<size_t> known_rank(const Value* v) {
  if (!v || !v->type.is_tensor() || !v->type.shape) return std::nullopt;
  return v->type.shape->size();
}

// ---------------------------------------------------------------- graph surgery

Value* add_constant(Graph& g, pass::PassContext& ctx, TensorPtr t, std::string_view hint) {
  std::string name = g.unique_name(hint);
  t->name = name;
  t->external.reset();  // written wherever the exporter decides
  if (in_function_body(g, ctx.model)) {  // no initializers there
    std::vector<Dim> dims;
    for (int64_t d : t->dims) dims.push_back(Dim::known(d));
    Type type = Type::tensor(t->data_type, dims);
    Node* c = g.create_node("Constant", {}, {name}, "", 0);
    c->name = name;
    c->set_attr(Attribute::make_tensor("value", std::move(t)));
    c->output(0)->type = type;
    return c->output(0);
  }
  pass::allow_plain_initializers(ctx.model);
  Value* v = g.add_initializer(std::move(t));
  assert(v);
  return v;
}

std::vector<Attribute> copy_attributes(const Node* n, Graph& g, const std::vector<std::string>& skip) {
  std::vector<Attribute> out;
  for (const Attribute& a : n->attributes)
    if (std::find(skip.begin(), skip.end(), a.name) == skip.end()) out.push_back(a.clone(&g));
  return out;
}

std::vector<Use> detach_uses(Value* v) {
  std::vector<Use> uses = v->uses();
  for (const Use& u : uses) u.node->set_input(u.index, nullptr);
  return uses;
}

void restore_uses(Value* v, const std::vector<Use>& uses) {
  for (const Use& u : uses) u.node->set_input(u.index, v);
}

namespace {

void clear_inputs_deep(Graph& g) {
  for (auto& n : g.nodes()) {
    for (Graph* sg : n->subgraphs()) clear_inputs_deep(*sg);
    n->set_inputs({});
  }
}

// Rebuilds `p` at the same position with `outputs` (values that must be
// producer-less or p's own outputs), keeping its name, attributes and every
// use of the outputs it keeps.
Node* rebuild_with_outputs(Graph& g, Node* p, std::vector<Value*> outputs) {
  size_t pos = g.index_of(p);
  std::vector<Value*> inputs = p->inputs();
  std::string op = p->op_type, domain = p->domain, name = p->name, doc = p->doc_string;
  std::vector<Attribute> attrs = std::move(p->attributes);
  p->attributes.clear();
  std::vector<std::pair<Value*, std::vector<Use>>> saved;
  for (Value* o : p->outputs())
    if (o) saved.emplace_back(o, detach_uses(o));
  g.erase_node(p);
  Node* q = g.create_node_with_outputs(op, inputs, std::move(outputs), domain, pos);
  q->name = std::move(name);
  q->doc_string = std::move(doc);
  q->attributes = std::move(attrs);
  for (Graph* sg : q->subgraphs()) sg->set_parent(&g, q);
  for (auto& [v, uses] : saved) restore_uses(v, uses);
  return q;
}

// Erases `pattern` (last in graph order first, so every output is unused by
// then) and drops the constants only it read, except those in `keep`.
void erase_pattern(Graph& g, const Pinned& pinned, std::vector<Node*> pattern, const std::vector<Value*>& keep) {
  std::sort(pattern.begin(), pattern.end(), [&](Node* a, Node* b) { return g.index_of(a) > g.index_of(b); });
  std::vector<Value*> inputs;
  for (Node* n : pattern)
    for (Value* v : n->inputs())
      if (v && std::find(keep.begin(), keep.end(), v) == keep.end()) inputs.push_back(v);
  for (Node* n : pattern) g.erase_node(n);
  for (Value* v : inputs) drop_if_dead(g, v, pinned);
}

// The node right after the last of `pattern` (nullptr: the end): where the
// replacement goes. It survives the erasure, unlike indices.
Node* node_after(Graph& g, const std::vector<Node*>& pattern) {
  size_t last = 0;
  for (Node* n : pattern) last = std::max(last, g.index_of(n));
  return last + 1 < g.nodes().size() ? g.nodes()[last + 1].get() : nullptr;
}

}  // namespace

void erase_node_deep(Graph& g, Node* n) {
  for (Graph* sg : n->subgraphs()) clear_inputs_deep(*sg);
  g.erase_node(n);
}

size_t erase_if_dead(Graph& g, Node* n, const Pinned& pinned) {
  for (Value* o : n->outputs())
    if (o && pinned.is_read(o)) return 0;
  // Values, not nodes: a producer may be erased by an earlier recursion
  // (values outlive their producers until prune_dead_values).
  std::vector<Value*> inputs;
  for (Value* in : n->inputs())
    if (in && in->graph() == &g) inputs.push_back(in);
  erase_node_deep(g, n);
  size_t erased = 1;
  for (Value* in : inputs)
    if (Node* p = in->producer()) erased += erase_if_dead(g, p, pinned);
  return erased;
}

void drop_if_dead(Graph& g, Value* v, const Pinned& pinned) {
  for (int hops = 0; v && hops < 1000; ++hops) {
    if (v->graph() != &g || pinned.is_read(v) || v->is_graph_input()) return;
    if (v->initializer) {
      g.remove_initializer(v);
      return;
    }
    Node* p = v->producer();
    if (!p || p->outputs().size() != 1 || !(is_op(p, "Constant") || is_op(p, "Identity"))) return;
    if (is_op(p, "Identity") && !is_constant(p->input(0))) return;
    Value* next = is_op(p, "Identity") ? p->input(0) : nullptr;
    g.erase_node(p);
    v = next;
  }
}

void replace_node_by_initializers(Graph& g, Node* n, const std::vector<TensorPtr>& tensors, pass::PassContext& ctx) {
  pass::allow_plain_initializers(ctx.model);
  std::vector<Value*> outs = n->outputs();
  std::vector<std::vector<Use>> uses;
  for (Value* o : outs) uses.push_back(o ? detach_uses(o) : std::vector<Use>{});
  erase_node_deep(g, n);
  for (size_t i = 0; i < outs.size(); ++i) {
    if (!outs[i]) continue;
    auto t = std::make_shared<Tensor>(*tensors[i]);
    t->name = outs[i]->name();
    t->external.reset();  // written wherever the exporter decides
    [[maybe_unused]] Value* v = g.add_initializer(std::move(t));
    assert(v == outs[i]);
    restore_uses(outs[i], uses[i]);
  }
}

bool can_bypass(const Graph& g, const Node* n, size_t out_index, const Value* in, const Pinned& pinned,
                std::string* why) {
  const Value* out = n->output(out_index);
  assert(out && in);
  if (!pinned(out)) return true;
  // `out` must keep its name: `in`'s producer must write it instead.
  auto fail = [&](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  if (in->graph() != &g) return fail("its output is a graph output and its input comes from an outer graph");
  if (pinned(in)) return fail("its input and output are both graph outputs");
  const Node* p = in->producer();
  if (!p) return fail("its output is a graph output and its input is a graph input or initializer");
  if (p == n) return fail("it reads its own output");
  return true;
}

void bypass_node(Graph& g, Node* n, size_t out_index, Value* in, const Pinned& pinned) {
  assert(can_bypass(g, n, out_index, in, pinned));
  Value* out = n->output(out_index);
  if (!pinned(out)) {
    g.replace_all_uses(out, in);
    erase_node_deep(g, n);
    return;
  }
  Node* p = in->producer();
  std::vector<Use> out_uses = detach_uses(out);
  erase_node_deep(g, n);
  std::vector<Value*> outs = p->outputs();
  size_t k = in->producer_index();
  outs[k] = out;
  if (!out->type.is_tensor() && in->type.kind != Type::Kind::None) out->type = in->type;
  // `in` keeps its uses through rebuild_with_outputs; move them to `out`.
  rebuild_with_outputs(g, p, outs);
  for (const Use& u : std::vector<Use>(in->uses())) u.node->set_input(u.index, out);
  restore_uses(out, out_uses);
}

Node* replace_with_node(Graph& g, const Pinned& pinned, const std::vector<Node*>& pattern, Value* out,
                        std::string op_type, std::vector<Value*> inputs, std::vector<Attribute> attrs,
                        std::string name) {
  assert(!pattern.empty() && out->producer());
  Node* after = node_after(g, pattern);
  // `out` keeps its name and type: park its uses on a placeholder while the
  // old producer goes, then hand them back to the new node.
  Value* parked = g.create_unique_value(out->name() + "_fusing");
  g.replace_all_uses(out, parked);
  erase_pattern(g, pinned, pattern, inputs);
  size_t pos = after ? g.index_of(after) : g.nodes().size();
  Node* n = g.create_node_with_outputs(std::move(op_type), std::move(inputs), {out}, "", pos);
  n->name = std::move(name);
  for (Attribute& a : attrs) n->set_attr(std::move(a));
  g.replace_all_uses(parked, out);
  return n;
}

void replace_with_value(Graph& g, const Pinned& pinned, const std::vector<Node*>& pattern, Value* out, Value* same) {
  if (pinned(out)) {
    Node* last = out->producer();
    replace_with_node(g, pinned, pattern, out, "Identity", {same}, {}, last->name);
    return;
  }
  g.replace_all_uses(out, same);
  erase_pattern(g, pinned, pattern, {same});
}

}  // namespace effopt::passes::util
