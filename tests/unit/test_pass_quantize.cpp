// quantize: one behaviour per test on small ONNX-text graphs; numerical checks
// in ONNX Runtime 1.30 (tests/support/ort_harness.h) on the results.
//
// Error bounds are those of the rounding itself, not measured numbers: int8
// symmetric rounding moves a weight by at most half a step (max|w| / 254), so
// with weights uniform in [-1, 1) the relative error of a weight is about
// (1/254) / sqrt(3) / (1/sqrt(3)) ~ 0.4% and the outputs' rel-l2 stays well
// under 0.02; int4 ([-8, 7]) steps are 18x larger: under 0.1. float16 keeps
// 11 significant bits: under 2e-3.
#include <catch2/catch.hpp>

#include <filesystem>
#include <cstring>
#include <fstream>
#include <limits>

#include "fusion_test_util.h"
#include "ir/dtype.h"
#include "ir/verifier.h"
#include "onnx/convert_proto.h"
#include "pass/pass.h"
#include "passes/pass_util.h"
#include "passes/quantize.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;
using namespace effopt::test::fusion;
namespace util = effopt::passes::util;
namespace quant = effopt::passes::quant;

namespace {

const pass::PassInfo& quantize_info() { return test::pass_info("quantize"); }
pass::PassOptions options(const std::string& text) { return test::pass_options("quantize", text); }

pass::PassResult quantize(Model& m, const std::string& opts = "") {
  auto r = pass::apply_pass(quantize_info(), m, options(opts));
  if (!r) FAIL("quantize{" << opts << "}: " << r.error().message);
  auto st = verify(m);
  if (!st) FAIL("verifier after quantize: " << st.error().message);
  return *r;
}

Expected<pass::PassResult> try_quantize(Model& m, const std::string& opts) {
  return pass::apply_pass(quantize_info(), m, options(opts));
}

bool has_note(const pass::PassResult& r, const std::string& part) {
  for (const std::string& n : r.notes)
    if (n.find(part) != std::string::npos) return true;
  return false;
}

std::string notes_text(const pass::PassResult& r) {
  std::string s;
  for (const std::string& n : r.notes) s += n + "\n";
  return s;
}

Node* first_op(const Model& m, const std::string& op) {
  for (const auto& n : m.graph->nodes())
    if (n->op_type == op) return n.get();
  return nullptr;
}

// The largest rel-l2 over the outputs of `before` and `after` in ONNX Runtime
// on seeded random inputs; nullopt after a skip when ONNX Runtime is absent.
std::optional<double> ort_error(const Model& before, const Model& after, uint64_t seed = 3) {
  auto* ort = test::ort_or_skip();
  if (!ort) return std::nullopt;
  onnx::ModelProto pa = to_proto_inline(before), pb = to_proto_inline(after);
  auto inputs = test::random_inputs(pa, seed);
  auto ra = ort->run_model(pa, inputs), rb = ort->run_model(pb, inputs);
  if (!ra) FAIL("ONNX Runtime (before): " << ra.error);
  if (!rb) FAIL("ONNX Runtime (after): " << rb.error);
  REQUIRE(ra->outputs.size() == rb->outputs.size());
  double worst = 0;
  for (size_t i = 0; i < ra->outputs.size(); ++i)
    worst = std::max(worst, rel_l2(test::tensor_values(ra->outputs[i]), test::tensor_values(rb->outputs[i])));
  return worst;
}

std::string header(int opset, int ir = 7) {
  return "<ir_version: " + std::to_string(ir) + ", opset_import: [\"\" : " + std::to_string(opset) + "]>\n";
}

// A Conv with a [16,8,3,3] weight (1152 elements) and a bias.
std::string conv_model(int opset = 11) {
  return header(opset) +
         "g (float[1,8,6,6] x) => (float[1,16,4,4] y) {\n"
         "W = Constant<value = float[16,8,3,3] {" + numbers(1152, 1) + "}>()\n"
         "B = Constant<value = float[16] {" + numbers(16, 2) + "}>()\n"
         "y = Conv(x, W, B)\n}\n";
}

// x[2,64] @ W[64,32] (2048 elements), then + b.
std::string matmul_model(int opset = 13, int k = 64, int n = 32) {
  return header(opset) + "g (float[2," + std::to_string(k) + "] x) => (float[2," + std::to_string(n) +
         "] y) {\n"
         "W = Constant<value = float[" + std::to_string(k) + "," + std::to_string(n) + "] {" +
         numbers(static_cast<size_t>(k * n), 4) + "}>()\n"
         "b = Constant<value = float[" + std::to_string(n) + "] {" + numbers(static_cast<size_t>(n), 5) + "}>()\n"
         "t = MatMul(x, W)\n"
         "y = Add(t, b)\n}\n";
}

}  // namespace

