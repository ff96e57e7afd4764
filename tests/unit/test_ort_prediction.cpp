// effopt's prediction of ONNX Runtime 1.30's CPU optimizer
// (ort/ort_prediction.h): one rule per test, where it fires and where
// its condition fails, and every test graph's prediction compared with the
// graph ONNX Runtime saves (optimized_model_path) at the same optimization
// level: op counts and node fates must be equal. ORT's graphs are kept in
// tests/ort/reference/ort_prediction_unit.json (from an AVX-512F host, see
// tests/util/ort_reference.h): the prediction is compared with that file on
// every host, and live ORT with the file where this host reproduces it.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "ort/ort_prediction.h"
#include "analysis/shape_propagation.h"
#include "fusion_test_util.h"
#include "onnx/convert_proto.h"
#include "onnx/model_io.h"
#include "support/ort_harness.h"
#include "util/ort_reference.h"
#include "util/test_util.h"

using namespace effopt;
using effopt::test::parse_or_fail;
using effopt::test::fusion::numbers;

namespace {

const char* level_name(OrtOptLevel l) { return ort_opt_level_name(l); }

OrtPrediction predict(Model& m, OrtOptLevel level) {
  auto st = infer_shapes_with_bindings(m, {});
  if (!st) FAIL("shape inference: " << st.error().message);
  OrtPredictionOptions o;
  o.level = level;
  return predict_ort_optimization(m, o);
}

std::string counts_text(const std::map<std::string, uint64_t>& c) {
  std::string s;
  for (auto& [k, v] : c) s += k + "=" + std::to_string(v) + " ";
  return s;
}

// Predicts `text` at `level` and checks the prediction against ORT's optimized graph (the reference file,
// and live ORT where this host reproduces it); returns the prediction.
OrtPrediction predict_and_check(const std::string& text, OrtOptLevel level) {
  auto m = parse_or_fail(text);
  OrtPrediction p = predict(*m, level);
  // Entries are named after the test case and the call's rank in it.
  static std::map<std::string, int> calls;
  const std::string test_name = Catch::getResultCapture().getCurrentTestName();
  const std::string key = test_name + " #" + std::to_string(++calls[test_name]);
  auto run_ort = [&](test::OrtHarness& ort) -> std::unique_ptr<Model> {
    test::TempDir tmp;
    onnx::ModelProto proto = to_proto_inline(*parse_or_fail(text));
    test::OrtOptions oo;
    oo.opt_level = level_name(level);
    oo.optimized_model_path = tmp.file("ort_optimized.onnx");
    auto r = ort.run_model(proto, test::random_inputs(proto, 1), oo);
    INFO(r.error);
    REQUIRE(r.ok);
    auto opt = load_model(oo.optimized_model_path);
    REQUIRE(opt);
    return std::move(*opt);
  };
  test::OrtGraphSummary ort = test::ort_reference_summary(
      "ort_prediction_unit.json", key, test::digest_of(std::string(level_name(level)) + "\n" + text), level, *m, run_ort);
  test::PredictionDiff d = test::diff_prediction(p, *m, ort);
  INFO("predicted: " << counts_text(p.op_counts));
  INFO("ORT:       " << counts_text(ort.op_counts));
  INFO(test::describe(d));
  CHECK(d.empty());
  return p;
}

uint64_t count(const OrtPrediction& p, const std::string& op) {
  auto it = p.op_counts.find(op);
  return it == p.op_counts.end() ? 0 : it->second;
}

const PredictedNodeFate& fate(const OrtPrediction& p, const std::string& node) {
  for (auto& f : p.nodes)
    if (f.node == node) return f;
  FAIL("no node " << node);
  return p.nodes.front();
}

std::string header(int opset = 13) {
  return "<ir_version: 8, opset_import: [\"\" : " + std::to_string(opset) + "]>\n";
}

std::string conv_weights(int oc, int ic, int k, uint64_t seed, const std::string& name = "W",
                         const std::string& bias = "B") {
  return name + " = Constant<value = float[" + std::to_string(oc) + "," + std::to_string(ic) + "," +
         std::to_string(k) + "," + std::to_string(k) + "] {" + numbers(size_t(oc) * ic * k * k, seed) + "}>()\n" +
         bias + " = Constant<value = float[" + std::to_string(oc) + "] {" + numbers(oc, seed + 1) + "}>()\n";
}

}  // namespace

TEST_CASE("ORT prediction: Conv -> Relu becomes FusedConv (ConvActivationFusion)", "[ort-prediction]") {
  std::string text = header() + "g (float[1,3,8,8] x) => (float[1,4,8,8] y) {\n" + conv_weights(4, 3, 3, 1) +
                     "c = Conv<pads = [1,1,1,1]>(x, W, B)\n"
                     "y = Relu(c)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "com.microsoft.FusedConv") == 1);
  CHECK(count(p, "Relu") == 0);
  CHECK(p.rule_applications["ConvActivationFusion"] == 1);
  CHECK(p.runtime == "onnxruntime");
  CHECK(p.runtime_version == "1.30");
}

TEST_CASE("ORT prediction: Conv -> Clip with constant bounds fuses; HardSigmoid too", "[ort-prediction]") {
  std::string text = header() + "g (float[1,3,8,8] x) => (float[1,4,8,8] y, float[1,4,8,8] z) {\n" +
                     conv_weights(4, 3, 3, 1) + conv_weights(4, 3, 1, 5, "W2", "B2") +
                     "lo = Constant<value = float {0}>()\nhi = Constant<value = float {6}>()\n"
                     "c = Conv<pads = [1,1,1,1]>(x, W, B)\n"
                     "y = Clip(c, lo, hi)\n"
                     "d = Conv(x, W2, B2)\n"
                     "z = HardSigmoid(d)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "com.microsoft.FusedConv") == 2);
}

