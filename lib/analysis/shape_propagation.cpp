#include "analysis/shape_propagation.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <set>
#include <unordered_map>

#include "ir/constants.h"

namespace effopt {

namespace {

using Shape = std::vector<Dim>;
using Ints = std::vector<int64_t>;

constexpr size_t kMaxValueElems = 64;  // values tracked: small integer tensors (shapes)

std::optional<Shape> shape_of(const Value* v) {
  if (!v) return std::nullopt;
  if (v->type.kind == Type::Kind::Tensor && v->type.shape) return *v->type.shape;
  if (TensorPtr t = constant_tensor(v)) {
    Shape s;
    for (int64_t d : t->dims) s.push_back(Dim::known(d));
    return s;
  }
  return std::nullopt;
}

DataType elem_of(const Value* v) {
  if (!v) return DataType::Undefined;
  if (v->type.elem_type != DataType::Undefined) return v->type.elem_type;
  if (TensorPtr t = constant_tensor(v)) return t->data_type;
  return DataType::Undefined;
}

bool all_known(const Shape& s) {
  return std::all_of(s.begin(), s.end(), [](const Dim& d) { return d.is_known(); });
}

// Dim and shape-value arithmetic: the numbers come from the model or --shape and may be anything, so a
// result that does not fit in int64 is unknown (nullopt, Dim{}) instead of undefined behaviour.
std::optional<int64_t> add_i64(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? std::nullopt : std::optional<int64_t>(r);
}
std::optional<int64_t> sub_i64(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_sub_overflow(a, b, &r) ? std::nullopt : std::optional<int64_t>(r);
}
std::optional<int64_t> mul_i64(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? std::nullopt : std::optional<int64_t>(r);
}
std::optional<int64_t> div_i64(int64_t a, int64_t b) {
  if (b == 0 || (a == INT64_MIN && b == -1)) return std::nullopt;
  return a / b;
}
// The product of dims, nullopt on overflow.
std::optional<int64_t> product_i64(const Ints& v) {
  std::optional<int64_t> p = 1;
  for (int64_t x : v)
    if (p) p = mul_i64(*p, x);
  return p;
}
Dim dim_or_unknown(std::optional<int64_t> v) { return v ? Dim::known(*v) : Dim{}; }

Dim dim_add(const Dim& a, int64_t k) { return a.is_known() ? dim_or_unknown(add_i64(*a.value, k)) : Dim{}; }

std::optional<Ints> ints_of_tensor(const Tensor& t) {
  auto n = t.element_count();
  if (!n || *n > kMaxValueElems) return std::nullopt;
  Ints out;
  if (t.data_type == DataType::Int64 && t.byte_size() >= *n * 8) {
    for (uint64_t i = 0; i < *n; ++i) { int64_t x; std::memcpy(&x, t.bytes().data() + i * 8, 8); out.push_back(x); }
    return out;
  }
  if (t.data_type == DataType::Int32 && t.byte_size() >= *n * 4) {
    for (uint64_t i = 0; i < *n; ++i) { int32_t x; std::memcpy(&x, t.bytes().data() + i * 4, 4); out.push_back(x); }
    return out;
  }
  return std::nullopt;
}

std::optional<std::vector<float>> floats_of(const Value* v) {
  TensorPtr t = v ? constant_tensor(v) : nullptr;
  if (!t || t->data_type != DataType::Float) return std::nullopt;
  auto n = t->element_count();
  if (!n || *n > kMaxValueElems || t->byte_size() < *n * 4) return std::nullopt;
  std::vector<float> out(*n);
  if (*n) std::memcpy(out.data(), t->bytes().data(), *n * 4);
  return out;
}

int64_t norm_axis(int64_t a, size_t rank) { return a < 0 ? a + static_cast<int64_t>(rank) : a; }

// Numpy broadcasting of shapes; nullopt if incompatible known dims.
std::optional<Shape> broadcast(const std::vector<Shape>& shapes) {
  size_t rank = 0;
  for (auto& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, Dim::known(1));
  for (size_t i = 0; i < rank; ++i) {
    bool first = true;
    Dim r = Dim::known(1);
    for (auto& s : shapes) {
      if (i + s.size() < rank) continue;
      const Dim& d = s[i + s.size() - rank];
      if (d.is_known() && *d.value == 1) continue;
      if (first || (r.is_known() && *r.value == 1)) { r = d; first = false; continue; }
      if (d == r) continue;
      if (d.is_known() && r.is_known()) return std::nullopt;
      if (!r.is_known() && d.is_known()) r = d;  // the known one wins (the other must be equal or 1)
      else if (!r.is_known() && !d.is_known() && r.param != d.param) r = Dim{};
    }
    out[i] = r;
  }
  return out;
}

// Same dims, each known and equal or symbolic with the same name.
bool same_shape(const std::optional<Shape>& a, const std::optional<Shape>& b) {
  if (!a || !b || a->size() != b->size()) return false;
  for (size_t i = 0; i < a->size(); ++i) {
    const Dim &x = (*a)[i], &y = (*b)[i];
    if (x.is_known() != y.is_known()) return false;
    if (x.is_known() ? *x.value != *y.value : (x.param.empty() || x.param != y.param)) return false;
  }
  return true;
}

// What two shapes have in common (If branches, a loop state before and after).
std::optional<Shape> shape_union(const std::optional<Shape>& a, const std::optional<Shape>& b) {
  if (!a || !b || a->size() != b->size()) return std::nullopt;
  Shape o;
  for (size_t i = 0; i < a->size(); ++i) o.push_back(same_shape(Shape{(*a)[i]}, Shape{(*b)[i]}) ? (*a)[i] : Dim{});
  return o;
}

class Propagator {
 public:
  Propagator(ShapeInferenceStats& st, int64_t opset) : stats_(st), opset_(opset) {}

  void run_graph(Graph& g) {
    for (auto& up : g.nodes()) {
      Node& n = *up;
      if (is_onnx_domain(n.domain) && n.op_type == "If") { if_op(n); continue; }
      if (is_onnx_domain(n.domain) && n.op_type == "Loop") { loop_op(n); continue; }
      if (is_onnx_domain(n.domain) && n.op_type == "Scan" && opset_ >= 9) { scan_op(n); continue; }
      if (is_onnx_domain(n.domain)) node(n);
      else if (n.domain == "com.microsoft" && n.op_type == "MatMulNBits") matmul_nbits(n);
      for (Graph* sg : n.subgraphs()) run_graph(*sg);
    }
  }

 private:
  ShapeInferenceStats& stats_;
  int64_t opset_;
  std::unordered_map<const Value*, Ints> vals_;

  Graph* body_attr(Node& n, const char* name) {
    Attribute* a = n.attr(name);
    return a && a->g ? a->g.get() : nullptr;
  }