TEST_CASE("quantize: a Conv weight becomes int8 per output channel behind a DequantizeLinear (opset 11 -> 13)",
          "[quantize]") {
  auto before = test::parse_or_fail(conv_model()), m = test::parse_or_fail(conv_model());
  auto r = quantize(*m);
  INFO(notes_text(r));
  CHECK(r.changed);
  CHECK(r.counter("tensors-int8") == 1);
  CHECK(m->opset() == 13);  // per-axis DequantizeLinear
  Node* dq = first_op(*m, "DequantizeLinear");
  REQUIRE(dq);
  CHECK(dq->attr_int("axis", -1) == 0);
  TensorPtr q = util::fixed_constant(dq->input(0));
  TensorPtr s = util::fixed_constant(dq->input(1));
  REQUIRE(q);
  REQUIRE(s);
  CHECK(q->data_type == DataType::Int8);
  CHECK(q->dims == std::vector<int64_t>{16, 8, 3, 3});
  CHECK(s->data_type == DataType::Float);
  CHECK(s->dims == std::vector<int64_t>{16});
  CHECK(dq->output(0)->uses()[0].node->op_type == "Conv");
  // The 16-element bias is 1-D and small: float.
  CHECK(util::fixed_constant(first_op(*m, "Conv")->input(2))->data_type == DataType::Float);
  CHECK(has_note(r, "per-channel along the output-channel axis 0"));
  if (auto e = ort_error(*before, *m)) {
    INFO("rel-l2 " << *e);
    CHECK(*e < 0.02);
  }
}

TEST_CASE("quantize: per-channel=false gives one scale and needs no opset raise", "[quantize]") {
  auto before = test::parse_or_fail(conv_model()), m = test::parse_or_fail(conv_model());
  auto r = quantize(*m, "per-channel=false");
  CHECK(m->opset() == 11);
  Node* dq = first_op(*m, "DequantizeLinear");
  REQUIRE(dq);
  CHECK(dq->attr("axis") == nullptr);
  CHECK(util::fixed_constant(dq->input(1))->dims.empty());
  CHECK(has_note(r, "per-tensor (per-channel=false)"));
  if (auto e = ort_error(*before, *m)) CHECK(*e < 0.02);
}

TEST_CASE("quantize: the scale search never does worse than max-abs rounding", "[quantize]") {
  // Laplace-distributed values (as trained weights are), 4 bits: clipping
  // the rare large ones buys a finer step for the many small ones.
  std::vector<float> x;
  for (int c = 0; c < 8; ++c)
    for (int i = 0; i < 128; ++i) {
      double u = std::fmod((i + 1) * 0.6180339887 + c * 0.1234, 1.0);
      x.push_back(static_cast<float>((i % 2 ? 1 : -1) * -std::log(std::max(u, 1e-6)) * 0.1));
    }
  std::vector<int64_t> dims = {8, 128};
  quant::Granularity g{quant::Granularity::Kind::PerAxis, 0, 0};
  auto err = [&](int64_t search) {
    auto q = quant::quantize_values(x, dims, quant::Precision::Int4, g, true, false, search, 1);
    double e = 0;
    for (uint64_t i = 0; i < x.size(); ++i) e += std::pow(x[i] - quant::dequantized(q, dims, g, i), 2);
    return e;
  };
  double plain = err(1), searched = err(51);
  INFO("max-abs " << plain << ", searched " << searched);
  CHECK(searched <= plain);
  CHECK(searched < 0.9 * plain);
}