TEST_CASE("ORT prediction: a Conv with two consumers keeps its activation apart", "[ort-prediction]") {
  std::string text = header() + "g (float[1,3,8,8] x) => (float[1,4,8,8] y) {\n" + conv_weights(4, 3, 3, 1) +
                     "c = Conv<pads = [1,1,1,1]>(x, W, B)\n"
                     "r = Relu(c)\n"
                     "y = Add(r, c)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "Conv") == 1);
  CHECK(count(p, "Relu") == 1);
  CHECK(count(p, "com.microsoft.FusedConv") == 0);
  CHECK(fate(p, "#0 (Constant)").fate == "folded");
}

TEST_CASE("ORT prediction: Conv -> BatchNormalization folds at level basic (ConvBNFusion)", "[ort-prediction]") {
  std::string text = header() + "g (float[1,3,8,8] x) => (float[1,4,8,8] y) {\n" + conv_weights(4, 3, 3, 1) +
                     "s = Constant<value = float[4] {" + numbers(4, 3, 0.5, 1.5) + "}>()\n" +
                     "t = Constant<value = float[4] {" + numbers(4, 4) + "}>()\n" +
                     "mu = Constant<value = float[4] {" + numbers(4, 5) + "}>()\n" +
                     "var = Constant<value = float[4] {" + numbers(4, 6, 0.1, 2) + "}>()\n" +
                     "c = Conv<pads = [1,1,1,1]>(x, W, B)\n"
                     "y = BatchNormalization(c, s, t, mu, var)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Basic);
  CHECK(count(p, "Conv") == 1);
  CHECK(count(p, "BatchNormalization") == 0);
  CHECK(p.nodes.back().fate == "fused");
  CHECK(p.nodes.back().rule == "ConvBNFusion");
}

TEST_CASE("ORT prediction: Conv -> Mul by a per-channel constant folds (ConvMulFusion), by a tensor does not",
          "[ort-prediction]") {
  std::string text = header() + "g (float[1,3,8,8] x, float[1,4,8,8] m) => (float[1,4,8,8] y, float[1,4,8,8] z) {\n" +
                     conv_weights(4, 3, 3, 1) + conv_weights(4, 3, 3, 7, "W2", "B2") +
                     "k = Constant<value = float[4,1,1] {" + numbers(4, 3) + "}>()\n" +
                     "c = Conv<pads = [1,1,1,1]>(x, W, B)\n"
                     "y = Mul(c, k)\n"
                     "d = Conv<pads = [1,1,1,1]>(x, W2, B2)\n"
                     "z = Mul(d, m)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Basic);
  CHECK(count(p, "Conv") == 2);
  CHECK(count(p, "Mul") == 1);
}

TEST_CASE("ORT prediction: MatMul + Add becomes Gemm; 3-D input gets Reshapes (MatMulAddFusion)",
          "[ort-prediction]") {
  std::string text = header() + "g (float[4,8] a, float[2,4,8] b) => (float[4,16] y, float[2,4,16] z) {\n" +
                     "W = Constant<value = float[8,16] {" + numbers(128, 1) + "}>()\n" +
                     "c = Constant<value = float[16] {" + numbers(16, 2) + "}>()\n" +
                     "m = MatMul(a, W)\ny = Add(m, c)\n"
                     "n = MatMul(b, W)\nz = Add(n, c)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Basic);
  CHECK(count(p, "Gemm") == 2);
  CHECK(count(p, "Reshape") == 2);
  CHECK(count(p, "MatMul") == 0);
}

TEST_CASE("ORT prediction: Gemm -> Relu becomes FusedGemm (GemmActivationFusion)", "[ort-prediction]") {
  std::string text = header() + "g (float[4,8] a) => (float[4,16] y) {\n" +
                     "W = Constant<value = float[8,16] {" + numbers(128, 1) + "}>()\n" +
                     "c = Constant<value = float[16] {" + numbers(16, 2) + "}>()\n" +
                     "m = Gemm(a, W, c)\ny = Relu(m)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "com.microsoft.FusedGemm") == 1);
}

namespace {

std::string layer_norm(const std::string& in, const std::string& out, const std::string& p, uint64_t seed) {
  return p + "mean = ReduceMean<axes = [-1]>(" + in + ")\n" + p + "d = Sub(" + in + ", " + p + "mean)\n" + p +
         "two = Constant<value = float {2}>()\n" + p + "sq = Pow(" + p + "d, " + p + "two)\n" + p +
         "var = ReduceMean<axes = [-1]>(" + p + "sq)\n" + p + "eps = Constant<value = float {1e-5}>()\n" + p +
         "ve = Add(" + p + "var, " + p + "eps)\n" + p + "sd = Sqrt(" + p + "ve)\n" + p + "n = Div(" + p + "d, " + p +
         "sd)\n" + p + "gamma = Constant<value = float[16] {" + numbers(16, seed) + "}>()\n" + p +
         "beta = Constant<value = float[16] {" + numbers(16, seed + 1) + "}>()\n" + p + "sc = Mul(" + p + "n, " +
         p + "gamma)\n" + out + " = Add(" + p + "sc, " + p + "beta)\n";
}

}  // namespace

TEST_CASE("ORT prediction: decomposed LayerNorm fuses; after an Add it becomes SkipLayerNormalization",
          "[ort-prediction]") {
  std::string text = header() + "g (float[2,4,16] x, float[2,4,16] r) => (float[2,4,16] y, float[2,4,16] z) {\n" +
                     layer_norm("x", "y", "a_", 1) + "s = Add(y, r)\n" + layer_norm("s", "z", "b_", 5) + "}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "LayerNormalization") == 1);
  CHECK(count(p, "com.microsoft.SkipLayerNormalization") == 1);
  CHECK(count(p, "ReduceMean") == 0);
}

