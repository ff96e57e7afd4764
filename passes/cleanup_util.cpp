// Helpers shared by the cleanup passes (see cleanup_util.h).
#include "passes/cleanup_util.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "exec/executor.h"
#include "exec/tensor_value.h"
#include "ir/constants.h"

namespace effopt::passes::cleanup {

bool is_overridable_initializer(const Value* v, const Model& m) {
  if (!v->initializer && !v->sparse_initializer) return false;
  if (!v->is_graph_input()) return false;
  if (v->graph() == m.graph.get()) return m.ir_version >= 4;
  return true;
}

TensorPtr fixed_constant(const Value* v, const Model& m) {
  for (int hops = 0; v && hops < 1000; ++hops) {
    if (v->initializer) return is_overridable_initializer(v, m) ? nullptr : v->initializer;
    if (v->sparse_initializer) return nullptr;
    const Node* p = v->producer();
    if (!p || !is_onnx_domain(p->domain)) return nullptr;
    if (p->op_type == "Constant") {
      for (const Attribute& a : p->attributes)
        if (!a.ref_attr_name.empty()) return nullptr;  // function attribute reference: not fixed
      return constant_tensor(v);
    }
    if (p->op_type != "Identity") return nullptr;
    v = p->input(0);
  }
  return nullptr;
}

bool in_function_body(const Graph& g, const Model& m) {
  const Graph* root = &g;
  while (root->parent()) root = root->parent();
  return root != m.graph.get();
}

std::optional<std::vector<int64_t>> static_shape(const Value* v) {
  if (!v || !v->type.is_tensor() || !v->type.shape) return std::nullopt;
  std::vector<int64_t> dims;
  for (const Dim& d : *v->type.shape) {
    if (!d.value || *d.value < 0) return std::nullopt;
    dims.push_back(*d.value);
  }
  return dims;
}

std::optional<size_t> known_rank(const Value* v) {
  if (!v || !v->type.is_tensor() || !v->type.shape) return std::nullopt;
  return v->type.shape->size();
}

std::optional<std::vector<int64_t>> tensor_ints(const Tensor& t) {
  auto n = t.element_count();
  if (!n) return std::nullopt;
  std::vector<int64_t> out;
  if (t.data_type == DataType::Int64 && t.byte_size() == *n * 8) {
    auto s = t.as<int64_t>();
    out.assign(s.begin(), s.end());
  } else if (t.data_type == DataType::Int32 && t.byte_size() == *n * 4) {
    for (int32_t x : t.as<int32_t>()) out.push_back(x);
  } else {
    return std::nullopt;
  }
  return out;
}

bool tensor_all_equal(const Tensor& t, double x) {
  auto n = t.element_count();
  if (!n || *n == 0 || t.data_type == DataType::String) return false;
  size_t es = exec::element_size(t.data_type);
  if (es == 0 || t.byte_size() != *n * es) return false;
  const std::byte* p = t.storage->aligned_data();
  for (uint64_t i = 0; i < *n; ++i) {
    const std::byte* e = p + i * es;
    double v = 0;
    switch (t.data_type) {
      case DataType::Float: { float f; std::memcpy(&f, e, 4); v = f; break; }
      case DataType::Double: std::memcpy(&v, e, 8); break;
      case DataType::Float16: { uint16_t h; std::memcpy(&h, e, 2); v = exec::half_to_float(h); break; }
      case DataType::BFloat16: { uint16_t h; std::memcpy(&h, e, 2); v = exec::bf16_to_float(h); break; }
      case DataType::Int8: v = static_cast<double>(*reinterpret_cast<const int8_t*>(e)); break;
      case DataType::UInt8: v = static_cast<double>(*reinterpret_cast<const uint8_t*>(e)); break;
      case DataType::Int16: { int16_t a; std::memcpy(&a, e, 2); v = a; break; }
      case DataType::UInt16: { uint16_t a; std::memcpy(&a, e, 2); v = a; break; }
      case DataType::Int32: { int32_t a; std::memcpy(&a, e, 4); v = a; break; }
      case DataType::UInt32: { uint32_t a; std::memcpy(&a, e, 4); v = a; break; }
      case DataType::Int64: { int64_t a; std::memcpy(&a, e, 8); v = static_cast<double>(a); if (a != static_cast<int64_t>(x)) return false; break; }
      case DataType::UInt64: { uint64_t a; std::memcpy(&a, e, 8); v = static_cast<double>(a); if (a != static_cast<uint64_t>(x)) return false; break; }
      default: return false;  // bool, complex, float8, int4: not handled
    }
    if (v != x) return false;
  }
  return true;
}

std::string node_label(const Node& n) {
  std::string op = is_onnx_domain(n.domain) ? n.op_type : n.domain + "." + n.op_type;
  if (!n.name.empty()) return op + " '" + n.name + "'";
  size_t i = n.graph() ? n.graph()->index_of(&n) : SIZE_MAX;
  return op + " #" + std::to_string(i);
}

TensorPtr make_int64_tensor(std::string name, const std::vector<int64_t>& values, bool scalar) {
  auto t = std::make_shared<Tensor>();
  t->name = std::move(name);
  t->data_type = DataType::Int64;
  if (!scalar) t->dims = {static_cast<int64_t>(values.size())};
  std::vector<std::byte> b(values.size() * 8);
  if (!values.empty()) std::memcpy(b.data(), values.data(), b.size());
  t->set_bytes(std::move(b));
  return t;
}

Pinned::Pinned(Graph& g) {
  for (auto& n : g.nodes())
    for (Graph* sg : n->subgraphs())
      for_each_graph(*sg, [&](Graph& inner) {
        for (const Value* o : inner.outputs())
          if (o && o->graph() != &inner) outer_.insert(o);
      });
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

}  // namespace

void erase_node_deep(Graph& g, Node* n) {
  for (Graph* sg : n->subgraphs()) clear_inputs_deep(*sg);
  g.erase_node(n);
}

void replace_node_by_initializers(Graph& g, Node* n, const std::vector<TensorPtr>& tensors) {
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

bool bypass_node(Graph& g, Node* n, size_t out_index, Value* in, const Pinned& pinned, std::string* why) {
  Value* out = n->output(out_index);
  assert(out && in);
  if (!pinned(out)) {
    g.replace_all_uses(out, in);
    erase_node_deep(g, n);
    return true;
  }
  // `out` names a graph output: `in`'s producer must write it instead.
  Node* p = in->producer();
  auto fail = [&](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  if (in->graph() != &g) return fail("its output is a graph output and its input comes from an outer graph");
  if (pinned(in)) return fail("its input and output are both graph outputs");
  if (!p) return fail("its output is a graph output and its input is a graph input or initializer");
  if (p == n) return fail("it reads its own output");
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
  return true;
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

bool is_nondeterministic_op(const Node& n) {
  if (!is_onnx_domain(n.domain)) return false;
  static const char* ops[] = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                              "Multinomial", "Bernoulli"};
  for (const char* op : ops)
    if (n.op_type == op) return true;
  return false;
}

}  // namespace effopt::passes::cleanup

// ---------------------------------------------------------------- folding


namespace effopt::passes::cleanup {

namespace {

std::optional<double> tensor_scalar(const Tensor& t) {
  auto n = t.element_count();
  if (!n || *n != 1) return std::nullopt;
  const std::byte* p = t.storage ? t.storage->aligned_data() : nullptr;
  if (!p) return std::nullopt;
  switch (t.data_type) {
    case DataType::Float: { float f; std::memcpy(&f, p, 4); return f; }
    case DataType::Double: { double d; std::memcpy(&d, p, 8); return d; }
    case DataType::Int16: { int16_t a; std::memcpy(&a, p, 2); return a; }
    case DataType::Int32: { int32_t a; std::memcpy(&a, p, 4); return a; }
    case DataType::Int64: { int64_t a; std::memcpy(&a, p, 8); return static_cast<double>(a); }
    default: return std::nullopt;
  }
}

std::optional<uint64_t> elems(const std::vector<int64_t>& dims) {
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) return std::nullopt;
    if (d != 0 && n > (UINT64_C(1) << 62) / static_cast<uint64_t>(d)) return std::nullopt;  // overflow: huge
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

std::optional<std::vector<int64_t>> broadcast_all(const std::vector<TensorPtr>& ins) {
  std::vector<int64_t> out;
  for (const TensorPtr& t : ins) {
    if (!t) continue;
    auto b = exec::broadcast_shapes(out, t->dims);
    if (!b) return std::nullopt;
    out = *b;
  }
  return out;
}

// Element count of each output, predicted from the inputs before running,
// for the ops whose outputs can be much larger than their inputs; nullopt
// when no prediction is made; an entry of UINT64_MAX when the output would
// be absurdly large or the inputs are malformed.
std::optional<uint64_t> predicted_elements(const Node& n, const std::vector<TensorPtr>& in) {
  const std::string& op = n.op_type;
  constexpr uint64_t kHuge = UINT64_MAX;
  auto ints_of = [&](size_t i) -> std::optional<std::vector<int64_t>> {
    if (i >= in.size() || !in[i]) return std::nullopt;
    return tensor_ints(*in[i]);
  };
  if (op == "ConstantOfShape") {
    auto s = ints_of(0);
    if (!s) return kHuge;
    return elems(*s).value_or(kHuge);
  }
  if (op == "Expand") {
    auto s = ints_of(1);
    if (!s || !in[0]) return kHuge;
    auto b = exec::broadcast_shapes(in[0]->dims, *s);
    if (!b) return kHuge;
    return elems(*b).value_or(kHuge);
  }
  if (op == "Tile") {
    auto rep = ints_of(1);
    if (!rep || !in[0] || rep->size() != in[0]->dims.size()) return kHuge;
    std::vector<int64_t> d = in[0]->dims;
    for (size_t i = 0; i < d.size(); ++i) {
      if ((*rep)[i] < 0) return kHuge;
      d[i] *= (*rep)[i];
    }
    return elems(d).value_or(kHuge);
  }
  if (op == "Range") {
    if (in.size() < 3 || !in[0] || !in[1] || !in[2]) return kHuge;
    auto s = tensor_scalar(*in[0]), l = tensor_scalar(*in[1]), d = tensor_scalar(*in[2]);
    if (!s || !l || !d || *d == 0) return kHuge;
    double count = std::ceil((*l - *s) / *d);
    if (!(count < 1e15)) return kHuge;
    return count < 0 ? 0 : static_cast<uint64_t>(count);
  }
  if (op == "Pad") {
    if (!in[0]) return kHuge;
    std::vector<int64_t> pads = n.attr_ints("pads");
    if (in.size() > 1 && in[1]) {
      auto p = tensor_ints(*in[1]);
      if (!p) return kHuge;
      pads = *p;
    }
    std::vector<int64_t> d = in[0]->dims;
    if (pads.size() != 2 * d.size()) return std::nullopt;  // axes input (opset 18): let the kernel decide
    for (size_t i = 0; i < d.size(); ++i) d[i] += pads[i] + pads[i + d.size()];
    return elems(d).value_or(kHuge);
  }
  if (op == "MatMul") {
    if (in.size() < 2 || !in[0] || !in[1] || in[0]->dims.empty() || in[1]->dims.empty()) return std::nullopt;
    std::vector<int64_t> a = in[0]->dims, b = in[1]->dims;
    int64_t m = a.size() >= 2 ? a[a.size() - 2] : 1, k = b.size() >= 2 ? b.back() : 1;
    a.resize(a.size() >= 2 ? a.size() - 2 : 0);
    b.resize(b.size() >= 2 ? b.size() - 2 : 0);
    auto batch = exec::broadcast_shapes(a, b);
    if (!batch) return kHuge;
    batch->push_back(m);
    batch->push_back(k);
    return elems(*batch).value_or(kHuge);
  }
  if (op == "Gather") {
    if (in.size() < 2 || !in[0] || !in[1]) return kHuge;
    int64_t r = static_cast<int64_t>(in[0]->dims.size());
    int64_t axis = n.attr_int("axis", 0);
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r) return kHuge;
    std::vector<int64_t> d(in[0]->dims.begin(), in[0]->dims.begin() + axis);
    d.insert(d.end(), in[1]->dims.begin(), in[1]->dims.end());
    d.insert(d.end(), in[0]->dims.begin() + axis + 1, in[0]->dims.end());
    return elems(d).value_or(kHuge);
  }
  static const char* broadcasting[] = {"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean",
                                       "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or",
                                       "Xor", "Where", "PRelu", "BitShift"};
  for (const char* b : broadcasting)
    if (op == b) {
      auto s = broadcast_all(in);
      if (!s) return kHuge;
      return elems(*s).value_or(kHuge);
    }
  return std::nullopt;
}

bool never_folded(const Node& n) {
  if (n.op_type == "Constant" || n.op_type == "Identity") return true;
  static const char* ops[] = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "Dropout",
                              "If", "Loop", "Scan", "SequenceConstruct", "SequenceEmpty", "Optional"};
  for (const char* op : ops)
    if (n.op_type == op) return true;
  return is_nondeterministic_op(n) || !n.subgraphs().empty();
}

}  // namespace

Expected<std::vector<TensorPtr>> evaluate_node(const Node& n, const std::vector<TensorPtr>& inputs,
                                               const pass::PassContext& ctx) {
  if (!n.subgraphs().empty()) return invalid_model(node_label(n) + ": nodes with subgraphs are not evaluated");
  Model m;
  m.ir_version = ctx.model.ir_version;
  m.opset_imports = ctx.opset_imports ? *ctx.opset_imports : ctx.model.opset_imports;
  m.graph = std::make_unique<Graph>();
  Graph& g = *m.graph;
  std::vector<Value*> ins;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) { ins.push_back(nullptr); continue; }
    auto t = std::make_shared<Tensor>(*inputs[i]);
    t->name = "in" + std::to_string(i);
    ins.push_back(g.add_initializer(std::move(t)));
  }
  std::vector<std::string> outs;
  for (size_t i = 0; i < n.outputs().size(); ++i) outs.push_back(n.output(i) ? "out" + std::to_string(i) : "");
  Node* c = g.create_node(n.op_type, ins, outs, n.domain);
  c->name = n.name;
  for (const Attribute& a : n.attributes) c->attributes.push_back(a.clone(&g));
  for (Value* o : c->outputs())
    if (o) g.add_output(o);
  EFFOPT_TRY_ASSIGN(auto session, exec::Session::create(m, {.threads = 1}));
  EFFOPT_TRY_ASSIGN(auto values, session->run(std::vector<exec::TensorValue>{}));
  std::vector<TensorPtr> result;
  size_t k = 0;
  for (size_t i = 0; i < n.outputs().size(); ++i) {
    if (!n.output(i)) { result.push_back(nullptr); continue; }
    result.push_back(std::make_shared<Tensor>(values[k++].to_tensor(n.output(i)->name())));
  }
  return result;
}