  void if_op(Node& n) {
    Graph* t = body_attr(n, "then_branch");
    Graph* e = body_attr(n, "else_branch");
    if (t) run_graph(*t);
    if (e) run_graph(*e);
    if (!t || !e || t->outputs().size() != n.outputs().size() || e->outputs().size() != n.outputs().size()) return;
    std::optional<bool> c = constant_condition(n.input(0));
    for (size_t i = 0; i < n.outputs().size(); ++i) {
      const Value *tv = t->outputs()[i], *ev = e->outputs()[i];
      if (c) { const Value* v = *c ? tv : ev; set(n.output(i), elem_of(v), shape_of(v)); continue; }
      DataType dt = elem_of(tv) != DataType::Undefined ? elem_of(tv) : elem_of(ev);
      set(n.output(i), dt, shape_union(shape_of(tv), shape_of(ev)));
    }
  }

  // Runs a Loop or Scan body whose `fixed` inputs get the given types and
  // whose state inputs start as the outer values do. A state shape is kept
  // only if one iteration gives it back unchanged (then every iteration
  // does): otherwise the body is run again with that state's element type
  // only, from a snapshot of the types it had before.
  struct State { Value* body_in; const Value* outer; const Value* body_out; };
  void run_body(Graph& body, const std::vector<std::pair<Value*, Type>>& fixed, const std::vector<State>& states) {
    std::vector<std::pair<Value*, Type>> snapshot;
    for_each_graph(body, [&](Graph& g) { for (auto& v : g.values()) snapshot.emplace_back(v.get(), v->type); });
    const auto vals_before = vals_;
    const size_t refined_before = stats_.values_refined;
    std::vector<bool> with_shape(states.size());
    for (size_t k = 0; k < states.size(); ++k) with_shape[k] = shape_of(states[k].outer).has_value();
    for (size_t attempt = 0; attempt <= states.size(); ++attempt) {
      if (attempt > 0) {
        for (auto& [v, t] : snapshot) v->type = t;
        vals_ = vals_before;
        stats_.values_refined = refined_before;
      }
      for (auto& [v, t] : fixed) set(v, t.elem_type, t.shape);
      for (size_t k = 0; k < states.size(); ++k)
        set(states[k].body_in, elem_of(states[k].outer),
            with_shape[k] ? shape_of(states[k].outer) : std::optional<Shape>{});
      run_graph(body);
      bool stable = true;
      for (size_t k = 0; k < states.size(); ++k)
        if (with_shape[k] && !same_shape(shape_of(states[k].body_in), shape_of(states[k].body_out))) {
          with_shape[k] = false;
          stable = false;
        }
      if (stable) return;
    }
  }

  void loop_op(Node& n) {
    Graph* body = body_attr(n, "body");
    if (!body) return;
    const size_t carried = n.inputs().size() >= 2 ? n.inputs().size() - 2 : 0;
    if (body->inputs().size() != carried + 2 || body->outputs().size() < carried + 1 ||
        body->outputs().size() - 1 != n.outputs().size()) {
      run_graph(*body);
      return;
    }
    std::vector<std::pair<Value*, Type>> fixed = {{body->inputs()[0], Type::tensor(DataType::Int64, Shape{})},
                                                 {body->inputs()[1], Type::tensor(DataType::Bool, Shape{})}};
    std::vector<State> states;
    for (size_t k = 0; k < carried; ++k) states.push_back({body->inputs()[2 + k], n.input(2 + k), body->outputs()[1 + k]});
    run_body(*body, fixed, states);
    for (size_t k = 0; k < carried; ++k) {
      // After zero iterations a state is its initial value: the output is what both have in common.
      const Value* out = body->outputs()[1 + k];
      DataType dt = elem_of(n.input(2 + k)) != DataType::Undefined ? elem_of(n.input(2 + k)) : elem_of(out);
      set(n.output(k), dt, shape_union(shape_of(n.input(2 + k)), shape_of(out)));
    }
    LoopTripCount tc = loop_trip_count(n);
    for (size_t j = carried; j < n.outputs().size(); ++j) {
      const Value* out = body->outputs()[1 + j];
      auto s = shape_of(out);
      if (!s) { set(n.output(j), elem_of(out), std::nullopt); continue; }
      Shape o{tc.trips && !tc.may_stop_early ? Dim::known(*tc.trips) : Dim{}};
      o.insert(o.end(), s->begin(), s->end());
      set(n.output(j), elem_of(out), o);
    }
  }

  void scan_op(Node& n) {
    Graph* body = body_attr(n, "body");
    if (!body) return;
    const size_t scans = static_cast<size_t>(std::max<int64_t>(0, n.attr_int("num_scan_inputs", 0)));
    if (scans > n.inputs().size() || body->inputs().size() != n.inputs().size() ||
        body->outputs().size() != n.outputs().size()) {
      run_graph(*body);
      return;
    }
    const size_t states_n = n.inputs().size() - scans;
    if (states_n > n.outputs().size()) { run_graph(*body); return; }
    Ints in_axes = n.attr_ints("scan_input_axes", Ints(scans, 0));
    Ints out_axes = n.attr_ints("scan_output_axes", Ints(n.outputs().size() - states_n, 0));
    std::vector<std::pair<Value*, Type>> fixed;
    for (size_t j = 0; j < scans && j < in_axes.size(); ++j) {
      const Value* in = n.input(states_n + j);
      auto s = shape_of(in);
      Type t = Type::tensor(elem_of(in));
      if (s && !s->empty()) {
        int64_t ax = norm_axis(in_axes[j], s->size());
        if (ax >= 0 && ax < static_cast<int64_t>(s->size())) {
          Shape e = *s;
          e.erase(e.begin() + ax);
          t.shape = e;
        }
      }
      fixed.emplace_back(body->inputs()[states_n + j], t);
    }
    std::vector<State> states;
    for (size_t k = 0; k < states_n; ++k) states.push_back({body->inputs()[k], n.input(k), body->outputs()[k]});
    run_body(*body, fixed, states);
    for (size_t k = 0; k < states_n; ++k) {
      const Value* out = body->outputs()[k];
      DataType dt = elem_of(n.input(k)) != DataType::Undefined ? elem_of(n.input(k)) : elem_of(out);
      set(n.output(k), dt, shape_union(shape_of(n.input(k)), shape_of(out)));
    }
    std::string why;
    auto iters = scan_iterations(n, &why);
    for (size_t j = states_n; j < n.outputs().size(); ++j) {
      const Value* out = body->outputs()[j];
      auto s = shape_of(out);
      if (!s || j - states_n >= out_axes.size()) { set(n.output(j), elem_of(out), std::nullopt); continue; }
      int64_t ax = norm_axis(out_axes[j - states_n], s->size() + 1);
      if (ax < 0 || ax > static_cast<int64_t>(s->size())) continue;
      Shape o = *s;
      o.insert(o.begin() + ax, iters ? Dim::known(*iters) : Dim{});
      set(n.output(j), elem_of(out), o);
    }
  }

