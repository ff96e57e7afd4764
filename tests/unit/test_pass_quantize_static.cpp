// quantize mode=static: one behaviour per test on small ONNX-text graphs
// (placement, types per target, biases, calibration), and ONNX Runtime 1.30
// runs of the results (tests/support/ort_harness.h).
//
// Error bound of the ONNX Runtime checks: uint8 activations over a
// calibrated range round each value by at most half a step (range / 510);
// with values spread over their range that is a relative error of about
// 1/255/sqrt(12) ~ 0.1% per quantized tensor, and int8 weights add ~0.4%
// (test_pass_quantize.cpp's header): a few layers stay well under rel-l2 0.05.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "analysis/fidelity.h"
#include "analysis/footprint.h"
#include "analysis/shape_inference.h"
#include "fusion_test_util.h"
#include "ir/verifier.h"
#include "onnx/convert_proto.h"
#include "onnx/model_io.h"
#include <filesystem>
#include "ort/ort_prediction.h"
#include "pass/pass.h"
#include "passes/pass_util.h"
#include "passes/quantize.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;
using namespace effopt::test::fusion;
namespace util = effopt::passes::util;

namespace {

const pass::PassInfo& quantize_info() { return test::pass_info("quantize"); }
pass::PassOptions options(const std::string& text) { return test::pass_options("quantize", text); }

// Samples given in memory.
class VectorSource : public SampleSource {
 public:
  explicit VectorSource(std::vector<Sample> s) : samples_(std::move(s)) {}
  size_t size() const override { return samples_.size(); }
  std::string describe() const override { return std::to_string(samples_.size()) + " samples"; }
  Expected<Sample> load(size_t i) const override { return samples_[i]; }

