// The metrics module (exec/metrics.h), the one definition behind `effopt
// compare` (analysis/fidelity.h) and --check-outputs (pass/manager.h):
// every metric on hand-computed vectors, pooling, the all-zero reference,
// NaN and infinities, classifier shapes and top-1; and compare and
// --check-outputs giving the same number on the same pair of models.
#include <catch2/catch.hpp>

#include <cmath>

#include "analysis/fidelity.h"
#include "exec/metrics.h"
#include "pass/manager.h"
#include "util/broken_passes.h"
#include "util/test_util.h"

using namespace effopt;
using exec::ErrorAccumulator;
using exec::ErrorMetrics;
using exec::TensorValue;

namespace {

ErrorMetrics metrics_of(const std::vector<double>& a, const std::vector<double>& b) {
  ErrorAccumulator acc;
  acc.add(a, b);
  return acc.metrics();
}

TensorValue F(std::vector<float> v) {
  int64_t n = static_cast<int64_t>(v.size());
  return TensorValue::from_vector(DataType::Float, {n}, v);
}

pass::Pipeline pipeline(const std::string& text) {
  test::register_broken_passes(pass::PassRegistry::global());
  auto p = pass::parse_pipeline(text);
  REQUIRE(p);
  return std::move(*p);
}

// `model` against itself after test-add-milli (0.001 added to its output):
// --check-outputs' number (the run's max_rel_l2, or its failure message) and
// compare's rel-l2 on the same seeded random inputs.
struct BothVerdicts {
  std::optional<double> check_outputs;  // nullopt: the check failed
  std::string check_message;
  double compare = 0;
};
BothVerdicts both_verdicts(const std::string& text, double tolerance) {
  auto before = test::parse_or_fail(text), after = test::parse_or_fail(text);
  pass::ManagerOptions mo;
  mo.check_outputs = true;
  mo.tolerance = tolerance;
  mo.seed = 5;
  BothVerdicts v;
  auto run = pass::run_pipeline(pipeline("test-add-milli"), *after, mo);
  if (run) {
    REQUIRE(run->passes.size() == 1);
    REQUIRE(run->passes[0].outputs_checked);
    v.check_outputs = run->passes[0].max_rel_l2;
  } else {
    v.check_message = run.error().message;
  }
  // The pipeline changed `after` even when the check refused it.
  exec::RandomInputOptions ro;
  ro.seed = mo.seed;
  auto plan = exec::plan_random_inputs(*before->graph, ro);
  REQUIRE(plan);
  auto samples = random_samples(std::move(*plan), mo.seed, 1);
  auto r = compare_models(*before, *after, *samples);
  REQUIRE(r);
  REQUIRE(r->outputs.size() == 1);
  v.compare = r->outputs[0].metrics.rel_l2_error;
  return v;
}

}  // namespace