TEST_CASE("quantize: the scale search finds the best of its candidates without rounding them all", "[quantize]") {
  // quantize_values rounds for real only the candidates that a model of the
  // error leaves in contention. Reference: every candidate rounded, the error
  // summed in double, here; the chosen scale's error must be the smallest
  // (up to float summation: 1e-5 relative).
  auto exhaustive_best = [](const std::vector<float>& v, int qmax, int qmin, int64_t search) {
    double hi = 0, lo = 0;
    for (float f : v) hi = std::max(hi, static_cast<double>(f)), lo = std::min(lo, static_cast<double>(f));
    double s0 = std::max(hi / qmax, -lo / -qmin), best = std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < search; ++i) {
      float s = static_cast<float>(s0 * (1.0 - 0.5 * static_cast<double>(i) / static_cast<double>(search - 1)));
      double e = 0;
      for (float f : v) {
        double q = std::clamp(std::nearbyint(static_cast<double>(f) / s), static_cast<double>(qmin),
                              static_cast<double>(qmax));
        e += (f - q * s) * (f - q * s);
      }
      best = std::min(best, e);
    }
    return best;
  };
  auto error_of = [](const std::vector<float>& v, float s, int qmax, int qmin) {
    double e = 0;
    for (float f : v) {
      double q = std::clamp(std::nearbyint(static_cast<double>(f) / s), static_cast<double>(qmin),
                            static_cast<double>(qmax));
      e += (f - q * s) * (f - q * s);
    }
    return e;
  };
  uint64_t state = 12345;
  auto uniform = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>((state >> 11) & ((1ull << 53) - 1)) / static_cast<double>(1ull << 53);
  };
  struct Case {
    const char* name;
    quant::Precision p;
    int qmax, qmin;
  };
  for (Case c : {Case{"int8", quant::Precision::Int8, 127, -127}, Case{"int4", quant::Precision::Int4, 7, -8}})
    for (int64_t n : {16, 128, 2048})
      for (int dist = 0; dist < 4; ++dist) {
        // uniform, Gaussian, Laplace (trained weights), half zeros (pruned)
        std::vector<float> x;
        for (int ch = 0; ch < 8; ++ch)
          for (int64_t i = 0; i < n; ++i) {
            double u = std::max(uniform(), 1e-12), w = uniform();
            double v = dist == 0   ? 2 * u - 1
                       : dist == 1 ? std::sqrt(-2 * std::log(u)) * std::cos(6.283185307179586 * w)
                                   : (w < 0.5 ? -1 : 1) * -std::log(u);
            if (dist == 3 && w < 0.5) v = 0;
            x.push_back(static_cast<float>(v * (1 + ch)));
          }
        std::vector<int64_t> dims = {8, n};
        auto q = quant::quantize_values(x, dims, c.p, {quant::Granularity::Kind::PerAxis, 0, 0}, true, false, 51, 1);
        for (int ch = 0; ch < 8; ++ch) {
          std::vector<float> v(x.begin() + ch * n, x.begin() + (ch + 1) * n);
          double got = error_of(v, q.scales[static_cast<size_t>(ch)], c.qmax, c.qmin);
          double best = exhaustive_best(v, c.qmax, c.qmin, 51);
          INFO(c.name << ", " << n << " elements, distribution " << dist << ", channel " << ch);
          CHECK(got <= best * (1 + 1e-5));
        }
      }
}

TEST_CASE("quantize: scales and integers do not depend on the thread count", "[quantize]") {
  std::vector<float> x;
  for (int i = 0; i < 64 * 96; ++i) x.push_back(static_cast<float>(std::cos(i * 0.013)) * (1 + i % 7));
  std::vector<int64_t> dims = {64, 96};
  quant::Granularity g{quant::Granularity::Kind::PerAxis, 0, 0};
  auto a = quant::quantize_values(x, dims, quant::Precision::Int8, g, true, false, 51, 1);
  auto b = quant::quantize_values(x, dims, quant::Precision::Int8, g, true, false, 51, 4);
  CHECK(a.values == b.values);
  CHECK(a.scales == b.scales);
}

TEST_CASE("quantize: constants below min-size, 1-D tensors and shape inputs stay float", "[quantize]") {
  auto m = test::parse_or_fail(header(13) +
                               "g (float[2,64] x) => (float[2,2,16] y) {\n"
                               "W = Constant<value = float[64,32] {" + numbers(2048, 4) + "}>()\n"
                               "s = Constant<value = int64[3] {2, 2, 16}>()\n"
                               "t = MatMul(x, W)\n"
                               "y = Reshape(t, s)\n}\n");
  auto r = quantize(*m, "min-size=4096");
  CHECK_FALSE(r.changed);
  CHECK(first_op(*m, "DequantizeLinear") == nullptr);
  CHECK(has_note(r, "nothing to quantize"));
}

TEST_CASE("quantize: a Resize's scales and a constant holding inf stay float, with the reason", "[quantize]") {
  auto m = test::parse_or_fail(
      header(13) +
      "g (float[1,1,32,32] x, float[32,32] a) => (float[1,1,64,64] y, float[32,32] z) {\n"
      "roi = Constant<value = float[0] {}>()\n"
      "sc = Constant<value = float[4] {1, 1, 2, 2}>()\n"
      "y = Resize<mode = \"nearest\">(x, roi, sc)\n"
      "mask = Constant<value = float[32,32] {" + numbers(1024, 9) + "}>()\n"
      "z = Add(a, mask)\n}\n");
  // (ONNX text has no inf literal: set the mask's first element.)
  for (auto& n : m->graph->nodes())
    if (n->output(0) && n->output(0)->name() == "mask") {
      Attribute* a = n->attr("value");
      REQUIRE(a);
      std::vector<std::byte> bytes(a->t->bytes().begin(), a->t->bytes().end());
      float inf = -std::numeric_limits<float>::infinity();
      std::memcpy(bytes.data(), &inf, 4);
      auto t = std::make_shared<Tensor>(*a->t);
      t->set_bytes(std::move(bytes));
      a->t = t;
    }
  auto r = quantize(*m, "min-size=4");
  INFO(notes_text(r));
  CHECK(first_op(*m, "DequantizeLinear") == nullptr);
  CHECK(has_note(r, "tensor 'mask': it holds inf or NaN"));
}