 private:
  std::vector<Sample> samples_;
};

// `count` samples of uniform [-1, 1) values for every graph input of `m`.
std::unique_ptr<VectorSource> uniform_samples(const Model& m, size_t count, uint64_t seed = 11) {
  std::vector<Sample> out;
  for (size_t k = 0; k < count; ++k) {
    Sample s;
    s.label = "sample " + std::to_string(k);
    s.inputs = random_float_inputs(m, seed + k);
    out.push_back(std::move(s));
  }
  return std::make_unique<VectorSource>(std::move(out));
}

pass::PassResult quantize_static(Model& m, const std::string& opts, const SampleSource* calibration, int threads = 1) {
  pass::PassSamples ps;
  ps.calibration = calibration;
  auto r = pass::apply_pass(quantize_info(), m, options("mode=static " + opts), threads, &ps);
  if (!r) FAIL("quantize{mode=static " << opts << "}: " << r.error().message);
  auto st = verify(m);
  if (!st) FAIL("verifier after quantize: " << st.error().message);
  return *r;
}

// Calibrated on 8 uniform samples, as the ORT checks' inputs are drawn.
pass::PassResult quantize_calibrated(Model& m, const std::string& opts = "", int threads = 1) {
  auto cal = uniform_samples(m, 8);
  return quantize_static(m, opts, cal.get(), threads);
}

std::string notes_text(const pass::PassResult& r) {
  std::string s;
  for (const std::string& n : r.notes) s += n + "\n";
  return s;
}
bool has_note(const pass::PassResult& r, const std::string& part) {
  return notes_text(r).find(part) != std::string::npos;
}

size_t count_op(const Model& m, const std::string& op) {
  size_t k = 0;
  for (const auto& n : m.graph->nodes()) k += n->op_type == op;
  return k;
}
Node* first_op(const Model& m, const std::string& op) {
  for (const auto& n : m.graph->nodes())
    if (n->op_type == op) return n.get();
  return nullptr;
}
Node* node_named_op(const Model& m, const std::string& op, size_t index) {
  size_t k = 0;
  for (const auto& n : m.graph->nodes())
    if (n->op_type == op && k++ == index) return n.get();
  return nullptr;
}
// The node reading `v` (asserts there is exactly one).
Node* sole_reader(const Value* v) {
  REQUIRE(v->uses().size() == 1);
  return v->uses()[0].node;
}
// A DequantizeLinear (or QuantizeLinear)'s scale and zero point, as stored.
float scale_of(const Node* qdq) { return util::constant_doubles(qdq->input(1)).value().at(0); }
DataType zero_point_type(const Node* qdq) { return util::fixed_constant(qdq->input(2))->data_type; }
double zero_point_of(const Node* qdq) { return util::constant_doubles(qdq->input(2)).value().at(0); }

std::string header(int opset = 13) {
  return "<ir_version: 8, opset_import: [\"\" : " + std::to_string(opset) + "]>\n";
}

// Conv + Relu -> MaxPool -> 1x1 Conv + bias -> y.
std::string conv_relu_pool_model(int opset = 13) {
  return header(opset) +
         "g (float[1,8,10,10] x) => (float[1,8,4,4] y) {\n"
         "W = Constant<value = float[16,8,3,3] {" + numbers(1152, 1) + "}>()\n"
         "B = Constant<value = float[16] {" + numbers(16, 2) + "}>()\n"
         "W2 = Constant<value = float[8,16,1,1] {" + numbers(128, 3) + "}>()\n"
         "B2 = Constant<value = float[8] {" + numbers(8, 4) + "}>()\n"
         "c = Conv(x, W, B)\n"
         "r = Relu(c)\n"
         "p = MaxPool<kernel_shape = [2, 2], strides = [2, 2]>(r)\n"
         "c2 = Conv(p, W2, B2)\n"
         "y = Relu(c2)\n}\n";
}

// Two Convs added (a residual), Relu, global average pool, Flatten, Gemm.
std::string residual_model() {
  return header() +
         "g (float[1,8,6,6] x) => (float[1,10] y) {\n"
         "W1 = Constant<value = float[8,8,3,3] {" + numbers(576, 5) + "}>()\n"
         "W2 = Constant<value = float[8,8,1,1] {" + numbers(64, 6) + "}>()\n"
         "G = Constant<value = float[10,8] {" + numbers(80, 7) + "}>()\n"
         "C = Constant<value = float[10] {" + numbers(10, 8) + "}>()\n"
         "a = Conv<pads = [1, 1, 1, 1]>(x, W1)\n"
         "b = Conv(x, W2)\n"
         "s = Add(a, b)\n"
         "r = Relu(s)\n"
         "p = GlobalAveragePool(r)\n"
         "f = Flatten(p)\n"
         "y = Gemm<transB = 1>(f, G, C)\n}\n";
}

// Two Convs concatenated, then an AveragePool and a Conv.
std::string concat_model() {
  return header() +
         "g (float[1,4,8,8] x) => (float[1,4,4,4] y) {\n"
         "W1 = Constant<value = float[4,4,1,1] {" + numbers(16, 9) + "}>()\n"
         "W2 = Constant<value = float[4,4,1,1] {" + numbers(16, 10) + "}>()\n"
         "W3 = Constant<value = float[4,8,1,1] {" + numbers(32, 11) + "}>()\n"
         "a = Conv(x, W1)\n"
         "b = Conv(x, W2)\n"
         "c = Concat<axis = 1>(a, b)\n"
         "p = AveragePool<kernel_shape = [2, 2], strides = [2, 2]>(c)\n"
         "y = Conv(p, W3)\n}\n";
}

std::optional<double> ort_error(const Model& before, const Model& after) { return ort_rel_l2(before, after, 21); }

OrtPrediction predict_extended(Model& m) {
  REQUIRE(infer_shapes(m));
  OrtPredictionOptions o;
  o.level = OrtOptLevel::Extended;
  return predict_ort_optimization(m, o);
}

}  // namespace

TEST_CASE("quantize static: Relu is absorbed, Conv's output goes straight to a QuantizeLinear with the Relu's range",
          "[quantize][quantize-static]") {
  auto before = test::parse_or_fail(conv_relu_pool_model()), m = test::parse_or_fail(conv_relu_pool_model());
  auto r = quantize_calibrated(*m);
  INFO(notes_text(r));
  CHECK(count_op(*m, "Relu") == 1);  // the last Relu makes the graph output: kept
  CHECK(r.counter("activations-absorbed") == 1);
  Node* conv = first_op(*m, "Conv");
  REQUIRE(conv);
  Node* q = sole_reader(conv->output(0));
  CHECK(q->op_type == "QuantizeLinear");
  CHECK(zero_point_type(q) == DataType::UInt8);
  CHECK(zero_point_of(q) == 0);  // a Relu's range [0, max]: the QuantizeLinear clamps as the Relu did
  // The Conv reads its input, weight and bias through DequantizeLinear.
  for (size_t i = 0; i < 3; ++i) CHECK(util::is_op(conv->input(i)->producer(), "DequantizeLinear"));
  auto pred = predict_extended(*m);
  // Both Convs: the last Relu makes a graph output, so it stays, reading the last Conv's pair.
  CHECK(pred.op_counts["QLinearConv"] == 2);
  if (auto e = ort_error(*before, *m)) {
    INFO("rel-l2 " << *e);
    CHECK(*e < 0.05);
  }
}

