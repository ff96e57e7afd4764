// Fidelity metrics on hand-computed vectors, classifier shapes and top-1,
// limit checks and their messages, and compare_models on small graphs.
#include <catch2/catch.hpp>

#include <cmath>

#include "analysis/fidelity.h"
#include "util/test_util.h"

using namespace effopt;
using exec::TensorValue;

namespace {
ErrorMetrics metrics_of(const std::vector<double>& a, const std::vector<double>& b) {
  ErrorAccumulator acc;
  acc.add(a, b);
  return acc.metrics();
}
}  // namespace

TEST_CASE("fidelity: every metric on a hand-computed pair", "[fidelity]") {
  // a = [1, 2, 3, 4], b = [1, 2, 3, 5]: b - a = [0, 0, 0, 1].
  // ||a||^2 = 30, ||b||^2 = 39, <a, b> = 1 + 4 + 9 + 20 = 34, ||b - a||^2 = 1.
  ErrorMetrics m = metrics_of({1, 2, 3, 4}, {1, 2, 3, 5});
  CHECK(m.elements == 4);
  CHECK(m.max_abs_error == 1.0);
  CHECK(m.mean_abs_error == 0.25);
  CHECK(m.rel_l2_error == Approx(1 / std::sqrt(30.0)).epsilon(1e-14));
  CHECK(m.cosine_similarity == Approx(34 / std::sqrt(30.0 * 39.0)).epsilon(1e-14));
  CHECK(m.cosine_distance() == Approx(1 - 34 / std::sqrt(1170.0)).epsilon(1e-12));
  CHECK(m.sqnr_db == Approx(10 * std::log10(30.0)).epsilon(1e-14));  // 14.77 dB
  CHECK(m.nonfinite_mismatches == 0);
}

TEST_CASE("fidelity: pooled over samples, not averaged", "[fidelity]") {
  // Sample 1 exact ([3, 4]), sample 2 [1] -> [2]: pooled ||d||^2 = 1, ||a||^2 = 9 + 16 + 1 = 26.
  ErrorAccumulator acc;
  acc.add(std::vector<double>{3, 4}, std::vector<double>{3, 4});
  acc.add(std::vector<double>{1}, std::vector<double>{2});
  ErrorMetrics m = acc.metrics();
  CHECK(m.elements == 3);
  CHECK(m.rel_l2_error == Approx(1 / std::sqrt(26.0)).epsilon(1e-14));
  CHECK(m.mean_abs_error == Approx(1.0 / 3).epsilon(1e-14));
  CHECK(m.sqnr_db == Approx(10 * std::log10(26.0)).epsilon(1e-14));
  // <a, b> = 9 + 16 + 2 = 27, ||b||^2 = 9 + 16 + 4 = 29.
  CHECK(m.cosine_similarity == Approx(27 / std::sqrt(26.0 * 29.0)).epsilon(1e-14));
}

TEST_CASE("fidelity: exact, zero and opposite vectors", "[fidelity]") {
  ErrorMetrics same = metrics_of({1, -2}, {1, -2});
  CHECK(same.rel_l2_error == 0);
  CHECK(same.cosine_similarity == Approx(1).epsilon(1e-15));
  CHECK(std::isinf(same.sqnr_db));
  CHECK(same.sqnr_db > 0);
  ErrorMetrics zeros = metrics_of({0, 0}, {0, 0});
  CHECK(zeros.rel_l2_error == 0);
  CHECK(zeros.cosine_similarity == 1);
  ErrorMetrics from_zero = metrics_of({0, 0}, {1, 0});
  CHECK(std::isinf(from_zero.rel_l2_error));
  CHECK(from_zero.cosine_similarity == 0);
  CHECK(from_zero.sqnr_db < 0);
  CHECK(std::isinf(from_zero.sqnr_db));
  ErrorMetrics opposite = metrics_of({1, 2}, {-1, -2});
  CHECK(opposite.cosine_similarity == Approx(-1));
  CHECK(opposite.rel_l2_error == Approx(2));  // ||-2a|| / ||a||
  CHECK(opposite.sqnr_db == Approx(10 * std::log10(5.0 / 20.0)));
}