TEST_CASE("quantize: weights behind Identity and in a Constant node are quantized", "[quantize]") {
  auto before = test::parse_or_fail(header(13) +
                                    "g (float[2,64] x) => (float[2,32] y) {\n"
                                    "W = Constant<value = float[64,32] {" + numbers(2048, 4) + "}>()\n"
                                    "Wi = Identity(W)\n"
                                    "y = MatMul(x, Wi)\n}\n");
  auto m = test::parse_or_fail(header(13) +
                               "g (float[2,64] x) => (float[2,32] y) {\n"
                               "W = Constant<value = float[64,32] {" + numbers(2048, 4) + "}>()\n"
                               "Wi = Identity(W)\n"
                               "y = MatMul(x, Wi)\n}\n");
  auto r = quantize(*m);
  CHECK(r.counter("tensors-int8") == 1);
  Node* dq = first_op(*m, "DequantizeLinear");
  REQUIRE(dq);
  CHECK(dq->attr_int("axis", -1) == 1);  // MatMul B: the N axis
  CHECK(first_op(*m, "Constant") == nullptr);
  if (auto e = ort_error(*before, *m)) CHECK(*e < 0.02);
}

TEST_CASE("quantize: a weight shared by two MatMuls stays one quantized tensor", "[quantize]") {
  std::string text = header(13) +
                     "g (float[2,64] x, float[3,64] u) => (float[2,32] y, float[3,32] z) {\n"
                     "W = Constant<value = float[64,32] {" + numbers(2048, 4) + "}>()\n"
                     "y = MatMul(x, W)\n"
                     "z = MatMul(u, W)\n}\n";
  auto before = test::parse_or_fail(text), m = test::parse_or_fail(text);
  auto r = quantize(*m);
  CHECK(r.counter("tensors-int8") == 1);
  CHECK(r.counter("dequantize-nodes") == 1);
  if (auto e = ort_error(*before, *m)) CHECK(*e < 0.02);
}

TEST_CASE("quantize: an embedding table is gathered as int8 and only the gathered rows are dequantized",
          "[quantize]") {
  std::string text = header(13) +
                     "g (int64[2,5] ids) => (float[2,5,32] y) {\n"
                     "E = Constant<value = float[100,32] {" + numbers(3200, 6) + "}>()\n"
                     "y = Gather(E, ids)\n}\n";
  auto before = test::parse_or_fail(text), m = test::parse_or_fail(text);
  auto r = quantize(*m);
  INFO(notes_text(r));
  CHECK(r.counter("gathers-dequantized-after") == 1);
  Node* g = first_op(*m, "Gather");
  REQUIRE(g);
  REQUIRE(util::fixed_constant(g->input(0)));
  CHECK(util::fixed_constant(g->input(0))->data_type == DataType::Int8);
  // No node dequantizes the whole [100, 32] table.
  for (const auto& n : m->graph->nodes())
    if (n->op_type == "DequantizeLinear") CHECK(util::fixed_constant(n->input(0)) == nullptr);
  auto* ort = test::ort_or_skip();
  if (!ort) return;
  onnx::ModelProto pa = to_proto_inline(*before), pb = to_proto_inline(*m);
  auto inputs = test::random_inputs(pa, 1, {{"ids", {0, 100}}});
  auto ra = ort->run_model(pa, inputs), rb = ort->run_model(pb, inputs);
  REQUIRE(ra);
  INFO(rb.error);
  REQUIRE(rb);
  CHECK(rel_l2(test::tensor_values(ra->outputs[0]), test::tensor_values(rb->outputs[0])) < 0.02);
}

TEST_CASE("quantize: a BatchNormalization left after a quantized Conv is noted", "[quantize]") {
  auto m = test::parse_or_fail(header(13) +
                               "g (float[1,8,6,6] x) => (float[1,16,4,4] z) {\n"
                               "W = Constant<value = float[16,8,3,3] {" + numbers(1152, 1) + "}>()\n"
                               "y = Conv(x, W)\n"
                               "s = Constant<value = float[16] {" + numbers(16, 3, 0.5, 1.5) + "}>()\n"
                               "t = Constant<value = float[16] {" + numbers(16, 4) + "}>()\n"
                               "mu = Constant<value = float[16] {" + numbers(16, 5) + "}>()\n"
                               "var = Constant<value = float[16] {" + numbers(16, 6, 0.1, 2) + "}>()\n"
                               "z = BatchNormalization(y, s, t, mu, var)\n}\n");
  auto r = quantize(*m);
  CHECK(has_note(r, "fold it first"));
}