TEST_CASE("quantize static: MaxPool's output pair repeats its input's scale and zero point",
          "[quantize][quantize-static]") {
  auto m = test::parse_or_fail(conv_relu_pool_model());
  auto r = quantize_calibrated(*m);
  INFO(notes_text(r));
  Node* pool = first_op(*m, "MaxPool");
  REQUIRE(pool);
  Node* dq_in = pool->input(0)->producer();
  REQUIRE(util::is_op(dq_in, "DequantizeLinear"));
  Node* q_out = sole_reader(pool->output(0));
  REQUIRE(q_out->op_type == "QuantizeLinear");
  CHECK(scale_of(q_out) == scale_of(dq_in));
  CHECK(zero_point_of(q_out) == zero_point_of(dq_in));
  auto pred = predict_extended(*m);
  CHECK(pred.rule_applications["QDQSelectorActionTransformer(drop DQ/Q)"] == 1);
}

TEST_CASE("quantize static: Add gets pairs on both inputs and its output, GlobalAveragePool and Gemm too",
          "[quantize][quantize-static]") {
  auto before = test::parse_or_fail(residual_model()), m = test::parse_or_fail(residual_model());
  auto r = quantize_calibrated(*m);
  INFO(notes_text(r));
  Node* add = first_op(*m, "Add");
  REQUIRE(add);
  CHECK(util::is_op(add->input(0)->producer(), "DequantizeLinear"));
  CHECK(util::is_op(add->input(1)->producer(), "DequantizeLinear"));
  CHECK(sole_reader(add->output(0))->op_type == "QuantizeLinear");  // the Relu after it is absorbed
  CHECK(count_op(*m, "Relu") == 0);
  Node* gap = first_op(*m, "GlobalAveragePool");
  REQUIRE(gap);
  CHECK(util::is_op(gap->input(0)->producer(), "DequantizeLinear"));
  CHECK(sole_reader(gap->output(0))->op_type == "QuantizeLinear");
  Node* gemm = first_op(*m, "Gemm");
  REQUIRE(gemm);
  CHECK(util::fixed_constant(gemm->input(1)->producer()->input(0))->data_type == DataType::Int8);
  CHECK(util::fixed_constant(gemm->input(2)->producer()->input(0))->data_type == DataType::Int32);
  auto pred = predict_extended(*m);
  CHECK(pred.op_counts["QLinearConv"] == 2);
  CHECK(pred.op_counts["com.microsoft.QLinearAdd"] == 1);
  CHECK(pred.op_counts["com.microsoft.QLinearGlobalAveragePool"] == 1);
  CHECK(pred.op_counts["Gemm"] == 1);  // ONNX Runtime 1.30 leaves a QDQ Gemm float (the last test)
  if (auto e = ort_error(*before, *m)) {
    INFO("rel-l2 " << *e);
    CHECK(*e < 0.05);
  }
}

TEST_CASE("quantize static: Concat and AveragePool get pairs on their inputs and outputs",
          "[quantize][quantize-static]") {
  auto before = test::parse_or_fail(concat_model()), m = test::parse_or_fail(concat_model());
  auto r = quantize_calibrated(*m);
  INFO(notes_text(r));
  Node* cat = first_op(*m, "Concat");
  REQUIRE(cat);
  for (Value* v : cat->inputs()) CHECK(util::is_op(v->producer(), "DequantizeLinear"));
  CHECK(sole_reader(cat->output(0))->op_type == "QuantizeLinear");
  Node* pool = first_op(*m, "AveragePool");
  REQUIRE(pool);
  CHECK(sole_reader(pool->output(0))->op_type == "QuantizeLinear");
  auto pred = predict_extended(*m);
  CHECK(pred.op_counts["com.microsoft.QLinearConcat"] == 1);
  CHECK(pred.op_counts["com.microsoft.QLinearAveragePool"] == 1);
  if (auto e = ort_error(*before, *m)) {
    INFO("rel-l2 " << *e);
    CHECK(*e < 0.05);
  }
}