TEST_CASE("fidelity: NaN and Inf on both sides are equal, on one side they break every metric", "[fidelity]") {
  ErrorMetrics both = metrics_of({NAN, INFINITY, 1}, {NAN, INFINITY, 1.5});
  CHECK(both.nonfinite_mismatches == 0);
  CHECK(both.max_abs_error == 0.5);
  CHECK(both.rel_l2_error == Approx(0.5));  // only the finite pair carries energy
  ErrorMetrics one = metrics_of({NAN, 1}, {0, 1});
  CHECK(one.nonfinite_mismatches == 1);
  CHECK(std::isinf(one.rel_l2_error));
  CHECK(std::isinf(one.max_abs_error));
  CHECK(std::isnan(one.cosine_similarity));
  ErrorMetrics signs = metrics_of({INFINITY}, {-INFINITY});
  CHECK(signs.nonfinite_mismatches == 1);
  FidelityLimits l;
  l.max_error = 1e9;
  l.metric = FidelityMetric::CosineDistance;
  CHECK(breaks_tensor_limits(one, l));  // NaN fails a limit
}

TEST_CASE("fidelity: tensors of any numeric type are read as doubles", "[fidelity]") {
  auto h = TensorValue::from_vector(DataType::Float16, {2}, std::vector<uint16_t>{0x3C00, 0xC000});  // 1, -2
  CHECK(to_doubles(h) == std::vector<double>{1, -2});
  auto i = TensorValue::from_vector(DataType::Int8, {3}, std::vector<int8_t>{-3, 0, 7});
  CHECK(to_doubles(i) == std::vector<double>{-3, 0, 7});
  auto b = TensorValue::from_vector(DataType::Bool, {2}, std::vector<uint8_t>{1, 0});
  CHECK(to_doubles(b) == std::vector<double>{1, 0});
  ErrorAccumulator acc;
  acc.add(TensorValue::from_vector(DataType::Float, {2}, std::vector<float>{1, -2}), h);
  CHECK(acc.metrics().max_abs_error == 0);
}

TEST_CASE("fidelity: classifier-shaped outputs and top-1", "[fidelity]") {
  CHECK(classifier_shape(DataType::Float, {4, 10})->rows == 4);
  CHECK(classifier_shape(DataType::Float, {4, 10})->classes == 10);
  CHECK(classifier_shape(DataType::Float, {10})->rows == 1);
  CHECK(classifier_shape(DataType::Float16, {2, 1000, 1, 1})->classes == 1000);
  CHECK_FALSE(classifier_shape(DataType::Float, {4, 1}));      // one logit: not a class choice
  CHECK_FALSE(classifier_shape(DataType::Float, {4, 10, 2}));  // per-position scores
  CHECK_FALSE(classifier_shape(DataType::Int64, {4, 10}));
  CHECK_FALSE(classifier_shape(DataType::Float, {}));
  // Rows: [0.1, 0.9, 0.9] ties -> first (1); [NaN, 5, 1] -> the NaN (0); [-1, -3, -2] -> 0.
  auto t = TensorValue::from_vector(DataType::Float, {3, 3}, std::vector<float>{0.1f, 0.9f, 0.9f, NAN, 5, 1, -1, -3, -2});
  CHECK(top1(t, *classifier_shape(DataType::Float, {3, 3})) == std::vector<int64_t>{1, 0, 0});
}

