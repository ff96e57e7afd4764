// quantize mode=static (passes/quantize.h): activations calibrated on samples and quantized with
// QuantizeLinear -> DequantizeLinear pairs where ONNX Runtime fuses them into integer kernels, int8
// per-channel weights and int32 biases (the QDQ format ONNX Runtime's quantize_static writes).
//
// Placement (what ONNX Runtime 1.30's QDQSelectorActionTransformer takes, qdq_selector_action_transformer.cc):
//   compute ops  Conv, MatMul, Gemm, Add, Mul, AveragePool, GlobalAveragePool, Concat: a pair on every float
//                activation input and on the output (each tensor its own calibrated scale / zero point);
//   data movement  MaxPool, Reshape, Flatten, Transpose, Squeeze, Unsqueeze whose input is quantized: a pair
//                on the output with the input's parameters (ORT's DropQDQNodesSelector wants them equal and
//                then runs the op on the integers);
//   Relu / Clip(0, c) that alone reads a compute op's output is absorbed: removed, its output's range taken
//                by the op's QuantizeLinear (zero point = the type's minimum, so the QuantizeLinear clamps
//                exactly as Relu / Clip did: Q(clamp(x, 0, c)) = Q(x) when [0, hi] lies within [0, c]);
//                an op left between Conv and its QuantizeLinear would block the fusion.
//   Before: y = Conv(x, W, B); r = Relu(y); z = MaxPool(r)
//   After:  xq = QuantizeLinear(x, sx, zx); y = Conv(DequantizeLinear(xq), DequantizeLinear<axis=0>(Wq, sw),
//           DequantizeLinear<axis=0>(Bq (int32), sx*sw)); yq = QuantizeLinear(y, sr, zr) (r's range);
//           z = MaxPool(DequantizeLinear(yq, sr, zr)) -> QuantizeLinear / DequantizeLinear with (sr, zr)
// One QuantizeLinear and one DequantizeLinear per tensor, read by all its readers (ONNX Runtime copies a
// DequantizeLinear per reader itself: EnsureUniqueDQForNodeUnit). Graph outputs stay float (a Gemm or
// MatMul producing one becomes QGemm / MatMulIntegerToFloat with a float output).
//
// Types (Options::target, never the host): x86 and x86-avx2 U8S8 (uint8 activations, int8 weights), arm64
// and npu S8S8. Activations are asymmetric: ONNX Runtime's compute_scale_zp with the range widened to hold
// 0: scale = (hi - lo) / (qmax - qmin), zero point = round(qmin - lo / scale). Weights are symmetric int8
// ([-127, 127]; reduce-range [-63, 63]) per output channel (Conv axis 0, MatMul B its last axis, Gemm B
// axis 1, or 0 with transB), each channel's scale chosen by the scale search as in weight mode. Biases are
// int32 with scale sx * sw[c] and zero point 0, one tensor per reader (a shared bias is untied, since its
// readers' input scales differ).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "analysis/calibration.h"
#include "analysis/fidelity.h"
#include "analysis/shape_inference.h"
#include "exec/random_inputs.h"
#include "ir/dtype.h"
#include "onnx/opset_convert.h"
#include "ort/ort_prediction.h"
#include "passes/pass_util.h"
#include "passes/quantize.h"

