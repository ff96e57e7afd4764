// Opset conversion of the default ONNX domain on effopt's IR: a table of
// adapters {op, version at which it changed, adapter}, driven by ONNX 1.12's
// schema registry (opsets 1..17) and a table of the ops that got a new version
// at opsets 18..21. See opset_convert.h.
//
// How a node is converted: from the op's version at the source opset, step
// through every later version of that op up to the target; at each step run
// the adapters registered for {op, version} (none = the change was compatible).
// An adapter may rename the op (Upsample -> Resize, Scatter -> ScatterElements)
// and the walk continues with the new op. Nodes an adapter creates are built
// directly in their target-opset form and are not walked again.
//
// Conversion needs no static shapes. Where an old op's meaning depends on a
// rank (legacy broadcast with `axis`, PRelu's per-channel slope, Tile-1) the
// rank comes from value types, constants and a small rank propagation over
// common ops; if it is unknown the error names the node. Element types for new
// constants come from types, constants or the ONNX schemas' type constraints.
#include "onnx/opset_convert.h"

#include <onnx/defs/schema.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "ir/constants.h"
#include "ir/dtype.h"

namespace effopt {

namespace {

// ------------------------------------------------------------------ versions

// Ops that got a new version at opsets 18..21 (ONNX 1.13..1.16), which ONNX
// 1.12's registry does not know. From onnx/defs/operator_sets.h (OpSet_Onnx_ver18..21)
// of ONNX 1.16.
struct NewerOpset {
  int64_t version;
  std::vector<std::string_view> ops;
};
const std::array<NewerOpset, 4>& newer_opsets() {
  static const std::array<NewerOpset, 4> k = {{
      {18, {"Pad", "CenterCropPad", "Resize", "Mish", "OptionalGetElement", "OptionalHasElement", "Split", "Col2Im",
            "ScatterND", "ScatterElements", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp", "ReduceL1",
            "ReduceL2", "ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "BitwiseAnd", "BitwiseOr",
            "BitwiseXor", "BitwiseNot", "GroupNormalization", "LpPool"}},
      {19, {"Equal", "AveragePool", "Cast", "CastLike", "Constant", "DeformConv", "DequantizeLinear", "Identity", "If",
            "Loop", "Pad", "QuantizeLinear", "Resize", "Reshape", "Scan", "Shape", "Size"}},
      {20, {"AffineGrid", "ConstantOfShape", "DFT", "Gelu", "GridSample", "ImageDecoder", "IsInf", "IsNaN",
            "ReduceMax", "ReduceMin", "RegexFullMatch", "StringConcat", "StringSplit"}},
      {21, {"Cast", "CastLike", "Constant", "ConstantOfShape", "DequantizeLinear", "Flatten", "GroupNormalization",
            "Identity", "If", "Loop", "Pad", "QLinearMatMul", "QuantizeLinear", "Reshape", "Scan", "Shape", "Size",
            "Squeeze", "Transpose", "Unsqueeze"}},
  }};
  return k;
}

constexpr int64_t kMinTarget = 7;
constexpr int64_t kMaxTarget = 21;
constexpr int64_t kRegistryMax = 17;  // the newest opset ONNX 1.12 knows

const ONNX_NAMESPACE::OpSchema* registry_schema(const std::string& op, int64_t opset) {
  if (opset < 1) return nullptr;
  return ONNX_NAMESPACE::OpSchemaRegistry::Schema(op, static_cast<int>(std::min(opset, kRegistryMax)), "");
}

bool schema_deprecated(const std::string& op, int64_t opset) {
  if (opset > kRegistryMax) {
    for (auto& n : newer_opsets())
      if (n.version <= opset && std::find(n.ops.begin(), n.ops.end(), op) != n.ops.end()) return false;
  }
  const auto* s = registry_schema(op, opset);
  return s && s->Deprecated();
}

// ------------------------------------------------------------------ tensors

TensorPtr make_tensor(DataType dt, std::vector<int64_t> dims, std::vector<std::byte> bytes) {
  auto t = std::make_shared<Tensor>();
  t->data_type = dt;
  t->dims = std::move(dims);
  t->set_bytes(std::move(bytes));
  return t;
}

TensorPtr make_i64(const std::vector<int64_t>& vals, std::vector<int64_t> dims) {
  std::vector<std::byte> b(vals.size() * sizeof(int64_t));
  if (!vals.empty()) std::memcpy(b.data(), vals.data(), b.size());
  return make_tensor(DataType::Int64, std::move(dims), std::move(b));
}

// Integer values of an int32/int64 tensor, or of a float32 one holding whole
// numbers (legacy ops fed small integers as floats).
std::optional<std::vector<int64_t>> tensor_ints(const Tensor& t) {
  if (t.data_type == DataType::Int64 || t.data_type == DataType::Int32) return to_ints(t);
  if (t.data_type != DataType::Float) return std::nullopt;
  auto vals = to_doubles(t);
  if (!vals) return std::nullopt;
  std::vector<int64_t> out;
  for (double v : *vals) {
    if (v != std::floor(v)) return std::nullopt;
    out.push_back(static_cast<int64_t>(v));
  }
  return out;
}

// ------------------------------------------------------------------ context

bool used(const Value* v) { return v && (!v->uses().empty() || v->is_graph_output()); }

std::string describe(const Node* n) {
  if (!n->name.empty()) return n->op_type + " '" + n->name + "'";
  for (Value* o : n->outputs())
    if (o) return n->op_type + " (output '" + o->name() + "')";
  return n->op_type;
}

Error node_error(const Node* n, const std::string& why) { return invalid_model(describe(n) + ": " + why); }

DataType parse_type_name(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  static const std::pair<const char*, DataType> k[] = {
      {"FLOAT", DataType::Float},     {"FLOAT32", DataType::Float},   {"UINT8", DataType::UInt8},
      {"INT8", DataType::Int8},       {"UINT16", DataType::UInt16},   {"INT16", DataType::Int16},
      {"INT32", DataType::Int32},     {"INT64", DataType::Int64},     {"STRING", DataType::String},
      {"BOOL", DataType::Bool},       {"FLOAT16", DataType::Float16}, {"DOUBLE", DataType::Double},
      {"FLOAT64", DataType::Double},  {"UINT32", DataType::UInt32},   {"UINT64", DataType::UInt64},
      {"COMPLEX64", DataType::Complex64}, {"COMPLEX128", DataType::Complex128}, {"BFLOAT16", DataType::BFloat16},
  };
  for (auto& [name, dt] : k)
    if (s == name) return dt;
  return DataType::Undefined;
}

// "tensor(float)" -> Float.
DataType parse_type_str(const std::string& s) {
  if (s.rfind("tensor(", 0) != 0 || s.back() != ')') return DataType::Undefined;
  return parse_type_name(s.substr(7, s.size() - 8));
}

struct Ctx {
  explicit Ctx(Model& m) : model(m) {}
  Model& model;
  int64_t to = 0;
  OpsetConvertStats* stats = nullptr;
  int64_t from = 0;          // source opset of the scope being converted
  bool in_function = false;  // constants become Constant nodes (functions have no initializers)
  bool ir3 = false;          // the result is IR < 4: new initializers are also main-graph inputs
  std::unordered_set<std::string> names;       // every value name in the model
  std::unordered_set<std::string> node_names;  // every node name in the model
  std::unordered_map<const Value*, DataType> elem_cache;
  std::unordered_map<const Value*, std::optional<int64_t>> rank_cache;

  void note(const Node* n, const std::string& what) {
    if (stats) stats->changes.push_back(describe(n) + ": " + what);
  }

  std::string fresh(const Graph& g, std::string_view hint) {
    std::string base(hint.empty() ? "v" : hint);
    for (size_t k = 0;; ++k) {
      std::string cand = k ? base + "_" + std::to_string(k) : base;
      if (!names.count(cand) && !g.find(cand)) {
        names.insert(cand);
        return cand;
      }
    }
  }
  std::string fresh_node_name(std::string_view hint) {
    std::string base(hint.empty() ? "node" : hint);
    for (size_t k = 0;; ++k) {
      std::string cand = k ? base + "_" + std::to_string(k) : base;
      if (!node_names.count(cand)) {
        node_names.insert(cand);
        return cand;
      }
    }
  }

