// quantize{mode=weight|dynamic|static|fp16 ...}: int8 / int4 weights, dynamic integer MatMuls, calibrated QDQ or float16, as its options say.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

#include "ort/ort_prediction.h"
#include "analysis/shape_inference.h"
#include "onnx/opset_convert.h"
#include "pass/pipeline.h"
#include "onnx/model_io.h"
#include "passes/pass_guard.h"
#include "passes/pass_util.h"
#include "passes/passes.h"
#include "passes/quantize.h"

namespace effopt::passes {

namespace quant {

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',') {
      while (!cur.empty() && cur.back() == ' ') cur.pop_back();
      size_t b = cur.find_first_not_of(' ');
      if (b != std::string::npos) out.push_back(cur.substr(b));
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

std::string join_set(const std::set<std::string>& s) {
  std::string out;
  for (const std::string& x : s) out += (out.empty() ? "" : ",") + x;
  return out;
}

Expected<Mode> parse_mode(const std::string& s) {
  if (s == "weight") return Mode::Weight;
  if (s == "dynamic") return Mode::Dynamic;
  if (s == "static") return Mode::Static;
  if (s == "fp16") return Mode::Fp16;
  return usage_error("'" + s + "' is not a mode (weight, dynamic, static, fp16)");
}

}  // namespace

const std::set<std::string>& weight_mode_op_types() {
  static const std::set<std::string> ops = {"Concat", "Conv",  "ConvTranspose", "Div",   "Einsum", "Expand",
                                            "GRU",    "Gather", "Gemm",         "LSTM",  "MatMul", "Mul",
                                            "RNN",    "Slice",  "Sub",          "Tile",  "Where",  "Add"};
  return ops;
}

Expected<Overrides> parse_overrides(const std::string& text, const std::string& label) {
  Overrides out;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return usage_error("overrides " + label + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) return usage_error("overrides " + label + ": the top level must be an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::map<std::string, Override>* dest = nullptr;
    if (it.key() == "tensors") dest = &out.tensors;
    else if (it.key() == "nodes") dest = &out.nodes;
    else if (it.key() == "op_types" || it.key() == "op-types") dest = &out.op_types;
    else
      return usage_error("overrides " + label + ": unknown key '" + it.key() + "' (tensors, nodes, op_types)");
    if (!it.value().is_object()) return usage_error("overrides " + label + ": '" + it.key() + "' must be an object");
    for (auto e = it.value().begin(); e != it.value().end(); ++e) {
      std::string where = "overrides " + label + ": " + it.key() + "." + e.key();
      if (!e.value().is_object()) return usage_error(where + " must be an object");
      Override ov;
      for (auto f = e.value().begin(); f != e.value().end(); ++f) {
        const std::string& k = f.key();
        const nlohmann::json& v = f.value();
        if (k == "bits") {
          if (!v.is_number_integer() || (v.get<int>() != 4 && v.get<int>() != 8))
            return usage_error(where + ".bits must be 4 or 8");
          ov.bits = v.get<int>();
        } else if (k == "mode") {
          if (!v.is_string() || (v != "weight" && v != "dynamic"))
            return usage_error(where + ".mode must be \"weight\" or \"dynamic\"");
          ov.mode = v == "weight" ? Mode::Weight : Mode::Dynamic;
        } else if (k == "per_channel" || k == "per-channel" || k == "symmetric" || k == "exclude") {
          if (!v.is_boolean()) return usage_error(where + "." + k + " must be true or false");
          (k == "exclude" ? ov.exclude : k == "symmetric" ? ov.symmetric : ov.per_channel) = v.get<bool>();
        } else {
          return usage_error(where + ": unknown field '" + k + "' (bits, mode, per_channel, symmetric, exclude)");
        }
      }
      (*dest)[e.key()] = ov;
    }
  }
  return out;
}

Expected<Options> parse_options(const pass::PassOptions& po) {
  Options o;
  EFFOPT_TRY_ASSIGN(o.mode, parse_mode(po.get_string("mode")));
  o.bits = po.get_string("bits") == "4" ? 4 : 8;
  if (o.bits == 4 && o.mode != Mode::Weight)
    return usage_error(std::string("quantize: bits=4 is for mode=weight only (mode=") + mode_name(o.mode) + ")");
  o.block_size = po.get_int("block-size");
  if (o.block_size & (o.block_size - 1))
    return usage_error("quantize: block-size " + std::to_string(o.block_size) +
                       " is not a power of two (ONNX Runtime's 4-bit kernels take 16, 32, 64, 128, ...)");
  o.per_channel = po.get_bool("per-channel");
  o.symmetric = po.get_bool("symmetric");
  o.op_types_text = po.get_string("op-types");
  if (o.op_types_text == "auto") {
    o.op_types = weight_mode_op_types();
    if (o.mode == Mode::Dynamic) {
      o.op_types.erase("Conv");
      o.op_types.erase("ConvTranspose");
    }
    if (o.mode == Mode::Static)
      o.auto_notes.push_back("op-types=auto: Conv, MatMul, Gemm, Add, Mul, AveragePool, GlobalAveragePool, Concat, "
                             "and MaxPool, Reshape, Flatten, Transpose, Squeeze, Unsqueeze on quantized inputs "
                             "(mode static)");
    else if (o.mode != Mode::Fp16)
      o.auto_notes.push_back(std::string("op-types=auto: ") + join_set(o.op_types) + " (mode " + mode_name(o.mode) +
                             (o.mode == Mode::Dynamic ? "; Conv stays float: ConvInteger is slower than float here"
                                                      : "") +
                             ")");
  } else {
    for (const std::string& op : split_list(o.op_types_text)) o.op_types.insert(op);
    if (o.op_types.empty()) return usage_error("quantize: op-types lists no op");
  }
  for (const std::string& op : split_list(po.get_string("exclude-op"))) o.exclude_ops.insert(op);
  o.exclude_node_text = po.get_string("exclude-node");
  if (!o.exclude_node_text.empty()) {
    try {
      o.exclude_node = std::regex(o.exclude_node_text, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return usage_error("quantize: exclude-node '" + o.exclude_node_text + "' is not a regular expression: " + e.what());
    }
  }
  o.min_size = po.get_int("min-size");
  o.target = po.get_string("target");
  const std::string& rr = po.get_string("reduce-range");
  if (rr == "auto") {
    // 7-bit weights where the integer kernels' u8 x s8 products can saturate (AVX2 without VNNI).
    o.reduce_range = o.target == "x86-avx2" && (o.mode == Mode::Dynamic || o.mode == Mode::Static);
    if (o.mode == Mode::Dynamic || o.mode == Mode::Static)
      o.auto_notes.push_back(std::string("reduce-range=auto: ") + (o.reduce_range ? "true" : "false") + " (target " +
                             o.target + ")");
  } else {
    o.reduce_range = rr == "true";
  }
  o.max_opset = po.get_int("max-opset");
  o.keep_io_types = po.get_bool("keep-io-types");
  o.emit_ort = po.get_string("emit") == "ort";
  o.scale_search = po.get_int("scale-search");
  EFFOPT_TRY_ASSIGN(o.calibration_method, parse_calibration_method(po.get_string("calibration-method")));
  o.percentile = po.get_float("percentile");
  if (!po.get_string("overrides").empty()) {
    EFFOPT_TRY_ASSIGN(std::string text, pass::read_option_file(po, "overrides"));
    EFFOPT_TRY_ASSIGN(o.overrides, parse_overrides(text, pass::split_file_value(po.get_string("overrides")).first));
  }
  return o;
}

}  // namespace quant

namespace {

using namespace quant;

// Ops that show a model is quantized already (in part).
size_t count_quantized_nodes(const Graph& g, std::map<std::string, size_t>& by_op) {
  static const std::set<std::string> ops = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
                                            "QLinearConv",    "QLinearMatMul",    "MatMulInteger",
                                            "ConvInteger",    "MatMulNBits",      "GatherBlockQuantized",
                                            "QGemm",          "DynamicQuantizeMatMul", "MatMulIntegerToFloat"};
  size_t n = 0;
  for (const auto& node : g.nodes()) {
    if (ops.count(node->op_type) && (is_onnx_domain(node->domain) || node->domain == "com.microsoft")) {
      ++n;
      ++by_op[node->op_type];
    }
    for (const Graph* sg : node->subgraphs()) n += count_quantized_nodes(*sg, by_op);
  }
  return n;
}

// ---- the quality guard (pass_guard.h)
//
// Units are the plan's quantized tensors. A unit's levels are the precisions
// it can take, lowest first: the plan's (int4, or int8), the bits=8 plan's
// when that differs (int4 -> int8 under bits=4), then float. A candidate is
// the plan with each unit's tensor set to its level's TensorPlan, built on a
// fresh copy of `m`. A static-mode unit (the activation Q/DQ pairs of one
// node) would be another GuardUnitRef kind whose levels edit the plan's
// activation entries the same way.
struct GuardUnitRef {
  size_t tensor = 0;                        // index into PrecisionPlan::tensors
  std::vector<const TensorPlan*> levels;    // the TensorPlan of each level; nullptr = float (the top)
};

std::string plan_key(const TensorPlan& t) { return t.scope + "\n" + t.name; }

// Runs the guard and leaves its final candidate in `m`; `plan` ends with the final precisions.
Status run_guarded(Model& m, PrecisionPlan& plan, const Options& o, const FidelityLimits& limits,
                   std::optional<double> max_float_fraction, int64_t cap, pass::PassContext& ctx, pass::PassResult& r) {
  std::optional<PrecisionPlan> plan8;
  std::map<std::string, const TensorPlan*> by_key8;
  if (o.bits == 4) {
    Options o8 = o;
    o8.bits = 8;
    EFFOPT_TRY_ASSIGN(plan8, make_plan(m, o8, cap));
    for (const TensorPlan& t : plan8->tensors) by_key8[plan_key(t)] = &t;
  }
  std::vector<GuardUnit> units;
  std::vector<GuardUnitRef> refs;
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    const TensorPlan& t = plan.tensors[i];
    if (t.precision == Precision::Float) continue;
    GuardUnitRef ref{i, {&t}};
    GuardUnit u{t.name, {precision_name(t.precision)}, 0};
    auto it = by_key8.find(plan_key(t));
    if (it != by_key8.end() && it->second->precision != Precision::Float && it->second->precision != t.precision) {
      ref.levels.push_back(it->second);
      u.levels.push_back(precision_name(it->second->precision));
    }
    ref.levels.push_back(nullptr);
    u.levels.push_back("float");
    refs.push_back(std::move(ref));
    units.push_back(std::move(u));
  }
  EFFOPT_TRY_ASSIGN(GuardData data, guard::data(ctx, *m.graph));
  // Each unit's MACs: those of the Conv/Gemm/MatMul nodes of the main graph that read its tensor.
  EFFOPT_TRY_ASSIGN(guard::MacCount macs, guard::count_macs(m, *data.samples));
  std::map<const Node*, size_t> node_index;
  for (size_t i = 0; i < m.graph->nodes().size(); ++i) node_index[m.graph->nodes()[i].get()] = i;
  for (size_t u = 0; u < units.size(); ++u) {
    const TensorPlan& t = plan.tensors[refs[u].tensor];
    Graph* g = graph_at(m, t.scope);
    Value* v = g ? g->find_local(t.name) : nullptr;
    if (!v) continue;
    std::set<const Node*> readers;
    for (const ConstantUse& use : constant_uses(m, v, t.dims, o))
      if (use.node && readers.insert(use.node).second) {
        auto at = node_index.find(use.node);
        if (at != node_index.end()) units[u].macs += macs.node_macs[at->second];
      }
  }
  if (!macs.unknown.empty())
    r.note("quality guard: the MACs of " + std::to_string(macs.unknown.size()) +
           " Conv/Gemm/MatMul nodes are unknown (first: " + macs.unknown.front() +
           "); they count for neither the units nor the float fraction");