TEST_CASE("quantize static: a bias is int32 with scale = input scale x weight scale, zero point 0, per reader",
          "[quantize][quantize-static]") {
  // One bias shared by two Convs on different inputs: untied, each with its reader's input scale.
  std::string text = header() +
                     "g (float[1,4,5,5] x) => (float[1,4,5,5] y) {\n"
                     "W = Constant<value = float[4,4,1,1] {" + numbers(16, 12) + "}>()\n"
                     "B = Constant<value = float[4] {" + numbers(4, 13) + "}>()\n"
                     "two = Constant<value = float {3.0}>()\n"
                     "x3 = Mul(x, two)\n"
                     "a = Conv(x, W, B)\n"
                     "b = Conv(x3, W, B)\n"
                     "y = Add(a, b)\n}\n";
  auto m = test::parse_or_fail(text);
  auto r = quantize_calibrated(*m);
  INFO(notes_text(r));
  CHECK(r.counter("biases-int32") == 2);
  std::vector<double> bias_values;
  {
    auto orig = test::parse_or_fail(text);
    bias_values = *util::constant_doubles(orig->graph->find("B"));
  }
  std::set<const Value*> bias_tensors;
  for (size_t k = 0; k < 2; ++k) {
    Node* conv = node_named_op(*m, "Conv", k);
    REQUIRE(conv);
    Node* dqx = conv->input(0)->producer();
    Node* dqw = conv->input(1)->producer();
    Node* dqb = conv->input(2)->producer();
    REQUIRE(util::is_op(dqb, "DequantizeLinear"));
    bias_tensors.insert(dqb->input(0));
    TensorPtr bq = util::fixed_constant(dqb->input(0));
    CHECK(bq->data_type == DataType::Int32);
    CHECK(dqb->input(2) == nullptr);  // zero point 0 (the default)
    auto sx = scale_of(dqx);
    auto sw = *util::constant_doubles(dqw->input(1));
    auto sb = *util::constant_doubles(dqb->input(1));
    auto q = *util::constant_doubles(dqb->input(0));
    REQUIRE(sw.size() == 4);
    REQUIRE(sb.size() == 4);
    for (size_t c = 0; c < 4; ++c) {
      CHECK(sb[c] == static_cast<float>(sx * static_cast<float>(sw[c])));
      CHECK(q[c] == std::nearbyint(static_cast<float>(bias_values[c]) / static_cast<double>(static_cast<float>(sb[c]))));
    }
  }
  CHECK(bias_tensors.size() == 2);  // untied
}

TEST_CASE("quantize static: x86 gets uint8 activations, arm64 and npu int8; weights are int8 everywhere",
          "[quantize][quantize-static]") {
  for (const std::string target : {"x86", "arm64", "npu"}) {
    auto m = test::parse_or_fail(conv_relu_pool_model());
    auto r = quantize_calibrated(*m, "target=" + target);
    INFO(target << "\n" << notes_text(r));
    DataType want = target == "x86" ? DataType::UInt8 : DataType::Int8;
    for (const auto& n : m->graph->nodes())
      if (n->op_type == "QuantizeLinear") CHECK(zero_point_type(n.get()) == want);
    Node* conv = first_op(*m, "Conv");
    CHECK(util::fixed_constant(conv->input(1)->producer()->input(0))->data_type == DataType::Int8);
    CHECK(has_note(r, target == "x86" ? "U8S8" : "S8S8"));
  }
}

TEST_CASE("quantize static: x86-avx2 uses 7-bit weights (reduce-range), x86 the full int8 range",
          "[quantize][quantize-static]") {
  auto widest = [](const Model& m) {
    double w = 0;
    Node* conv = first_op(m, "Conv");
    std::vector<double> q = util::constant_doubles(conv->input(1)->producer()->input(0)).value();
    for (double v : q) w = std::max(w, std::abs(v));
    return w;
  };
  auto a = test::parse_or_fail(conv_relu_pool_model()), b = test::parse_or_fail(conv_relu_pool_model());
  auto ra = quantize_calibrated(*a, "target=x86-avx2");
  auto rb = quantize_calibrated(*b, "target=x86");
  CHECK(has_note(ra, "reduce-range=auto: true"));
  CHECK(widest(*a) <= 63);
  CHECK(widest(*b) > 63);
  CHECK(widest(*b) <= 127);
}