  DataType elem_type(const Value* v, int depth = 0);
  std::optional<int64_t> rank(const Value* v, int depth = 0);
  DataType infer_elem(const Node* p, size_t idx, int depth);
  std::optional<int64_t> infer_rank(const Node* p, size_t idx, int depth);
};

void collect_names(Ctx& c, const Graph& g) {
  for (auto& v : g.values()) c.names.insert(v->name());
  for (auto& n : g.nodes()) {
    if (!n->name.empty()) c.node_names.insert(n->name);
    for (Graph* sg : n->subgraphs()) collect_names(c, *sg);
  }
}

DataType Ctx::elem_type(const Value* v, int depth) {
  if (!v || depth > 200) return DataType::Undefined;
  if ((v->type.kind == Type::Kind::Tensor || v->type.kind == Type::Kind::SparseTensor) &&
      v->type.elem_type != DataType::Undefined)
    return v->type.elem_type;
  if (v->initializer) return v->initializer->data_type;
  auto it = elem_cache.find(v);
  if (it != elem_cache.end()) return it->second;
  DataType r = DataType::Undefined;
  if (const Node* p = v->producer(); p && is_onnx_domain(p->domain)) r = infer_elem(p, v->producer_index(), depth + 1);
  elem_cache[v] = r;
  return r;
}

// Element type of output `idx` of `p`, from the ONNX schema's type
// constraints (an output typed "T" has the element type of the inputs typed "T").
DataType Ctx::infer_elem(const Node* p, size_t idx, int depth) {
  const std::string& op = p->op_type;
  if (op == "Cast") {
    const Attribute* a = p->attr("to");
    if (!a) return DataType::Undefined;
    if (a->type == AttrType::Int) return static_cast<DataType>(a->i);
    if (a->type == AttrType::String) return parse_type_name(a->s);
    return DataType::Undefined;
  }
  if (op == "CastLike") return elem_type(p->input(1), depth);
  if (op == "Constant") {
    if (auto t = constant_tensor(p->output(0))) return t->data_type;
    return DataType::Undefined;
  }
  if (op == "ConstantOfShape") {
    const Attribute* a = p->attr("value");
    return a && a->t ? a->t->data_type : DataType::Float;
  }
  if (op == "Dropout" && idx == 1) return DataType::Undefined;  // mask: T before opset 10, bool after
  static const std::unordered_set<std::string_view> same_as_input0 = {
      "ImageScaler", "Affine", "Scale", "ScaledTanh", "ParametricSoftplus", "ThresholdedRelu", "Crop",
      "MeanVarianceNormalization", "Upsample", "Resize", "GroupNormalization", "Mish", "Gelu"};
  if (same_as_input0.count(op)) return elem_type(p->input(0), depth);
  const auto* s = registry_schema(op, from);
  if (!s) s = registry_schema(op, to);
  if (!s || s->outputs().empty()) return DataType::Undefined;
  const auto& outs = s->outputs();
  const std::string& ts = (idx < outs.size() ? outs[idx] : outs.back()).GetTypeStr();
  if (DataType d = parse_type_str(ts); d != DataType::Undefined) return d;
  for (const auto& tc : s->typeConstraintParams())
    if (tc.type_param_str == ts && tc.allowed_type_strs.size() == 1) return parse_type_str(tc.allowed_type_strs[0]);
  const auto& ins = s->inputs();
  if (ins.empty()) return DataType::Undefined;
  for (size_t i = 0; i < p->inputs().size(); ++i) {
    const auto& f = i < ins.size() ? ins[i] : ins.back();
    if (f.GetTypeStr() != ts) continue;
    DataType d = elem_type(p->input(i), depth);
    if (d != DataType::Undefined) return d;
  }
  return DataType::Undefined;
}

std::optional<int64_t> Ctx::rank(const Value* v, int depth) {
  if (!v || depth > 200) return std::nullopt;
  if (v->type.is_tensor() && v->type.shape) return static_cast<int64_t>(v->type.shape->size());
  if (v->initializer) return static_cast<int64_t>(v->initializer->dims.size());
  auto it = rank_cache.find(v);
  if (it != rank_cache.end()) return it->second;
  std::optional<int64_t> r;
  if (const Node* p = v->producer(); p && is_onnx_domain(p->domain)) r = infer_rank(p, v->producer_index(), depth + 1);
  rank_cache[v] = r;
  return r;
}

std::optional<std::vector<int64_t>> ints_from_attr_or_input(const Node* p, const char* attr, size_t input) {
  if (const Attribute* a = p->attr(attr); a && a->type == AttrType::Ints) return a->ints;
  if (auto t = constant_tensor(p->input(input))) return tensor_ints(*t);
  return std::nullopt;
}

// Rank of output `idx` of `p` for the ops whose output rank follows simply
// from their inputs and attributes.
std::optional<int64_t> Ctx::infer_rank(const Node* p, size_t idx, int depth) {
  const std::string& op = p->op_type;
  static const std::unordered_set<std::string_view> same_rank = {
      "Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Elu", "Erf", "Exp", "Floor",
      "HardSigmoid", "HardSwish", "LeakyRelu", "Log", "Neg", "Not", "Reciprocal", "Relu", "Round", "Selu", "Sigmoid",
      "Sign", "Sin", "Sinh", "Softplus", "Softsign", "Sqrt", "Tan", "Tanh", "ThresholdedRelu", "Celu", "Gelu", "Mish",
      "Shrink", "IsNaN", "IsInf", "Clip", "Cast", "CastLike", "Dropout", "BatchNormalization",
      "InstanceNormalization", "LayerNormalization", "GroupNormalization", "LRN", "LpNormalization",
      "MeanVarianceNormalization", "Identity", "Softmax", "LogSoftmax", "Hardmax", "PRelu", "Conv", "ConvTranspose",
      "ConvInteger", "QLinearConv", "DeformConv", "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool",
      "GlobalMaxPool", "GlobalLpPool", "Upsample", "Resize", "Pad", "Transpose", "Concat", "Slice", "Tile", "Split",
      "DepthToSpace", "SpaceToDepth", "QuantizeLinear", "DequantizeLinear", "CumSum", "Trilu", "ReverseSequence",
      "ScatterElements", "ScatterND", "Scatter", "GatherElements", "TopK", "ImageScaler", "Affine", "Scale",
      "ScaledTanh", "ParametricSoftplus", "Crop", "MaxUnpool", "CenterCropPad"};
  static const std::unordered_set<std::string_view> broadcast = {
      "Add", "Sub", "Mul", "Div", "Pow", "Mod", "And", "Or", "Xor", "Equal", "Greater", "Less", "GreaterOrEqual",
      "LessOrEqual", "Max", "Min", "Sum", "Mean", "Where", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor"};
  if (op == "Constant") {
    if (auto t = constant_tensor(p->output(0))) return static_cast<int64_t>(t->dims.size());
    return std::nullopt;
  }
  // Later outputs: only those shaped like the input (Split pieces, TopK indices, Dropout mask).
  if (idx > 0 && op != "Split" && op != "TopK" && op != "Dropout") return std::nullopt;
  if (same_rank.count(op)) return rank(p->input(0), depth);
  if (broadcast.count(op)) {
    if (p->attr("broadcast")) return rank(p->input(0), depth);  // legacy: B broadcasts into A
    int64_t r = 0;
    for (Value* in : p->inputs()) {
      auto ri = rank(in, depth);
      if (!ri) return std::nullopt;
      r = std::max(r, *ri);
    }
    return r;
  }
  if (op == "Flatten" || op == "Gemm" || op == "NonZero") return 2;
  if (op == "Shape") return 1;
  if (op == "Size") return 0;
  if (op == "MatMul" || op == "MatMulInteger" || op == "QLinearMatMul") {
    size_t b = op == "QLinearMatMul" ? 3 : 1;
    auto ra = rank(p->input(0), depth), rb = rank(p->input(b), depth);
    if (!ra || !rb) return std::nullopt;
    if (*ra == 1 && *rb == 1) return 0;
    if (*ra == 1) return *rb - 1;
    if (*rb == 1) return *ra - 1;
    return std::max(*ra, *rb);
  }
  if (op == "Reshape") {
    if (auto s = ints_from_attr_or_input(p, "shape", 1)) return static_cast<int64_t>(s->size());
    return std::nullopt;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    auto r = rank(p->input(0), depth);
    auto axes = ints_from_attr_or_input(p, "axes", 1);
    if (!r || !axes) return std::nullopt;
    return op == "Unsqueeze" ? *r + static_cast<int64_t>(axes->size()) : *r - static_cast<int64_t>(axes->size());
  }
  if (op.rfind("Reduce", 0) == 0 || op == "ArgMax" || op == "ArgMin") {
    auto r = rank(p->input(0), depth);
    if (!r) return std::nullopt;
    if (p->attr_int("keepdims", 1)) return r;
    if (op == "ArgMax" || op == "ArgMin") return *r - 1;
    auto axes = ints_from_attr_or_input(p, "axes", 1);
    if (!axes) return p->input(1) ? std::nullopt : std::optional<int64_t>(0);
    return axes->empty() ? 0 : *r - static_cast<int64_t>(axes->size());
  }
  if (op == "Expand") {
    auto r = rank(p->input(0), depth);
    auto t = constant_tensor(p->input(1));
    if (!r || !t || t->dims.size() != 1) return std::nullopt;
    return std::max(*r, t->dims[0]);
  }
  if (op == "Gather") {
    auto rd = rank(p->input(0), depth), ri = rank(p->input(1), depth);
    if (!rd || !ri) return std::nullopt;
    return *rd + *ri - 1;
  }
  if (op == "ConstantOfShape") {
    const Value* s = p->input(0);
    if (auto t = constant_tensor(s); t && t->dims.size() == 1) return t->dims[0];
    if (s && s->type.is_tensor() && s->type.shape && s->type.shape->size() == 1 && (*s->type.shape)[0].value)
      return *(*s->type.shape)[0].value;
    return std::nullopt;
  }
  return std::nullopt;
}

// ------------------------------------------------------------------ building

// Inserts nodes before a given node, in the form valid at the target opset.
struct Builder {
  Ctx& c;
  Graph& g;
  size_t pos;
  std::string base;  // hint for names

  Builder(Ctx& ctx, Node* n) : c(ctx), g(*n->graph()), pos(n->graph()->index_of(n)) {
    base = !n->name.empty() ? n->name : (n->output(0) ? n->output(0)->name() : n->op_type);
  }

  Value* constant(TensorPtr t, std::string_view hint) {
    std::string name = c.fresh(g, base + "_" + std::string(hint));
    t->name = name;
    if (c.ir3 && !c.in_function) {
      // IR < 4 lists every initializer among the graph inputs (ONNX's checker
      // insists), and Constant-1 cannot hold int64: add it to the main graph,
      // where subgraphs see it as an outer-scope value.
      Graph* root = &g;
      while (root->parent()) root = root->parent();
      Value* v = root->add_initializer(std::move(t));
      root->add_input(v);
      return v;
    }
    if (c.in_function) {
      Node* k = g.create_node("Constant", {}, {name}, "", pos++);
      k->name = c.fresh_node_name(name);
      Value* v = k->output(0);
      v->type = Type::tensor(t->data_type, [&] {
        std::vector<Dim> s;
        for (int64_t d : t->dims) s.push_back(Dim::known(d));
        return s;
      }());
      k->set_attr(Attribute::make_tensor("value", std::move(t)));
      return v;
    }
    return g.add_initializer(std::move(t));
  }
  Value* i64(const std::vector<int64_t>& vals, std::string_view hint) {
    return constant(make_i64(vals, {static_cast<int64_t>(vals.size())}), hint);
  }
  Value* i64_scalar(int64_t v, std::string_view hint) { return constant(make_i64({v}, {}), hint); }

  Node* node(const std::string& op, std::vector<Value*> ins, std::vector<Attribute> attrs = {}) {
    std::string out = c.fresh(g, base + "_" + op);
    Node* n = g.create_node(op, std::move(ins), {out}, "", pos++);
    n->name = c.fresh_node_name(out);
    for (auto& a : attrs) n->set_attr(std::move(a));
    return n;
  }
  Value* op(const std::string& op, std::vector<Value*> ins, std::vector<Attribute> attrs = {}) {
    return node(op, std::move(ins), std::move(attrs))->output(0);
  }

  Value* unsqueeze(Value* x, const std::vector<int64_t>& axes) {
    if (c.to >= 13) return op("Unsqueeze", {x, i64(axes, "axes")});
    return op("Unsqueeze", {x}, attrs_of(Attribute::make_ints("axes", axes)));
  }

  static std::vector<Attribute> attrs_of(Attribute a) {
    std::vector<Attribute> v;
    v.push_back(std::move(a));
    return v;
  }
};

// Replaces `n` by a node of type `op` with the given inputs and outputs, which
// may include `n`'s own outputs (their uses, graph-output slots and value_info
// stay). Moves n's attributes, name and doc string. Outputs of `n` left out
// must be unused.
Node* replace_node(Ctx& c, Node* n, std::string op, std::vector<Value*> ins, std::vector<Value*> outs) {
  Graph& g = *n->graph();
  size_t pos = g.index_of(n);
  std::vector<std::pair<Value*, Value*>> parked;
  for (Value* o : n->outputs()) {
    if (!used(o)) continue;
    Value* t = g.create_value(c.fresh(g, o->name() + "_parked"));
    g.replace_all_uses(o, t);
    parked.emplace_back(o, t);
  }
  auto attrs = std::move(n->attributes);
  n->attributes.clear();
  std::string name = n->name, doc = n->doc_string, domain = n->domain;
  g.erase_node(n);
  Node* m = g.create_node_with_outputs(std::move(op), std::move(ins), std::move(outs), domain, pos);
  m->attributes = std::move(attrs);
  m->name = name;
  m->doc_string = doc;
  for (Graph* sg : m->subgraphs()) sg->set_parent(&g, m);
  for (auto& [o, t] : parked) g.replace_all_uses(t, o);
  return m;
}

// Makes `n` produce a fresh value instead of its output `idx`. Returns the new
// node (replacing `n`) and the old output value, now without a producer: a
// node inserted after the returned one must produce it.
std::pair<Node*, Value*> detach_output(Ctx& c, Node* n, size_t idx) {
  Graph& g = *n->graph();
  Value* old = n->output(idx);
  Value* fresh = g.create_value(c.fresh(g, old->name() + "_pre"));
  auto outs = n->outputs();
  outs[idx] = fresh;
  Node* m = replace_node(c, n, n->op_type, n->inputs(), outs);
  return {m, old};
}

// Ends an expansion: replaces `n` by one node `op` producing n's outputs (its
// first output only; others must be unused), with the given attributes.
Node* finish_as(Ctx& c, Node* n, std::string op, std::vector<Value*> ins, std::vector<Attribute> attrs = {}) {
  for (size_t i = 1; i < n->outputs().size(); ++i) assert(!used(n->output(i)) && "finish_as: a dropped output is used");
  std::vector<Value*> outs{n->output(0)};
  Node* m = replace_node(c, n, op, std::move(ins), std::move(outs));
  m->attributes = std::move(attrs);
  if (m->name.empty()) m->name = c.fresh_node_name(m->output(0)->name());
  return m;
}

// Appends `k` dimensions of size 1 to `x` (of rank `r`): a reshaped copy of a
// constant, else an Unsqueeze.
Value* append_unit_dims(Builder& b, Value* x, int64_t r, int64_t k) {
  if (TensorPtr t = constant_tensor(x); t && !x->is_graph_input() && static_cast<int64_t>(t->dims.size()) == r) {
    auto nt = std::make_shared<Tensor>(*t);  // shares the bytes
    nt->external.reset();
    nt->doc_string.clear();
    for (int64_t i = 0; i < k; ++i) nt->dims.push_back(1);
    return b.constant(std::move(nt), x->name() + "_bcast");
  }
  std::vector<int64_t> axes;
  for (int64_t i = 0; i < k; ++i) axes.push_back(r + i);
  return b.unsqueeze(x, axes);
}

std::string fmt(float f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(f));
  return buf;
}

std::string join(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

// A float element type for constants feeding `x` (errors name the node).
Expected<DataType> float_type_of(Ctx& c, const Node* n, const Value* x, const std::string& what) {
  DataType t = c.elem_type(x);
  if (t == DataType::Undefined)
    return node_error(n, std::string("the element type of input '") + (x ? x->name() : "?") +
                             "' is unknown and is needed for " + what);
  if (t != DataType::Float && t != DataType::Double && t != DataType::Float16 && t != DataType::BFloat16 &&
      t != DataType::Int8 && t != DataType::UInt8 && t != DataType::Int16 && t != DataType::UInt16 &&
      t != DataType::Int32 && t != DataType::UInt32 && t != DataType::Int64 && t != DataType::UInt64)
    return node_error(n, std::string("unsupported element type ") + data_type_name(t) + " for " + what);
  return t;
}

// Moves an INTS attribute to a 1-D int64 input at `slot` (inputs in between
// become empty). Returns false if the attribute is absent.
bool ints_attr_to_input(Builder& b, Node* n, const char* attr, size_t slot) {
  const Attribute* a = n->attr(attr);
  if (!a) return false;
  std::vector<int64_t> vals = a->ints;
  n->remove_attr(attr);
  Value* v = b.i64(vals, attr);
  auto ins = n->inputs();
  if (ins.size() <= slot) ins.resize(slot + 1, nullptr);
  ins[slot] = v;
  n->set_inputs(std::move(ins));
  return true;
}

// ------------------------------------------------------------------ adapters
// Each adapter takes the node at the version just before `version` and leaves
// it valid at `version` (or replaces it; `n` is updated, nullptr when the node
// was fully expanded into target-opset nodes).

using AdapterFn = Status (*)(Ctx&, Node*&);

// v6 (many ops): `consumed_inputs` (an in-place hint of opset 1) removed.
Status drop_consumed_inputs(Ctx& c, Node*& n) {
  if (n->remove_attr("consumed_inputs")) c.note(n, "dropped legacy attribute consumed_inputs (opset 6)");
  return ok();
}

// Add/Sub/Mul/Div/Pow/And/Or/Xor/Equal/Greater/Less v7: `broadcast`/`axis`
// removed for numpy broadcasting. broadcast=1 with `axis` aligns B at A's
// dimension `axis`; numpy aligns trailing dims, so B gets trailing 1s.
Status legacy_broadcast(Ctx& c, Node*& n) {
  const Attribute* ab = n->attr("broadcast");
  const Attribute* aa = n->attr("axis");
  if (!ab && !aa) return ok();
  int64_t bcast = n->attr_int("broadcast", 0);
  std::optional<int64_t> axis;
  if (aa && aa->type == AttrType::Int) axis = aa->i;
  n->remove_attr("broadcast");
  n->remove_attr("axis");
  if (bcast == 0 || !axis) {
    c.note(n, "legacy broadcast attributes removed at opset 7 (numpy broadcasting is equivalent)");
    return ok();
  }
  Value* A = n->input(0);
  Value* B = n->input(1);
  auto ra = c.rank(A);
  if (!ra)
    return node_error(n, "legacy broadcast with axis=" + std::to_string(*axis) + " needs the rank of input '" +
                             (A ? A->name() : "?") + "', which is unknown");
  auto rb = c.rank(B);
  if (!rb)
    return node_error(n, "legacy broadcast with axis=" + std::to_string(*axis) + " needs the rank of input '" +
                             (B ? B->name() : "?") + "', which is unknown");
  int64_t a = *axis < 0 ? *axis + *ra : *axis;
  int64_t k = *ra - a - *rb;
  if (a < 0 || k < 0)
    return node_error(n, "invalid legacy broadcast: axis=" + std::to_string(*axis) + " with ranks " +
                             std::to_string(*ra) + " and " + std::to_string(*rb));
  if (k == 0) {
    c.note(n, "legacy broadcast axis=" + std::to_string(*axis) + " matches numpy alignment (opset 7)");
    return ok();
  }
  Builder b(c, n);
  n->set_input(1, append_unit_dims(b, B, *rb, k));
  c.note(n, "legacy broadcast axis=" + std::to_string(*axis) + " -> numpy: input B given " + std::to_string(k) +
                " trailing unit dims (opset 7)");
  return ok();
}

// Gemm v7: `broadcast` removed; C broadcasts unidirectionally.
Status gemm_7(Ctx& c, Node*& n) {
  if (n->remove_attr("broadcast")) c.note(n, "dropped legacy attribute broadcast (opset 7)");
  return ok();
}

// PRelu v7: slope broadcasts numpy-style (trailing alignment). Before, a 1-D
// slope of size C applied per channel (axis 1), as ONNX's own PRelu 6->7
// adapter reads it: reshape it to [C,1,...,1].
Status prelu_7(Ctx& c, Node*& n) {
  Value* X = n->input(0);
  Value* S = n->input(1);
  TensorPtr st = constant_tensor(S);
  if (st && st->element_count() && *st->element_count() == 1) return ok();
  if (S && S->type.is_tensor() && S->type.shape &&
      std::all_of(S->type.shape->begin(), S->type.shape->end(), [](const Dim& d) { return d.value == 1; }))
    return ok();  // a single slope value broadcasts either way
  auto rs = c.rank(S);
  if (rs && *rs != 1) return ok();  // a full-rank slope already lines up
  auto rx = c.rank(X);
  if (!rx || !rs)
    return node_error(n, "PRelu 6->7 needs the ranks of X and slope to align a per-channel slope; unknown");
  int64_t k = *rx - 2;
  if (k <= 0) return ok();
  Builder b(c, n);
  n->set_input(1, append_unit_dims(b, S, 1, k));
  std::string dims = "[C";
  for (int64_t i = 0; i < k; ++i) dims += ",1";
  c.note(n, "per-channel slope reshaped to " + dims + "] for numpy broadcasting (opset 7)");
  return ok();
}

// Cast v6: `to` is an int (TensorProto.DataType) instead of a string.
Status cast_6(Ctx& c, Node*& n) {
  Attribute* a = n->attr("to");
  if (!a || a->type != AttrType::String) return ok();
  DataType dt = parse_type_name(a->s);
  if (dt == DataType::Undefined) return node_error(n, "unknown Cast target type '" + a->s + "'");
  std::string old = a->s;
  n->set_attr(Attribute::make_int("to", static_cast<int64_t>(dt)));
  c.note(n, "to='" + old + "' -> " + std::to_string(static_cast<int>(dt)) + " (opset 6)");
  return ok();
}

// Concat v4: `axis` required; opset 1 defaulted it to 1.
Status concat_4(Ctx& c, Node*& n) {
  if (n->attr("axis")) return ok();
  n->set_attr(Attribute::make_int("axis", 1));
  c.note(n, "explicit axis=1 (opset 1 default; required from opset 4)");
  return ok();
}

// GlobalLpPool/LpPool v2: `p` is an int instead of a float.
Status lp_pool_2(Ctx& c, Node*& n) {
  if (n->op_type == "LpPool" && !n->attr("kernel_shape"))
    return node_error(n, "LpPool without kernel_shape has no opset-2 equivalent (kernel_shape became required)");
  Attribute* a = n->attr("p");
  if (!a || a->type != AttrType::Float) return ok();
  float p = a->f;
  if (p != std::floor(p)) return node_error(n, "p=" + fmt(p) + " is not an integer; opset 2 takes an integer p");
  n->set_attr(Attribute::make_int("p", static_cast<int64_t>(p)));
  c.note(n, "p float -> int (opset 2)");
  return ok();
}

// GRU v3: default direction spelled "forward" (opset 1 had "foward").
Status gru_3(Ctx& c, Node*& n) {
  if (n->attr_string("direction", "") == "foward") {
    n->set_attr(Attribute::make_string("direction", "forward"));
    c.note(n, "direction 'foward' -> 'forward' (opset 3)");
  }
  return ok();
}

// GRU/LSTM/RNN v7: `output_sequence` removed (Y is produced when requested).
Status rnn_7(Ctx& c, Node*& n) {
  if (n->remove_attr("output_sequence")) c.note(n, "dropped attribute output_sequence (opset 7)");
  return ok();
}

// Selu v6: default alpha/gamma changed (1.6732/1.0507 -> 1.67326.../1.05070...);
// keep the opset-1 values explicit.
Status selu_6(Ctx& c, Node*& n) {
  EFFOPT_TRY(drop_consumed_inputs(c, n));
  bool changed = false;
  if (!n->attr("alpha")) { n->set_attr(Attribute::make_float("alpha", 1.6732f)); changed = true; }
  if (!n->attr("gamma")) { n->set_attr(Attribute::make_float("gamma", 1.0507f)); changed = true; }
  if (changed) c.note(n, "opset-1 default alpha/gamma made explicit (defaults changed at opset 6)");
  return ok();
}

// BatchNormalization v7: `is_test` removed (the output count decides the mode).
Status bn_7(Ctx& c, Node*& n) {
  if (n->remove_attr("is_test")) c.note(n, "dropped attribute is_test (opset 7)");
  return ok();
}

// BatchNormalization v9: `spatial` removed (always per channel). spatial=0
// (per activation: statistics of shape [C,D1,...]) becomes explicit arithmetic.
Status bn_9(Ctx& c, Node*& n) {
  int64_t spatial = n->attr_int("spatial", 1);
  bool had = n->remove_attr("spatial");
  if (spatial != 0) {
    if (had) c.note(n, "dropped attribute spatial=1 (opset 9)");
    return ok();
  }
  for (size_t i = 1; i < n->outputs().size(); ++i)
    if (used(n->output(i))) return node_error(n, "spatial=0 in training mode has no opset-9 equivalent");
  EFFOPT_TRY_ASSIGN(DataType t, float_type_of(c, n, n->input(0), "spatial=0 expansion"));
  float eps = n->attr_float("epsilon", 1e-5f);
  Builder b(c, n);
  Value* X = n->input(0);
  Value* d = b.op("Sub", {X, n->input(3)});
  Value* ve = b.op("Add", {n->input(4), b.constant(tensor_from_values(t, {}, {eps}), "eps")});
  Value* sd = b.op("Sqrt", {ve});
  Value* nm = b.op("Div", {d, sd});
  Value* sc = b.op("Mul", {nm, n->input(1)});
  Value* B = n->input(2);
  n = finish_as(c, n, "Add", {sc, B});
  c.note(n, "BatchNormalization spatial=0 expanded to Sub/Add/Sqrt/Div/Mul/Add (opset 9)");
  n = nullptr;
  return ok();
}

// BatchNormalization v14: `training_mode` attribute; outputs are Y and the
// optional running_mean/running_var, valid only in training mode.
Status bn_14(Ctx& c, Node*& n) {
  auto outs = n->outputs();
  bool extra = false;
  for (size_t i = 1; i < outs.size(); ++i) extra = extra || used(outs[i]);
  if (!extra) {
    if (outs.size() > 1) {
      n = replace_node(c, n, n->op_type, n->inputs(), {outs[0]});
      c.note(n, "unused training outputs dropped (opset 14)");
    }
    return ok();
  }
  if ((outs.size() > 3 && used(outs[3])) || (outs.size() > 4 && used(outs[4])))
    return node_error(n, "outputs saved_mean/saved_var are used; BatchNormalization-14 has no such outputs");
  outs.resize(3, nullptr);
  n = replace_node(c, n, n->op_type, n->inputs(), outs);
  n->set_attr(Attribute::make_int("training_mode", 1));
  c.note(n, "training outputs kept: training_mode=1 (opset 14)");
  return ok();
}

// Dropout v7: `is_test` removed.
Status dropout_7(Ctx& c, Node*& n) {
  if (n->remove_attr("is_test")) c.note(n, "dropped attribute is_test (opset 7)");
  return ok();
}

// Dropout v10: the mask output is bool (was T). A used mask gets a Cast back to T.
Status dropout_10(Ctx& c, Node*& n) {
  Value* mask = n->output(1);
  if (!mask) return ok();
  if (!used(mask)) {
    if (mask->type.is_tensor()) mask->type.elem_type = DataType::Bool;
    return ok();
  }
  EFFOPT_TRY_ASSIGN(DataType t, float_type_of(c, n, n->input(0), "the mask Cast"));
  auto [m, old] = detach_output(c, n, 1);
  m->output(1)->type = Type::tensor(DataType::Bool);
  Graph& g = *m->graph();
  Node* cast = g.create_node_with_outputs("Cast", {m->output(1)}, {old}, "", g.index_of(m) + 1);
  cast->name = c.fresh_node_name(old->name() + "_cast");
  cast->set_attr(Attribute::make_int("to", static_cast<int64_t>(t)));
  n = m;
  c.note(n, "bool mask cast back to its old type (opset 10)");
  return ok();
}

// Dropout v12: `ratio` attribute -> optional input (training_mode input added).
Status dropout_12(Ctx& c, Node*& n) {
  const Attribute* a = n->attr("ratio");
  if (!a) return ok();
  float r = a->f;
  n->remove_attr("ratio");
  Builder b(c, n);
  auto ins = n->inputs();
  ins.resize(1);
  ins.push_back(b.constant(tensor_from_values(DataType::Float, {}, {r}), "ratio"));
  n->set_inputs(std::move(ins));
  c.note(n, "ratio attribute -> input (opset 12)");
  return ok();
}

// Softmax/LogSoftmax/Hardmax v13: `axis` is a single axis (default -1);
// before, the input was coerced to 2-D at `axis` (default 1). When the axis is
// known to be the last dimension nothing changes; otherwise
// Flatten(axis) -> op(axis=-1) -> Reshape(Shape(x)), which needs no static shape.
Status softmax_13(Ctx& c, Node*& n) {
  int64_t axis = n->attr_int("axis", 1);
  Value* x = n->input(0);
  if (auto r = c.rank(x)) {
    int64_t a = axis < 0 ? axis + *r : axis;
    if (a == *r - 1) {
      n->set_attr(Attribute::make_int("axis", a));
      c.note(n, "axis=" + std::to_string(a) + " is the last dimension: same result at opset 13");
      return ok();
    }
  }
  Builder b(c, n);
  Value* flat = b.op("Flatten", {x}, Builder::attrs_of(Attribute::make_int("axis", axis)));
  Value* shp = b.op("Shape", {x});
  auto [m, y] = detach_output(c, n, 0);
  m->set_input(0, flat);
  m->set_attr(Attribute::make_int("axis", -1));
  Graph& g = *m->graph();
  Node* rs = g.create_node_with_outputs("Reshape", {m->output(0), shp}, {y}, "", g.index_of(m) + 1);
  rs->name = c.fresh_node_name(b.base + "_Reshape");
  n = m;
  c.note(n, "axis semantics 12->13 via Flatten/Reshape");
  return ok();
}

// Reshape v5: `shape` attribute -> input.
Status reshape_5(Ctx& c, Node*& n) {
  n->remove_attr("consumed_inputs");
  if (n->inputs().size() >= 2 && n->input(1)) return ok();
  if (!n->attr("shape")) return node_error(n, "Reshape-1 without a shape attribute");
  Builder b(c, n);
  ints_attr_to_input(b, n, "shape", 1);
  c.note(n, "shape attribute -> input (opset 5)");
  return ok();
}

// Split v2: the `split` input of opset 1 is an attribute.
Status split_2(Ctx& c, Node*& n) {
  if (n->inputs().size() < 2 || !n->input(1)) return ok();
  TensorPtr t = constant_tensor(n->input(1));
  auto vals = t ? tensor_ints(*t) : std::nullopt;
  if (!vals) return node_error(n, "Split-1 with a non-constant split input has no opset-2 equivalent");
  n->set_inputs({n->input(0)});
  n->set_attr(Attribute::make_ints("split", *vals));
  c.note(n, "split input -> attribute (opset 2)");
  return ok();
}

// Split v13: `split` attribute -> input.
Status split_13(Ctx& c, Node*& n) {
  if (!n->attr("split")) return ok();
  Builder b(c, n);
  ints_attr_to_input(b, n, "split", 1);
  c.note(n, "split attribute -> input (opset 13)");
  return ok();
}

// Split v18: without a split input, `num_outputs` must be given.
Status split_18(Ctx& c, Node*& n) {
  if ((n->inputs().size() >= 2 && n->input(1)) || n->attr("num_outputs")) return ok();
  n->set_attr(Attribute::make_int("num_outputs", static_cast<int64_t>(n->outputs().size())));
  c.note(n, "num_outputs=" + std::to_string(n->outputs().size()) + " (opset 18)");
  return ok();
}

// Squeeze/Unsqueeze v13, ReduceSum v13, other Reduce* v18: `axes` attribute -> input.
Status axes_to_input(Ctx& c, Node*& n) {
  const Attribute* a = n->attr("axes");
  if (!a) return ok();
  if (a->ints.empty() && n->op_type != "Unsqueeze") {  // empty list = default (all / none)
    n->remove_attr("axes");
    return ok();
  }
  Builder b(c, n);
  ints_attr_to_input(b, n, "axes", 1);
  bool at13 = n->op_type == "ReduceSum" || n->op_type == "Squeeze" || n->op_type == "Unsqueeze";
  c.note(n, std::string("axes attribute -> input (opset ") + (at13 ? "13" : "18") + ")");
  return ok();
}

// Clip v11: `min`/`max` attributes -> optional inputs of the input's type.
Status clip_11(Ctx& c, Node*& n) {
  const Attribute* amin = n->attr("min");
  const Attribute* amax = n->attr("max");
  if (!amin && !amax) return ok();
  EFFOPT_TRY_ASSIGN(DataType t, float_type_of(c, n, n->input(0), "the min/max inputs"));
  std::optional<float> lo, hi;
  if (amin) lo = amin->f;
  if (amax) hi = amax->f;
  n->remove_attr("min");
  n->remove_attr("max");
  Builder b(c, n);
  std::vector<Value*> ins{n->input(0), nullptr, nullptr};
  if (lo) ins[1] = b.constant(tensor_from_values(t, {}, {*lo}), "min");
  if (hi) ins[2] = b.constant(tensor_from_values(t, {}, {*hi}), "max");
  if (!hi) ins.pop_back();
  n->set_inputs(std::move(ins));
  c.note(n, "min/max attributes -> inputs (opset 11)");
  return ok();
}

// Pad v2: `paddings` renamed `pads`.
Status pad_2(Ctx& c, Node*& n) {
  if (Attribute* a = n->attr("paddings")) {
    a->name = "pads";
    c.note(n, "paddings -> pads (opset 2)");
  }
  return ok();
}

// Pad v11: `pads` and `value` attributes -> inputs.
Status pad_11(Ctx& c, Node*& n) {
  const Attribute* ap = n->attr("pads");
  if (!ap) return node_error(n, "Pad without pads");
  std::vector<int64_t> pads = ap->ints;
  float value = n->attr_float("value", 0.0f);
  std::string mode = n->attr_string("mode", "constant");
  n->remove_attr("pads");
  n->remove_attr("value");
  Builder b(c, n);
  std::vector<Value*> ins{n->input(0), b.i64(pads, "pads")};
  if (mode == "constant" && value != 0.0f) {
    EFFOPT_TRY_ASSIGN(DataType t, float_type_of(c, n, n->input(0), "the constant_value input"));
    ins.push_back(b.constant(tensor_from_values(t, {}, {value}), "value"));
  }
  n->set_inputs(std::move(ins));
  c.note(n, "pads/value attributes -> inputs (opset 11)");
  return ok();
}

// Upsample v7 (from opset 1, experimental): height_scale/width_scale -> scales.
Status upsample_7(Ctx& c, Node*& n) {
  const Attribute* h = n->attr("height_scale");
  const Attribute* w = n->attr("width_scale");
  if (!h && !w) return ok();
  std::vector<float> scales{1.0f, 1.0f, h ? h->f : 1.0f, w ? w->f : 1.0f};
  n->remove_attr("height_scale");
  n->remove_attr("width_scale");
  n->set_attr(Attribute::make_floats("scales", scales));
  if (n->attr_string("mode", "nearest") == "bilinear") n->set_attr(Attribute::make_string("mode", "linear"));
  c.note(n, "height_scale/width_scale -> scales (opset 7)");
  return ok();
}

// Upsample v9: `scales` attribute -> input.
Status upsample_9(Ctx& c, Node*& n) {
  const Attribute* a = n->attr("scales");
  if (!a) return ok();
  std::vector<double> s(a->floats.begin(), a->floats.end());
  n->remove_attr("scales");
  Builder b(c, n);
  Value* scales = b.constant(tensor_from_values(DataType::Float, {static_cast<int64_t>(s.size())}, s), "scales");
  n->set_inputs({n->input(0), scales});
  c.note(n, "scales attribute -> input (opset 9)");
  return ok();
}

// Upsample v10: deprecated; Resize-10 has the same inputs and semantics.
Status upsample_10(Ctx& c, Node*& n) {
  n->op_type = "Resize";
  if (n->attr_string("mode", "nearest") == "bilinear") n->set_attr(Attribute::make_string("mode", "linear"));
  c.note(n, "Upsample -> Resize (Upsample deprecated at opset 10)");
  return ok();
}

// Resize v11: roi input added; coordinate_transformation_mode (default
// half_pixel) and nearest_mode (default round_prefer_floor) added. Resize-10
// maps output to input coordinates as x/scale ("asymmetric"); its nearest
// rounding, as ONNX Runtime implements it (and ONNX's own opset-10 downsample
// test expects), is floor on upsampled axes and ceil on downsampled ones.
// Axes with scale 1 land on integers, where both agree.
Status resize_11(Ctx& c, Node*& n) {
  std::string nearest_mode;
  if (n->attr_string("mode", "nearest") == "nearest") {
    bool up = false, down = false;
    TensorPtr st = constant_tensor(n->input(1));
    if (st && st->data_type == DataType::Float && st->storage) {
      for (float s : st->as<float>()) {
        up = up || s > 1.0f;
        down = down || s < 1.0f;
      }
    } else {
      up = true;  // unknown scales: Upsample-derived models upsample
      c.note(n, "scales not constant: nearest rounding floor assumes upsampling (opset 11)");
    }
    if (up && down)
      return node_error(n, "nearest Resize-10 that upsamples some axes and downsamples others rounds differently per "
                           "axis (floor/ceil); opset 11 has a single nearest_mode");
    nearest_mode = down ? "ceil" : "floor";
  }
  Builder b(c, n);
  Value* roi = nullptr;
  if (c.to < 13) roi = b.constant(tensor_from_values(DataType::Float, {0}, {}), "roi");  // required until 13
  std::vector<Value*> ins{n->input(0), roi, n->input(1)};
  n->set_inputs(std::move(ins));
  n->set_attr(Attribute::make_string("coordinate_transformation_mode", "asymmetric"));
  if (!nearest_mode.empty()) n->set_attr(Attribute::make_string("nearest_mode", nearest_mode));
  c.note(n, "Resize-10 semantics kept: coordinate_transformation_mode=asymmetric" +
                (nearest_mode.empty() ? std::string() : ", nearest_mode=" + nearest_mode) + ", roi added (opset 11)");
  return ok();
}

// Resize v13: coordinate_transformation_mode "tf_half_pixel_for_nn" removed;
// roi/scales optional (with sizes, scales is left out).
Status resize_13(Ctx& c, Node*& n) {
  std::string ctm = n->attr_string("coordinate_transformation_mode", "half_pixel");
  if (ctm == "tf_half_pixel_for_nn") {
    // x_orig = (x + 0.5)/scale = half_pixel + 0.5: floor(h + 0.5) is
    // round_prefer_ceil(h); round_prefer_floor(h + 0.5) is ceil(h).
    if (n->attr_string("mode", "nearest") != "nearest")
      return node_error(n, "coordinate_transformation_mode=tf_half_pixel_for_nn with a non-nearest mode has no "
                           "opset-13 equivalent");
    std::string nm = n->attr_string("nearest_mode", "round_prefer_floor");
    std::string to_nm;
    if (nm == "floor") to_nm = "round_prefer_ceil";
    else if (nm == "round_prefer_floor") to_nm = "ceil";
    else
      return node_error(n, "tf_half_pixel_for_nn with nearest_mode=" + nm + " has no opset-13 equivalent");
    n->set_attr(Attribute::make_string("coordinate_transformation_mode", "half_pixel"));
    n->set_attr(Attribute::make_string("nearest_mode", to_nm));
    c.note(n, "tf_half_pixel_for_nn/" + nm + " -> half_pixel/" + to_nm + " (opset 13)");
  }
  if (n->inputs().size() > 3 && n->input(3) && n->input(2)) {
    n->set_input(2, nullptr);
    c.note(n, "scales left out since sizes is given (opset 13)");
  }
  return ok();
}

// Slice v10: starts/ends/axes attributes -> inputs (steps added).
Status slice_10(Ctx& c, Node*& n) {
  if (!n->attr("starts") || !n->attr("ends")) return ok();
  Builder b(c, n);
  bool has_axes = n->attr("axes") != nullptr;
  ints_attr_to_input(b, n, "starts", 1);
  ints_attr_to_input(b, n, "ends", 2);
  if (has_axes) ints_attr_to_input(b, n, "axes", 3);
  c.note(n, "starts/ends/axes attributes -> inputs (opset 10)");
  return ok();
}

// TopK v10: `k` attribute -> input K ([1] int64).
Status topk_10(Ctx& c, Node*& n) {
  const Attribute* a = n->attr("k");
  if (!a) return ok();
  int64_t k = a->i;
  n->remove_attr("k");
  Builder b(c, n);
  n->set_inputs({n->input(0), b.i64({k}, "k")});
  c.note(n, "k attribute -> input (opset 10)");
  return ok();
}

// Tile v6: inputs (input, tiles, axis) -> (input, repeats[rank]).
Status tile_6(Ctx& c, Node*& n) {
  if (n->inputs().size() < 3) return ok();
  TensorPtr tt = constant_tensor(n->input(1)), ta = constant_tensor(n->input(2));
  auto tiles = tt ? tensor_ints(*tt) : std::nullopt;
  auto axis = ta ? tensor_ints(*ta) : std::nullopt;
  auto r = c.rank(n->input(0));
  if (!tiles || !axis || tiles->size() != 1 || axis->size() != 1 || !r)
    return node_error(n, "Tile-1 needs constant tiles/axis and a known input rank to become Tile-6");
  int64_t a = (*axis)[0] < 0 ? (*axis)[0] + *r : (*axis)[0];
  if (a < 0 || a >= *r) return node_error(n, "Tile-1 axis out of range");
  std::vector<int64_t> reps(static_cast<size_t>(*r), 1);
  reps[static_cast<size_t>(a)] = (*tiles)[0];
  Builder b(c, n);
  n->set_inputs({n->input(0), b.i64(reps, "repeats")});
  c.note(n, "tiles/axis inputs -> repeats " + join(reps) + " (opset 6)");
  return ok();
}

// Scatter v11: deprecated; ScatterElements-11 is the same op.
Status scatter_11(Ctx& c, Node*& n) {
  n->op_type = "ScatterElements";
  c.note(n, "Scatter -> ScatterElements (Scatter deprecated at opset 11)");
  return ok();
}

// RoiAlign v16: coordinate_transformation_mode added, default half_pixel;
// opset 10 behaved as output_half_pixel.
Status roialign_16(Ctx& c, Node*& n) {
  if (n->attr("coordinate_transformation_mode")) return ok();
  n->set_attr(Attribute::make_string("coordinate_transformation_mode", "output_half_pixel"));
  c.note(n, "coordinate_transformation_mode=output_half_pixel keeps opset-10 behaviour (opset 16)");
  return ok();
}

// Scan v9: no batch axis and no sequence_lens any more. A batched Scan-8 body
// would need a Loop around it; effopt refuses.
Status scan_9(Ctx&, Node*& n) {
  return node_error(n, "Scan-8 (batched, with sequence_lens) has no direct opset-9 equivalent; "
                       "effopt does not convert it");
}

// DFT v20: `axis` attribute (default 1) -> optional input (default -2).
Status dft_20(Ctx& c, Node*& n) {
  int64_t axis = n->attr_int("axis", 1);
  n->remove_attr("axis");
  Builder b(c, n);
  auto ins = n->inputs();
  ins.resize(2, nullptr);
  ins.push_back(b.i64_scalar(axis, "axis"));
  n->set_inputs(std::move(ins));
  c.note(n, "axis attribute -> input (opset 20)");
  return ok();
}

// GridSample v20: modes renamed bilinear -> linear, bicubic -> cubic.
Status gridsample_20(Ctx& c, Node*& n) {
  std::string m = n->attr_string("mode", "");
  std::string to = m == "bilinear" ? "linear" : m == "bicubic" ? "cubic" : "";
  if (to.empty()) return ok();
  n->set_attr(Attribute::make_string("mode", to));
  c.note(n, "mode " + m + " -> " + to + " (opset 20)");
  return ok();
}

// GroupNormalization v21: scale and bias are per channel (C) instead of per
// group (num_groups); each group's value is repeated C/num_groups times. The
// first stage ran in X's type; stash_type (default float) is set to match.
Status groupnorm_21(Ctx& c, Node*& n) {
  const Attribute* ag = n->attr("num_groups");
  if (!ag) return node_error(n, "GroupNormalization without num_groups");
  int64_t G = ag->i;
  Value* X = n->input(0);
  std::optional<int64_t> C;
  if (X && X->type.is_tensor() && X->type.shape && X->type.shape->size() >= 2) C = (*X->type.shape)[1].value;
  TensorPtr ts = constant_tensor(n->input(1)), tb = constant_tensor(n->input(2));
  Builder b(c, n);
  auto repeat = [&](const TensorPtr& t, int64_t per) -> TensorPtr {
    int bits = data_type_bits(t->data_type);
    if (bits < 8 || !t->storage) return nullptr;
    size_t es = static_cast<size_t>(bits / 8);
    auto src = t->bytes();
    std::vector<std::byte> out;
    out.reserve(src.size() * static_cast<size_t>(per));
    for (size_t i = 0; i + es <= src.size(); i += es)
      for (int64_t k = 0; k < per; ++k) out.insert(out.end(), src.begin() + static_cast<std::ptrdiff_t>(i),
                                                  src.begin() + static_cast<std::ptrdiff_t>(i + es));
    return make_tensor(t->data_type, {static_cast<int64_t>(out.size() / es)}, std::move(out));
  };
  bool done = false;
  if (C && G > 0 && *C % G == 0 && ts && tb && ts->element_count() == static_cast<uint64_t>(G) &&
      tb->element_count() == static_cast<uint64_t>(G)) {
    TensorPtr ns = repeat(ts, *C / G), nb = repeat(tb, *C / G);
    if (ns && nb) {
      n->set_input(1, b.constant(ns, "scale"));
      n->set_input(2, b.constant(nb, "bias"));
      done = true;
    }
  }
  if (!done) {
    // Shape(X)[1:2] / G -> [1, C/G]; Reshape(v, [-1,1]) -> Expand -> Reshape([-1]).
    Value* cdim = b.op("Shape", {X}, [] {
      std::vector<Attribute> a;
      a.push_back(Attribute::make_int("start", 1));
      a.push_back(Attribute::make_int("end", 2));
      return a;
    }());
    Value* per = b.op("Div", {cdim, b.i64({G}, "num_groups")});
    Value* eshape = b.op("Concat", {b.i64({1}, "one"), per}, Builder::attrs_of(Attribute::make_int("axis", 0)));
    Value* s0 = b.i64({-1, 1}, "col");
    Value* s1 = b.i64({-1}, "flat");
    for (size_t i = 1; i <= 2; ++i) {
      Value* r0 = b.op("Reshape", {n->input(i), s0});
      Value* e = b.op("Expand", {r0, eshape});
      n->set_input(i, b.op("Reshape", {e, s1}));
    }
  }
  DataType t = c.elem_type(X);
  if (t != DataType::Undefined && t != DataType::Float && !n->attr("stash_type"))
    n->set_attr(Attribute::make_int("stash_type", static_cast<int64_t>(t)));
  c.note(n, std::string("per-group scale/bias -> per-channel (opset 21)") + (done ? "" : " via Shape/Expand"));
  return ok();
}

struct AdapterEntry {
  std::string op;
  int64_t version;
  AdapterFn fn;
  std::string what;
};

const std::vector<AdapterEntry>& adapter_table() {
  static const std::vector<AdapterEntry> table = [] {
    std::vector<AdapterEntry> t;
    // consumed_inputs (opset 1) removed at 6.
    for (const char* op : {"Abs", "Add", "BatchNormalization", "Ceil", "Clip", "Div", "Dropout", "Elu", "Exp", "Floor",
                           "HardSigmoid", "InstanceNormalization", "LeakyRelu", "Log", "Max", "Mean", "Min", "Mul",
                           "Neg", "PRelu", "Reciprocal", "Relu", "Sigmoid", "Sqrt", "Sub", "Sum", "Tanh"})
      t.push_back({op, 6, drop_consumed_inputs, "attribute consumed_inputs removed"});
    t.push_back({"Selu", 6, selu_6,
                 "consumed_inputs removed; defaults of alpha/gamma changed (old ones made explicit)"});
    for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Greater", "Less"})
      t.push_back({op, 7, legacy_broadcast,
                   "broadcast/axis removed for numpy broadcasting (B given trailing unit dims when axis differs)"});
    t.push_back({"Gemm", 7, gemm_7, "attribute broadcast removed (C broadcasts unidirectionally)"});
    t.push_back({"PRelu", 7, prelu_7, "slope broadcasts numpy-style; a per-channel 1-D slope becomes [C,1,...,1]"});
    t.push_back({"Cast", 6, cast_6, "attribute to: type name string -> TensorProto.DataType int"});
    t.push_back({"Concat", 4, concat_4, "axis required (opset-1 default 1 made explicit)"});
    t.push_back({"GlobalLpPool", 2, lp_pool_2, "p: float -> int"});
    t.push_back({"LpPool", 2, lp_pool_2, "p: float -> int; kernel_shape required"});
    t.push_back({"GRU", 3, gru_3, "direction default spelled 'forward' ('foward' renamed)"});
    for (const char* op : {"GRU", "LSTM", "RNN"})
      t.push_back({op, 7, rnn_7, "attribute output_sequence removed"});
    t.push_back({"BatchNormalization", 7, bn_7, "attribute is_test removed"});
    t.push_back({"BatchNormalization", 9, bn_9, "attribute spatial removed (spatial=0 expanded to arithmetic)"});
    t.push_back({"BatchNormalization", 14, bn_14,
                 "training_mode added; outputs beyond Y only in training (unused ones dropped)"});
    t.push_back({"Dropout", 7, dropout_7, "attribute is_test removed"});
    t.push_back({"Dropout", 10, dropout_10, "mask output is bool (a used mask is cast back)"});
    t.push_back({"Dropout", 12, dropout_12, "ratio attribute -> input"});
    for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"})
      t.push_back({op, 13, softmax_13,
                   "axis is one axis (default -1) instead of a 2-D coercion point: kept when last, else "
                   "Flatten -> op -> Reshape(Shape(x))"});
    t.push_back({"Reshape", 5, reshape_5, "shape attribute -> input"});
    t.push_back({"Split", 2, split_2, "split input -> attribute"});
    t.push_back({"Split", 13, split_13, "split attribute -> input"});
    t.push_back({"Split", 18, split_18, "num_outputs set when no split input is given"});
    t.push_back({"Squeeze", 13, axes_to_input, "axes attribute -> input"});
    t.push_back({"Unsqueeze", 13, axes_to_input, "axes attribute -> input"});
    t.push_back({"ReduceSum", 13, axes_to_input, "axes attribute -> input"});
    for (const char* op : {"ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
                           "ReduceMin", "ReduceProd", "ReduceSumSquare"})
      t.push_back({op, 18, axes_to_input, "axes attribute -> input"});
    t.push_back({"Clip", 11, clip_11, "min/max attributes -> inputs"});
    t.push_back({"Pad", 2, pad_2, "attribute paddings renamed pads"});
    t.push_back({"Pad", 11, pad_11, "pads/value attributes -> inputs"});
    t.push_back({"Upsample", 7, upsample_7, "height_scale/width_scale -> scales"});
    t.push_back({"Upsample", 9, upsample_9, "scales attribute -> input"});
    t.push_back({"Upsample", 10, upsample_10, "deprecated: becomes Resize-10 (same semantics)"});
    t.push_back({"Resize", 11, resize_11,
                 "roi input and coordinate modes added: asymmetric, nearest floor (upsampling) or ceil "
                 "(downsampling) set to keep opset-10 semantics"});
    t.push_back({"Resize", 13, resize_13, "tf_half_pixel_for_nn removed (mapped to half_pixel); scales optional"});
    t.push_back({"Slice", 10, slice_10, "starts/ends/axes attributes -> inputs"});
    t.push_back({"TopK", 10, topk_10, "k attribute -> input"});
    t.push_back({"Tile", 6, tile_6, "tiles/axis inputs -> repeats input"});
    t.push_back({"Scatter", 11, scatter_11, "deprecated: becomes ScatterElements"});
    t.push_back({"RoiAlign", 16, roialign_16, "coordinate_transformation_mode added (output_half_pixel kept)"});
    t.push_back({"Scan", 9, scan_9, "batch axis and sequence_lens removed: refused"});
    t.push_back({"DFT", 20, dft_20, "axis attribute -> input (default changed 1 -> -2)"});
    t.push_back({"GridSample", 20, gridsample_20, "modes renamed bilinear -> linear, bicubic -> cubic"});
    t.push_back({"GroupNormalization", 21, groupnorm_21, "scale/bias per channel instead of per group"});
    return t;
  }();
  return table;
}

// ------------------------------------------------------------------ legacy ops
// Experimental ops of ONNX <= 1.4, gone from the standard: expanded into
// standard ops built for the target opset, or refused.

Expected<float> float_attr(const Node* n, const char* name, float def) {
  const Attribute* a = n->attr(name);
  if (!a) return def;
  if (a->type != AttrType::Float) return node_error(n, std::string("attribute ") + name + " is not a float");
  return a->f;
}

Status legacy_scale_shift(Ctx& c, Node*& n) {
  // y = x * mul + add, per op.
  const std::string op = n->op_type;
  Value* x = n->input(0);
  EFFOPT_TRY_ASSIGN(DataType t, float_type_of(c, n, x, "the expansion of " + op));
  Builder b(c, n);
  if (op == "Scale") {
    EFFOPT_TRY_ASSIGN(float s, float_attr(n, "scale", 1.0f));
    n = finish_as(c, n, "Mul", {x, b.constant(tensor_from_values(t, {}, {s}), "scale")});
  } else if (op == "Affine") {
    EFFOPT_TRY_ASSIGN(float alpha, float_attr(n, "alpha", 1.0f));
    EFFOPT_TRY_ASSIGN(float beta, float_attr(n, "beta", 0.0f));
    Value* m = b.op("Mul", {x, b.constant(tensor_from_values(t, {}, {alpha}), "alpha")});
    n = finish_as(c, n, "Add", {m, b.constant(tensor_from_values(t, {}, {beta}), "beta")});
  } else if (op == "ScaledTanh" || op == "ParametricSoftplus") {
    EFFOPT_TRY_ASSIGN(float alpha, float_attr(n, "alpha", 1.0f));
    EFFOPT_TRY_ASSIGN(float beta, float_attr(n, "beta", 1.0f));
    Value* m = b.op("Mul", {x, b.constant(tensor_from_values(t, {}, {beta}), "beta")});
    Value* f = b.op(op == "ScaledTanh" ? "Tanh" : "Softplus", {m});
    n = finish_as(c, n, "Mul", {f, b.constant(tensor_from_values(t, {}, {alpha}), "alpha")});
  } else if (op == "ImageScaler") {
    EFFOPT_TRY_ASSIGN(float s, float_attr(n, "scale", 1.0f));
    std::vector<float> bias = n->attr("bias") ? n->attr("bias")->floats : std::vector<float>{};
    Value* v = b.op("Mul", {x, b.constant(tensor_from_values(t, {}, {s}), "scale")});
    std::vector<double> bd(bias.begin(), bias.end());
    int64_t C = static_cast<int64_t>(bd.size());
    if (bd.empty()) n = finish_as(c, n, "Identity", {v});
    else n = finish_as(c, n, "Add", {v, b.constant(tensor_from_values(t, {1, C, 1, 1}, bd), "bias")});
  }
  c.note(n, op + " (experimental, removed from ONNX) expanded to standard ops");
  n = nullptr;
  return ok();
}

Status legacy_thresholded_relu(Ctx& c, Node*& n) {
  if (c.to >= 10) {
    c.note(n, "experimental ThresholdedRelu -> ThresholdedRelu-10 (same semantics)");
    n = nullptr;
    return ok();
  }
  Value* x = n->input(0);
  EFFOPT_TRY_ASSIGN(DataType t, float_type_of(c, n, x, "the expansion of ThresholdedRelu"));
  EFFOPT_TRY_ASSIGN(float alpha, float_attr(n, "alpha", 1.0f));
  Builder b(c, n);
  Value* gt = b.op("Greater", {x, b.constant(tensor_from_values(t, {}, {alpha}), "alpha")});
  Value* mask = b.op("Cast", {gt}, Builder::attrs_of(Attribute::make_int("to", static_cast<int64_t>(t))));
  n = finish_as(c, n, "Mul", {x, mask});
  c.note(n, "experimental ThresholdedRelu expanded to Greater/Cast/Mul");
  n = nullptr;
  return ok();
}

Status legacy_crop(Ctx& c, Node*& n) {
  std::vector<int64_t> border = n->attr_ints("border");
  std::vector<int64_t> scale = n->attr_ints("scale");
  if (border.size() != 4) return node_error(n, "Crop needs border=[left,top,right,bottom]");
  if (!scale.empty() && scale.size() != 2) return node_error(n, "Crop scale must be [height,width]");
  constexpr int64_t kEnd = std::numeric_limits<int64_t>::max();
  int64_t left = border[0], top = border[1], right = border[2], bottom = border[3];
  std::vector<int64_t> starts{top, left}, ends;
  if (!scale.empty()) ends = {top + scale[0], left + scale[1]};
  else ends = {bottom ? -bottom : kEnd, right ? -right : kEnd};
  std::vector<int64_t> axes{2, 3};
  Value* x = n->input(0);
  if (c.to >= 10) {
    Builder b(c, n);
    Value* s = b.i64(starts, "starts");
    Value* e = b.i64(ends, "ends");
    Value* a = b.i64(axes, "axes");
    n = finish_as(c, n, "Slice", {x, s, e, a});
  } else {
    std::vector<Attribute> attrs;
    attrs.push_back(Attribute::make_ints("starts", starts));
    attrs.push_back(Attribute::make_ints("ends", ends));
    attrs.push_back(Attribute::make_ints("axes", axes));
    n = finish_as(c, n, "Slice", {x}, std::move(attrs));
  }
  c.note(n, "experimental Crop expanded to Slice");
  n = nullptr;
  return ok();
}

Status legacy_dynamic_slice(Ctx& c, Node*& n) {
  if (c.to < 10) return node_error(n, "experimental DynamicSlice needs opset 10 or later (Slice with inputs)");
  n->op_type = "Slice";
  c.note(n, "experimental DynamicSlice -> Slice-10 (same inputs)");
  n = nullptr;
  return ok();
}

Status legacy_fill(Ctx& c, Node*& n) {
  const std::string op = n->op_type;
  if (op == "GivenTensorFill") {
    if (!n->inputs().empty() || !n->attr("values"))
      return node_error(n, "only GivenTensorFill with values and no inputs is converted");
    std::vector<int64_t> shape = n->attr_ints("shape");
    const auto& vals = n->attr("values")->floats;
    std::vector<double> v(vals.begin(), vals.end());
    if (shape.empty()) shape = {static_cast<int64_t>(v.size())};
    TensorPtr t = tensor_from_values(DataType::Float, shape, v);
    if (!t->element_count() || *t->element_count() != v.size())
      return node_error(n, "GivenTensorFill shape does not match its values");
    n = finish_as(c, n, "Constant", {}, Builder::attrs_of(Attribute::make_tensor("value", t)));
  } else {  // ConstantFill
    DataType dt = static_cast<DataType>(n->attr_int("dtype", 1));
    float value = n->attr_float("value", 0.0f);
    if (n->attr_int("input_as_shape", 0)) {
      if (c.to < 9) return node_error(n, "ConstantFill with input_as_shape needs opset 9 (ConstantOfShape)");
      if (!n->attr_ints("extra_shape").empty()) return node_error(n, "ConstantFill extra_shape is not converted");
      TensorPtr t = tensor_from_values(dt, {1}, {value});
      if (!t) return node_error(n, "unsupported ConstantFill dtype");
      n = finish_as(c, n, "ConstantOfShape", {n->input(0)}, Builder::attrs_of(Attribute::make_tensor("value", t)));
    } else {
      if (!n->inputs().empty()) return node_error(n, "ConstantFill shaped like an input is not converted");
      std::vector<int64_t> shape = n->attr_ints("shape");
      for (int64_t d : n->attr_ints("extra_shape")) shape.push_back(d);
      uint64_t count = 1;
      for (int64_t d : shape) count *= static_cast<uint64_t>(std::max<int64_t>(d, 0));
      if (count > (1u << 26)) return node_error(n, "ConstantFill too large to materialize");
      TensorPtr t = tensor_from_values(dt, shape, std::vector<double>(count, value));
      if (!t) return node_error(n, "unsupported ConstantFill dtype");
      n = finish_as(c, n, "Constant", {}, Builder::attrs_of(Attribute::make_tensor("value", t)));
    }
  }
  c.note(n, "experimental " + op + " -> " + n->op_type);
  n = nullptr;
  return ok();
}

struct LegacyEntry {
  std::string op;
  AdapterFn fn;  // nullptr: refused
  std::string what;
};

const std::vector<LegacyEntry>& legacy_table() {
  static const std::vector<LegacyEntry> t = {
      {"ImageScaler", legacy_scale_shift, "y = x*scale + bias[c]: Mul + Add"},
      {"Affine", legacy_scale_shift, "y = alpha*x + beta: Mul + Add"},
      {"Scale", legacy_scale_shift, "y = scale*x: Mul"},
      {"ScaledTanh", legacy_scale_shift, "y = alpha*tanh(beta*x): Mul + Tanh + Mul"},
      {"ParametricSoftplus", legacy_scale_shift, "y = alpha*softplus(beta*x): Mul + Softplus + Mul"},
      {"ThresholdedRelu", legacy_thresholded_relu, "ThresholdedRelu-10 from opset 10, else Greater/Cast/Mul"},
      {"Crop", legacy_crop, "Slice on H and W"},
      {"DynamicSlice", legacy_dynamic_slice, "Slice-10 (opset 10 or later)"},
      {"GivenTensorFill", legacy_fill, "Constant (no inputs only)"},
      {"ConstantFill", legacy_fill, "Constant, or ConstantOfShape with input_as_shape"},
      {"ATen", nullptr, "refused: PyTorch fallback op"},
      {"GRUUnit", nullptr, "refused"},
      {"FC", nullptr, "refused (removed in ONNX 1.2)"},
      {"MeanVarianceNormalization", nullptr, "refused before opset 9 (experimental, different statistics)"},
  };
  return t;
}

// ------------------------------------------------------------------ driver

bool has_attr_refs(const Node* n) {
  for (auto& a : n->attributes)
    if (!a.ref_attr_name.empty()) return true;
  return false;
}

Status run_adapters(Ctx& c, Node*& n, int64_t version) {
  for (const auto& e : adapter_table()) {
    if (!n) return ok();
    if (e.version != version || e.op != n->op_type) continue;
    if (has_attr_refs(n))
      return node_error(n, "attributes referring to function attributes cannot be converted (" + e.what + ")");
    EFFOPT_TRY(e.fn(c, n));
  }
  return ok();
}

Status upgrade_node(Ctx& c, Node* n) {
  int64_t cur = onnx_op_version(n->op_type, c.from);
  if (cur == 0) {
    for (const auto& e : legacy_table()) {
      if (e.op != n->op_type) continue;
      if (!e.fn)
        return node_error(n, "experimental op removed from the ONNX standard; effopt cannot convert it (" + e.what +
                                 ")");
      return e.fn(c, n);
    }
    return node_error(n, "'" + n->op_type + "' is not an operator of the default ONNX domain at opset " +
                             std::to_string(c.from));
  }
  if (schema_deprecated(n->op_type, c.from)) {  // e.g. Upsample at opset 10+, Scatter at 11+
    std::string op = n->op_type;
    EFFOPT_TRY(run_adapters(c, n, cur));
    if (!n) return ok();
    if (n->op_type == op) return node_error(n, "deprecated op at opset " + std::to_string(c.from));
    cur = onnx_op_version(n->op_type, cur);
  }
  while (n) {
    int64_t next = 0;
    for (int64_t v = cur + 1; v <= c.to; ++v)
      if (onnx_op_version(n->op_type, v) == v) { next = v; break; }
    if (!next) break;
    EFFOPT_TRY(run_adapters(c, n, next));
    if (!n) break;
    cur = onnx_op_version(n->op_type, next);
    if (cur == 0) return internal_error("adapter left " + describe(n) + " unknown at opset " + std::to_string(next));
  }
  return ok();
}

Status check_downgrade(Ctx& c, const Node* n) {
  int64_t v = onnx_op_version(n->op_type, c.from);
  if (v == 0)
    return node_error(n, "'" + n->op_type + "' is not an operator of the default ONNX domain at opset " +
                             std::to_string(c.from));
  if (v > c.to) {
    if (onnx_op_version(n->op_type, c.to) == 0)
      return node_error(n, "cannot downgrade: " + n->op_type + " does not exist at opset " + std::to_string(c.to));
    return node_error(n, "cannot downgrade: " + n->op_type + " changed at opset " + std::to_string(v) +
                             ", after the target opset " + std::to_string(c.to) +
                             " (effopt only downgrades ops unchanged across the range)");
  }
  return ok();
}

Status convert_graph(Ctx& c, Graph& g) {
  std::vector<Node*> snapshot;
  for (auto& n : g.nodes()) snapshot.push_back(n.get());
  for (Node* n : snapshot) {
    for (Graph* sg : n->subgraphs()) EFFOPT_TRY(convert_graph(c, *sg));
    if (!is_onnx_domain(n->domain)) continue;
    if (c.to < c.from) EFFOPT_TRY(check_downgrade(c, n));
    else EFFOPT_TRY(upgrade_node(c, n));
  }
  return ok();
}

void prune(Graph& g) {
  for (auto& n : g.nodes())
    for (Graph* sg : n->subgraphs()) prune(*sg);
  g.prune_dead_values();
}

void set_import(std::vector<OpsetImport>& imports, int64_t version) {
  for (auto& o : imports)
    if (is_onnx_domain(o.domain)) { o.version = version; return; }
  imports.push_back({"", version});
}

int64_t default_import(const std::vector<OpsetImport>& imports) {
  for (auto& o : imports)
    if (is_onnx_domain(o.domain)) return o.version;
  return 0;
}

bool has_default_domain_nodes(const Graph& g) {
  for (auto& n : g.nodes()) {
    if (is_onnx_domain(n->domain)) return true;
    for (Graph* sg : n->subgraphs())
      if (has_default_domain_nodes(*sg)) return true;
  }
  return false;
}

}  // namespace

int64_t onnx_op_version(const std::string& op, int64_t opset) {
  if (opset < 1) return 0;
  for (auto it = newer_opsets().rbegin(); it != newer_opsets().rend(); ++it)
    if (it->version <= opset && std::find(it->ops.begin(), it->ops.end(), op) != it->ops.end()) return it->version;
  const auto* s = registry_schema(op, opset);
  return s ? s->since_version() : 0;
}

int64_t min_ir_version_for_opset(int64_t opset) {
  if (opset <= 8) return 3;
  if (opset == 9) return 4;
  if (opset == 10) return 5;
  if (opset == 11) return 6;
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

Status convert_opset(Model& model, int64_t target, OpsetConvertStats* stats) {
  if (target < kMinTarget || target > kMaxTarget)
    return usage_error("target opset " + std::to_string(target) + " is outside the supported range " +
                       std::to_string(kMinTarget) + ".." + std::to_string(kMaxTarget));
  if (!model.graph) return invalid_model("model has no graph");
  int64_t from = model.opset("");
  if (from == 0 && has_default_domain_nodes(*model.graph))
    return invalid_model("the model uses default-domain ops but imports no default-domain opset");
  if (from == target) return ok();

  Ctx c(model);
  c.to = target;
  c.stats = stats;
  c.ir3 = std::max(model.ir_version, min_ir_version_for_opset(target)) < 4;
  collect_names(c, *model.graph);
  for (auto& f : model.functions)
    if (f.body) collect_names(c, *f.body);

  if (from != 0) {
    c.from = from;
    EFFOPT_TRY(convert_graph(c, *model.graph));
  }
  for (auto& f : model.functions) {
    int64_t ffrom = default_import(f.opset_imports);
    if (ffrom == 0) ffrom = from;
    if (ffrom == 0 || ffrom == target || !f.body) {
      if (ffrom != 0) set_import(f.opset_imports, target);
      continue;
    }
    c.from = ffrom;
    c.in_function = true;
    c.elem_cache.clear();
    c.rank_cache.clear();
    if (auto st = convert_graph(c, *f.body); !st) {
      Error e = std::move(st).error();
      e.context("in function '" + f.name + "'");
      return e;
    }
    c.in_function = false;
    set_import(f.opset_imports, target);
  }

  prune(*model.graph);
  for (auto& f : model.functions)
    if (f.body) prune(*f.body);
  set_import(model.opset_imports, target);  // every spelling of the default domain
  for (auto& o : model.opset_imports)
    if (is_onnx_domain(o.domain)) o.version = target;
  model.ir_version = std::max(model.ir_version, min_ir_version_for_opset(target));
  return ok();
}

std::vector<OpsetAdapterInfo> opset_adapters() {
  std::vector<OpsetAdapterInfo> out;
  for (const auto& e : adapter_table()) out.push_back({e.op, e.version, e.what});
  return out;
}

std::vector<OpsetAdapterInfo> legacy_op_handlers() {
  std::vector<OpsetAdapterInfo> out;
  for (const auto& e : legacy_table()) out.push_back({e.op, 0, e.what});
  return out;
}

}  // namespace effopt