TEST_CASE("ORT prediction: LayerNorm over a non-last axis is not fused", "[ort-prediction]") {
  std::string text = header() + "g (float[2,16,4] x) => (float[2,16,4] y) {\n" +
                     "mean = ReduceMean<axes = [1]>(x)\nd = Sub(x, mean)\ntwo = Constant<value = float {2}>()\n"
                     "sq = Pow(d, two)\nvar = ReduceMean<axes = [1]>(sq)\neps = Constant<value = float {1e-5}>()\n"
                     "ve = Add(var, eps)\nsd = Sqrt(ve)\nn = Div(d, sd)\n"
                     "gamma = Constant<value = float[16,1] {" + numbers(16, 1) + "}>()\n"
                     "beta = Constant<value = float[16,1] {" + numbers(16, 2) + "}>()\n"
                     "sc = Mul(n, gamma)\ny = Add(sc, beta)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "LayerNormalization") == 0);
  CHECK(count(p, "ReduceMean") == 2);
}

TEST_CASE("ORT prediction: Erf-form GELU becomes com.microsoft.Gelu (GeluFusion)", "[ort-prediction]") {
  std::string text = header() + "g (float[2,16] x) => (float[2,16] y) {\n"
                     "k = Constant<value = float {1.4142135}>()\none = Constant<value = float {1}>()\n"
                     "half = Constant<value = float {0.5}>()\n"
                     "d = Div(x, k)\ne = Erf(d)\nf = Add(e, one)\ng = Mul(x, f)\ny = Mul(g, half)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "com.microsoft.Gelu") == 1);
  CHECK(p.node_count == 1);
}

TEST_CASE("ORT prediction: MatMul scaled by a scalar becomes FusedMatMul (MatMulScaleFusion)", "[ort-prediction]") {
  std::string text = header() + "g (float[2,4,8] a, float[2,8,4] b) => (float[2,4,4] y) {\n"
                     "k = Constant<value = float {0.125}>()\n"
                     "m = MatMul(a, b)\ny = Mul(m, k)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "com.microsoft.FusedMatMul") == 1);
}

TEST_CASE("ORT prediction: constants fold and Identity goes at level basic", "[ort-prediction]") {
  std::string text = header() + "g (float[2,4] x) => (float[2,4] y) {\n"
                     "a = Constant<value = float[4] {1, 2, 3, 4}>()\nb = Constant<value = float[4] {1, 1, 1, 1}>()\n"
                     "c = Add(a, b)\ni = Identity(x)\ny = Mul(i, c)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Basic);
  CHECK(p.node_count == 1);
  CHECK(count(p, "Mul") == 1);
  CHECK(fate(p, "#2 (Add)").fate == "folded");
  CHECK(fate(p, "#3 (Identity)").fate == "eliminated");
}

namespace {

// DQ(x) -> Conv(DQ(W), DQ(B)) -> Q, activations of type `act`, weights int8.
std::string qdq_conv(const std::string& act, const std::string& between = "", const std::string& weight = "int8") {
  std::string zp = act == "uint8" ? "uint8 {128}" : "int8 {0}";
  std::string wzp = weight == "uint8" ? "uint8 {128}" : "int8 {0}";
  int wshift = weight == "uint8" ? 128 : 0;
  std::string conv_out = between.empty() ? "c" : "c0";
  return header() + "g (float[1,4,8,8] x) => (float[1,8,8,8] y) {\n" +
         "xs = Constant<value = float {0.02}>()\nxz = Constant<value = " + zp + ">()\n" +
         "ws = Constant<value = float {0.01}>()\nwz = Constant<value = " + wzp + ">()\n" +
         "wq = Constant<value = " + weight + "[8,4,3,3] {" + std::string([wshift] {
           std::string s;
           for (int i = 0; i < 288; ++i) s += (i ? ", " : "") + std::to_string((i * 37) % 255 - 127 + wshift);
           return s;
         }()) + "}>()\n" +
         "bs = Constant<value = float {0.0002}>()\nbz = Constant<value = int32 {0}>()\n"
         "bq = Constant<value = int32[8] {1, -2, 3, -4, 5, -6, 7, -8}>()\n"
         "ys = Constant<value = float {0.05}>()\nyz = Constant<value = " + zp + ">()\n"
         "xq = QuantizeLinear(x, xs, xz)\nxd = DequantizeLinear(xq, xs, xz)\n"
         "wd = DequantizeLinear(wq, ws, wz)\nbd = DequantizeLinear(bq, bs, bz)\n" +
         conv_out + " = Conv<pads = [1,1,1,1]>(xd, wd, bd)\n" + (between.empty() ? "" : "c = " + between + "(c0)\n") +
         "yq = QuantizeLinear(c, ys, yz)\ny = DequantizeLinear(yq, ys, yz)\n}\n";
}

}  // namespace

TEST_CASE("ORT prediction: a U8S8 QDQ Conv runs as QLinearConv", "[ort-prediction]") {
  auto p = predict_and_check(qdq_conv("uint8"), OrtOptLevel::Extended);
  CHECK(count(p, "QLinearConv") == 1);
  CHECK(count(p, "Conv") == 0);
  CHECK(p.integer_kernel_nodes == 1);
  CHECK(fate(p, "#14 (Conv)").integer_kernel);
  CHECK(fate(p, "#14 (Conv)").fate == "rewritten");
}

// On x86 ORT's QDQS8ToU8Transformer turns int8 activation Q/DQ pairs into
// uint8 first, so int8 activations still end in QLinearConv, whatever the
// weights' type.
TEST_CASE("ORT prediction: int8 activations are converted to uint8 and the QDQ Conv still fuses",
          "[ort-prediction]") {
  auto p = predict_and_check(qdq_conv("int8"), OrtOptLevel::Extended);
  CHECK(count(p, "QLinearConv") == 1);
  CHECK(p.rule_applications["QDQS8ToU8Transformer"] == 2);  // the input and the output Q
  auto q = predict_and_check(qdq_conv("int8", "", "uint8"), OrtOptLevel::Extended);
  CHECK(count(q, "QLinearConv") == 1);
}