TEST_CASE("quantize static: minmax and percentile calibration give different ranges; entropy runs",
          "[quantize][quantize-static]") {
  // A Relu'd Conv output has a long tail: the 99th percentile cuts its top.
  auto scale_after_conv = [](const std::string& opts) {
    auto m = test::parse_or_fail(conv_relu_pool_model());
    auto r = quantize_calibrated(*m, opts);
    INFO(opts << "\n" << notes_text(r));
    CHECK(has_note(r, "calibration: " + opts.substr(opts.find('=') + 1, opts.find(' ') - opts.find('=') - 1)));
    return scale_of(sole_reader(first_op(*m, "Conv")->output(0)));
  };
  float minmax = scale_after_conv("calibration-method=minmax");
  float pct = scale_after_conv("calibration-method=percentile percentile=99");
  float entropy = scale_after_conv("calibration-method=entropy");
  CHECK(pct < minmax);
  CHECK(entropy > 0);
  CHECK(entropy <= minmax);
}

TEST_CASE("quantize static: without calibration data it calibrates on seeded random inputs, with a warning",
          "[quantize][quantize-static]") {
  auto m = test::parse_or_fail(conv_relu_pool_model());
  auto r = quantize_static(*m, "", nullptr);
  INFO(notes_text(r));
  CHECK(has_note(r, "warning: no calibration data"));
  CHECK(r.counter("random-calibration-samples") > 0);
  CHECK(count_op(*m, "QuantizeLinear") > 0);
  auto m2 = test::parse_or_fail(conv_relu_pool_model());
  auto r2 = quantize_calibrated(*m2);
  CHECK_FALSE(has_note(r2, "warning:"));
  CHECK(r2.counter("random-calibration-samples") == 0);
}

TEST_CASE("quantize static: output bytes do not depend on the thread count", "[quantize][quantize-static]") {
  auto a = test::parse_or_fail(residual_model()), b = test::parse_or_fail(residual_model());
  quantize_calibrated(*a, "calibration-method=percentile", 1);
  quantize_calibrated(*b, "calibration-method=percentile", 2);
  std::string sa, sb;
  REQUIRE(to_proto_inline(*a).SerializeToString(&sa));
  REQUIRE(to_proto_inline(*b).SerializeToString(&sb));
  CHECK(sa == sb);
}

TEST_CASE("quantize static: the report's runtime prediction weighs integer kernels by the footprint's MACs",
          "[quantize][quantize-static]") {
  auto m = test::parse_or_fail(residual_model());
  quantize_calibrated(*m);
  REQUIRE(infer_shapes(*m));
  Footprint f = compute_footprint(*m);
  std::vector<std::optional<uint64_t>> macs;
  uint64_t total = 0, conv = 0;
  for (const NodeFootprint& n : f.nodes) {
    macs.push_back(n.macs);
    total += n.macs.value_or(0);
    if (n.op_type == "Conv") conv += n.macs.value_or(0);
  }
  REQUIRE(total > 0);
  auto j = runtime_prediction_block(*m, false, &macs);
  // Both Convs run in integer kernels, the Gemm in float (ONNX Runtime 1.30 leaves QDQ Gemm unfused).
  CHECK(j["extended"]["integer_kernel_macs"].get<uint64_t>() == conv);
  CHECK(j["extended"]["integer_kernel_mac_fraction"].get<double>() ==
        static_cast<double>(conv) / static_cast<double>(total));
  CHECK(j["integer_kernel_macs"].get<uint64_t>() == conv);
  // The float model: nothing in integer kernels.
  auto fl = test::parse_or_fail(residual_model());
  REQUIRE(infer_shapes(*fl));
  Footprint ff = compute_footprint(*fl);
  std::vector<std::optional<uint64_t>> fmacs;
  for (const NodeFootprint& n : ff.nodes) fmacs.push_back(n.macs);
  auto jf = runtime_prediction_block(*fl, false, &fmacs);
  CHECK(jf["extended"]["integer_kernel_macs"].get<uint64_t>() == 0);
  CHECK(jf["extended"]["integer_kernel_mac_fraction"].get<double>() == 0.0);
}

