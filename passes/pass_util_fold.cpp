// The pass helper layer (pass_util.h): evaluating nodes on the executor (fold_node, try_fold_node).
#include <cassert>
#include <cmath>
#include <cstring>

#include "exec/executor.h"
#include "exec/tensor_value.h"
#include "passes/pass_util.h"

namespace effopt::passes::util {

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

std::optional<std::vector<TensorPtr>> fold_node(const Node& n, pass::PassContext& ctx, uint64_t max_bytes,
                                                pass::PassResult& r) {
  assert(ctx.pinned);
  std::vector<TensorPtr> ins;
  for (Value* v : n.inputs()) {
    if (!v) { ins.push_back(nullptr); continue; }
    TensorPtr t = fixed_constant(v);
    if (!t) return std::nullopt;
    ins.push_back(t);
  }
  return fold_results(n, ins, ctx, max_bytes, *ctx.pinned, r);
}

std::optional<std::vector<TensorPtr>> fold_results(const Node& node, const std::vector<TensorPtr>& ins,
                                                   pass::PassContext& ctx, uint64_t max_bytes, const Pinned& pinned,
                                                   pass::PassResult& r) {
  const Node* n = &node;
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

bool try_fold_node(Graph& g, Node* n, pass::PassContext& ctx, uint64_t max_bytes, pass::PassResult& r) {
  auto res = fold_node(*n, ctx, max_bytes, r);
  if (!res) return false;
  uint64_t total = 0;
  for (const TensorPtr& t : *res)
    if (t) total += t->byte_size();
  replace_node_by_initializers(g, n, *res, ctx);
  r.count("tensors-folded");
  r.count("bytes-folded", static_cast<int64_t>(total));
  r.changed = true;
  return true;
}

}  // namespace effopt::passes::util
