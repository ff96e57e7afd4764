// quantize{mode=weight|dynamic|static|fp16 ...}: int8 / int4 weights, dynamic integer MatMuls or float16, as its options say.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

#include "ort/ort_prediction.h"
#include "analysis/shape_inference.h"
#include "onnx/opset_convert.h"
#include "pass/pipeline.h"
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
    if (o.mode != Mode::Fp16)
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

Expected<pass::PassResult> run(Model& m, pass::PassContext& ctx) {
  pass::PassResult r;
  EFFOPT_TRY_ASSIGN(Options o, parse_options(ctx.options));
  if (!m.graph) return invalid_model("the model has no graph");
  // The hook for static mode: it needs calibration data (a PassContext
  // member filled from --calibration, with the executor's observer) to plan
  // activation Q/DQ pairs; until that is wired here it is a usage error, not
  // a fake calibration.
  if (o.mode == Mode::Static)
    return usage_error("quantize: mode=static needs calibration data, which effopt cannot pass to the quantize "
                       "pass yet (--calibration is not wired); use mode=weight (smaller files), mode=dynamic "
                       "(integer MatMuls) or mode=fp16");
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
  size_t kept_float = 0;
  for (const TensorPlan& tp : plan.tensors) {
    r.note("tensor '" + tp.name + "': " + tp.reason);
    if (tp.precision == Precision::Float) ++kept_float;
  }
  if (kept_float) r.count("tensors-kept-float", static_cast<int64_t>(kept_float));
  EFFOPT_TRY(build_quantized(m, plan, o, ctx, r));
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
  p.summary = "Quantize weights to int8/int4 (weight), MatMuls to integer kernels (dynamic), or all to float16 (fp16)";
  p.lossy = true;
  p.doc =
      "Every mode is its `mode=` option. `weight` (the default) stores float constants as int8 (int4 with `bits=4`) "
      "with a DequantizeLinear in front of the float op that reads them: a file about 4x (int4: 7x) smaller that "
      "computes in float as before. `dynamic` makes MatMul and Gemm integer kernels (DynamicQuantizeLinear + "
      "MatMulInteger, standard ONNX, as ONNX Runtime's quantize_dynamic writes them; uint8 activations, int8 "
      "weights). `fp16` stores float16 weights and computes in float16. `static` (QDQ calibrated on data) is not "
      "yet implemented: it is a usage error. `effopt quantize` runs this pass after a preparation (the named "
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
      "Before: W = Constant<value = float[64,3,3,3]>(); y = Conv(x, W)\n"
      "After:  W = DequantizeLinear<axis = 0>(W_quantized (int8[64,3,3,3]), W_scale (float[64])); y = Conv(x, W)\n"
      "\n"
      "Before: y = MatMul(x, W (float[256,64]))   (mode=dynamic)\n"
      "After:  xq, xs, xz = DynamicQuantizeLinear(x); y = Mul(Cast(MatMulInteger(xq, W_quantized, xz)), Mul(xs, "
      "W_scale))\n"
      "\n"
      "Maths: symmetric int8 q = clamp(round(w / s), -127, 127) with w ~ q s (int4: [-8, 7]; unsigned types "
      "carry a zero point z: w ~ (q - z) s). For each group sharing a scale, `scale-search` candidate scales clip its "
      "range at ratios evenly spaced from 1 down to 0.5; the one with the smallest sum (w - s q)^2 wins (ratio 1 "
      "is max-abs rounding, so the error is never above it). (docs/benchmarks.md has what it gains on "
      "PaddleOCR.) Results do not depend on threads. `reduce-range` uses 7 bits (int8 [-63, 63]) for "
      "integer kernels whose u8 x s8 products saturate (AVX2 without VNNI). fp16 (as ONNX Runtime's float16 "
      "converter): float32 constants are rounded to float16 (values beyond +-65504 clamped to it); the ops of its "
      "block list (Resize, Upsample, Range, TopK, NonMaxSuppression, RoiAlign, CumSum, Min, Max), Q/DQ ops, ops of "
      "other domains, nodes with subgraphs and what `exclude-op` / `exclude-node` name stay float32 with Casts "
      "around, and constants only they read stay float32; `keep-io-types` keeps the graph's float32 inputs and "
      "outputs. ONNX Runtime's x86 CPU provider has float16 kernels for few ops: an fp16 model is smaller there, "
      "not faster (a note says so). `emit=ort` (last step) "
      "rewrites int4 DequantizeLinear -> MatMul into com.microsoft MatMulNBits. The notes count the "
      "DequantizeLinear nodes ONNX Runtime is predicted to run at every inference.";
  p.options = {
      {"mode", pass::OptionType::Enum, "weight",
       "weight: int8/int4 weights dequantized in front of float ops (smaller); dynamic: integer MatMul/Gemm "
       "(DynamicQuantizeLinear + MatMulInteger); static: not yet implemented; fp16: float16 weights and compute",
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
  };
  p.run_on_model = run;
  r.add(std::move(p));
}

}  // namespace effopt::passes
