// Shared machinery of the layer-fusion passes; see fusion_util.h.
#include "passes/fusion_util.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "exec/tensor_value.h"

namespace effopt::passes::fusion {

bool is_op(const Node* n, std::string_view op) { return n && n->op_type == op && is_onnx_domain(n->domain); }

Node* producer_of(const Value* v, std::string_view op) {
  if (!v) return nullptr;
  Node* p = v->producer();
  return is_op(p, op) ? p : nullptr;
}

namespace {
bool in_outputs_of(const Graph& sg, const Value* v);
// Walks attributes directly (no per-node vector), as this runs for every candidate.
bool in_subgraph_outputs(const Graph& g, const Value* v) {
  for (const auto& n : g.nodes())
    for (const Attribute& a : n->attributes) {
      if (a.g && in_outputs_of(*a.g, v)) return true;
      for (const auto& sg : a.graphs)
        if (in_outputs_of(*sg, v)) return true;
    }
  return false;
}
bool in_outputs_of(const Graph& sg, const Value* v) {
  return std::find(sg.outputs().begin(), sg.outputs().end(), v) != sg.outputs().end() || in_subgraph_outputs(sg, v);
}
}  // namespace

bool is_any_graph_output(const Value* v) {
  if (v->is_graph_output()) return true;
  return v->graph() && in_subgraph_outputs(*v->graph(), v);
}

bool only_feeds(const Value* v, const Node* consumer) {
  // Same graph: a pattern never spans a subgraph boundary.
  return v && v->uses().size() == 1 && v->uses()[0].node == consumer && consumer->graph() == v->graph() &&
         !is_any_graph_output(v);
}

bool used_only_by(const Value* v, const std::vector<const Node*>& nodes) {
  if (!v || is_any_graph_output(v)) return false;
  for (const Use& u : v->uses())
    if (std::find(nodes.begin(), nodes.end(), u.node) == nodes.end()) return false;
  return true;
}

bool only_first_output_used(const Node* n) {
  for (size_t i = 1; i < n->outputs().size(); ++i) {
    const Value* o = n->output(i);
    if (o && (!o->uses().empty() || is_any_graph_output(o))) return false;
  }
  return true;
}

Value* other_input(const Node* n, const Value* v) {
  if (n->inputs().size() != 2) return nullptr;
  if (n->input(0) == v) return n->input(1);
  if (n->input(1) == v) return n->input(0);
  return nullptr;
}

bool is_foldable_float(DataType t) { return t == DataType::Float || t == DataType::Double || t == DataType::Float16; }

DataType elem_type(const Value* v) {
  if (!v) return DataType::Undefined;
  if (TensorPtr t = constant_tensor(v)) return t->data_type;
  return v->type.is_tensor() ? v->type.elem_type : DataType::Undefined;
}

std::optional<std::vector<Dim>> shape_of(const Value* v) {
  if (!v) return std::nullopt;
  if (TensorPtr t = constant_tensor(v)) {
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

namespace {
template <class T>
std::vector<double> widen(const Tensor& t) {
  std::vector<double> out;
  for (T x : t.as<T>()) out.push_back(static_cast<double>(x));
  return out;
}
}  // namespace

std::optional<std::vector<double>> constant_doubles(const Value* v) {
  TensorPtr t = constant_tensor(v);
  if (!t || !t->storage) return std::nullopt;
  auto count = t->element_count();
  if (!count) return std::nullopt;
  std::vector<double> out;
  switch (t->data_type) {
    case DataType::Float: out = widen<float>(*t); break;
    case DataType::Double: out = widen<double>(*t); break;
    case DataType::Int64: out = widen<int64_t>(*t); break;
    case DataType::Int32: out = widen<int32_t>(*t); break;
    case DataType::Int16: out = widen<int16_t>(*t); break;
    case DataType::Int8: out = widen<int8_t>(*t); break;
    case DataType::UInt8: out = widen<uint8_t>(*t); break;
    case DataType::Bool: out = widen<uint8_t>(*t); break;
    case DataType::Float16:
      for (uint16_t h : t->as<uint16_t>()) out.push_back(exec::half_to_float(h));
      break;
    case DataType::BFloat16:
      for (uint16_t h : t->as<uint16_t>()) out.push_back(exec::bf16_to_float(h));
      break;
    default: return std::nullopt;
  }
  if (out.size() != *count) return std::nullopt;
  return out;
}

std::optional<std::vector<int64_t>> constant_ints(const Value* v) {
  TensorPtr t = constant_tensor(v);
  if (!t || !t->storage || (t->data_type != DataType::Int64 && t->data_type != DataType::Int32)) return std::nullopt;
  std::vector<int64_t> out;
  if (t->data_type == DataType::Int64)
    for (int64_t x : t->as<int64_t>()) out.push_back(x);
  else
    for (int32_t x : t->as<int32_t>()) out.push_back(x);
  auto count = t->element_count();
  if (!count || out.size() != *count) return std::nullopt;
  return out;
}

std::optional<double> constant_splat(const Value* v) {
  auto vals = constant_doubles(v);
  if (!vals || vals->empty()) return std::nullopt;
  for (double x : *vals)
    if (!(x == (*vals)[0])) return std::nullopt;
  return (*vals)[0];
}

std::optional<std::vector<double>> per_channel_constant(const Value* v, size_t rank, int64_t channels) {
  TensorPtr t = constant_tensor(v);
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

namespace {
// Rounds to float with round-to-odd, so that a further rounding to a type
// with at least two fewer significand bits (float16, bfloat16) is the correct
// single rounding of `d`.
float to_float_round_odd(double d) {
  float f = static_cast<float>(d);
  if (!std::isfinite(f) || static_cast<double>(f) == d) return f;
  if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits |= 1;
  std::memcpy(&f, &bits, 4);
  return f;
}
}  // namespace

uint16_t double_to_half(double d) { return exec::float_to_half(to_float_round_odd(d)); }

TensorPtr tensor_from_doubles(DataType dtype, std::vector<int64_t> dims, const std::vector<double>& vals) {
  auto t = std::make_shared<Tensor>();
  t->data_type = dtype;
  t->dims = std::move(dims);
  std::vector<std::byte> bytes;
  auto put = [&](const void* p, size_t n) {
    size_t at = bytes.size();
    bytes.resize(at + n);
    std::memcpy(bytes.data() + at, p, n);
  };
  for (double d : vals) {
    switch (dtype) {
      case DataType::Float: { float f = static_cast<float>(d); put(&f, 4); break; }
      case DataType::Double: put(&d, 8); break;
      case DataType::Float16: { uint16_t h = double_to_half(d); put(&h, 2); break; }
      case DataType::BFloat16: { uint16_t h = exec::float_to_bf16(to_float_round_odd(d)); put(&h, 2); break; }
      default: assert(false && "tensor_from_doubles: not a float type");
    }
  }
  t->set_bytes(std::move(bytes));
  return t;
}

TensorPtr tensor_from_ints(std::vector<int64_t> dims, const std::vector<int64_t>& vals) {
  auto t = std::make_shared<Tensor>();
  t->data_type = DataType::Int64;
  t->dims = std::move(dims);
  std::vector<std::byte> bytes(vals.size() * 8);
  if (!vals.empty()) std::memcpy(bytes.data(), vals.data(), bytes.size());
  t->set_bytes(std::move(bytes));
  return t;
}

Value* add_constant(Graph& g, const pass::PassContext& ctx, TensorPtr t, std::string_view hint) {
  std::string name = g.unique_name(hint);
  t->name = name;
  if (ctx.opset_imports) {  // a function body (or a graph inside one): no initializers there
    std::vector<Dim> dims;
    for (int64_t d : t->dims) dims.push_back(Dim::known(d));
    Type type = Type::tensor(t->data_type, dims);
    Node* c = g.create_node("Constant", {}, {name}, "", 0);
    c->name = name;
    c->set_attr(Attribute::make_tensor("value", std::move(t)));
    c->output(0)->type = type;
    return c->output(0);
  }
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

void drop_if_dead(Graph& g, Value* v) {
  for (int hops = 0; v && hops < 1000; ++hops) {
    if (v->graph() != &g || !v->uses().empty() || v->is_graph_input() || is_any_graph_output(v)) return;
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

namespace {
// Erases `pattern` (last in graph order first, so every output is unused by
// then) and drops the constants only it read, except those in `keep`.
void erase_pattern(Graph& g, std::vector<Node*> pattern, const std::vector<Value*>& keep) {
  std::sort(pattern.begin(), pattern.end(), [&](Node* a, Node* b) { return g.index_of(a) > g.index_of(b); });
  std::vector<Value*> inputs;
  for (Node* n : pattern)
    for (Value* v : n->inputs())
      if (v && std::find(keep.begin(), keep.end(), v) == keep.end()) inputs.push_back(v);
  for (Node* n : pattern) g.erase_node(n);
  for (Value* v : inputs) drop_if_dead(g, v);
}

// The node right after the last of `pattern` (nullptr: the end): where the
// replacement goes. It survives the erasure, unlike indices.
Node* node_after(Graph& g, const std::vector<Node*>& pattern) {
  size_t last = 0;
  for (Node* n : pattern) last = std::max(last, g.index_of(n));
  return last + 1 < g.nodes().size() ? g.nodes()[last + 1].get() : nullptr;
}
}  // namespace

Node* replace_with_node(Graph& g, const std::vector<Node*>& pattern, Value* out, std::string op_type,
                        std::vector<Value*> inputs, std::vector<Attribute> attrs, std::string name) {
  assert(!pattern.empty() && out->producer());
  Node* after = node_after(g, pattern);
  // `out` keeps its name and type: park its uses on a placeholder while the
  // old producer goes, then hand them back to the new node.
  Value* parked = g.create_unique_value(out->name() + "_fusing");
  g.replace_all_uses(out, parked);
  erase_pattern(g, pattern, inputs);
  size_t pos = after ? g.index_of(after) : g.nodes().size();
  Node* n = g.create_node_with_outputs(std::move(op_type), std::move(inputs), {out}, "", pos);
  n->name = std::move(name);
  for (Attribute& a : attrs) n->set_attr(std::move(a));
  g.replace_all_uses(parked, out);
  return n;
}

void replace_with_value(Graph& g, const std::vector<Node*>& pattern, Value* out, Value* same) {
  if (is_any_graph_output(out)) {
    Node* last = out->producer();
    replace_with_node(g, pattern, out, "Identity", {same}, {}, last->name);
    return;
  }
  g.replace_all_uses(out, same);
  erase_pattern(g, pattern, {same});
}

}  // namespace effopt::passes::fusion

// ---- No growth (issue 24).
namespace effopt::passes::fusion {

bool weight_read_only_by(const Value* w, const Node* reader) {
  for (int hops = 0; w && hops < 1000; ++hops) {
    if (!used_only_by(w, {reader})) return false;
    const Node* p = w->producer();
    if (!p || !is_op(p, "Identity")) return true;
    reader = p;
    w = p->input(0);
  }
  return false;
}

}  // namespace effopt::passes::fusion