namespace effopt::passes::quant {

namespace {

using util::node_label;

const std::set<std::string>& compute_ops() {
  static const std::set<std::string> ops = {"Conv", "MatMul", "Gemm", "Add", "Mul", "AveragePool",
                                            "GlobalAveragePool", "Concat"};
  return ops;
}
const std::set<std::string>& movement_ops() {
  static const std::set<std::string> ops = {"MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze"};
  return ops;
}

bool is_float_activation(const Value* v) {
  return v && !util::is_fixed_constant(v) && util::elem_type(v) == DataType::Float;
}
bool is_float_constant(const Value* v) { return v && util::is_fixed_constant(v) && util::elem_type(v) == DataType::Float; }

struct QParams {
  float scale = 1.f;
  int32_t zero_point = 0;
};

QParams activation_params(float lo, float hi, DataType t) {
  const double qmin = t == DataType::UInt8 ? 0 : -128, qmax = t == DataType::UInt8 ? 255 : 127;
  const float rmin = std::min(lo, 0.f), rmax = std::max(hi, 0.f);
  QParams p;
  float scale = (rmax - rmin) / static_cast<float>(qmax - qmin);
  if (!(scale > 0.f) || !std::isfinite(scale)) scale = 1.f;
  p.scale = scale;
  double zp = std::nearbyint(qmin - static_cast<double>(rmin) / static_cast<double>(scale));
  p.zero_point = static_cast<int32_t>(std::clamp(zp, qmin, qmax));
  return p;
}

// The Relu or Clip(0, c) that alone reads `y` and can be absorbed into y's QuantizeLinear.
Node* absorbable_activation(const Value* y) {
  if (y->is_output_of_any_graph() || y->uses().size() != 1) return nullptr;
  Node* a = y->uses()[0].node;
  if (a->graph() != y->graph() || !is_onnx_domain(a->domain) || a->output(0)->is_output_of_any_graph()) return nullptr;
  if (a->op_type == "Relu") return a;
  if (a->op_type != "Clip") return nullptr;
  double lo = 0, hi = std::numeric_limits<double>::infinity();
  if (a->attr("min") || a->attr("max")) {  // opset < 11
    lo = a->attr_float("min", -std::numeric_limits<float>::max());
    hi = a->attr_float("max", std::numeric_limits<float>::max());
  } else {
    for (size_t i = 1; i <= 2; ++i) {
      const Value* b = a->input(i);
      if (!b || b->name().empty()) continue;
      auto c = util::constant_splat(b);
      if (!c) return nullptr;
      (i == 1 ? lo : hi) = *c;
    }
  }
  return lo == 0 && hi > 0 ? a : nullptr;
}

struct Selection {
  std::vector<Node*> nodes;                // quantized compute and movement ops, in graph order
  std::vector<Value*> tensors;             // activations that get a pair, in order
  std::map<Value*, Value*> range_from;     // tensor -> the value whose range it takes (an absorbed op's output)
  std::map<Value*, Value*> same_as;        // movement op output -> its quantized input
  std::map<Value*, Value*> alias;          // absorbed op's output -> the tensor that replaces it
  std::vector<Node*> absorbed;
};

bool excluded(const Node& n, const Options& o) {
  if (o.exclude_ops.count(n.op_type)) return true;
  if (o.op_types_text != "auto" && !o.op_types.count(n.op_type)) return true;
  if (o.exclude_node && std::regex_match(n.name, *o.exclude_node)) return true;
  auto it = o.overrides.nodes.find(n.name);
  if (it != o.overrides.nodes.end() && it->second.exclude.value_or(false)) return true;
  auto jt = o.overrides.op_types.find(n.op_type);
  return jt != o.overrides.op_types.end() && jt->second.exclude.value_or(false);
}

// Why a compute op cannot be quantized ("" = it can).
std::string compute_op_refusal(const Node& n) {
  const std::string& op = n.op_type;
  if (!is_float_activation(n.input(0))) return "its first input is not a float32 activation";
  if (op == "Conv") {
    auto ws = util::static_shape(n.input(1));
    if (!is_float_constant(n.input(1)) || !ws || ws->size() < 3) return "its weight is not a float32 constant";
    const Value* b = n.input(2);
    if (b && !b->name().empty() && (!is_float_constant(b) || util::static_shape(b)->size() != 1))
      return "its bias is not a 1-D float32 constant";
  } else if (op == "MatMul") {
    const Value* b = n.input(1);
    if (!is_float_activation(b) && !(is_float_constant(b) && util::static_shape(b)->size() == 2))
      return "B is neither a float32 activation nor a 2-D float32 constant";
  } else if (op == "Gemm") {
    auto ws = util::static_shape(n.input(1));
    if (!is_float_constant(n.input(1)) || !ws || ws->size() != 2) return "B is not a 2-D float32 constant";
    if (n.attr_float("alpha", 1.f) != 1.f) return "alpha is not 1";
    const Value* c = n.input(2);
    if (c && !c->name().empty()) {
      if (n.attr_float("beta", 1.f) != 1.f) return "beta is not 1";
      int64_t N = n.attr_int("transB", 0) ? (*ws)[0] : (*ws)[1];
      auto cs = util::static_shape(c);
      if (!is_float_constant(c) || !cs || cs->empty() || cs->size() > 2 || cs->back() != N ||
          (cs->size() == 2 && (*cs)[0] != 1))
        return "C is not a float32 constant of N elements";
    }
  } else if (op == "Add" || op == "Mul") {
    if (!is_float_activation(n.input(1))) return "an input is a constant or not float32";
  } else if (op == "Concat") {
    for (const Value* v : n.inputs())
      if (!is_float_activation(v)) return "an input is a constant or not float32";
  }
  if (n.outputs().size() != 1) return "it has several outputs";
  return "";
}

Selection select(Graph& g, const Options& o, pass::PassResult& r) {
  Selection s;
  std::set<Value*> quantized;
  auto resolve = [&](Value* v) {
    auto it = s.alias.find(v);
    return it == s.alias.end() ? v : it->second;
  };
  auto add_tensor = [&](Value* v) {
    if (quantized.insert(v).second) s.tensors.push_back(v);
  };
  for (const auto& up : g.nodes()) {
    Node* n = up.get();
    if (!is_onnx_domain(n->domain)) continue;
    bool compute = compute_ops().count(n->op_type) > 0, movement = movement_ops().count(n->op_type) > 0;
    if (!compute && !movement) continue;
    if (excluded(*n, o)) {
      r.note(node_label(*n) + " (" + n->op_type + ") stays float: excluded by the options");
      continue;
    }
    Value* y = n->output(0);
    if (movement) {
      Value* in = n->input(0) ? resolve(n->input(0)) : nullptr;
      bool extra_outputs = n->outputs().size() > 1 && n->output(1) && !n->output(1)->name().empty();
      if (!in || !quantized.count(in) || extra_outputs || y->is_output_of_any_graph() ||
          util::elem_type(y) != DataType::Float)
        continue;
      add_tensor(y);
      s.same_as[y] = in;
      s.nodes.push_back(n);
      continue;
    }
    std::string why = compute_op_refusal(*n);
    if (!why.empty()) {
      r.note(node_label(*n) + " (" + n->op_type + ") stays float: " + why);
      continue;
    }
    size_t activation_inputs = n->op_type == "Concat" || n->op_type == "Add" || n->op_type == "Mul" ? n->inputs().size()
                               : n->op_type == "MatMul" && is_float_activation(n->input(1))    ? 2
                                                                                                : 1;
    for (size_t i = 0; i < activation_inputs; ++i) add_tensor(resolve(n->input(i)));
    if (y->is_output_of_any_graph()) {
      r.note(node_label(*n) + " (" + n->op_type + "): its output is a graph output and stays float");
    } else if (Node* a = absorbable_activation(y)) {
      add_tensor(y);
      s.range_from[y] = a->output(0);
      s.alias[a->output(0)] = y;
      s.absorbed.push_back(a);
    } else {
      add_tensor(y);
    }
    s.nodes.push_back(n);
  }
  return s;
}

TensorPtr float_tensor(const std::vector<float>& v, std::vector<int64_t> dims) {
  std::vector<std::byte> b(v.size() * sizeof(float));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return make_tensor(DataType::Float, std::move(dims), std::move(b));
}
TensorPtr scalar_zero_point(int32_t zp, DataType t) {
  std::vector<std::byte> b(1);
  b[0] = static_cast<std::byte>(static_cast<uint8_t>(zp & 0xFF));
  return make_tensor(t, {}, std::move(b));
}

class StaticBuilder {
 public:
  StaticBuilder(Graph& g, const Options& o, pass::PassContext& ctx, pass::PassResult& r, DataType act)
      : g_(g), o_(o), ctx_(ctx), r_(r), act_(act) {}