  std::optional<Ints> val(const Value* v) {
    if (!v) return std::nullopt;
    if (auto it = vals_.find(v); it != vals_.end()) return it->second;
    if (TensorPtr t = constant_tensor(v)) return ints_of_tensor(*t);
    return std::nullopt;
  }
  void set_val(const Value* v, Ints x) {
    if (v && x.size() <= kMaxValueElems) vals_[v] = std::move(x);
  }

  void set(Value* v, DataType dt, std::optional<Shape> s) {
    if (!v) return;
    Type t = Type::tensor(dt, std::move(s));
    if (refine_type(v->type, t)) ++stats_.values_refined;
  }
  void same_as(Node& n, const Value* from, size_t out = 0) {
    auto s = shape_of(from);
    set(n.output(out), elem_of(from), s);
  }

  std::vector<int64_t> axes_of(Node& n, size_t input_index) {
    if (auto a = n.attr("axes")) return a->ints;
    if (auto v = val(n.input(input_index))) return *v;
    return {};
  }

  void node(Node& n) {
    const std::string& op = n.op_type;
    static const std::set<std::string> unary = {
        "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Exp", "Log", "Sqrt", "Neg",
        "Abs", "Erf", "Softmax", "LogSoftmax", "Dropout", "BatchNormalization", "LRN", "InstanceNormalization",
        "LayerNormalization", "Identity", "Elu", "Selu", "PRelu", "Not", "Reciprocal", "Floor", "Ceil", "Round",
        "Sign", "Sin", "Cos", "Softplus", "Softsign", "Gelu", "ThresholdedRelu", "Celu", "Mish", "Hardmax",
        "MeanVarianceNormalization", "IsNaN", "IsInf", "Shrink"};
    static const std::set<std::string> binary = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean",
                                                 "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
                                                 "And", "Or", "Xor", "Mod", "Where", "BitShift"};
    if (unary.count(op)) {
      if (op == "Identity") { if (auto v = val(n.input(0))) set_val(n.output(0), *v); }
      same_as(n, n.input(0));
      if (op == "Dropout" && n.output(1)) set(n.output(1), DataType::Bool, shape_of(n.input(0)));
      return;
    }
    if (binary.count(op)) { binary_op(n); return; }
    if (op == "Constant") {
      if (TensorPtr t = constant_tensor(n.output(0))) {
        if (auto v = ints_of_tensor(*t)) set_val(n.output(0), *v);
      }
      return;
    }
    if (op == "Shape") { shape_op(n); return; }
    if (op == "Size") {
      auto s = shape_of(n.input(0));
      if (s && all_known(*s)) {
        Ints dims;
        for (auto& d : *s) dims.push_back(*d.value);
        if (auto p = product_i64(dims)) set_val(n.output(0), {*p});
      }
      set(n.output(0), DataType::Int64, Shape{});
      return;
    }
    if (op == "Cast") {
      auto to = static_cast<DataType>(n.attr_int("to", 0));
      if (auto v = val(n.input(0)); v && (to == DataType::Int64 || to == DataType::Int32)) set_val(n.output(0), *v);
      set(n.output(0), to, shape_of(n.input(0)));
      return;
    }
    if (op == "Gather") { gather(n); return; }
    if (op == "Unsqueeze" || op == "Squeeze") { squeeze(n, op == "Unsqueeze"); return; }
    if (op == "Concat") { concat(n); return; }
    if (op == "Slice") { slice(n); return; }
    if (op == "Reshape") { reshape(n); return; }
    if (op == "Flatten") { flatten(n); return; }
    if (op == "Transpose") { transpose(n); return; }
    if (op == "ConstantOfShape") {
      if (auto v = val(n.input(0))) {
        Shape s;
        for (int64_t d : *v) s.push_back(Dim::known(d));
        DataType dt = DataType::Float;
        if (auto a = n.attr("value"); a && a->t) dt = a->t->data_type;
        set(n.output(0), dt, s);
      }
      return;
    }
    if (op == "Expand") {
      auto s = shape_of(n.input(0));
      auto v = val(n.input(1));
      if (s && v) {
        Shape t;
        for (int64_t d : *v) t.push_back(Dim::known(d));
        if (auto b = broadcast({*s, t})) set(n.output(0), elem_of(n.input(0)), b);
      }
      return;
    }
    if (op == "Conv" || op == "ConvInteger" || op == "QLinearConv" || op == "MaxPool" || op == "AveragePool" ||
        op == "LpPool") {
      conv_like(n);
      return;
    }
    if (op == "ConvTranspose") { conv_transpose(n); return; }
    if (op == "GlobalAveragePool" || op == "GlobalMaxPool" || op == "GlobalLpPool") {
      if (auto s = shape_of(n.input(0)); s && s->size() >= 2) {
        Shape o = *s;
        for (size_t i = 2; i < o.size(); ++i) o[i] = Dim::known(1);
        set(n.output(0), elem_of(n.input(0)), o);
      }
      return;
    }
    if (op == "MatMul" || op == "MatMulInteger" || op == "QLinearMatMul") { matmul(n); return; }
    if (op == "Gemm") { gemm(n); return; }
    if (op == "ReduceMean" || op == "ReduceSum" || op == "ReduceMax" || op == "ReduceMin" || op == "ReduceProd" ||
        op == "ReduceL2" || op == "ReduceL1" || op == "ReduceSumSquare" || op == "ReduceLogSumExp" ||
        op == "ArgMax" || op == "ArgMin") {
      reduce(n);
      return;
    }
    if (op == "Resize" || op == "Upsample") { resize(n); return; }
    if (op == "Split") { split(n); return; }
    if (op == "Pad") { pad(n); return; }
    if (op == "QuantizeLinear" || op == "DequantizeLinear") {
      DataType dt = DataType::Float;
      if (op == "QuantizeLinear") dt = n.input(2) ? elem_of(n.input(2)) : DataType::UInt8;
      if (op == "DequantizeLinear" && n.input(1)) dt = elem_of(n.input(1));
      set(n.output(0), dt, shape_of(n.input(0)));
      return;
    }
    if (op == "Tile") {
      auto s = shape_of(n.input(0));
      auto r = val(n.input(1));
      if (s && r && r->size() == s->size()) {
        Shape o = *s;
        for (size_t i = 0; i < o.size(); ++i) o[i] = o[i].is_known() ? dim_or_unknown(mul_i64(*o[i].value, (*r)[i])) : Dim{};
        set(n.output(0), elem_of(n.input(0)), o);
      }
      return;
    }
  }

