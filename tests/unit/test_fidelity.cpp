// Fidelity limit checks and their messages, and compare_models on small
// graphs (the metrics themselves: test_metrics.cpp).
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