TEST_CASE("ORT prediction: a QDQ Conv with int32 bias of the wrong type stays float", "[ort-prediction]") {
  std::string text = qdq_conv("uint8");
  // An int8 bias breaks ConvNodeGroupSelector's int32-bias condition.
  auto pos = text.find("bq = Constant<value = int32[8]");
  text.replace(pos, std::string("bq = Constant<value = int32[8]").size(), "bq = Constant<value = int8[8]");
  pos = text.find("bz = Constant<value = int32 {0}>");
  text.replace(pos, std::string("bz = Constant<value = int32 {0}>").size(), "bz = Constant<value = int8 {0}>");
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "QLinearConv") == 0);
  CHECK(count(p, "Conv") == 1);
  CHECK(p.integer_kernel_nodes == 0);
}

TEST_CASE("ORT prediction: a Relu between Conv and its QuantizeLinear blocks QLinearConv", "[ort-prediction]") {
  auto p = predict_and_check(qdq_conv("uint8", "Relu"), OrtOptLevel::Extended);
  CHECK(count(p, "QLinearConv") == 0);
  CHECK(p.integer_kernel_nodes == 0);
}

TEST_CASE("ORT prediction: QDQ MatMul becomes QLinearMatMul with a Q after it, MatMulIntegerToFloat without",
          "[ort-prediction]") {
  std::string w;
  for (int i = 0; i < 64; ++i) w += (i ? ", " : "") + std::to_string((i * 29) % 255 - 127);
  std::string text = header() + "g (float[4,8] a) => (float[4,8] y, float[4,8] z) {\n" +
                     "as = Constant<value = float {0.02}>()\naz = Constant<value = uint8 {128}>()\n"
                     "ws = Constant<value = float {0.01}>()\nwz = Constant<value = int8 {0}>()\n"
                     "wq = Constant<value = int8[8,8] {" + w + "}>()\n"
                     "ys = Constant<value = float {0.05}>()\nyz = Constant<value = uint8 {128}>()\n"
                     "aq = QuantizeLinear(a, as, az)\nad = DequantizeLinear(aq, as, az)\n"
                     "wd = DequantizeLinear(wq, ws, wz)\n"
                     "m = MatMul(ad, wd)\nmq = QuantizeLinear(m, ys, yz)\ny = DequantizeLinear(mq, ys, yz)\n"
                     "wd2 = DequantizeLinear(wq, ws, wz)\nz = MatMul(ad, wd2)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "QLinearMatMul") == 1);
  CHECK(count(p, "com.microsoft.MatMulIntegerToFloat") == 1);
  CHECK(p.integer_kernel_nodes == 2);
}

TEST_CASE("ORT prediction: level all rewrites Conv, Relu and MaxPool to NCHWc with reorders", "[ort-prediction]") {
  std::string text = header() + "g (float[1,16,8,8] x) => (float[1,32,4,4] y) {\n" + conv_weights(32, 16, 3, 1) +
                     "c = Conv<pads = [1,1,1,1]>(x, W, B)\nr = Relu(c)\n"
                     "y = MaxPool<kernel_shape = [2,2], strides = [2,2]>(r)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::All);
  CHECK(count(p, "com.microsoft.nchwc.Conv") == 1);
  CHECK(count(p, "com.microsoft.nchwc.MaxPool") == 1);
  CHECK(count(p, "com.microsoft.nchwc.ReorderInput") == 1);
  CHECK(count(p, "com.microsoft.nchwc.ReorderOutput") == 1);
  CHECK(p.nchwc_nodes == 4);
}

TEST_CASE("ORT prediction: NCHWc folds a residual Add into the Conv; unaligned channels stay NCHW",
          "[ort-prediction]") {
  // The grouped Conv (12 outputs, 4 groups) is not block aligned: it stays a plain Conv.
  std::string text = header() +
                     "g (float[1,16,8,8] x, float[1,16,8,8] u) => (float[1,16,8,8] y, float[1,12,8,8] z) {\n" +
                     conv_weights(16, 16, 3, 1) + conv_weights(16, 16, 3, 3, "W2", "B2") +
                     "W3 = Constant<value = float[12,4,1,1] {" + numbers(48, 9) + "}>()\n" +
                     "c = Conv<pads = [1,1,1,1]>(x, W, B)\nd = Conv<pads = [1,1,1,1]>(x, W2, B2)\n"
                     "s = Add(c, d)\ny = Relu(s)\n"
                     "z = Conv<group = 4>(u, W3)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::All);
  CHECK(count(p, "com.microsoft.nchwc.Conv") == 2);
  CHECK(count(p, "Add") == 0);
  CHECK(count(p, "Relu") == 0);
  CHECK(count(p, "Conv") == 1);
}

TEST_CASE("ORT prediction: the report block is labelled as a prediction for onnxruntime 1.30 CPU",
          "[ort-prediction]") {
  auto m = parse_or_fail(header() + "g (float[1,3,8,8] x) => (float[1,4,8,8] y) {\n" + conv_weights(4, 3, 3, 1) +
                         "c = Conv<pads = [1,1,1,1]>(x, W, B)\ny = Relu(c)\n}\n");
  REQUIRE(infer_shapes_with_bindings(*m, {}));
  auto j = runtime_prediction_block(*m);
  CHECK(j["prediction"] == true);
  CHECK(j["runtime"] == "onnxruntime");
  CHECK(j["runtime_version"] == "1.30");
  CHECK(j["device"] == "CPU");
  CHECK(j["optimization_level"] == "all");
  CHECK(j["extended"]["optimization_level"] == "extended");
  CHECK(j["extended"]["op_counts"]["com.microsoft.FusedConv"] == 1);
  CHECK(j["per_node"].size() == 4);
}