TEST_CASE("metrics: every metric on a hand-computed pair", "[metrics]") {
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

TEST_CASE("metrics: pooled over samples, not averaged", "[metrics]") {
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

TEST_CASE("metrics: exact, zero and opposite vectors", "[metrics]") {
  ErrorMetrics same = metrics_of({1, -2}, {1, -2});
  CHECK(same.rel_l2_error == 0);
  CHECK(same.cosine_similarity == Approx(1).epsilon(1e-15));
  CHECK(std::isinf(same.sqnr_db));
  CHECK(same.sqnr_db > 0);
  ErrorMetrics zeros = metrics_of({0, 0}, {0, 0});
  CHECK(zeros.rel_l2_error == 0);
  CHECK(zeros.cosine_similarity == 1);
  CHECK(zeros.zero_reference);
  CHECK(std::isinf(zeros.sqnr_db));
  CHECK(zeros.sqnr_db > 0);
  // An all-zero reference and a candidate that is not: rel-l2 is inf (an error
  // relative to nothing), however small the candidate; the absolute size is
  // max-abs.
  ErrorMetrics from_zero = metrics_of({0, 0}, {1, 0});
  CHECK(from_zero.zero_reference);
  CHECK(from_zero.max_abs_error == 1);
  CHECK(std::isinf(from_zero.rel_l2_error));
  ErrorMetrics tiny = metrics_of({0, 0, 0}, {0, 1e-30, 0});
  CHECK(std::isinf(tiny.rel_l2_error));
  CHECK(tiny.max_abs_error == 1e-30);
  CHECK_FALSE(metrics_of({0, 1}, {0, 1}).zero_reference);
  CHECK(from_zero.cosine_similarity == 0);
  CHECK(from_zero.sqnr_db < 0);
  CHECK(std::isinf(from_zero.sqnr_db));
  ErrorMetrics opposite = metrics_of({1, 2}, {-1, -2});
  CHECK(opposite.cosine_similarity == Approx(-1));
  CHECK(opposite.rel_l2_error == Approx(2));  // ||-2a|| / ||a||
  CHECK(opposite.sqnr_db == Approx(10 * std::log10(5.0 / 20.0)));
}

TEST_CASE("metrics: NaN and Inf on both sides are equal, on one side they break every metric", "[metrics]") {
  ErrorMetrics both = metrics_of({NAN, INFINITY, 1}, {NAN, INFINITY, 1.5});
  CHECK(both.nonfinite_mismatches == 0);
  CHECK(both.max_abs_error == 0.5);
  CHECK(both.rel_l2_error == Approx(0.5));  // only the finite pair carries energy
  CHECK_FALSE(both.first_nonfinite_mismatch);
  ErrorMetrics one = metrics_of({NAN, 1}, {0, 1});
  CHECK(one.nonfinite_mismatches == 1);
  CHECK(one.first_nonfinite_mismatch == 0u);
  CHECK(std::isinf(one.rel_l2_error));
  CHECK(std::isinf(one.max_abs_error));
  CHECK(std::isnan(one.cosine_similarity));
  ErrorMetrics signs = metrics_of({1, 2, INFINITY, NAN}, {1, 2, -INFINITY, 5});
  CHECK(signs.nonfinite_mismatches == 2);
  CHECK(signs.first_nonfinite_mismatch == 2u);
  CHECK(std::isinf(signs.sqnr_db));
  CHECK(signs.sqnr_db < 0);
  FidelityLimits l;
  l.max_error = 1e9;
  l.metric = FidelityMetric::CosineDistance;
  CHECK(breaks_tensor_limits(one, l));  // NaN fails a limit
}

TEST_CASE("metrics: tensors of any numeric type are read as doubles", "[metrics]") {
  auto h = TensorValue::from_vector(DataType::Float16, {2}, std::vector<uint16_t>{0x3C00, 0xC000});  // 1, -2
  CHECK(exec::to_doubles(h) == std::vector<double>{1, -2});
  auto i = TensorValue::from_vector(DataType::Int8, {3}, std::vector<int8_t>{-3, 0, 7});
  CHECK(exec::to_doubles(i) == std::vector<double>{-3, 0, 7});
  auto b = TensorValue::from_vector(DataType::Bool, {2}, std::vector<uint8_t>{1, 0});
  CHECK(exec::to_doubles(b) == std::vector<double>{1, 0});
  ErrorAccumulator acc;
  acc.add(TensorValue::from_vector(DataType::Float, {2}, std::vector<float>{1, -2}), h);
  CHECK(acc.metrics().max_abs_error == 0);
}

TEST_CASE("metrics: classifier-shaped outputs and top-1", "[metrics]") {
  CHECK(exec::classifier_shape(DataType::Float, {4, 10})->rows == 4);
  CHECK(exec::classifier_shape(DataType::Float, {4, 10})->classes == 10);
  CHECK(exec::classifier_shape(DataType::Float, {10})->rows == 1);
  CHECK(exec::classifier_shape(DataType::Float16, {2, 1000, 1, 1})->classes == 1000);
  CHECK_FALSE(exec::classifier_shape(DataType::Float, {4, 1}));      // one logit: not a class choice
  CHECK_FALSE(exec::classifier_shape(DataType::Float, {4, 10, 2}));  // per-position scores
  CHECK_FALSE(exec::classifier_shape(DataType::Int64, {4, 10}));
  CHECK_FALSE(exec::classifier_shape(DataType::Float, {}));
  // Rows: [0.1, 0.9, 0.9] ties -> first (1); [NaN, 5, 1] -> the NaN (0); [-1, -3, -2] -> 0.
  auto t = TensorValue::from_vector(DataType::Float, {3, 3}, std::vector<float>{0.1f, 0.9f, 0.9f, NAN, 5, 1, -1, -3, -2});
  CHECK(exec::top1(t, *exec::classifier_shape(DataType::Float, {3, 3})) == std::vector<int64_t>{1, 0, 0});
}

TEST_CASE("metrics: --check-outputs measures a pair as the metrics module does", "[metrics]") {
  struct Pair {
    const char* what;
    TensorValue before, after;
  };
  const Pair pairs[] = {
      {"ordinary", F({1, 2, 3, 4}), F({1, 2, 3, 5})},
      {"equal", F({1, -2}), F({1, -2})},
      {"all zeros before and after", F({0, 0}), F({0, 0})},
      {"all zeros before, not after", F({0, 0, 0}), F({0, 1e-6f, 0})},
      {"NaN where there was none", F({1, 2}), F({1, NAN})},
      {"NaN in the same place", F({NAN, 2}), F({NAN, 2.5f})},
      {"infinities of opposite signs", F({INFINITY}), F({-INFINITY})},
  };
  for (const Pair& p : pairs) {
    INFO(p.what);
    std::string why;
    double check = pass::output_change(p.before, p.after, &why);
    double metric = exec::error_metrics(p.before, p.after).rel_l2_error;
    CHECK((check == metric || (std::isnan(check) && std::isnan(metric))));
    CHECK(why.empty() == std::isfinite(check));  // an infinite verdict says why
  }
  std::string why;
  CHECK(std::isinf(pass::output_change(F({0, 0, 0}), F({0, 1e-6f, 0}), &why)));
  CHECK(why.find("all zeros") != std::string::npos);
  CHECK(std::isinf(pass::output_change(F({1, 2}), F({1, NAN}), &why)));
  CHECK(why.find("element 1 is 2.000000 before and nan after") != std::string::npos);
  // Other element types must stay equal.
  auto i = TensorValue::from_vector(DataType::Int64, {2}, std::vector<int64_t>{3, 4});
  auto j = TensorValue::from_vector(DataType::Int64, {2}, std::vector<int64_t>{3, 5});
  CHECK(pass::output_change(i, i) == 0);
  CHECK(std::isinf(pass::output_change(i, j, &why)));
  CHECK(why == "1 of 2 elements differ");
}

TEST_CASE("metrics: compare and --check-outputs agree on the same pair of models", "[metrics]") {
  // An ordinary output: both give the same relative L2 error, to the bit.
  BothVerdicts ordinary = both_verdicts(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[8,16] X) => (float[8,16] Y) {
  Y = Relu(X)
}
)", 1.0);
  REQUIRE(ordinary.check_outputs);
  CHECK(*ordinary.check_outputs > 1e-4);
  CHECK(*ordinary.check_outputs == ordinary.compare);
  // An output that was all zeros: compare says inf, and --check-outputs refuses
  // the pass under any finite tolerance (it used to report the absolute L2
  // error, 0.001 * sqrt(128) = 0.011, and pass it under a tolerance of 1).
  BothVerdicts zeros = both_verdicts(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[8,16] X) => (float[8,16] Y) {
  zero = Constant<value = float {0}>()
  Y = Mul(X, zero)
}
)", 1e300);
  CHECK(std::isinf(zeros.compare));
  CHECK_FALSE(zeros.check_outputs);
  CHECK(zeros.check_message.find("output 'Y': the output was all zeros and is not any more") != std::string::npos);
}