  void binary_op(Node& n) {
    std::vector<Shape> shapes;
    for (Value* in : n.inputs()) {
      auto s = shape_of(in);
      if (!s) return;
      shapes.push_back(*s);
    }
    if (shapes.empty()) return;
    DataType dt = elem_of(n.input(n.op_type == "Where" ? 1 : 0));
    static const std::set<std::string> cmp = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
                                              "And", "Or", "Xor"};
    if (cmp.count(n.op_type)) dt = DataType::Bool;
    if (auto b = broadcast(shapes)) set(n.output(0), dt, b);
    // Integer arithmetic on shape values.
    if (n.inputs().size() == 2 && (n.op_type == "Add" || n.op_type == "Sub" || n.op_type == "Mul" ||
                                   n.op_type == "Div")) {
      auto a = val(n.input(0)), b = val(n.input(1));
      if (!a || !b || a->empty() || b->empty()) return;
      if (a->size() != b->size() && a->size() != 1 && b->size() != 1) return;
      size_t len = std::max(a->size(), b->size());
      Ints r(len);
      for (size_t i = 0; i < len; ++i) {
        int64_t x = (*a)[a->size() == 1 ? 0 : i], y = (*b)[b->size() == 1 ? 0 : i];
        std::optional<int64_t> z = n.op_type == "Add"   ? add_i64(x, y)
                                   : n.op_type == "Sub" ? sub_i64(x, y)
                                   : n.op_type == "Mul" ? mul_i64(x, y)
                                                        : div_i64(x, y);
        if (!z) return;
        r[i] = *z;
      }
      set_val(n.output(0), r);
    }
  }

  void shape_op(Node& n) {
    auto s = shape_of(n.input(0));
    if (!s) return;
    int64_t r = static_cast<int64_t>(s->size());
    int64_t start = n.attr_int("start", 0), end = n.attr_int("end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = std::clamp<int64_t>(start, 0, r);
    end = std::clamp<int64_t>(end, start, r);
    set(n.output(0), DataType::Int64, Shape{Dim::known(end - start)});
    Ints v;
    for (int64_t i = start; i < end; ++i) {
      if (!(*s)[static_cast<size_t>(i)].is_known()) return;
      v.push_back(*(*s)[static_cast<size_t>(i)].value);
    }
    set_val(n.output(0), v);
  }

  void gather(Node& n) {
    auto ds = shape_of(n.input(0));
    auto is = shape_of(n.input(1));
    if (!ds || !is || ds->empty()) return;
    int64_t axis = norm_axis(n.attr_int("axis", 0), ds->size());
    if (axis < 0 || axis >= static_cast<int64_t>(ds->size())) return;
    Shape o(ds->begin(), ds->begin() + axis);
    o.insert(o.end(), is->begin(), is->end());
    o.insert(o.end(), ds->begin() + axis + 1, ds->end());
    set(n.output(0), elem_of(n.input(0)), o);
    auto dv = val(n.input(0));
    auto iv = val(n.input(1));
    if (dv && iv && ds->size() == 1) {
      Ints r;
      for (int64_t i : *iv) {
        int64_t k = i < 0 ? i + static_cast<int64_t>(dv->size()) : i;
        if (k < 0 || k >= static_cast<int64_t>(dv->size())) return;
        r.push_back((*dv)[static_cast<size_t>(k)]);
      }
      set_val(n.output(0), r);
    }
  }

  void squeeze(Node& n, bool unsq) {
    auto s = shape_of(n.input(0));
    if (auto v = val(n.input(0))) set_val(n.output(0), *v);
    if (!s) return;
    Ints axes = axes_of(n, 1);
    if (unsq) {
      size_t out_rank = s->size() + axes.size();
      std::vector<bool> ins(out_rank, false);
      for (int64_t a : axes) {
        a = norm_axis(a, out_rank);
        if (a < 0 || a >= static_cast<int64_t>(out_rank)) return;
        ins[static_cast<size_t>(a)] = true;
      }
      Shape o;
      size_t k = 0;
      for (size_t i = 0; i < out_rank; ++i) {
        if (ins[i]) o.push_back(Dim::known(1));
        else if (k < s->size()) o.push_back((*s)[k++]);
        else return;
      }
      set(n.output(0), elem_of(n.input(0)), o);
    } else {
      Shape o;
      if (axes.empty()) {
        if (!all_known(*s)) return;
        for (auto& d : *s) if (*d.value != 1) o.push_back(d);
      } else {
        std::set<int64_t> drop;
        for (int64_t a : axes) drop.insert(norm_axis(a, s->size()));
        for (size_t i = 0; i < s->size(); ++i) if (!drop.count(static_cast<int64_t>(i))) o.push_back((*s)[i]);
      }
      set(n.output(0), elem_of(n.input(0)), o);
    }
  }

  void concat(Node& n) {
    std::vector<Shape> shapes;
    for (Value* in : n.inputs()) {
      auto s = shape_of(in);
      if (!s) return;
      shapes.push_back(*s);
    }
    if (shapes.empty() || shapes[0].empty()) return;
    size_t rank = shapes[0].size();
    int64_t axis = norm_axis(n.attr_int("axis", 0), rank);
    if (axis < 0 || axis >= static_cast<int64_t>(rank)) return;
    Shape o = shapes[0];
    int64_t total = 0;
    bool known = true;
    for (auto& s : shapes) {
      if (s.size() != rank) return;
      const Dim& d = s[static_cast<size_t>(axis)];
      if (d.is_known()) {
        auto t = add_i64(total, *d.value);
        if (t) total = *t;
        else known = false;
      } else {
        known = false;
      }
      for (size_t i = 0; i < rank; ++i)
        if (static_cast<int64_t>(i) != axis && !o[i].is_known() && s[i].is_known()) o[i] = s[i];
    }
    o[static_cast<size_t>(axis)] = known ? Dim::known(total) : Dim{};
    set(n.output(0), elem_of(n.input(0)), o);
    if (rank == 1) {
      Ints r;
      for (Value* in : n.inputs()) {
        auto v = val(in);
        if (!v) return;
        r.insert(r.end(), v->begin(), v->end());
      }
      set_val(n.output(0), r);
    }
  }

  void slice(Node& n) {
    auto s = shape_of(n.input(0));
    if (!s) return;
    Ints starts, ends, axes, steps;
    if (n.attr("starts")) {  // opset < 10
      starts = n.attr_ints("starts");
      ends = n.attr_ints("ends");
      axes = n.attr_ints("axes");
    } else {
      auto a = val(n.input(1)), b = val(n.input(2));
      if (!a || !b) return;
      starts = *a;
      ends = *b;
      if (n.input(3)) { auto c = val(n.input(3)); if (!c) return; axes = *c; }
      if (n.input(4)) { auto c = val(n.input(4)); if (!c) return; steps = *c; }
    }
    if (axes.empty()) for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) return;
    Shape o = *s;
    auto v = val(n.input(0));
    std::optional<std::pair<int64_t, int64_t>> vrange;  // for 1-D values: start, end with step 1
    for (size_t i = 0; i < starts.size(); ++i) {
      int64_t ax = norm_axis(axes[i], s->size());
      if (ax < 0 || ax >= static_cast<int64_t>(s->size()) || steps[i] == 0) return;
      const Dim& d = (*s)[static_cast<size_t>(ax)];
      if (!d.is_known() || *d.value < 0 || steps[i] == INT64_MIN) { o[static_cast<size_t>(ax)] = Dim{}; continue; }
      int64_t dim = *d.value, st = starts[i], en = ends[i], step = steps[i];
      if (st < 0) st += dim;
      if (en < 0) en += dim;
      // Counting in unsigned 64 bits: en - st <= dim and |step| < 2^63, so nothing wraps.
      int64_t len;
      if (step > 0) {
        st = std::clamp<int64_t>(st, 0, dim);
        en = std::clamp<int64_t>(en, 0, dim);
        len = en > st ? static_cast<int64_t>((static_cast<uint64_t>(en - st) - 1) / static_cast<uint64_t>(step) + 1) : 0;
      } else {
        if (dim == 0) { o[static_cast<size_t>(ax)] = Dim::known(0); continue; }
        st = std::clamp<int64_t>(st, 0, dim - 1);
        en = std::clamp<int64_t>(en, -1, dim - 1);
        len = st > en ? static_cast<int64_t>((static_cast<uint64_t>(st - en) - 1) / static_cast<uint64_t>(-step) + 1) : 0;
      }
      o[static_cast<size_t>(ax)] = Dim::known(len);
      if (s->size() == 1 && step == 1) vrange = {st, st + len};
    }
    set(n.output(0), elem_of(n.input(0)), o);
    if (v && vrange && static_cast<size_t>(vrange->second) <= v->size())
      set_val(n.output(0), Ints(v->begin() + vrange->first, v->begin() + vrange->second));
  }

