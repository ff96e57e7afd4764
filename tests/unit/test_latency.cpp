// measure_latency and its percentile (lib/analysis/latency.h).
#include <catch2/catch.hpp>

#include "analysis/latency.h"
#include "util/test_util.h"

using namespace effopt;

TEST_CASE("latency: nearest-rank percentiles, computed by hand", "[latency]") {
  // Sorted: 1 2 3 4 5 6 7 8 9 10. p50: rank ceil(5) = 5 -> 5; p90: rank 9 -> 9; p100 -> 10; p0 -> the smallest.
  std::vector<double> v = {7, 3, 10, 1, 9, 2, 8, 4, 6, 5};
  CHECK(percentile_nearest_rank(v, 0.5) == 5);
  CHECK(percentile_nearest_rank(v, 0.9) == 9);
  CHECK(percentile_nearest_rank(v, 1.0) == 10);
  CHECK(percentile_nearest_rank(v, 0.0) == 1);
  CHECK(percentile_nearest_rank({4.5}, 0.9) == 4.5);
  CHECK(percentile_nearest_rank({}, 0.5) == 0);
}

TEST_CASE("latency: runs the executor the asked number of times", "[latency]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] x) => (float[4] y) {
  y = Relu(x)
}
)");
  std::vector<std::pair<std::string, exec::TensorValue>> in = {
      {"x", exec::TensorValue::from_vector(DataType::Float, {4}, std::vector<float>{-1, 2, -3, 4})}};
  auto s = measure_latency(*m, in, {.runs = 5, .warmup = 2, .threads = 1});
  REQUIRE(s);
  CHECK(s->ms.size() == 5);
  CHECK(s->runs == 5);
  CHECK(s->min_ms <= s->median_ms);
  CHECK(s->median_ms <= s->p90_ms);
  CHECK(s->p90_ms <= s->max_ms);
  auto bad = measure_latency(*m, {{"nope", in[0].second}}, {.runs = 1});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == ErrorKind::Usage);
  CHECK_FALSE(measure_latency(*m, in, {.runs = 0}));
}