// ---- rules that effopt quantize's outputs need (issue 25)

TEST_CASE("ORT prediction: from opset 20 GELU becomes ai.onnx Gelu", "[ort-prediction]") {
  std::string text = header(21) + "g (float[2,16] x) => (float[2,16] y) {\n"
                     "k = Constant<value = float {1.4142135}>()\none = Constant<value = float {1}>()\n"
                     "half = Constant<value = float {0.5}>()\n"
                     "d = Div(x, k)\ne = Erf(d)\nf = Add(e, one)\ng = Mul(x, f)\ny = Mul(g, half)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "Gelu") == 1);
  CHECK(count(p, "com.microsoft.Gelu") == 0);
}

TEST_CASE("ORT prediction: LayerNorm with opset-18 ReduceMean axes inputs fuses", "[ort-prediction]") {
  std::string text = header(18) + "g (float[2,3,8] x) => (float[2,3,8] y) {\n"
                     "ax = Constant<value = int64[1] {-1}>()\n"
                     "two = Constant<value = float {2}>()\neps = Constant<value = float {0.00001}>()\n"
                     "gamma = Constant<value = float[8] {" + numbers(8, 1) + "}>()\n"
                     "beta = Constant<value = float[8] {" + numbers(8, 2) + "}>()\n"
                     "m = ReduceMean(x, ax)\nd = Sub(x, m)\np = Pow(d, two)\nv = ReduceMean(p, ax)\n"
                     "ve = Add(v, eps)\ns = Sqrt(ve)\nn = Div(d, s)\nt = Mul(n, gamma)\ny = Add(t, beta)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "LayerNormalization") == 1);
}

TEST_CASE("ORT prediction: a DequantizeLinear read by two MatMuls is copied per reader (EnsureUniqueDQForNodeUnit)",
          "[ort-prediction]") {
  std::string ints;
  for (int i = 0; i < 32; ++i) ints += (i ? ", " : "") + std::to_string(i % 11 - 5);
  std::string text = header(13) + "g (float[2,8] x, float[3,8] u) => (float[2,4] y, float[3,4] z) {\n"
                     "q = Constant<value = int8[8,4] {" + ints + "}>()\n"
                     "s = Constant<value = float[4] {0.1, 0.2, 0.3, 0.4}>()\n"
                     "w = DequantizeLinear<axis = 1>(q, s)\n"
                     "y = MatMul(x, w)\nz = MatMul(u, w)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "DequantizeLinear") == 2);
}

TEST_CASE("ORT prediction: DynamicQuantizeLinear + MatMulInteger + Cast + Mul + bias Add become "
          "DynamicQuantizeMatMul", "[ort-prediction]") {
  std::string ints;
  for (int i = 0; i < 32; ++i) ints += (i ? ", " : "") + std::to_string(i % 11 - 5);
  std::string text = header(13) + "g (float[2,8] x) => (float[2,4] y) {\n"
                     "q = Constant<value = int8[8,4] {" + ints + "}>()\n"
                     "ws = Constant<value = float[4] {0.1, 0.2, 0.3, 0.4}>()\n"
                     "b = Constant<value = float[4] {1, 2, 3, 4}>()\n"
                     "xq, xs, xz = DynamicQuantizeLinear(x)\n"
                     "i = MatMulInteger(xq, q, xz)\nf = Cast<to = 1>(i)\nsc = Mul(xs, ws)\nm = Mul(f, sc)\n"
                     "y = Add(b, m)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "com.microsoft.DynamicQuantizeMatMul") == 1);
  CHECK(p.node_count == 1);
}

TEST_CASE("ORT prediction: MatMulNBits takes a following bias Add (MatMulNBitsFusion)", "[ort-prediction]") {
  std::string packed;
  for (int i = 0; i < 4 * 8; ++i) packed += (i ? ", " : "") + std::to_string((i * 37) % 256);
  std::string text = "<ir_version: 10, opset_import: [\"\" : 21, \"com.microsoft\" : 1]>\n"
                     "g (float[2,16] x) => (float[2,4] y) {\n"
                     "B = Constant<value = uint8[4,1,8] {" + packed + "}>()\n"
                     "S = Constant<value = float[4,1] {0.1, 0.2, 0.3, 0.4}>()\n"
                     "b = Constant<value = float[4] {1, 2, 3, 4}>()\n"
                     "m = com.microsoft.MatMulNBits<K = 16, N = 4, bits = 4, block_size = 16>(x, B, S)\n"
                     "y = Add(m, b)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "com.microsoft.MatMulNBits") == 1);
  CHECK(count(p, "Add") == 0);
}

TEST_CASE("ORT prediction: SiLU (Sigmoid + Mul) becomes com.microsoft.QuickGelu (QuickGeluFusion)",
          "[ort-prediction]") {
  // The second Sigmoid is read twice, so its Mul stays apart.
  std::string text = header() + "g (float[2,16] x, float[2,16] u) => (float[2,16] y, float[2,16] z) {\n"
                     "s = Sigmoid(x)\ny = Mul(x, s)\n"
                     "t = Sigmoid(u)\nv = Mul(t, u)\nz = Add(v, t)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "com.microsoft.QuickGelu") == 1);
  CHECK(count(p, "Sigmoid") == 1);
  CHECK(p.rule_applications["QuickGeluFusion"] == 1);
  CHECK(fate(p, "#0 (Sigmoid)").fate == "fused");
  CHECK(fate(p, "#0 (Sigmoid)").into_op == "com.microsoft.QuickGelu");
  // Level basic leaves it alone.
  auto b = predict_and_check(text, OrtOptLevel::Basic);
  CHECK(count(b, "com.microsoft.QuickGelu") == 0);
}