std::optional<std::vector<TensorPtr>> fold_results(Node* n, const std::vector<TensorPtr>& ins,
                                                   pass::PassContext& ctx, uint64_t max_bytes, const Pinned& pinned,
                                                   pass::PassResult& r) {
  if (never_folded(*n) || n->outputs().empty()) return std::nullopt;
  bool read = false;  // a node nobody reads is eliminate-dead-code's, not worth computing
  for (Value* o : n->outputs()) read = read || (o && pinned.is_read(o));
  if (!read) return std::nullopt;
  bool any = false;
  for (const TensorPtr& t : ins) any = any || t;
  if (!any) return std::nullopt;
  for (Value* o : n->outputs())
    if (o && pinned(o)) {
      r.note(node_label(*n) + ": not folded, its output '" + o->name() + "' is a graph output");
      return std::nullopt;
    }
  auto pred = predicted_elements(*n, ins);
  if (!pred) {
    // Ops whose output can be far larger than their inputs, not predicted
    // above: only with a fully known declared output shape.
    static const char* growing[] = {"Resize", "Upsample", "OneHot", "EyeLike", "Einsum", "ConvTranspose",
                                    "MaxUnpool", "Col2Im", "GatherND", "Conv"};
    for (const char* op : growing)
      if (n->op_type == op) {
        auto s = static_shape(n->output(0));
        auto e = s ? elems(*s) : std::nullopt;
        if (!e) {
          r.note(node_label(*n) + ": not folded, its output size is unknown before running it");
          return std::nullopt;
        }
        pred = *e;
      }
  }
  if (pred) {
    Value* o = n->output(0);
    DataType dt = o && o->type.is_tensor() ? o->type.elem_type : DataType::Undefined;
    if (n->op_type == "ConstantOfShape") {
      const Attribute* a = n->attr("value");
      dt = a && a->t ? a->t->data_type : DataType::Float;
    }
    if (dt == DataType::Undefined)  // most of these ops keep their data input's type
      for (const TensorPtr& t : ins)
        if (t) { dt = t->data_type; break; }
    int bits = data_type_bits(dt);
    uint64_t bytes = *pred == UINT64_MAX ? UINT64_MAX : *pred * static_cast<uint64_t>(bits ? bits : 64) / 8;
    if (bytes > max_bytes) {
      r.note(node_label(*n) + ": not folded, its output would take " +
             (bytes == UINT64_MAX ? std::string("too many") : std::to_string(bytes)) + " bytes (max-bytes " +
             std::to_string(max_bytes) + ")");
      r.count("folds-skipped-size");
      return std::nullopt;
    }
  }
  auto res = evaluate_node(*n, ins, ctx);
  if (!res) {
    r.note(node_label(*n) + ": not folded: " + res.error().message);
    return std::nullopt;
  }
  for (size_t i = 0; i < res->size(); ++i) {
    const TensorPtr& t = (*res)[i];
    if (!t) continue;
    if (t->byte_size() > max_bytes) {
      r.note(node_label(*n) + ": not folded, output '" + n->output(i)->name() + "' has " +
             std::to_string(t->byte_size()) + " bytes (max-bytes " + std::to_string(max_bytes) + ")");
      r.count("folds-skipped-size");
      return std::nullopt;
    }
    // The result must agree with what the graph declares.
    const Type& ty = n->output(i)->type;
    if (ty.is_tensor()) {
      bool ok_type = ty.elem_type == DataType::Undefined || ty.elem_type == t->data_type;
      if (ok_type && ty.shape) {
        ok_type = ty.shape->size() == t->dims.size();
        for (size_t d = 0; ok_type && d < t->dims.size(); ++d)
          if ((*ty.shape)[d].value && *(*ty.shape)[d].value != t->dims[d]) ok_type = false;
      }
      if (!ok_type) {
        r.note(node_label(*n) + ": not folded, the result " + std::string(data_type_name(t->data_type)) +
               " does not match the declared type " + ty.to_string());
        return std::nullopt;
      }
    }
  }
  return std::move(*res);
}