TEST_CASE("quantize: exclude-node and exclude-op keep a node's weights float", "[quantize]") {
  SECTION("exclude-node") {
    auto m = test::parse_or_fail(conv_model());
    for (auto& n : m->graph->nodes())
      if (n->op_type == "Conv") n->name = "backbone/conv1";
    auto r = quantize(*m, "exclude-node=backbone/.*");
    CHECK_FALSE(r.changed);
    CHECK(has_note(r, "exclude-node matches"));
  }
  SECTION("exclude-op") {
    auto m = test::parse_or_fail(conv_model());
    auto r = quantize(*m, "exclude-op=Conv");
    CHECK_FALSE(r.changed);
    CHECK(has_note(r, "exclude-op Conv"));
  }
}

TEST_CASE("quantize: an overrides file excludes a tensor by name", "[quantize]") {
  test::TempDir tmp;
  std::string file = tmp.file("overrides.json");
  std::ofstream(file) << R"({"tensors": {"W": {"exclude": true}}})";
  auto m = test::parse_or_fail(conv_model());
  auto r = quantize(*m, "overrides=" + file);
  CHECK_FALSE(r.changed);
  CHECK(has_note(r, "tensor 'W': excluded by the overrides file"));
  SECTION("a bad field is a usage error naming it") {
    std::ofstream(file) << R"({"tensors": {"W": {"bitz": 4}}})";
    auto m2 = test::parse_or_fail(conv_model());
    auto bad = try_quantize(*m2, "overrides=" + file);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("tensors.W: unknown field 'bitz'") != std::string::npos);
  }
}

TEST_CASE("quantize: bits=4 makes MatMul weights int4 in blocks along K (opset 21, IR 10)", "[quantize]") {
  std::string text = matmul_model(13, 256, 32);
  auto before = test::parse_or_fail(text), m = test::parse_or_fail(text);
  auto r = quantize(*m, "bits=4");
  INFO(notes_text(r));
  CHECK(r.counter("tensors-int4") == 1);
  CHECK(m->opset() == 21);
  CHECK(m->ir_version >= 10);
  Node* dq = first_op(*m, "DequantizeLinear");
  REQUIRE(dq);
  CHECK(dq->attr_int("axis", -1) == 0);
  CHECK(dq->attr_int("block_size", 0) == 128);
  CHECK(util::fixed_constant(dq->input(0))->data_type == DataType::Int4);
  CHECK(util::fixed_constant(dq->input(1))->dims == std::vector<int64_t>{2, 32});
  if (auto e = ort_error(*before, *m)) {
    INFO("rel-l2 " << *e);
    CHECK(*e < 0.1);
  }
}

TEST_CASE("quantize: max-opset caps the opset, and the fallbacks are noted", "[quantize]") {
  SECTION("int4 below opset 21 falls back to int8") {
    auto m = test::parse_or_fail(matmul_model(13, 256, 32));
    auto r = quantize(*m, "bits=4 max-opset=19");
    CHECK(r.counter("tensors-int4") == 0);
    CHECK(r.counter("tensors-int8") == 1);
    CHECK(m->opset() == 13);
    CHECK(has_note(r, "int8 instead of int4"));
  }
  SECTION("per-channel below opset 13 falls back to per-tensor") {
    auto m = test::parse_or_fail(conv_model(11));
    auto r = quantize(*m, "max-opset=12");
    CHECK(m->opset() == 11);
    Node* dq = first_op(*m, "DequantizeLinear");
    REQUIRE(dq);
    CHECK(dq->attr("axis") == nullptr);
    CHECK(has_note(r, "per-tensor instead of per-channel"));
  }
}

TEST_CASE("quantize: mode=dynamic runs MatMul as DynamicQuantizeLinear + MatMulInteger", "[quantize]") {
  std::string text = matmul_model();
  auto before = test::parse_or_fail(text), m = test::parse_or_fail(text);
  auto r = quantize(*m, "mode=dynamic");
  INFO(notes_text(r));
  CHECK(r.counter("integer-matmuls") == 1);
  CHECK(first_op(*m, "MatMul") == nullptr);
  REQUIRE(first_op(*m, "MatMulInteger"));
  REQUIRE(first_op(*m, "DynamicQuantizeLinear"));
  CHECK(util::fixed_constant(first_op(*m, "MatMulInteger")->input(1))->data_type == DataType::Int8);
  if (auto e = ort_error(*before, *m)) {
    INFO("rel-l2 " << *e);
    CHECK(*e < 0.02);
  }
}

TEST_CASE("quantize: mode=dynamic stores a Gemm(transB=1) weight as [K, N] and keeps alpha, beta and C",
          "[quantize]") {
  std::string text = header(13) +
                     "g (float[3,64] x) => (float[3,32] y) {\n"
                     "W = Constant<value = float[32,64] {" + numbers(2048, 7) + "}>()\n"
                     "C = Constant<value = float[32] {" + numbers(32, 8) + "}>()\n"
                     "y = Gemm<transB = 1, alpha = 0.5, beta = 2.0>(x, W, C)\n}\n";
  auto before = test::parse_or_fail(text), m = test::parse_or_fail(text);
  auto r = quantize(*m, "mode=dynamic");
  INFO(notes_text(r));
  Node* mm = first_op(*m, "MatMulInteger");
  REQUIRE(mm);
  CHECK(util::fixed_constant(mm->input(1))->dims == std::vector<int64_t>{64, 32});
  if (auto e = ort_error(*before, *m)) {
    INFO("rel-l2 " << *e);
    CHECK(*e < 0.02);
  }
}