  void reshape(Node& n) {
    auto s = shape_of(n.input(0));
    Ints target;
    if (auto a = n.attr("shape")) target = a->ints;  // opset < 5
    else if (auto v = val(n.input(1))) target = *v;
    else return;
    bool allowzero = n.attr_int("allowzero", 0) != 0;
    Shape o;
    int64_t neg = -1;
    for (size_t i = 0; i < target.size(); ++i) {
      int64_t t = target[i];
      if (t == 0 && !allowzero) {
        if (!s || i >= s->size()) return;
        o.push_back((*s)[i]);
      } else if (t == -1) {
        neg = static_cast<int64_t>(i);
        o.push_back(Dim{});
      } else {
        o.push_back(Dim::known(t));
      }
    }
    if (neg >= 0) {
      if (s && all_known(*s)) {
        Ints in_dims, rest_dims;
        for (auto& d : *s) in_dims.push_back(*d.value);
        bool ok = true;
        for (size_t i = 0; i < o.size(); ++i)
          if (static_cast<int64_t>(i) != neg) { if (o[i].is_known()) rest_dims.push_back(*o[i].value); else ok = false; }
        auto total = product_i64(in_dims), rest = product_i64(rest_dims);
        if (ok && total && rest) o[static_cast<size_t>(neg)] = dim_or_unknown(div_i64(*total, *rest));
      }
    }
    if (auto v = val(n.input(0))) set_val(n.output(0), *v);
    set(n.output(0), elem_of(n.input(0)), o);
  }

  void flatten(Node& n) {
    auto s = shape_of(n.input(0));
    if (!s) return;
    int64_t axis = norm_axis(n.attr_int("axis", 1), s->size());
    auto prod = [&](size_t a, size_t b) -> Dim {
      Ints dims;
      for (size_t i = a; i < b; ++i) { if (!(*s)[i].is_known()) return Dim{}; dims.push_back(*(*s)[i].value); }
      return dim_or_unknown(product_i64(dims));
    };
    if (axis < 0 || axis > static_cast<int64_t>(s->size())) return;
    set(n.output(0), elem_of(n.input(0)), Shape{prod(0, static_cast<size_t>(axis)),
                                                prod(static_cast<size_t>(axis), s->size())});
  }

  void transpose(Node& n) {
    auto s = shape_of(n.input(0));
    if (!s) return;
    Ints perm = n.attr_ints("perm");
    if (perm.empty()) for (size_t i = s->size(); i-- > 0;) perm.push_back(static_cast<int64_t>(i));
    if (perm.size() != s->size()) return;
    Shape o;
    for (int64_t p : perm) {
      if (p < 0 || p >= static_cast<int64_t>(s->size())) return;
      o.push_back((*s)[static_cast<size_t>(p)]);
    }
    set(n.output(0), elem_of(n.input(0)), o);
  }

  // Spatial output size of a convolution or pooling window.
  void conv_like(Node& n) {
    const bool qlinear = n.op_type == "QLinearConv";
    const bool pool = n.op_type.find("Pool") != std::string::npos;
    auto xs = shape_of(n.input(0));
    if (!xs || xs->size() < 3) return;
    size_t sp = xs->size() - 2;
    Ints kernel = n.attr_ints("kernel_shape");
    Dim cout;
    if (!pool) {
      auto ws = shape_of(n.input(qlinear ? 3 : 1));
      if (!ws || ws->size() != xs->size()) return;
      cout = (*ws)[0];
      if (kernel.empty()) {
        for (size_t i = 2; i < ws->size(); ++i) {
          if (!(*ws)[i].is_known()) return;
          kernel.push_back(*(*ws)[i].value);
        }
      }
    } else {
      cout = (*xs)[1];
    }
    if (kernel.size() != sp) return;
    Ints strides = n.attr_ints("strides", Ints(sp, 1));
    Ints dil = n.attr_ints("dilations", Ints(sp, 1));
    Ints pads = n.attr_ints("pads", Ints(2 * sp, 0));
    std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
    bool ceil_mode = n.attr_int("ceil_mode", 0) != 0;
    if (strides.size() != sp || dil.size() != sp || pads.size() != 2 * sp) return;
    Shape o{(*xs)[0], cout};
    for (size_t i = 0; i < sp; ++i) {
      const Dim& d = (*xs)[i + 2];
      if (!d.is_known()) { o.push_back(Dim{}); continue; }
      // Attributes past 2^31 (or a stride below 1) are not a real model's: the dim stays unknown rather
      // than overflow.
      const int64_t lim = int64_t{1} << 31;
      auto small = [&](int64_t x) { return x > -lim && x < lim; };
      if (!small(kernel[i]) || !small(dil[i]) || !small(pads[i]) || !small(pads[i + sp]) || strides[i] < 1 ||
          strides[i] >= lim || *d.value >= (int64_t{1} << 60)) {
        o.push_back(Dim{});
        continue;
      }
      int64_t in = *d.value, k = (kernel[i] - 1) * dil[i] + 1, s = strides[i];
      int64_t out;
      if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") out = (in + s - 1) / s;
      else if (auto_pad == "VALID") out = (in - k) / s + 1;
      else {
        int64_t num = in + pads[i] + pads[i + sp] - k;
        out = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
        if (ceil_mode && (out - 1) * s >= in + pads[i]) --out;  // last window must start inside
      }
      o.push_back(Dim::known(out));
    }
    DataType dt = elem_of(n.input(0));
    if (n.op_type == "ConvInteger") dt = DataType::Int32;
    if (qlinear) dt = n.input(7) ? elem_of(n.input(7)) : DataType::UInt8;
    set(n.output(0), dt, o);
  }