  Status run(const Selection& s, const std::map<Value*, QParams>& params) {
    params_ = &params;
    for (const auto& n : g_.nodes()) node_names_.insert(n->name);
    for (Node* n : s.nodes) {
      if (n->op_type == "Conv" || n->op_type == "Gemm" ||
          (n->op_type == "MatMul" && util::is_fixed_constant(n->input(1))))
        EFFOPT_TRY(quantize_weights(*n, s));
    }
    for (Value* t : s.tensors) insert_pair(t, s);
    for (Value* w : originals_) drop_dead_constant(w);
    g_.prune_dead_values();
    return ok();
  }

 private:
  const QParams& params_of(Value* v, const Selection& s) const {
    auto a = s.alias.find(v);
    if (a != s.alias.end()) v = a->second;
    return params_->at(v);
  }

  struct QuantizedWeight {
    Value* dq = nullptr;
    std::vector<float> scales;
  };

  Status quantize_weights(Node& n, const Selection& s) {
    Value* w = n.input(1);
    std::vector<int64_t> dims = *util::static_shape(w);
    int64_t axis = n.op_type == "Conv" ? 0 : n.op_type == "Gemm" && n.attr_int("transB", 0) ? 0
                                                                                             : static_cast<int64_t>(dims.size()) - 1;
    auto key = std::make_pair(w, o_.per_channel ? axis : -1);
    auto it = weights_.find(key);
    if (it == weights_.end()) {
      Granularity gr;
      if (o_.per_channel) {
        gr.kind = Granularity::Kind::PerAxis;
        gr.axis = axis;
      }
      std::vector<float> x = tensor_floats(*util::fixed_constant(w));
      QuantizedValues q = quantize_values(x, dims, Precision::Int8, gr, /*symmetric=*/true, o_.reduce_range,
                                          o_.scale_search, std::max(1, ctx_.threads));
      Value* qv = util::add_constant(g_, ctx_, make_tensor(DataType::Int8, dims, pack_values(q.values, DataType::Int8)),
                                     w->name() + "_quantized");
      Value* sv = util::add_constant(g_, ctx_, float_tensor(q.scales, q.scale_dims), w->name() + "_scale");
      Node* dq = g_.create_node("DequantizeLinear", {qv, sv}, {g_.unique_name(w->name() + "_dequantized")}, "",
                                g_.index_of(&n));
      dq->name = node_name(w->name() + "_DequantizeLinear");
      if (o_.per_channel) dq->set_attr(Attribute::make_int("axis", axis));
      std::vector<Dim> shape;
      for (int64_t d : dims) shape.push_back(Dim::known(d));
      dq->output(0)->type = Type::tensor(DataType::Float, shape);
      r_.count("tensors-int8");
      r_.count("weight-bytes-before", static_cast<int64_t>(util::fixed_constant(w)->byte_size()));
      r_.count("weight-bytes-after", static_cast<int64_t>(util::fixed_constant(qv)->byte_size() +
                                                         util::fixed_constant(sv)->byte_size()));
      originals_.insert(w);
      it = weights_.emplace(key, QuantizedWeight{dq->output(0), q.scales}).first;
    }
    n.set_input(1, it->second.dq);
    Value* b = n.input(2);
    if (b && !b->name().empty()) quantize_bias(n, b, it->second.scales, s);
    return ok();
  }