  std::map<std::vector<size_t>, pass::PassResult> builds;  // what each candidate's build counted
  auto plan_for = [&](const std::vector<size_t>& levels) {
    PrecisionPlan p = plan;
    for (size_t u = 0; u < refs.size(); ++u) {
      TensorPlan& t = p.tensors[refs[u].tensor];
      if (const TensorPlan* level = refs[u].levels[levels[u]]) {
        t = *level;
      } else {
        t.precision = Precision::Float;
        t.integer_nodes.clear();
        t.store_transposed = false;
      }
    }
    return p;
  };
  CandidateBuilder build = [&](const std::vector<size_t>& levels) -> Expected<std::unique_ptr<Model>> {
    EFFOPT_TRY_ASSIGN(std::unique_ptr<Model> c, clone_model(m));
    pass::PassContext cctx{*c, ctx.options, ctx.threads, nullptr, nullptr, ctx.samples};
    pass::PassResult cr;
    EFFOPT_TRY(build_quantized(*c, plan_for(levels), o, cctx, cr));
    builds[levels] = std::move(cr);
    return c;
  };
  GuardOptions go;
  go.limits = limits;
  go.threads = ctx.threads;
  go.max_top_fraction = max_float_fraction;
  go.total_macs = macs.total;
  go.top_name = "float";
  go.rank_per_mac = true;  // the fewest MACs left float for the error recovered (--max-float-fraction)
  EFFOPT_TRY_ASSIGN(GuardResult g, run_quality_guard(m, units, build, data, go));
  PrecisionPlan final_plan = plan_for(g.levels);
  for (size_t u = 0; u < refs.size(); ++u) {
    TensorPlan& t = final_plan.tensors[refs[u].tensor];
    if (g.levels[u] > 0) t.reason = std::string(precision_name(t.precision)) + ": the quality guard " + g.units[u].reason;
  }
  plan = std::move(final_plan);
  auto built = builds.find(g.levels);
  if (built == builds.end()) return internal_error("quantize: the quality guard's final candidate was not built");
  r.merge(built->second);
  m = std::move(*g.model);
  guard::record(r, std::move(g));
  return ok();
}