namespace {

// x -> Conv -> GlobalAveragePool -> Flatten -> Gemm (its output the graph's, or read by a Relu'd second Gemm).
std::string gemm_model(bool trans_b, bool gemm_output_is_graph_output) {
  std::string b_dims = trans_b ? "[10,8]" : "[8,10]";
  return header() +
         "g (float[1,4,6,6] x) => (float[1,10] y) {\n"
         "W = Constant<value = float[8,4,3,3] {" + numbers(288, 14) + "}>()\n"
         "G = Constant<value = float" + b_dims + " {" + numbers(80, 15) + "}>()\n"
         "C = Constant<value = float[10] {" + numbers(10, 16) + "}>()\n"
         "G2 = Constant<value = float[10,10] {" + numbers(100, 17) + "}>()\n"
         "a = Conv(x, W)\n"
         "p = GlobalAveragePool(a)\n"
         "f = Flatten(p)\n" +
         (gemm_output_is_graph_output ? "y = Gemm<transB = " + std::to_string(trans_b) + ">(f, G, C)\n}\n"
                                      : "h = Gemm<transB = " + std::to_string(trans_b) + ">(f, G, C)\n"
                                        "y = Gemm(h, G2)\n}\n");
}

}  // namespace

TEST_CASE("quantize static: the ORT prediction of the static outputs agrees with ONNX Runtime 1.30 (level extended)",
          "[quantize][quantize-static][ort-prediction]") {
  auto* ort = test::ort_or_skip();
  if (!ort) return;
  test::TempDir tmp;
  const std::vector<std::pair<std::string, std::string>> models = {
      {"conv-relu-pool", conv_relu_pool_model()}, {"residual", residual_model()}, {"concat", concat_model()},
      {"gemm transB=1 output", gemm_model(true, true)}, {"gemm transB=0 output", gemm_model(false, true)},
      {"gemm transB=1 inner", gemm_model(true, false)}, {"gemm transB=0 inner", gemm_model(false, false)}};
  for (const auto& [name, text] : models) {
    INFO(name);
    auto m = test::parse_or_fail(text);
    quantize_calibrated(*m);
    std::string path = tmp.file("m.onnx"), opt_path = tmp.file("m.opt.onnx");
    std::filesystem::remove(path);
    REQUIRE(save_model(*m, path));
    auto proto = test::load_model(path);
    test::OrtOptions oo;
    oo.opt_level = "extended";
    oo.optimized_model_path = opt_path;
    auto run = ort->run(path, test::random_inputs(proto, 5), oo);
    INFO(run.error);
    REQUIRE(run);
    auto opt = load_model(opt_path);
    REQUIRE(opt);
    auto pred = predict_extended(*m);
    OrtPredictionCheck c = check_prediction(pred, *m, **opt);
    std::string diffs;
    for (auto& [op, pa] : c.op_differences)
      diffs += op + ": predicted " + std::to_string(pa.first) + ", ORT " + std::to_string(pa.second) + "; ";
    INFO(diffs);
    CHECK(c.op_counts_equal());
  }
}

TEST_CASE("quantize static: Clip(0, 6) is absorbed like Relu and its bounds go with it", "[quantize][quantize-static]") {
  std::string text = header() +
                     "g (float[1,4,6,6] x) => (float[1,4,6,6] y) {\n"
                     "W = Constant<value = float[4,4,1,1] {" + numbers(16, 18) + "}>()\n"
                     "W2 = Constant<value = float[4,4,1,1] {" + numbers(16, 19) + "}>()\n"
                     "lo = Constant<value = float {0.0}>()\n"
                     "hi = Constant<value = float {6.0}>()\n"
                     "a = Conv(x, W)\n"
                     "c = Clip(a, lo, hi)\n"
                     "y = Conv(c, W2)\n}\n";
  auto before = test::parse_or_fail(text), m = test::parse_or_fail(text);
  auto r = quantize_calibrated(*m);
  INFO(notes_text(r));
  CHECK(count_op(*m, "Clip") == 0);
  CHECK(m->graph->find("lo") == nullptr);
  CHECK(m->graph->find("hi") == nullptr);
  Node* q = sole_reader(first_op(*m, "Conv")->output(0));
  REQUIRE(q->op_type == "QuantizeLinear");
  CHECK(zero_point_of(q) == 0);
  if (auto e = ort_error(*before, *m)) {
    INFO("rel-l2 " << *e);
    CHECK(*e < 0.05);
  }
}