  // int32 bias, scale = sx * sw[c], zero point 0; one tensor per reader.
  void quantize_bias(Node& n, Value* b, const std::vector<float>& w_scales, const Selection& s) {
    const float sx = params_of(n.input(0), s).scale;
    std::vector<float> x = tensor_floats(*util::fixed_constant(b));
    std::vector<float> scales(w_scales.size());
    for (size_t c = 0; c < scales.size(); ++c) scales[c] = sx * w_scales[c];
    std::vector<int32_t> q(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      float sc = scales.size() == 1 ? scales[0] : scales[i];
      double v = std::nearbyint(static_cast<double>(x[i]) / static_cast<double>(sc));
      q[i] = static_cast<int32_t>(std::clamp(v, -2147483648.0, 2147483647.0));
    }
    std::vector<std::byte> bytes(q.size() * sizeof(int32_t));
    std::memcpy(bytes.data(), q.data(), bytes.size());
    const int64_t len = static_cast<int64_t>(x.size());
    Value* qv = util::add_constant(g_, ctx_, make_tensor(DataType::Int32, {len}, std::move(bytes)),
                                   b->name() + "_quantized");
    std::vector<int64_t> sdims;
    if (scales.size() > 1) sdims = {len};
    Value* sv = util::add_constant(g_, ctx_, float_tensor(scales, sdims), b->name() + "_scale");
    Node* dq = g_.create_node("DequantizeLinear", {qv, sv}, {g_.unique_name(b->name() + "_dequantized")}, "",
                              g_.index_of(&n));
    dq->name = node_name(b->name() + "_DequantizeLinear");
    if (scales.size() > 1) dq->set_attr(Attribute::make_int("axis", 0));
    dq->output(0)->type = Type::tensor(DataType::Float, std::vector<Dim>{Dim::known(len)});
    n.set_input(2, dq->output(0));
    originals_.insert(b);
    r_.count("biases-int32");
  }