Expected<pass::PassResult> run(Model& m, pass::PassContext& ctx) {
  pass::PassResult r;
  EFFOPT_TRY_ASSIGN(Options o, parse_options(ctx.options));
  if (!m.graph) return invalid_model("the model has no graph");
  EFFOPT_TRY_ASSIGN(std::optional<FidelityLimits> limits, guard::parse_limits(ctx.options, "quantize"));
  std::optional<double> max_float_fraction;
  if (ctx.options.get_float("max-float-fraction") < 1) {
    if (!limits)
      return usage_error("quantize: option 'max-float-fraction' is a budget of the quality guard: give a limit "
                         "(max-error, min-sqnr or min-accuracy) too");
    max_float_fraction = ctx.options.get_float("max-float-fraction");
  }
  // Static mode's guard units (a node's weight with its activation Q/DQ pairs) are not built yet.
  if (limits && (o.mode == Mode::Fp16 || o.mode == Mode::Static))
    return usage_error(std::string("quantize: the quality guard (max-error, min-sqnr, min-accuracy) covers "
                                   "mode=weight and mode=dynamic, not mode=") + mode_name(o.mode) +
                       (o.mode == Mode::Fp16 ? " (check an fp16 model with effopt compare)"
                                             : " yet (check a static model with effopt compare)"));
  for (const std::string& n : o.auto_notes) r.note(n);
  if (size_t detached = pass::allow_plain_initializers(m)) {
    r.count("initializer-inputs-detached", static_cast<int64_t>(detached));
    r.changed = true;
  }
  std::map<std::string, size_t> quantized_ops;
  if (size_t nq = count_quantized_nodes(*m.graph, quantized_ops)) {
    std::string list;
    for (const auto& [op, k] : quantized_ops) list += (list.empty() ? "" : ", ") + std::to_string(k) + " " + op;
    r.note("the model is quantized already in part (" + list +
           "): those parts are left as they are, and so are the constants they read");
    r.count("already-quantized-nodes", static_cast<int64_t>(nq));
  }
  if (o.mode == Mode::Fp16) {
    EFFOPT_TRY(convert_to_float16(m, o, ctx, r));
    return r;
  }
  int64_t opset = m.opset();
  int64_t cap = o.max_opset ? o.max_opset : 21;
  if (cap < opset) {
    r.note("max-opset " + std::to_string(cap) + " is below the model's opset " + std::to_string(opset) +
           ": the opset stays " + std::to_string(opset));
    cap = opset;
  }
  int64_t min_opset = o.mode == Mode::Dynamic ? 11 : 10;
  if (cap < min_opset)
    return usage_error("quantize: max-opset " + std::to_string(cap) + " is too low: mode=" + mode_name(o.mode) +
                       " needs opset " + std::to_string(min_opset) +
                       (o.mode == Mode::Dynamic ? " (DynamicQuantizeLinear)" : " (DequantizeLinear)"));
  if (o.mode == Mode::Static) {
    EFFOPT_TRY(quantize_static(m, o, cap, ctx, r));
    return r;
  }
  EFFOPT_TRY_ASSIGN(PrecisionPlan plan, make_plan(m, o, cap));
  if (plan.opset > opset) {
    // Raised only as far as the plan needs: per-axis 13, float16 scales 19, int4 21.
    EFFOPT_TRY(infer_shapes(m));
    OpsetConvertStats cs;
    Status st = convert_opset(m, plan.opset, &cs);
    if (!st) return std::move(st).error().context("quantize: raising the opset to " + std::to_string(plan.opset));
    r.count("from-opset", opset);
    r.count("to-opset", plan.opset);
    r.note("opset raised from " + std::to_string(opset) + " to " + std::to_string(plan.opset) +
           " (what the quantized form needs: per-channel DequantizeLinear 13, DynamicQuantizeLinear 11, float16 "
           "scales 19, int4 21); IR version " + std::to_string(m.ir_version));
    for (auto& c : cs.changes) r.note("opset: " + c);
    r.changed = true;
    // The converter may have rewritten readers: plan again on the converted model.
    EFFOPT_TRY_ASSIGN(plan, make_plan(m, o, cap));
  }
  for (const std::string& n : plan.notes) r.note(n);
  if (limits)
    EFFOPT_TRY(run_guarded(m, plan, o, *limits, max_float_fraction, cap, ctx, r));
  else
    EFFOPT_TRY(build_quantized(m, plan, o, ctx, r));
  size_t kept_float = 0;
  for (const TensorPlan& tp : plan.tensors) {
    r.note("tensor '" + tp.name + "': " + tp.reason);
    if (tp.precision == Precision::Float) ++kept_float;
  }
  if (kept_float) r.count("tensors-kept-float", static_cast<int64_t>(kept_float));
  if (o.emit_ort) EFFOPT_TRY(emit_ort_contrib_ops(m, ctx, r));
  if (!r.changed) r.note("nothing to quantize: no float constant of at least min-size elements (" +
                         std::to_string(o.min_size) + ") that a quantizable op reads");
  // What ONNX Runtime will do with the result: a DequantizeLinear in front of
  // a float op runs at every inference (weight mode buys size, not speed).
  OrtPrediction pred = predict_ort_optimization(m);
  int64_t dq_run = 0, nbits = 0;
  for (const PredictedNodeFate& f : pred.nodes)
    if (f.op_type == "DequantizeLinear" && f.fate == "kept") ++dq_run;
  for (const auto& [op, k] : pred.op_counts)
    if (op == "com.microsoft.MatMulNBits") nbits += static_cast<int64_t>(k);
  r.count("dequantize-nodes-run-per-inference", dq_run);
  if (nbits) r.count("matmulnbits-predicted", nbits);
  if (dq_run)
    r.note("ONNX Runtime 1.30 (CPU) is predicted to run " + std::to_string(dq_run) +
           " DequantizeLinear nodes at every inference: weight-only quantization makes the file smaller, not "
           "faster (mode=static, calibrated, runs integer kernels)");
  return r;
}

}  // namespace