TEST_CASE("fidelity: limits pass and fail with messages naming output, metric and value", "[fidelity]") {
  FidelityResult r;
  OutputFidelity o;
  o.name = "logits";
  o.metrics = metrics_of({1, 2, 3, 4}, {1, 2, 3, 5});  // rel-l2 0.1826, max-abs 1, SQNR 14.77
  o.classifier = true;
  o.rows = 4;
  o.top1_matches = 3;
  r.outputs.push_back(o);
  FidelityLimits l;
  l.max_error = 0.2;
  auto pass = check_fidelity_limits(r, l);
  REQUIRE(pass);
  REQUIRE(pass->size() == 1);
  CHECK((*pass)[0].passed);
  CHECK(fidelity_limits_status(*pass));
  l.max_error = 0.1;
  auto fail = check_fidelity_limits(r, l);
  REQUIRE(fail);
  Status st = fidelity_limits_status(*fail);
  REQUIRE_FALSE(st);
  CHECK(st.error().kind == ErrorKind::CheckFailed);
  CHECK(st.error().message.find("output 'logits': rel-l2 0.1826 exceeds --max-error 0.1") != std::string::npos);
  l.metric = FidelityMetric::Top1Mismatch;
  l.max_error = 0.2;  // 1 of 4 rows differ
  auto top = check_fidelity_limits(r, l);
  REQUIRE(top);
  CHECK((*top)[0].value == 0.25);
  CHECK_FALSE((*top)[0].passed);
  FidelityLimits s;
  s.min_sqnr_db = 15;
  auto sq = check_fidelity_limits(r, s);
  REQUIRE(sq);
  CHECK_FALSE((*sq)[0].passed);
  CHECK(fidelity_limits_status(*sq).error().message.find("sqnr 14.77 is below --min-sqnr 15") != std::string::npos);
  // Limits that cannot be evaluated are usage errors.
  FidelityLimits acc;
  acc.min_accuracy = 0.9;
  auto no_labels = check_fidelity_limits(r, acc);
  REQUIRE_FALSE(no_labels);
  CHECK(no_labels.error().kind == ErrorKind::Usage);
  r.outputs[0].classifier = false;
  auto no_cls = check_fidelity_limits(r, l);
  REQUIRE_FALSE(no_cls);
  CHECK(no_cls.error().message.find("classifier-shaped") != std::string::npos);
  // accuracy-drop = reference - candidate.
  r.accuracy = AccuracyResult{"logits", 100, 95, 90, true};
  FidelityLimits drop;
  drop.max_error = 0.04;
  drop.metric = FidelityMetric::AccuracyDrop;
  auto d = check_fidelity_limits(r, drop);
  REQUIRE(d);
  CHECK((*d)[0].value == Approx(0.05));
  CHECK_FALSE((*d)[0].passed);
}

TEST_CASE("fidelity: metric names round-trip", "[fidelity]") {
  for (auto m : {FidelityMetric::RelL2, FidelityMetric::MaxAbs, FidelityMetric::CosineDistance,
                 FidelityMetric::Top1Mismatch, FidelityMetric::AccuracyDrop})
    CHECK(*parse_metric(metric_name(m)) == m);
  CHECK_FALSE(parse_metric("l2"));
}

TEST_CASE("fidelity: compare_models on random inputs, outputs matched by position when renamed", "[fidelity]") {
  auto a = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
a (float[2,3] X) => (float[2,3] Y) {
  Y = Relu(X)
}
)");
  auto b = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
b (float[2,3] X) => (float[2,3] Out) <float k = {2}> {
  R = Relu(X)
  Out = Mul(R, k)
}
)");
  auto plan = exec::plan_random_inputs(*a->graph, {});
  REQUIRE(plan);
  auto src = random_samples(*plan, 3, 2);
  auto r = compare_models(*a, *b, *src);
  REQUIRE(r);
  REQUIRE(r->outputs.size() == 1);
  CHECK(r->outputs[0].candidate_name == "Out");
  // b = 2a everywhere: ||b - a|| / ||a|| = 1 exactly, cosine 1, SQNR 0 dB.
  CHECK(r->outputs[0].metrics.rel_l2_error == Approx(1).epsilon(1e-12));
  CHECK(r->outputs[0].metrics.cosine_similarity == Approx(1).epsilon(1e-12));
  CHECK(r->outputs[0].metrics.sqnr_db == Approx(0).margin(1e-9));
  CHECK(r->outputs[0].samples == 2);
  CHECK(r->sample_labels.size() == 2);
}

TEST_CASE("fidelity: a float16 candidate gets the inputs in float16 and is compared in doubles", "[fidelity]") {
  auto a = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
a (float[4] X) => (float[4] Y) {
  Y = Identity(X)
}
)");
  auto b = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
b (float16[4] X) => (float16[4] Y) {
  Y = Identity(X)
}
)");
  exec::RandomInputOptions ro;
  ro.ranges = {{"", 0, 1}};
  auto plan = exec::plan_random_inputs(*a->graph, ro);
  REQUIRE(plan);
  auto src = random_samples(*plan, 0, 1);
  auto r = compare_models(*a, *b, *src);
  REQUIRE(r);
  // The only error is float16 rounding: at most half an ulp of [0.5, 1) = 2^-12.
  CHECK(r->outputs[0].metrics.max_abs_error > 0);
  CHECK(r->outputs[0].metrics.max_abs_error <= 0x1p-12);
  REQUIRE(r->warnings.size() == 1);
  CHECK(r->warnings[0].find("is float16") != std::string::npos);
}