  void conv_transpose(Node& n) {
    auto xs = shape_of(n.input(0));
    auto ws = shape_of(n.input(1));
    if (!xs || !ws || xs->size() < 3 || ws->size() != xs->size()) return;
    size_t sp = xs->size() - 2;
    int64_t group = n.attr_int("group", 1);
    Dim cout = (*ws)[1].is_known() ? dim_or_unknown(mul_i64(*(*ws)[1].value, group)) : Dim{};
    Ints kernel = n.attr_ints("kernel_shape");
    if (kernel.empty())
      for (size_t i = 2; i < ws->size(); ++i) { if (!(*ws)[i].is_known()) return; kernel.push_back(*(*ws)[i].value); }
    Ints strides = n.attr_ints("strides", Ints(sp, 1));
    Ints dil = n.attr_ints("dilations", Ints(sp, 1));
    Ints pads = n.attr_ints("pads", Ints(2 * sp, 0));
    Ints outpad = n.attr_ints("output_padding", Ints(sp, 0));
    Ints out_shape = n.attr_ints("output_shape");
    std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
    if (kernel.size() != sp || strides.size() != sp || dil.size() != sp || pads.size() != 2 * sp ||
        outpad.size() != sp)
      return;
    Shape o{(*xs)[0], cout};
    for (size_t i = 0; i < sp; ++i) {
      if (out_shape.size() == sp) { o.push_back(Dim::known(out_shape[i])); continue; }
      const Dim& d = (*xs)[i + 2];
      if (!d.is_known()) { o.push_back(Dim{}); continue; }
      const int64_t lim = int64_t{1} << 31;  // as in conv: larger attributes leave the dim unknown
      auto small = [&](int64_t x) { return x > -lim && x < lim; };
      if (!small(strides[i]) || !small(outpad[i]) || !small(kernel[i]) || !small(dil[i]) || !small(pads[i]) ||
          !small(pads[i + sp]) || *d.value >= (int64_t{1} << 30)) {
        o.push_back(Dim{});
        continue;
      }
      int64_t in = *d.value;
      if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") o.push_back(Dim::known(in * strides[i]));
      else
        o.push_back(Dim::known(strides[i] * (in - 1) + outpad[i] + (kernel[i] - 1) * dil[i] + 1 - pads[i] -
                               pads[i + sp]));
    }
    set(n.output(0), elem_of(n.input(0)), o);
  }

  void matmul(Node& n) {
    const bool q = n.op_type == "QLinearMatMul";
    auto as = shape_of(n.input(0));
    auto bs = shape_of(n.input(q ? 3 : 1));
    if (!as || !bs || as->empty() || bs->empty()) return;
    Shape a = *as, b = *bs;
    bool a1 = a.size() == 1, b1 = b.size() == 1;
    if (a1) a.insert(a.begin(), Dim::known(1));
    if (b1) b.push_back(Dim::known(1));
    Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
    auto batch = broadcast({ab, bb});
    if (!batch) return;
    Shape o = *batch;
    if (!a1) o.push_back(a[a.size() - 2]);
    if (!b1) o.push_back(b[b.size() - 1]);
    DataType dt = elem_of(n.input(0));
    if (n.op_type == "MatMulInteger") dt = DataType::Int32;
    if (q) dt = n.input(7) ? elem_of(n.input(7)) : DataType::UInt8;
    set(n.output(0), dt, o);
  }

  // com.microsoft MatMulNBits (effopt quantize emit=ort): A[..., K] x B (N
  // columns, attribute N) -> [..., N], A's type.
  void matmul_nbits(Node& n) {
    auto as = shape_of(n.input(0));
    int64_t N = n.attr_int("N", 0);
    if (!as || as->empty() || N <= 0) return;
    Shape o = *as;
    o.back() = Dim::known(N);
    set(n.output(0), elem_of(n.input(0)), o);
  }

  void gemm(Node& n) {
    auto as = shape_of(n.input(0));
    auto bs = shape_of(n.input(1));
    if (!as || !bs || as->size() != 2 || bs->size() != 2) return;
    bool ta = n.attr_int("transA", 0) != 0, tb = n.attr_int("transB", 0) != 0;
    set(n.output(0), elem_of(n.input(0)), Shape{(*as)[ta ? 1 : 0], (*bs)[tb ? 0 : 1]});
  }

  void reduce(Node& n) {
    auto s = shape_of(n.input(0));
    if (!s) return;
    bool keep = n.attr_int("keepdims", 1) != 0;
    Ints axes;
    bool arg = n.op_type.rfind("Arg", 0) == 0;
    if (arg) axes = {n.attr_int("axis", 0)};
    else axes = axes_of(n, 1);
    if (!arg && n.input(1) && !n.attr("axes") && !val(n.input(1))) return;  // axes computed at run time
    if (axes.empty()) {
      if (n.attr_int("noop_with_empty_axes", 0)) { same_as(n, n.input(0)); return; }
      for (size_t i = 0; i < s->size(); ++i) axes.push_back(static_cast<int64_t>(i));
    }
    std::set<int64_t> red;
    for (int64_t a : axes) red.insert(norm_axis(a, s->size()));
    Shape o;
    for (size_t i = 0; i < s->size(); ++i) {
      if (red.count(static_cast<int64_t>(i))) { if (keep) o.push_back(Dim::known(1)); }
      else o.push_back((*s)[i]);
    }
    set(n.output(0), arg ? DataType::Int64 : elem_of(n.input(0)), o);
  }

  void resize(Node& n) {
    auto s = shape_of(n.input(0));
    if (!s) return;
    Shape o = *s;
    // Resize-11+: (X, roi, scales, sizes); Resize-10 / Upsample-9: (X, scales); Upsample-7: attr scales.
    const Value* sizes = n.op_type == "Resize" && n.inputs().size() >= 4 ? n.input(3) : nullptr;
    if (sizes) {
      auto v = val(sizes);
      if (!v || v->size() != s->size()) return;
      for (size_t i = 0; i < o.size(); ++i) o[i] = Dim::known((*v)[i]);
      set(n.output(0), elem_of(n.input(0)), o);
      return;
    }
    std::optional<std::vector<float>> scales;
    if (auto a = n.attr("scales")) scales = a->floats;
    else if (n.op_type == "Resize" && n.inputs().size() >= 3) scales = floats_of(n.input(2));
    else scales = floats_of(n.input(1));
    if (!scales || scales->size() != s->size()) return;
    for (size_t i = 0; i < o.size(); ++i) {
      if (!o[i].is_known()) continue;
      const double scaled = static_cast<double>(static_cast<float>(*o[i].value) * (*scales)[i]);
      // NaN, infinite, negative or past 2^62: unknown (converting them to int64 is undefined).
      o[i] = scaled >= 0 && scaled < 0x1p62 ? Dim::known(static_cast<int64_t>(scaled)) : Dim{};
    }
    set(n.output(0), elem_of(n.input(0)), o);
  }