bool try_fold_node(Graph& g, Node* n, pass::PassContext& ctx, uint64_t max_bytes, const Pinned& pinned,
                   pass::PassResult& r) {
  std::vector<TensorPtr> ins;
  for (Value* v : n->inputs()) {
    if (!v) { ins.push_back(nullptr); continue; }
    TensorPtr t = fixed_constant(v, ctx.model);
    if (!t) return false;
    ins.push_back(t);
  }
  auto res = fold_results(n, ins, ctx, max_bytes, pinned, r);
  if (!res) return false;
  uint64_t total = 0;
  for (const TensorPtr& t : *res) total += t ? t->byte_size() : 0;
  allow_plain_initializers(ctx.model, r);
  replace_node_by_initializers(g, n, *res);
  r.count("tensors-folded");
  r.count("bytes-folded", static_cast<int64_t>(total));
  r.changed = true;
  return true;
}

}  // namespace effopt::passes::cleanup

namespace effopt::passes::cleanup {

void allow_plain_initializers(Model& m, pass::PassResult& r) {
  if (m.ir_version >= 4 || !m.graph) return;
  size_t n = detach_initializer_inputs(*m.graph);
  if (n) r.count("initializer-inputs-detached", static_cast<int64_t>(n));
  m.ir_version = 4;
  r.count("ir-version-raised");
  r.changed = true;
}

}  // namespace effopt::passes::cleanup

namespace effopt::passes::cleanup {

std::string fresh_name(Graph& g, std::string_view hint) {
  auto taken = [&](const std::string& name) {
    if (g.find(name)) return true;
    bool below = false;
    for_each_graph(g, [&](Graph& sg) { below = below || (&sg != &g && sg.find_local(name)); });
    return below;
  };
  std::string base(hint.empty() ? "v" : hint);
  if (!taken(base)) return base;
  for (size_t k = 1;; ++k) {
    std::string cand = base + "_" + std::to_string(k);
    if (!taken(cand)) return cand;
  }
}

}  // namespace effopt::passes::cleanup