TEST_CASE("quantize: mode=dynamic leaves Conv float (op-types=auto says so)", "[quantize]") {
  auto m = test::parse_or_fail(conv_model());
  auto r = quantize(*m, "mode=dynamic");
  CHECK_FALSE(r.changed);
  CHECK(has_note(r, "Conv stays float"));
}

TEST_CASE("quantize: bits=4 outside weight mode is a usage error", "[quantize]") {
  auto m = test::parse_or_fail(conv_model());
  for (const char* mode : {"dynamic", "static"}) {
    auto b4 = try_quantize(*m, std::string("mode=") + mode + " bits=4");
    REQUIRE_FALSE(b4);
    CHECK(b4.error().kind == ErrorKind::Usage);
    CHECK(b4.error().message.find("bits=4 is for mode=weight only") != std::string::npos);
  }
}

TEST_CASE("quantize: an already quantized part is left alone and noted", "[quantize]") {
  std::string text = header(13) +
                     "g (float[2,64] x) => (float[2,32] y) {\n"
                     "W = Constant<value = float[64,32] {" + numbers(2048, 4) + "}>()\n"
                     "s = Constant<value = float {0.01}>()\n"
                     "q = QuantizeLinear(W, s)\n"
                     "w = DequantizeLinear(q, s)\n"
                     "y = MatMul(x, w)\n}\n";
  auto m2 = test::parse_or_fail(text);
  auto r = quantize(*m2);
  CHECK(has_note(r, "quantized already"));
  CHECK(r.counter("tensors-int8") == 0);
}

TEST_CASE("quantize: mode=fp16 with keep-io-types: float16 weights and compute, float32 inputs and outputs",
          "[quantize]") {
  std::string text = header(13) +
                     "g (float[1,8,6,6] x) => (float[1,16,8,8] y) {\n"
                     "W = Constant<value = float[16,8,3,3] {" + numbers(1152, 1) + "}>()\n"
                     "c = Conv(x, W)\n"
                     "roi = Constant<value = float[0] {}>()\n"
                     "sc = Constant<value = float[4] {1, 1, 2, 2}>()\n"
                     "y = Resize<mode = \"nearest\">(c, roi, sc)\n}\n";
  auto before = test::parse_or_fail(text), m = test::parse_or_fail(text);
  auto r = quantize(*m, "mode=fp16 keep-io-types=true");
  INFO(notes_text(r));
  CHECK(r.changed);
  CHECK(m->graph->inputs()[0]->type.elem_type == DataType::Float);
  CHECK(m->graph->outputs()[0]->type.elem_type == DataType::Float);
  Node* conv = first_op(*m, "Conv");
  REQUIRE(conv);
  REQUIRE(util::fixed_constant(conv->input(1)));
  CHECK(util::fixed_constant(conv->input(1))->data_type == DataType::Float16);
  Node* resize = first_op(*m, "Resize");
  REQUIRE(resize);
  REQUIRE(util::fixed_constant(resize->input(2)));  // scales stay a float32 constant, no Cast
  CHECK(util::fixed_constant(resize->input(2))->data_type == DataType::Float);
  CHECK(resize->input(0)->producer()->op_type == "Cast");
  CHECK(has_note(r, "Resize (ONNX Runtime's float16 block list)"));
  if (auto e = ort_error(*before, *m)) {
    INFO("rel-l2 " << *e);
    CHECK(*e < 2e-3);
  }
}

TEST_CASE("quantize: mode=fp16 clamps constants beyond float16's range (a -1e9 mask)", "[quantize]") {
  std::string text = header(13) +
                     "g (float[4] x) => (float[4] y) {\n"
                     "m = Constant<value = float[4] {0, -1000000000, 0, 1}>()\n"
                     "y = Add(x, m)\n}\n";
  auto m = test::parse_or_fail(text);
  auto r = quantize(*m, "mode=fp16");
  CHECK(has_note(r, "1 constant element(s) beyond float16's range clamped"));
  CHECK(m->graph->inputs()[0]->type.elem_type == DataType::Float16);
  Node* add = first_op(*m, "Add");
  REQUIRE(add);
  auto v = util::constant_doubles(add->input(1));
  REQUIRE(v);
  CHECK((*v)[1] == -65504.0);
}