  void split(Node& n) {
    auto s = shape_of(n.input(0));
    if (!s || s->empty()) return;
    int64_t axis = norm_axis(n.attr_int("axis", 0), s->size());
    if (axis < 0 || axis >= static_cast<int64_t>(s->size())) return;
    Ints parts = n.attr_ints("split");
    if (parts.empty() && n.input(1)) { auto v = val(n.input(1)); if (!v) return; parts = *v; }
    size_t outs = n.outputs().size();
    const Dim& d = (*s)[static_cast<size_t>(axis)];
    if (parts.empty()) {
      if (!d.is_known() || *d.value < 0 || outs == 0) return;
      int64_t each = *d.value / static_cast<int64_t>(outs) + (*d.value % static_cast<int64_t>(outs) != 0);
      int64_t left = *d.value;
      for (size_t i = 0; i < outs; ++i) { parts.push_back(std::min(each, left)); left -= parts.back(); }
    }
    if (parts.size() != outs) return;
    for (size_t i = 0; i < outs; ++i) {
      Shape o = *s;
      o[static_cast<size_t>(axis)] = Dim::known(parts[i]);
      set(n.output(i), elem_of(n.input(0)), o);
    }
  }

  void pad(Node& n) {
    auto s = shape_of(n.input(0));
    if (!s) return;
    Ints pads = n.attr_ints("pads");
    if (pads.empty() && n.input(1)) { auto v = val(n.input(1)); if (!v) return; pads = *v; }
    Ints axes;
    if (n.input(3)) { auto v = val(n.input(3)); if (!v) return; axes = *v; }
    if (axes.empty()) for (size_t i = 0; i < s->size(); ++i) axes.push_back(static_cast<int64_t>(i));
    if (pads.size() != 2 * axes.size()) return;
    Shape o = *s;
    for (size_t i = 0; i < axes.size(); ++i) {
      int64_t ax = norm_axis(axes[i], s->size());
      if (ax < 0 || ax >= static_cast<int64_t>(s->size())) return;
      auto both = add_i64(pads[i], pads[i + axes.size()]);
      o[static_cast<size_t>(ax)] = both ? dim_add(o[static_cast<size_t>(ax)], *both) : Dim{};
    }
    set(n.output(0), elem_of(n.input(0)), o);
  }
};

}  // namespace

Status propagate_shapes(Model& model, ShapeInferenceStats& stats) {
  if (!model.graph) return ok();
  Propagator p(stats, model.opset(""));
  p.run_graph(*model.graph);
  for (auto& f : model.functions) Propagator(stats, model.opset("")).run_graph(*f.body);
  return ok();
}

std::optional<bool> constant_condition(const Value* v) {
  TensorPtr t = v ? constant_tensor(v) : nullptr;
  if (!t || t->data_type != DataType::Bool || t->element_count().value_or(0) != 1 || t->byte_size() < 1)
    return std::nullopt;
  return std::to_integer<int>(t->bytes()[0]) != 0;
}