TEST_CASE("ORT prediction: x * Sigmoid(alpha * x) becomes QuickGelu with alpha", "[ort-prediction]") {
  std::string text = header() + "g (float[2,16] x) => (float[2,16] y) {\n"
                     "a = Constant<value = float {1.702}>()\n"
                     "m = Mul(x, a)\ns = Sigmoid(m)\ny = Mul(x, s)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "com.microsoft.QuickGelu") == 1);
  CHECK(p.node_count == 1);
}

namespace {

// GPT-2's tanh Gelu as PyTorch writes it: 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))).
std::string tanh_gelu(const std::string& x, const std::string& out) {
  return "three = Constant<value = float {3}>()\nc = Constant<value = float {0.044715}>()\n"
         "k = Constant<value = float {0.7978846}>()\none = Constant<value = float {1}>()\n"
         "half = Constant<value = float {0.5}>()\n"
         "hx = Mul(" + x + ", half)\np3 = Pow(" + x + ", three)\ncube = Mul(p3, c)\ninner0 = Add(" + x +
         ", cube)\ninner = Mul(inner0, k)\nth = Tanh(inner)\nth1 = Add(th, one)\n" + out + " = Mul(hx, th1)\n";
}

}  // namespace

TEST_CASE("ORT prediction: tanh Gelu becomes com.microsoft.FastGelu and takes its bias Add (FastGeluFusion)",
          "[ort-prediction]") {
  std::string text = header() + "g (float[2,4,16] x) => (float[2,4,16] y) {\n"
                     "bias = Constant<value = float[16] {" + numbers(16, 3) + "}>()\n"
                     "xb = Add(x, bias)\n" + tanh_gelu("xb", "g") + "y = Abs(g)\n}\n";
  // (The last Mul may not make a graph output: fast_gelu_fusion.cc's CheckNode refuses it, hence the Abs.)
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "com.microsoft.FastGelu") == 1);
  CHECK(p.node_count == 2);
  CHECK(p.rule_applications["FastGeluFusion"] == 1);
  CHECK(p.rule_applications["BiasGeluFusion"] == 1);
}

TEST_CASE("ORT prediction: a tanh Gelu whose inner value is read elsewhere is not fused", "[ort-prediction]") {
  std::string text = header() + "g (float[2,16] x) => (float[2,16] y, float[2,16] z) {\n" + tanh_gelu("x", "y") +
                     "z = Neg(th)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "com.microsoft.FastGelu") == 0);
  CHECK(count(p, "Tanh") == 1);
}

TEST_CASE("ORT prediction: Slices that cut a dim into covering pieces become a Split (GatherSliceToSplitFusion)",
          "[ort-prediction]") {
  // ShuffleNet's x.chunk(2, dim=1) as older exports write it; the second graph leaves a gap, so it stays.
  std::string slices = "s0 = Constant<value = int64[1] {0}>()\ns1 = Constant<value = int64[1] {4}>()\n"
                       "s2 = Constant<value = int64[1] {8}>()\nax = Constant<value = int64[1] {1}>()\n";
  std::string text = header() + "g (float[1,8,4,4] x) => (float[1,4,4,4] y, float[1,4,4,4] z) {\n" + slices +
                     "y = Slice(x, s0, s1, ax)\nz = Slice(x, s1, s2, ax)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "Slice") == 0);
  CHECK(count(p, "Split") == 1);
  CHECK(p.rule_applications["GatherSliceToSplitFusion"] == 1);
  std::string gap = header() + "g (float[1,8,4,4] x) => (float[1,4,4,4] y, float[1,3,4,4] z) {\n" + slices +
                    "s3 = Constant<value = int64[1] {5}>()\n"
                    "y = Slice(x, s0, s1, ax)\nz = Slice(x, s3, s2, ax)\n}\n";
  auto q = predict_and_check(gap, OrtOptLevel::Extended);
  CHECK(count(q, "Slice") == 2);
  CHECK(count(q, "Split") == 0);
}

TEST_CASE("ORT prediction: an attention LayerNorm with separate Q, K, V MatMuls is marked not predicted",
          "[ort-prediction]") {
  // AttentionFusion is not encoded: the LayerNormalization read by three MatMuls and a residual Add, and
  // those MatMuls, are reported as not predicted rather than as kept.
  std::string text = header(17) + "g (float[1,4,16] x) => (float[1,4,16] q, float[1,4,16] k, float[1,4,16] v, "
                     "float[1,4,16] r) {\n"
                     "gamma = Constant<value = float[16] {" + numbers(16, 1) + "}>()\n"
                     "beta = Constant<value = float[16] {" + numbers(16, 2) + "}>()\n"
                     "wq = Constant<value = float[16,16] {" + numbers(256, 3) + "}>()\n"
                     "wk = Constant<value = float[16,16] {" + numbers(256, 4) + "}>()\n"
                     "wv = Constant<value = float[16,16] {" + numbers(256, 5) + "}>()\n"
                     "ln = LayerNormalization<axis = -1>(x, gamma, beta)\n"
                     "q = MatMul(ln, wq)\nk = MatMul(ln, wk)\nv = MatMul(ln, wv)\nr = Add(ln, x)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(p.not_predicted_nodes == 4);
  CHECK(fate(p, "#5 (LayerNormalization)").not_predicted == "AttentionFusion");
  CHECK(fate(p, "#6 (MatMul)").not_predicted == "AttentionFusion");
  CHECK(fate(p, "#9 (Add)").not_predicted.empty());
  nlohmann::json j = to_json(p);
  CHECK(j["not_predicted_nodes"] == 4);
  CHECK(j["fate_counts"]["not predicted"] == 4);
  CHECK(j["per_node"][5]["fate"] == "not predicted");
  CHECK(j["per_node"][5]["unencoded_rule"] == "AttentionFusion");
  CHECK(j["per_node"][5]["predicted_fate"] == "kept");
  // Level basic runs no attention fusion: nothing to mark.
  CHECK(predict_and_check(text, OrtOptLevel::Basic).not_predicted_nodes == 0);
}