TEST_CASE("quantize: emit=ort turns MatMuls on int4 weights into com.microsoft MatMulNBits", "[quantize]") {
  std::string text = header(13) +
                     "g (float[2,256] x, float[3,256] u) => (float[2,32] y, float[3,32] z) {\n"
                     "W = Constant<value = float[256,32] {" + numbers(8192, 4) + "}>()\n"
                     "y = MatMul(x, W)\n"
                     "z = MatMul(u, W)\n}\n";
  auto before = test::parse_or_fail(text), m = test::parse_or_fail(text);
  auto r = quantize(*m, "bits=4 emit=ort");
  INFO(notes_text(r));
  CHECK(r.counter("matmulnbits") == 2);
  CHECK(first_op(*m, "MatMul") == nullptr);
  CHECK(first_op(*m, "DequantizeLinear") == nullptr);
  Node* nb = first_op(*m, "MatMulNBits");
  REQUIRE(nb);
  CHECK(nb->domain == "com.microsoft");
  CHECK(nb->attr_int("K", 0) == 256);
  CHECK(nb->attr_int("N", 0) == 32);
  CHECK(nb->attr_int("block_size", 0) == 128);
  REQUIRE(util::fixed_constant(nb->input(1)));
  CHECK(util::fixed_constant(nb->input(1))->dims == std::vector<int64_t>{32, 2, 64});
  CHECK(m->graph->initializers().size() == 2);  // the packed weight and its scales, shared by both
  if (auto e = ort_error(*before, *m)) {
    INFO("rel-l2 " << *e);
    CHECK(*e < 0.1);
  }
}

TEST_CASE("quantize: a DequantizeLinear sits right before its first reader, not first in the graph", "[quantize]") {
  auto m = test::parse_or_fail(header(13) +
                               "g (float[2,64] x) => (float[2,64] y) {\n"
                               "W0 = Constant<value = float[64,64] {" + numbers(4096, 4) + "}>()\n"
                               "W1 = Constant<value = float[64,64] {" + numbers(4096, 5) + "}>()\n"
                               "t = MatMul(x, W0)\n"
                               "r = Relu(t)\n"
                               "y = MatMul(r, W1)\n}\n");
  quantize(*m);
  const auto& nodes = m->graph->nodes();
  std::vector<std::string> ops;
  for (const auto& n : nodes) ops.push_back(n->op_type);
  CHECK(ops == std::vector<std::string>{"DequantizeLinear", "MatMul", "Relu", "DequantizeLinear", "MatMul"});
}

TEST_CASE("quantize: a ConvTranspose weight is per channel along axis 1", "[quantize]") {
  std::string text = header(13) +
                     "g (float[1,16,4,4] x) => (float[1,8,6,6] y) {\n"
                     "W = Constant<value = float[16,8,3,3] {" + numbers(1152, 1) + "}>()\n"
                     "y = ConvTranspose(x, W)\n}\n";
  auto before = test::parse_or_fail(text), m = test::parse_or_fail(text);
  quantize(*m);
  Node* dq = first_op(*m, "DequantizeLinear");
  REQUIRE(dq);
  CHECK(dq->attr_int("axis", -1) == 1);
  CHECK(util::fixed_constant(dq->input(1))->dims == std::vector<int64_t>{8});
  if (auto e = ort_error(*before, *m)) CHECK(*e < 0.02);
}

TEST_CASE("quantize: bits=4 stores a Gemm(transB=1) weight as [K, N] and clears transB", "[quantize]") {
  std::string text = header(13) +
                     "g (float[3,256] x) => (float[3,32] y) {\n"
                     "W = Constant<value = float[32,256] {" + numbers(8192, 7) + "}>()\n"
                     "y = Gemm<transB = 1>(x, W)\n}\n";
  auto before = test::parse_or_fail(text), m = test::parse_or_fail(text);
  auto r = quantize(*m, "bits=4");
  INFO(notes_text(r));
  Node* gemm = first_op(*m, "Gemm");
  REQUIRE(gemm);
  CHECK(gemm->attr_int("transB", 0) == 0);
  Node* dq = first_op(*m, "DequantizeLinear");
  REQUIRE(dq);
  CHECK(util::fixed_constant(dq->input(0))->dims == std::vector<int64_t>{256, 32});
  CHECK(dq->attr_int("block_size", 0) == 128);
  if (auto e = ort_error(*before, *m)) CHECK(*e < 0.1);
}