void register_quantize(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "quantize";
  p.summary = "Quantize weights to int8/int4 (weight), MatMuls to integer kernels (dynamic), activations and "
              "weights to calibrated QDQ int8 (static), or all to float16 (fp16)";
  p.lossy = true;
  p.doc =
      "Every mode is its `mode=` option. `weight` (the default) stores float constants as int8 (int4 with `bits=4`) "
      "with a DequantizeLinear in front of the float op that reads them: a file about 4x (int4: 7x) smaller that "
      "computes in float as before. `dynamic` makes MatMul and Gemm integer kernels (DynamicQuantizeLinear + "
      "MatMulInteger, standard ONNX, as ONNX Runtime's quantize_dynamic writes them; uint8 activations, int8 "
      "weights). `fp16` stores float16 weights and computes in float16. `static` runs Conv, MatMul, Gemm, Add, "
      "pooling and Concat in ONNX Runtime's integer kernels: QuantizeLinear/DequantizeLinear pairs on activations "
      "calibrated on the calibration samples (`--calibration`), int8 per-channel weights, int32 biases. `effopt quantize` runs this pass after a preparation (the named "
      "pipeline `@quantize`).\n"
      "\n"
      "When: weight and dynamic modes quantize every stored float constant (initializers, `Constant` nodes, "
      "constants inside subgraphs) of at least `min-size` elements and rank 2 or more that only ops of `op-types` "
      "read, whatever reads it: per-channel along the output-channel axis of the op that finally uses it "
      "(looking through Identity, Reshape, Flatten, Squeeze, Unsqueeze, Transpose and into subgraphs: Conv W "
      "axis 0, ConvTranspose axis 1, MatMul/Gemm B the N axis, LSTM/GRU/RNN W and R axis 1), per-tensor only "
      "where no reader has such an axis or readers want different ones. Each channel's scale minimizes that "
      "channel's rounding error (`scale-search` clipping ratios, as llama.cpp's quantizers choose theirs). A "
      "Gather's table is gathered first and only the gathered rows are dequantized (per-row scales). A weight "
      "shared by several nodes stays one tensor; a Gemm bias scaled by beta is untied per reader. `bits=4`: "
      "MatMul and Gemm weights become signed int4 (uint4 with zero points when `symmetric=false`) in blocks of "
      "`block-size` along K, laid out [K, N] (a Gemm with transB=1 gets its weight transposed and transB=0), "
      "the form ONNX Runtime fuses into MatMulNBits; other constants stay int8 (Conv int4 only through "
      "`overrides`, for size alone). The opset is raised as far as the result needs and no further "
      "(per-channel DequantizeLinear 13, DynamicQuantizeLinear 11, float16 scales 19, int4 21; the IR version "
      "with it); `max-opset` caps it, and then per-channel falls back to per-tensor below 13, int4 to int8 "
      "below 21, float16 tensors stay float below 19 (notes say what fell back). A scale has the float type of "
      "the tensor it dequantizes to.\n"
      "\n"
      "Not when: a constant holds inf or NaN (attention masks); an op needs it in float (shapes, Resize scales, "
      "Range limits, Clip bounds, normalization statistics, biases); an op outside `op-types`, in `exclude-op`, "
      "matched by `exclude-node` (a regular expression matched against the whole node name) or excluded by the "
      "overrides reads it; an op of another domain reads it; it is a graph output; 1-D tensors and scalars "
      "(unless the overrides name them). Parts that are quantized already (QDQ, QLinear*, MatMulInteger, "
      "MatMulNBits) are left as they are and a note says so. A BatchNormalization after a Conv whose weight is "
      "quantized is noted: fold it first (the preparation does). Each tensor's decision and its reason is a "
      "note; so is what `auto` became. `overrides=FILE` is JSON: {\"tensors\": {NAME: {...}}, \"nodes\": "
      "{NAME: {...}}, \"op_types\": {OP: {...}}} with fields bits (4|8), mode (weight|dynamic), per_channel, "
      "symmetric, exclude; a tensor entry wins over a node entry, which wins over an op-type entry.\n"
      "\n"
      "Which mode: `weight` for a smaller download (ONNX Runtime still computes in float and runs every "
      "DequantizeLinear at each inference: slower on a CPU); `dynamic` for speed on MatMul-heavy models "
      "(transformers) without calibration data; `static` for speed on Conv networks (and MatMul ones) when "
      "representative calibration inputs exist (a few hundred rows): resnet18 ran about 3x faster than float32 in "
      "ONNX Runtime on an AVX-512 VNNI CPU (docs/benchmarks.md); `fp16` for half the size at almost no error.\n"
      "\n"
      "Static mode: pairs go on every float activation input and the output of Conv, MatMul, Gemm, Add, Mul, "
      "AveragePool, GlobalAveragePool and Concat, with one scale and zero point per tensor calibrated by "
      "`calibration-method` (ONNX Runtime's minmax, percentile with `percentile`, entropy) on the calibration "
      "samples (without them: on 8 seeded random samples, with a warning: for speed measurements only); MaxPool, "
      "Reshape, Flatten, Transpose, Squeeze and Unsqueeze on a quantized tensor get a pair with their input's "
      "parameters (ONNX Runtime then runs them on the integers). A Relu or Clip(0, c) that alone reads such an op's "
      "output is removed and its range taken by the op's QuantizeLinear (nothing may sit between Conv and its "
      "QuantizeLinear for ONNX Runtime to fuse them). Weights are symmetric int8 per output channel, biases int32 "
      "with scale = input scale x weight scale (zero point 0, one tensor per reader). `target` fixes the types: "
      "x86 U8S8 (uint8 activations), x86-avx2 the same with 7-bit weights (reduce-range), arm64 and npu S8S8. "
      "Graph outputs stay float (a Gemm or MatMul making one runs as QGemm / MatMulIntegerToFloat); subgraph "
      "bodies stay float. A note gives how many Conv/MatMul/Gemm nodes ONNX Runtime is predicted to run in integer "
      "kernels; the report's runtime_prediction has integer_kernel_mac_fraction.\n"
      "\n"
      "Before: W = Constant<value = float[64,3,3,3]>(); y = Conv(x, W)\n"
      "After:  W = DequantizeLinear<axis = 0>(W_quantized (int8[64,3,3,3]), W_scale (float[64])); y = Conv(x, W)\n"
      "\n"
      "Before: y = MatMul(x, W (float[256,64]))   (mode=dynamic)\n"
      "After:  xq, xs, xz = DynamicQuantizeLinear(x); y = Mul(Cast(MatMulInteger(xq, W_quantized, xz)), Mul(xs, "
      "W_scale))\n"
      "\n"
      "Before: r = Relu(Conv(x, W, B))   (mode=static)\n"
      "After:  y = Conv(DequantizeLinear(QuantizeLinear(x, sx, zx), sx, zx), DequantizeLinear<axis = 0>(Wq, sw), "
      "DequantizeLinear<axis = 0>(Bq (int32), sx sw)); r = DequantizeLinear(QuantizeLinear(y, sr, zr), sr, zr)   "
      "(zr = 0: the Relu's range)\n"
      "\n"
      "Maths: symmetric int8 q = clamp(round(w / s), -127, 127) with w ~ q s (int4: [-8, 7]; unsigned types "
      "carry a zero point z: w ~ (q - z) s). For each group sharing a scale, `scale-search` candidate scales clip its "
      "range at ratios evenly spaced from 1 down to 0.5; the one with the smallest sum (w - s q)^2 wins (ratio 1 "
      "is max-abs rounding, so the error is never above it). (docs/benchmarks.md has what it gains on "
      "PaddleOCR.) Results do not depend on threads. `reduce-range` uses 7 bits (int8 [-63, 63]) for "
      "integer kernels whose u8 x s8 products saturate (AVX2 without VNNI). Static activations (ONNX Runtime's "
      "compute_scale_zp): the calibrated range [lo, hi] widened to hold 0, scale = (hi - lo) / (qmax - qmin), zero "
      "point = round(qmin - lo / scale); a bias b becomes round(b / (sx sw)) in int32. Calibration and scales do "
      "not depend on threads; on another CPU an activation's last bits, and so a scale's, may differ "
      "(lib/analysis/calibration.h). fp16 (as ONNX Runtime's float16 "
      "converter): float32 constants are rounded to float16 (values beyond +-65504 clamped to it); the ops of its "
      "block list (Resize, Upsample, Range, TopK, NonMaxSuppression, RoiAlign, CumSum, Min, Max), Q/DQ ops, ops of "
      "other domains, nodes with subgraphs and what `exclude-op` / `exclude-node` name stay float32 with Casts "
      "around, and constants only they read stay float32; `keep-io-types` keeps the graph's float32 inputs and "
      "outputs. ONNX Runtime's x86 CPU provider has float16 kernels for few ops: an fp16 model is smaller there, "
      "not faster (a note says so). `emit=ort` (last step) "
      "rewrites int4 DequantizeLinear -> MatMul into com.microsoft MatMulNBits. The notes count the "
      "DequantizeLinear nodes ONNX Runtime is predicted to run at every inference.\n"
      "\n"
      "Quality guard (weight and dynamic modes): with `max-error` (in `metric`), `min-sqnr` or `min-accuracy` "
      "(`compare`'s limits), the quantized tensors are the guard's units (levels int8 -> float; int4 -> int8 -> "
      "float under bits=4; each unit's MACs are those of the Conv/Gemm/MatMul nodes it feeds). Every candidate "
      "is built on a fresh copy of the pass's input and measured against it on effopt's executor, on the "
      "`data`/`random` samples, else the calibration data, else 4 seeded random samples (with a warning). While "
      "a limit is broken, each unit's sensitivity (the error with only it quantized) is measured once and the "
      "unit with the most error per MAC (its squared error alone over the Conv/Gemm/MatMul MACs it feeds; a unit with fewer than 0.1% of the model's MACs counts as 0.1%) steps back one level. `max-float-fraction` fails the check when more of the "
      "Conv/Gemm/MatMul MACs would be left float; so does a limit that holds only with everything float. The "
      "pass's result is the last candidate measured (lib/analysis/quality_guard.h; the report's "
      "`passes[].quality_guard`, docs/report.md).";
  p.options = {
      {"mode", pass::OptionType::Enum, "weight",
       "weight: int8/int4 weights dequantized in front of float ops (smaller); dynamic: integer MatMul/Gemm "
       "(DynamicQuantizeLinear + MatMulInteger); static: QDQ calibrated activations, integer Conv/MatMul/Gemm; fp16: "
       "float16 weights and compute",
       {"weight", "dynamic", "static", "fp16"}},
      {"bits", pass::OptionType::Enum, "8", "weight bits: 8, or 4 (mode=weight only: block-wise int4 MatMul/Gemm "
       "weights, opset 21)", {"8", "4"}},
      {"block-size", pass::OptionType::Int, "128", "bits=4: elements per block along K (a power of two)", {}, 16, 4096},
      {"per-channel", pass::OptionType::Bool, "true",
       "one scale per output channel (false: one per tensor; --per-tensor on the command line)", {}, -1e300, 1e300,
       "per-tensor"},
      {"symmetric", pass::OptionType::Bool, "true",
       "signed weights, zero point 0 (false: unsigned with zero points; --asymmetric on the command line)", {},
       -1e300, 1e300, "asymmetric"},
      {"op-types", pass::OptionType::String, "auto",
       "ops whose constants are quantized, comma-separated (auto: weight mode every op that reads weights or tables; "
       "dynamic the same without Conv/ConvTranspose)", {}},
      {"exclude-op", pass::OptionType::String, "", "op types whose constants stay float, comma-separated", {}},
      {"exclude-node", pass::OptionType::String, "",
       "regular expression (ECMAScript, whole name): constants these nodes read stay float", {}},
      {"min-size", pass::OptionType::Int, "1024", "smallest constant quantized, in elements", {}, 1, 1e15},
      {"reduce-range", pass::OptionType::Enum, "auto",
       "7-bit weights for integer kernels (auto: true for target x86-avx2 in dynamic/static mode)",
       {"auto", "true", "false"}},
      {"target", pass::OptionType::Enum, "x86",
       "the CPU the integer types are chosen for (fixed: never the machine effopt runs on)",
       {"x86", "x86-avx2", "arm64", "npu"}},
      {"max-opset", pass::OptionType::Int, "0",
       "highest default-domain opset the pass may raise the model to (0 = 21, effopt's highest); below it "
       "per-channel, int4 and float16 scales fall back",
       {}, 0, 21},
      {"keep-io-types", pass::OptionType::Bool, "false", "fp16: keep the graph's float32 inputs and outputs", {}},
      {"overrides", pass::OptionType::File, "",
       "JSON per tensor, node or op type: bits, mode, per_channel, symmetric, exclude", {}},
      {"emit", pass::OptionType::Enum, "onnx",
       "onnx: standard ONNX; ort: ONNX Runtime's com.microsoft MatMulNBits for int4 MatMuls (last step)",
       {"onnx", "ort"}},
      {"scale-search", pass::OptionType::Int, "51",
       "clipping ratios tried per scale, 1 down to 0.5 (1 = plain max-abs rounding)", {}, 1, 1000},
      {"calibration-method", pass::OptionType::Enum, "minmax",
       "static: how activation ranges are calibrated (ONNX Runtime's methods)", {"minmax", "percentile", "entropy"}},
      {"percentile", pass::OptionType::Float, "99.999",
       "static, calibration-method=percentile: the share of |values| the range keeps", {}, 50, 100},
  };
  for (pass::OptionSpec& spec : pass::calibration_data_options()) p.options.push_back(std::move(spec));
  // The quality guard: its limits, its budget, its data.
  for (pass::OptionSpec& s : pass::guard_options()) p.options.push_back(std::move(s));
  p.options.push_back({"max-float-fraction", pass::OptionType::Float, "1",
                       "quality guard: fail when more than this share of the Conv/Gemm/MatMul MACs is left float "
                       "(1 = no limit)",
                       {}, 0, 1});
  for (pass::OptionSpec& s : pass::evaluation_data_options()) p.options.push_back(std::move(s));
  p.run_on_model = run;
  r.add(std::move(p));
}

}  // namespace effopt::passes