  void insert_pair(Value* t, const Selection& s) {
    const QParams& p = params_->at(t);
    size_t pos = t->producer() ? g_.index_of(t->producer()) + 1 : 0;
    Value* sv = util::add_constant(g_, ctx_, float_tensor({p.scale}, {}), t->name() + "_scale");
    Value* zv = util::add_constant(g_, ctx_, scalar_zero_point(p.zero_point, act_), t->name() + "_zero_point");
    std::vector<Use> uses = t->uses();
    Node* q = g_.create_node("QuantizeLinear", {t, sv, zv}, {g_.unique_name(t->name() + "_quantized")}, "", pos);
    q->name = node_name(t->name() + "_QuantizeLinear");
    Node* dq = g_.create_node("DequantizeLinear", {q->output(0), sv, zv},
                              {g_.unique_name(t->name() + "_dequantized")}, "", pos + 1);
    dq->name = node_name(t->name() + "_DequantizeLinear");
    q->output(0)->type = Type::tensor(act_, t->type.shape);
    dq->output(0)->type = Type::tensor(DataType::Float, t->type.shape);
    Value* out = dq->output(0);
    auto absorbed = s.range_from.find(t);
    if (absorbed != s.range_from.end()) {
      // The Relu / Clip goes: its readers read the DequantizeLinear.
      Value* a_out = absorbed->second;
      Node* a = a_out->producer();
      std::vector<Use> a_uses = a_out->uses();
      for (const Use& u : a_uses) u.node->set_input(u.index, out);
      std::vector<Value*> bounds(a->inputs().begin() + 1, a->inputs().end());  // Clip's min / max
      g_.erase_node(a);
      for (Value* v : bounds) drop_dead_constant(v);
      uses.erase(std::remove_if(uses.begin(), uses.end(), [&](const Use& u) { return u.node == a; }), uses.end());
      r_.count("activations-absorbed");
    }
    for (const Use& u : uses) u.node->set_input(u.index, out);
    r_.count("qdq-pairs");
  }

  // A constant nobody reads any more (a replaced weight or bias, an absorbed Clip's bounds) goes.
  void drop_dead_constant(Value* v) {
    if (!v || v->name().empty() || !v->uses().empty() || v->is_output_of_any_graph() || v->is_graph_input()) return;
    if (v->initializer) g_.remove_initializer(v);
    else if (util::is_op(v->producer(), "Constant")) g_.erase_node(v->producer());
  }

  // Node names are unique in ONNX Runtime's eyes (value names are not node names).
  std::string node_name(const std::string& hint) {
    std::string name = hint;
    for (int k = 1; !node_names_.insert(name).second; ++k) name = hint + "_" + std::to_string(k);
    return name;
  }