namespace {

// Small integer values known before run time: constants, and what the
// shape-arithmetic ops compute from them and from known dims.
std::optional<Ints> static_ints(const Value* v, int depth) {
  if (!v || depth > 32) return std::nullopt;
  if (TensorPtr t = constant_tensor(v)) return ints_of_tensor(*t);
  const Node* p = v->producer();
  if (!p || !is_onnx_domain(p->domain)) return std::nullopt;
  const std::string& op = p->op_type;
  auto in = [&](size_t i) { return static_ints(p->input(i), depth + 1); };
  if (op == "Identity" || op == "Squeeze" || op == "Unsqueeze" || op == "Reshape" || op == "Flatten") return in(0);
  if (op == "Cast") {
    auto to = static_cast<DataType>(p->attr_int("to", 0));
    if (to != DataType::Int64 && to != DataType::Int32) return std::nullopt;
    return in(0);
  }
  if (op == "Shape" || op == "Size") {
    auto s = shape_of(p->input(0));
    if (!s) return std::nullopt;
    const int64_t r = static_cast<int64_t>(s->size());
    int64_t start = op == "Shape" ? p->attr_int("start", 0) : 0, end = op == "Shape" ? p->attr_int("end", r) : r;
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = std::clamp<int64_t>(start, 0, r);
    end = std::clamp<int64_t>(end, start, r);
    Ints dims;
    for (int64_t i = start; i < end; ++i) {
      const Dim& d = (*s)[static_cast<size_t>(i)];
      if (!d.is_known()) return std::nullopt;
      dims.push_back(*d.value);
    }
    if (op == "Shape") return dims;
    auto prod = product_i64(dims);
    if (!prod) return std::nullopt;
    return Ints{*prod};
  }
  if (op == "Gather" && p->attr_int("axis", 0) == 0) {
    auto data = in(0), idx = in(1);
    if (!data || !idx) return std::nullopt;
    Ints out;
    for (int64_t i : *idx) {
      if (i < 0) i += static_cast<int64_t>(data->size());
      if (i < 0 || i >= static_cast<int64_t>(data->size())) return std::nullopt;
      out.push_back((*data)[static_cast<size_t>(i)]);
    }
    return out;
  }
  if (op == "Concat") {
    Ints out;
    for (size_t i = 0; i < p->inputs().size(); ++i) {
      auto x = in(i);
      if (!x) return std::nullopt;
      out.insert(out.end(), x->begin(), x->end());
    }
    return out;
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Max" || op == "Min") {
    auto a = in(0), b = in(1);
    if (!a || !b || a->empty() || b->empty() || p->inputs().size() != 2) return std::nullopt;
    if (a->size() != b->size() && a->size() != 1 && b->size() != 1) return std::nullopt;
    Ints out(std::max(a->size(), b->size()));
    for (size_t i = 0; i < out.size(); ++i) {
      int64_t x = (*a)[a->size() == 1 ? 0 : i], y = (*b)[b->size() == 1 ? 0 : i];
      std::optional<int64_t> z;
      if (op == "Add") z = add_i64(x, y);
      else if (op == "Sub") z = sub_i64(x, y);
      else if (op == "Mul") z = mul_i64(x, y);
      else if (op == "Max") z = std::max(x, y);
      else if (op == "Min") z = std::min(x, y);
      else if (auto q = div_i64(x, y); q && *q * y == x) z = q;  // exact only: no rounding convention to get wrong
      if (!z) return std::nullopt;
      out[i] = *z;
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> static_scalar_int(const Value* v) {
  auto x = static_ints(v, 0);
  if (!x || x->size() != 1) return std::nullopt;
  return (*x)[0];
}

LoopTripCount loop_trip_count(const Node& loop) {
  LoopTripCount r;
  const Value* m = loop.input(0);
  const Value* cond = loop.input(1);
  const Attribute* a = loop.attr("body");
  const Graph* body = a && a->g ? a->g.get() : nullptr;
  std::optional<bool> c0 = cond ? constant_condition(cond) : std::optional<bool>(true);
  if (c0 && !*c0) { r.trips = 0; r.may_stop_early = false; return r; }  // the loop never runs
  if (!m) {
    r.why_unknown = "no trip count M: it runs until its condition is false";
    return r;
  }
  std::optional<int64_t> v = static_scalar_int(m);
  if (!v) {
    r.why_unknown = "trip count M '" + m->name() + "' is not known before run time";
    return r;
  }
  r.trips = std::max<int64_t>(0, *v);
  // The condition can end it early unless it starts true (or is absent) and the body passes it on unchanged.
  bool body_keeps_cond = false;
  if (body && !body->outputs().empty() && body->inputs().size() >= 2) {
    const Value* out = body->outputs()[0];
    while (out && out->producer() && out->producer()->op_type == "Identity") out = out->producer()->input(0);
    auto oc = out ? constant_condition(out) : std::nullopt;
    body_keeps_cond = c0 && *c0 && (out == body->inputs()[1] || (oc && *oc));
  }
  r.may_stop_early = !body_keeps_cond;
  return r;
}

std::optional<int64_t> scan_iterations(const Node& scan, std::string* why) {
  const size_t scans = static_cast<size_t>(std::max<int64_t>(0, scan.attr_int("num_scan_inputs", 0)));
  if (scans == 0 || scans > scan.inputs().size()) {
    if (why) *why = "num_scan_inputs is missing or larger than the number of inputs";
    return std::nullopt;
  }
  const size_t first = scan.inputs().size() - scans;
  std::vector<int64_t> axes = scan.attr_ints("scan_input_axes", std::vector<int64_t>(scans, 0));
  std::optional<int64_t> n;
  std::string unknown;
  for (size_t j = 0; j < scans && j < axes.size(); ++j) {
    const Value* in = scan.input(first + j);
    auto s = shape_of(in);
    if (!s || s->empty()) { if (unknown.empty() && in) unknown = in->name(); continue; }
    int64_t ax = norm_axis(axes[j], s->size());
    if (ax < 0 || ax >= static_cast<int64_t>(s->size())) continue;
    const Dim& d = (*s)[static_cast<size_t>(ax)];
    if (d.is_known()) { n = *d.value; break; }
    if (unknown.empty() && in) unknown = in->name();
  }
  if (!n && why)
    *why = "the scan axis of '" + (unknown.empty() ? std::string("?") : unknown) + "' has an unknown length";
  return n;
}

Expected<ShapeBinding> parse_shape_binding(const std::string& text) {
  auto eq = text.find('=');
  auto bad = [&](const std::string& why) {
    return usage_error("--shape '" + text + "': " + why + " (expected NAME=DIMS, e.g. input=1,3,224,224 or N=1)");
  };
  if (eq == std::string::npos || eq == 0) return bad("no NAME=");
  ShapeBinding b;
  b.name = text.substr(0, eq);
  std::string rest = text.substr(eq + 1);
  if (rest.size() >= 2 && rest.front() == '[' && rest.back() == ']') rest = rest.substr(1, rest.size() - 2);
  if (rest.empty()) return bad("no dims");
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t end = rest.find_first_of(",x", pos);
    if (end == std::string::npos) end = rest.size();
    std::string tok = rest.substr(pos, end - pos);
    if (tok.empty() || tok.find_first_not_of("0123456789") != std::string::npos) return bad("'" + tok + "' is not a dim");
    if (tok.size() > 15) return bad("dim '" + tok + "' is too large");
    b.dims.push_back(std::stoll(tok));
    pos = end + 1;
  }
  return b;
}

namespace {
bool bind_param_everywhere(Graph& g, const std::string& param, int64_t v) {
  bool found = false;
  for (auto& val : g.values()) {
    if (!val->type.shape) continue;
    for (auto& d : *val->type.shape)
      if (!d.is_known() && d.param == param) { d = Dim::known(v); found = true; }
  }
  for (auto& n : g.nodes())
    for (Graph* sg : n->subgraphs()) found = bind_param_everywhere(*sg, param, v) || found;
  return found;
}
}  // namespace

Status apply_shape_bindings(Model& model, const std::vector<ShapeBinding>& bindings) {
  for (const ShapeBinding& b : bindings) {
    Graph& g = *model.graph;
    Value* in = nullptr;
    for (Value* v : g.inputs()) if (v->name() == b.name && !v->initializer) in = v;
    if (in) {
      if (in->type.kind != Type::Kind::Tensor && in->type.kind != Type::Kind::None)
        return usage_error("--shape " + b.name + ": input '" + b.name + "' is not a tensor");
      if (in->type.shape && in->type.shape->size() != b.dims.size())
        return usage_error("--shape " + b.name + ": input '" + b.name + "' has rank " +
                           std::to_string(in->type.shape->size()) + ", the binding gives " +
                           std::to_string(b.dims.size()) + " dims");
      // Symbolic dims named in the input are bound everywhere, consistently.
      if (in->type.shape)
        for (size_t i = 0; i < b.dims.size(); ++i) {
          // A copy: binding rewrites this very dim, and a reference to its
          // param would then match every unnamed dim.
          const Dim d = (*in->type.shape)[i];
          if (!d.is_known() && !d.param.empty()) bind_param_everywhere(g, d.param, b.dims[i]);
        }
      Shape s;
      for (int64_t d : b.dims) s.push_back(Dim::known(d));
      in->type.kind = Type::Kind::Tensor;
      in->type.shape = s;
      continue;
    }
    if (b.dims.size() != 1)
      return usage_error("--shape " + b.name + ": no graph input has this name; as a symbolic dim it takes one value");
    if (!bind_param_everywhere(g, b.name, b.dims[0])) {
      std::string names;
      for (Value* v : g.inputs()) if (!v->initializer) names += (names.empty() ? "" : ", ") + v->name();
      return usage_error("--shape " + b.name + ": no graph input or symbolic dim has this name (inputs: " + names + ")");
    }
  }
  return ok();
}

namespace {
bool has_param(const Graph& g, const std::string& param) {
  for (auto& val : g.values())
    if (val->type.shape)
      for (auto& d : *val->type.shape)
        if (!d.is_known() && d.param == param) return true;
  for (auto& n : g.nodes())
    for (Graph* sg : n->subgraphs())
      if (has_param(*sg, param)) return true;
  return false;
}
}  // namespace

bool binding_matches(const Model& model, const ShapeBinding& b) {
  if (!model.graph) return false;
  for (Value* v : model.graph->inputs())
    if (v->name() == b.name && !v->initializer) return true;
  return b.dims.size() == 1 && has_param(*model.graph, b.name);
}

Status infer_shapes_with_bindings(Model& model, const std::vector<ShapeBinding>& bindings,
                                  ShapeInferenceStats* stats) {
  EFFOPT_TRY(apply_shape_bindings(model, bindings));
  return infer_shapes(model, {}, stats);
}

}  // namespace effopt