TEST_CASE("ORT prediction: the embedding Add in front of an attention LayerNorm is marked not predicted",
          "[ort-prediction]") {
  // EmbedLayerNormFusion needs the Attention that AttentionFusion (not encoded) would make: the word-embedding
  // Gather and the Add are not predicted either. The residual Add after the LayerNorm stays predicted.
  std::string text = header(17) + "g (int64[1,4] ids, float[1,4,16] pos) => (float[1,4,16] q, float[1,4,16] k, "
                     "float[1,4,16] v, float[1,4,16] r) {\n"
                     "table = Constant<value = float[10,16] {" + numbers(160, 9) + "}>()\n"
                     "gamma = Constant<value = float[16] {" + numbers(16, 1) + "}>()\n"
                     "beta = Constant<value = float[16] {" + numbers(16, 2) + "}>()\n"
                     "wq = Constant<value = float[16,16] {" + numbers(256, 3) + "}>()\n"
                     "wk = Constant<value = float[16,16] {" + numbers(256, 4) + "}>()\n"
                     "wv = Constant<value = float[16,16] {" + numbers(256, 5) + "}>()\n"
                     "we = Gather(table, ids)\nx = Add(we, pos)\n"
                     "ln = LayerNormalization<axis = -1>(x, gamma, beta)\n"
                     "q = MatMul(ln, wq)\nk = MatMul(ln, wk)\nv = MatMul(ln, wv)\nr = Add(ln, x)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(p.not_predicted_nodes == 6);
  CHECK(fate(p, "#6 (Gather)").not_predicted == "EmbedLayerNormFusion");
  CHECK(fate(p, "#7 (Add)").not_predicted == "EmbedLayerNormFusion");
  CHECK(fate(p, "#8 (LayerNormalization)").not_predicted == "AttentionFusion");
  CHECK(fate(p, "#12 (Add)").not_predicted.empty());
}

TEST_CASE("ORT prediction: equal nodes on equal inputs merge, the last one kept (CommonSubexpressionElimination)",
          "[ort-prediction]") {
  std::string text = header() + "g (float[2,16] x) => (float[2,16] y) {\n"
                     "a = Relu(x)\nb = Relu(x)\ny = Add(a, b)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Basic);
  CHECK(count(p, "Relu") == 1);
  CHECK(p.rule_applications["CommonSubexpressionElimination"] == 1);
  CHECK(fate(p, "#0 (Relu)").fate == "eliminated");
  CHECK(fate(p, "#1 (Relu)").fate == "kept");
}

TEST_CASE("ORT prediction: CommonSubexpressionElimination compares tensor attributes by value",
          "[ort-prediction]") {
  auto model = [](const std::string& second_value) {
    return header() + "g (float[1,4,8,8] x) => (float[1,6,8,8] y) {\n"
           "s1 = Constant<value = int64[4] {6,4,1,1}>()\ns2 = Constant<value = int64[4] {6,4,1,1}>()\n"
           "w1 = ConstantOfShape<value = float[1] {0.5}>(s1)\n"
           "w2 = ConstantOfShape<value = float[1] {" + second_value + "}>(s2)\n"
           "c1 = Conv(x, w1)\nc2 = Conv(x, w2)\ny = Add(c1, c2)\n}\n";
  };
  SECTION("equal values: the shapes are shared, both ConstantOfShape and both Conv merge") {
    auto p = predict_and_check(model("0.5"), OrtOptLevel::Basic);
    CHECK(count(p, "Conv") == 1);
    CHECK(p.rule_applications["ConstantSharing"] >= 1);
  }
  SECTION("different values stay apart") {
    auto p = predict_and_check(model("0.25"), OrtOptLevel::Basic);
    CHECK(count(p, "Conv") == 2);
  }
}

TEST_CASE("ORT prediction: ConstantSharing shares equal initializers of at most 8 elements", "[ort-prediction]") {
  std::string text = header() +
                     "g (float[9] x, float[8] z) => (float[9] y, float[8] u) <float[9] a1 = {1,2,3,4,5,6,7,8,9}, "
                     "float[9] a2 = {1,2,3,4,5,6,7,8,9}, float[8] b1 = {1,2,3,4,5,6,7,8}, "
                     "float[8] b2 = {1,2,3,4,5,6,7,8}> {\n"
                     "c1 = Add(x, a1)\nc2 = Add(x, a2)\ny = Add(c1, c2)\n"
                     "d1 = Add(z, b1)\nd2 = Add(z, b2)\nu = Add(d1, d2)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Basic);
  CHECK(count(p, "Add") == 5);  // only the 8-element pair merges
  CHECK(fate(p, "#3 (Add)").fate == "eliminated");
  CHECK(fate(p, "#0 (Add)").fate == "kept");
}

TEST_CASE("ORT prediction: CommonSubexpressionElimination leaves graph outputs alone", "[ort-prediction]") {
  std::string text = header() + "g (float[2,16] x) => (float[2,16] y, float[2,16] z) {\n"
                     "y = Relu(x)\nz = Relu(x)\n}\n";
  auto p = predict_and_check(text, OrtOptLevel::Basic);
  CHECK(count(p, "Relu") == 2);
  CHECK(p.rule_applications["CommonSubexpressionElimination"] == 0);
}