  Graph& g_;
  std::set<std::string> node_names_;
  const Options& o_;
  pass::PassContext& ctx_;
  pass::PassResult& r_;
  DataType act_;
  const std::map<Value*, QParams>* params_ = nullptr;
  std::map<std::pair<Value*, int64_t>, QuantizedWeight> weights_;
  std::set<Value*> originals_;
};

constexpr size_t kRandomCalibrationSamples = 8;

std::string percentile_text(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", p);
  return buf;
}

}  // namespace

Status quantize_static(Model& m, const Options& o, int64_t opset_cap, pass::PassContext& ctx, pass::PassResult& r) {
  Options opts = o;
  Graph& g = *m.graph;
  const DataType act = o.target == "x86" || o.target == "x86-avx2" ? DataType::UInt8 : DataType::Int8;
  r.note(std::string("static: ") + (act == DataType::UInt8 ? "U8S8" : "S8S8") + " for target " + o.target + " (" +
         (act == DataType::UInt8 ? "uint8" : "int8") + " activations, int8 weights" +
         (o.reduce_range ? ", 7-bit weights (reduce-range)" : "") + "), QDQ format");
  int64_t need = opts.per_channel ? 13 : 10;
  if (need > opset_cap) {
    opts.per_channel = false;
    need = 10;
    r.note("max-opset " + std::to_string(opset_cap) + ": per-channel weights need opset 13; per-tensor instead");
  }
  EFFOPT_TRY(infer_shapes(m));
  const int64_t opset = m.opset();
  if (need > opset) {
    OpsetConvertStats cs;
    Status st = convert_opset(m, need, &cs);
    if (!st) return std::move(st).error().context("quantize: raising the opset to " + std::to_string(need));
    r.count("from-opset", opset);
    r.count("to-opset", need);
    r.note("opset raised from " + std::to_string(opset) + " to " + std::to_string(need) +
           " (per-channel DequantizeLinear)");
    r.changed = true;
    EFFOPT_TRY(infer_shapes(m));
  }

  Selection s = select(g, opts, r);
  if (s.nodes.empty()) {
    r.note("nothing to quantize: no Conv, MatMul, Gemm, Add, Mul, pooling or Concat node on float32 activations");
    return ok();
  }

  // Calibration: the calibration samples, else seeded random inputs (with a warning).
  std::vector<std::string> names;
  for (Value* t : s.tensors) {
    if (s.same_as.count(t)) continue;
    auto it = s.range_from.find(t);
    names.push_back(it == s.range_from.end() ? t->name() : it->second->name());
  }
  const SampleSource* samples = ctx.samples ? ctx.samples->calibration : nullptr;
  std::unique_ptr<SampleSource> random;
  if (!samples) {
    exec::RandomInputOptions ro = ctx.samples ? ctx.samples->random : exec::RandomInputOptions{};
    auto plan = exec::plan_random_inputs(g, ro);
    if (!plan)
      return std::move(plan).error().context("quantize: mode=static without calibration data draws random inputs");
    random = random_samples(std::move(*plan), ro.seed, kRandomCalibrationSamples);
    samples = random.get();
    r.note("warning: no calibration data (--calibration): calibrated on " + std::to_string(kRandomCalibrationSamples) +
           " seeded random samples (seed " + std::to_string(ro.seed) +
           "); scales from random inputs fit real data poorly: use this for speed measurements only");
    r.count("random-calibration-samples", static_cast<int64_t>(kRandomCalibrationSamples));
  }
  CalibrationOptions co;
  co.method = o.calibration_method;
  co.percentile = o.percentile;
  co.threads = std::max(1, ctx.threads);
  auto cal = calibrate(m, *samples, names, co);
  if (!cal) return std::move(cal).error().context("quantize: calibration");
  r.count("calibration-samples", static_cast<int64_t>(cal->samples));
  for (const std::string& w : cal->warnings) r.note("calibration: " + w);
  r.note(std::string("calibration: ") + calibration_method_name(o.calibration_method) +
         (o.calibration_method == CalibrationMethod::Percentile ? " " + percentile_text(o.percentile) : "") + " on " +
         std::to_string(cal->samples) + " samples, " + std::to_string(names.size()) + " tensors");

  std::map<Value*, QParams> params;
  for (Value* t : s.tensors) {
    auto same = s.same_as.find(t);
    if (same != s.same_as.end()) {
      params[t] = params.at(same->second);
      continue;
    }
    auto rf = s.range_from.find(t);
    const std::string& name = rf == s.range_from.end() ? t->name() : rf->second->name();
    const TensorRange* tr = cal->find(name);
    if (!tr || tr->values == 0)
      return internal_error("quantize: calibration gave no range for tensor '" + name + "'");
    params[t] = activation_params(tr->lo, tr->hi, act);
  }

  StaticBuilder b(g, opts, ctx, r, act);
  EFFOPT_TRY(b.run(s, params));
  r.count("quantized-nodes", static_cast<int64_t>(s.nodes.size()));
  r.changed = true;

  // What ONNX Runtime is predicted to run in integer kernels (level extended: no CPU dependence).
  EFFOPT_TRY(infer_shapes(m));
  OrtPredictionOptions po;
  po.level = OrtOptLevel::Extended;
  OrtPrediction pred = predict_ort_optimization(m, po);
  int64_t mac_ops = 0, integer = 0;
  for (const PredictedNodeFate& f : pred.nodes) {
    if (f.op_type != "Conv" && f.op_type != "MatMul" && f.op_type != "Gemm") continue;
    ++mac_ops;
    integer += f.integer_kernel;
  }
  r.count("integer-kernel-ops-predicted", integer);
  r.note("ONNX Runtime 1.30 (CPU, level extended) is predicted to run " + std::to_string(integer) + " of " +
         std::to_string(mac_ops) + " Conv/MatMul/Gemm nodes in integer kernels (the report's "
         "runtime_prediction.integer_kernel_mac_fraction weighs them by MACs)");
  return ok();
}

}  // namespace effopt::passes::quant