TEST_CASE("quantize: a float16 model gets float16 scales (opset 19), or stays float under max-opset 18",
          "[quantize]") {
  std::string text = header(13) +
                     "g (float16[2,64] x) => (float16[2,32] y) {\n"
                     "W = Constant<value = float[64,32] {" + numbers(2048, 4) + "}>()\n"
                     "y = MatMul(x, W)\n}\n";
  // (ONNX text has no float16 literals: W is made float16 after parsing.)
  auto parse16 = [&] {
    auto m = test::parse_or_fail(text);
    for (auto& n : m->graph->nodes())
      if (n->op_type == "Constant") {
        Attribute* a = n->attr("value");
        REQUIRE(a);
        auto v = to_doubles(*a->t);
        REQUIRE(v);
        a->t = tensor_from_values(DataType::Float16, a->t->dims, *v);
        n->output(0)->type.elem_type = DataType::Float16;
      }
    return m;
  };
  SECTION("opset 19") {
    auto before = parse16(), m = parse16();
    quantize(*m);
    CHECK(m->opset() == 19);
    Node* dq = first_op(*m, "DequantizeLinear");
    REQUIRE(dq);
    CHECK(util::fixed_constant(dq->input(1))->data_type == DataType::Float16);
    if (auto e = ort_error(*before, *m)) CHECK(*e < 0.02);
  }
  SECTION("max-opset 18") {
    auto m = parse16();
    auto r = quantize(*m, "max-opset=18");
    CHECK(first_op(*m, "DequantizeLinear") == nullptr);
    CHECK(has_note(r, "scales need opset 19"));
  }
}

TEST_CASE("quantize: weights inside an If branch are quantized in the branch", "[quantize]") {
  std::string w = numbers(2048, 4);
  std::string ok = header(13) +
                   "g (bool c, float[2,64] x) => (float[2,32] y) {\n"
                   "  y = If<then_branch = t () => (float[2,32] a) { W = Constant<value = float[64,32] {" + w +
                   "}>() a = MatMul(x, W) },\n"
                   "         else_branch = e () => (float[2,32] b) { V = Constant<value = float[64,32] {" +
                   numbers(2048, 5) + "}>() b = MatMul(x, V) }>(c)\n}\n";
  auto m = test::parse_or_fail(ok);
  auto r = quantize(*m);
  INFO(notes_text(r));
  CHECK(r.counter("tensors-int8") == 2);
  Node* iff = first_op(*m, "If");
  REQUIRE(iff);
  for (Graph* sg : iff->subgraphs()) {
    bool dq = false;
    for (const auto& n : sg->nodes()) dq |= n->op_type == "DequantizeLinear";
    CHECK(dq);
  }
}

TEST_CASE("quantize: a strided channel or block gets the scale and integers it gets on its own", "[quantize]") {
  // Each channel (block) quantized by itself as one per-tensor group is the
  // reference; the fast path copies strided channels and blocks together first.
  std::vector<float> x;
  for (int i = 0; i < 6 * 40 * 5; ++i) x.push_back(static_cast<float>(std::sin(i * 0.7) * (1 + i % 13)));
  auto alone = [&](const std::vector<float>& vals, quant::Precision p) {
    return quant::quantize_values(vals, {static_cast<int64_t>(vals.size())}, p, {}, true, false, 51, 1);
  };
  SECTION("per channel along the middle axis of [6, 40, 5]") {
    std::vector<int64_t> dims = {6, 40, 5};
    auto q = quant::quantize_values(x, dims, quant::Precision::Int8, {quant::Granularity::Kind::PerAxis, 1, 0}, true,
                                    false, 51, 2);
    REQUIRE(q.scales.size() == 40);
    for (int c = 0; c < 40; ++c) {
      std::vector<float> vals;
      std::vector<int8_t> ints;
      for (int a = 0; a < 6; ++a)
        for (int b = 0; b < 5; ++b) {
          vals.push_back(x[static_cast<size_t>((a * 40 + c) * 5 + b)]);
          ints.push_back(q.values[static_cast<size_t>((a * 40 + c) * 5 + b)]);
        }
      auto ref = alone(vals, quant::Precision::Int8);
      CHECK(q.scales[static_cast<size_t>(c)] == ref.scales[0]);
      CHECK(ints == ref.values);
    }
  }
  SECTION("int4 blocks of 16 along K of [48, 25]") {
    std::vector<float> w(x.begin(), x.begin() + 48 * 25);
    auto q = quant::quantize_values(w, {48, 25}, quant::Precision::Int4, {quant::Granularity::Kind::Blocked, 0, 16},
                                    true, false, 51, 2);
    REQUIRE(q.scales.size() == 3 * 25);
    CHECK(q.scale_dims == std::vector<int64_t>{3, 25});
    for (int blk = 0; blk < 3; ++blk)
      for (int n = 0; n < 25; ++n) {
        std::vector<float> vals;
        std::vector<int8_t> ints;
        for (int k = blk * 16; k < blk * 16 + 16; ++k) {
          vals.push_back(w[static_cast<size_t>(k * 25 + n)]);
          ints.push_back(q.values[static_cast<size_t>(k * 25 + n)]);
        }
        auto ref = alone(vals, quant::Precision::Int4);
        CHECK(q.scales[static_cast<size_t>(blk * 25 + n)] == ref.scales[0]);
        CHECK(ints == ref.values);
      }
  }
}