TEST_CASE("ORT prediction: RMSNorm becomes SimplifiedLayerNormalization (SimplifiedLayerNormFusion)",
          "[ort-prediction]") {
  auto model = [](const std::string& axes, bool extra_reader) {
    return header() + "g (float[2,4,16] x) => (float[2,4,16] y" + (extra_reader ? ", float[2,4,1] z" : "") +
           ") {\n"
           "two = Constant<value = float {2}>()\neps = Constant<value = float {1e-6}>()\n"
           "g = Constant<value = float[16] {" + numbers(16, 7) + "}>()\n"
           "p = Pow(x, two)\nm = ReduceMean<axes = [" + axes + "]>(p)\nae = Add(m, eps)\nr = Sqrt(ae)\n"
           "d = Div(x, r)\ny = Mul(d, g)\n" + (extra_reader ? "z = Abs(m)\n" : "") + "}\n";
  };
  SECTION("over the last axis") {
    auto p = predict_and_check(model("-1", false), OrtOptLevel::Extended);
    CHECK(count(p, "SimplifiedLayerNormalization") == 1);
    CHECK(p.node_count == 1);
    CHECK(p.rule_applications["SimplifiedLayerNormFusion"] == 1);
    auto b = predict_and_check(model("-1", false), OrtOptLevel::Basic);
    CHECK(count(b, "SimplifiedLayerNormalization") == 0);
  }
  SECTION("not over another axis") {
    auto p = predict_and_check(model("1", false), OrtOptLevel::Extended);
    CHECK(count(p, "SimplifiedLayerNormalization") == 0);
  }
  SECTION("not when the mean is read elsewhere") {
    auto p = predict_and_check(model("-1", true), OrtOptLevel::Extended);
    CHECK(count(p, "SimplifiedLayerNormalization") == 0);
  }
}

// UnaryOpQDQRules and DropQDQNodesRules (qdq_selector_action_transformer.cc): DQ -> LeakyRelu / Sigmoid /
// Softmax -> Q become com.microsoft QLinear ops; Tile, Gather, Expand, GatherElements between a DQ and a Q
// with equal parameters run on the quantized tensor, their DQ and Q dropped.
TEST_CASE("ORT prediction: QDQ LeakyRelu, Sigmoid and Softmax become QLinear ops; Tile, Gather, Expand and "
          "GatherElements drop their DQ/Q",
          "[ort-prediction]") {
  auto pair = [](const std::string& in, const std::string& out) {
    return out + "q = QuantizeLinear(" + in + ", s, z)\n" + out + " = DequantizeLinear(" + out + "q, s, z)\n";
  };
  std::string text = header() + "g (float[2,4] x) => (float[2,2,3] y) {\n" +
                     "s = Constant<value = float {0.02}>()\nz = Constant<value = uint8 {128}>()\n"
                     "reps = Constant<value = int64[2] {1, 2}>()\nidx = Constant<value = int64[3] {0, 2, 5}>()\n"
                     "shape = Constant<value = int64[3] {2, 2, 3}>()\n"
                     "eidx = Constant<value = int64[2,2,3] {0, 1, 2, 2, 1, 0, 1, 1, 0, 0, 2, 2}>()\n" +
                     pair("x", "xd") + "l = LeakyRelu<alpha = 0.1>(xd)\n" + pair("l", "ld") +
                     "t = Tile(ld, reps)\n" + pair("t", "td") + "ga = Gather<axis = 1>(td, idx)\n" + pair("ga", "gd") +
                     "e = Expand(gd, shape)\n" + pair("e", "ed") + "ge = GatherElements<axis = 2>(ed, eidx)\n" +
                     pair("ge", "gg") + "sg = Sigmoid(gg)\n" + pair("sg", "sd") + "sm = Softmax<axis = -1>(sd)\n" +
                     pair("sm", "y") + "}\n";
  predict_and_check(text, OrtOptLevel::Basic);
  auto p = predict_and_check(text, OrtOptLevel::Extended);
  CHECK(count(p, "com.microsoft.QLinearLeakyRelu") == 1);
  CHECK(count(p, "com.microsoft.QLinearSigmoid") == 1);
  CHECK(count(p, "com.microsoft.QLinearSoftmax") == 1);
  for (const char* op : {"Tile", "Gather", "Expand", "GatherElements"}) {
    INFO(op);
    CHECK(count(p, op) == 1);
  }
  // Left: x's QuantizeLinear and the DequantizeLinear making y.
  CHECK(count(p, "QuantizeLinear") == 1);
  CHECK(count(p, "DequantizeLinear") == 1);
}

// skip_layer_norm_fusion.cc: a bias Add of a 1-D constant in front of the residual Add goes into
// SkipLayerNormalization (Format 1: on the residual Add's first input, Format 2: on its second); double
// tensors are not fused (float, float16 and bfloat16 only).
TEST_CASE("ORT prediction: SkipLayerNormFusion takes a bias Add on either residual input; double is not fused",
          "[ort-prediction]") {
  auto model = [](const std::string& type, bool bias_first) {
    std::string t = type + "[1,4,8]";
    std::string biased = bias_first ? "s = Add(hb, skip)\n" : "s = Add(skip, hb)\n";
    return header(17) + "g (" + t + " x, " + t + " skip) => (" + t + " y) {\n" +
           "C = Constant<value = " + type + "[8] {" + numbers(8, 31) + "}>()\n" +
           "gamma = Constant<value = " + type + "[8] {" + numbers(8, 32) + "}>()\n" +
           "beta = Constant<value = " + type + "[8] {" + numbers(8, 33) + "}>()\n" +
           "h = Relu(x)\nhb = Add(h, C)\n" + biased +
           "y = LayerNormalization<axis = -1, epsilon = 0.00001>(s, gamma, beta)\n}\n";
  };
  for (bool first : {true, false}) {
    INFO((first ? "Format 1" : "Format 2"));
    auto p = predict_and_check(model("float", first), OrtOptLevel::Extended);
    CHECK(count(p, "com.microsoft.SkipLayerNormalization") == 1);
    CHECK(count(p, "Add") == 0);
  }
  auto d = predict_and_check(model("double", true), OrtOptLevel::Extended);
  CHECK(count(d, "com.microsoft.SkipLayerNormalization") == 0);
  CHECK(count(d, "LayerNormalization") == 1);
}
