// Seeded random inputs: deterministic per (seed, sample, input, element),
// typed, in range, shaped by --shape; errors name the input and dim.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "exec/random_inputs.h"
#include "util/test_util.h"

using namespace effopt;
using exec::TensorValue;

namespace {
const char* kModel = R"(
<ir_version: 8, opset_import: ["" : 13]>
m (float[N,3] X, int64[N,5] ids, bool[2] mask, float16[4] h) => (float[N,3] Y) {
  Y = Identity(X)
}
)";

bool same_bytes(const TensorValue& a, const TensorValue& b) {
  return a.byte_size() == b.byte_size() && std::memcmp(a.raw(), b.raw(), a.byte_size()) == 0;
}
}  // namespace

TEST_CASE("random inputs: typed, shaped, default ranges", "[random-inputs]") {
  auto m = test::parse_or_fail(kModel);
  exec::RandomInputOptions o;
  o.shapes = {{"N", {1000}}};
  auto plan = exec::plan_random_inputs(*m->graph, o);
  REQUIRE(plan);
  REQUIRE(plan->size() == 4);
  auto in = exec::random_inputs(*plan, 1, 0);
  CHECK(in[0].first == "X");
  CHECK(in[0].second.dims() == std::vector<int64_t>{1000, 3});
  double sum = 0;
  for (float x : in[0].second.span<float>()) {
    REQUIRE(x >= -1.0f);
    REQUIRE(x < 1.0f);
    sum += x;
  }
  CHECK(std::fabs(sum / 3000) < 0.05);  // uniform on [-1, 1): mean 0, sd of the mean 0.011
  std::vector<int> seen(10, 0);
  for (int64_t v : in[1].second.span<int64_t>()) {
    REQUIRE(v >= 0);
    REQUIRE(v < 10);
    ++seen[static_cast<size_t>(v)];
  }
  for (int c : seen) CHECK(c > 0);  // 5000 draws hit every value
  CHECK(in[2].second.dtype() == DataType::Bool);
  for (uint8_t v : in[2].second.span<uint8_t>()) CHECK(v <= 1);
  CHECK(in[3].second.dtype() == DataType::Float16);
  for (uint16_t h : in[3].second.span<uint16_t>()) {
    float f = exec::half_to_float(h);
    CHECK(f >= -1.0f);
    CHECK(f < 1.0f);
  }
}

TEST_CASE("random inputs: the same seed and sample give the same values, drawn in any order", "[random-inputs]") {
  auto m = test::parse_or_fail(kModel);
  exec::RandomInputOptions o;
  o.shapes = {{"N", {7}}};
  auto plan = exec::plan_random_inputs(*m->graph, o);
  REQUIRE(plan);
  auto s3 = exec::random_inputs(*plan, 42, 3);
  for (uint64_t s = 0; s < 3; ++s) (void)exec::random_inputs(*plan, 42, s);
  auto again = exec::random_inputs(*plan, 42, 3);
  for (size_t i = 0; i < s3.size(); ++i) CHECK(same_bytes(s3[i].second, again[i].second));
  CHECK_FALSE(same_bytes(s3[0].second, exec::random_inputs(*plan, 42, 4)[0].second));
  CHECK_FALSE(same_bytes(s3[0].second, exec::random_inputs(*plan, 43, 3)[0].second));
}

TEST_CASE("random inputs: --range per input or for all, checked against the type", "[random-inputs]") {
  auto m = test::parse_or_fail(kModel);
  exec::RandomInputOptions o;
  o.shapes = {{"N", {100}}};
  auto r = exec::parse_range("ids=100:103");
  REQUIRE(r);
  auto x = exec::parse_range("X=-0.5:-0.25");
  REQUIRE(x);
  CHECK(x->name == "X");
  CHECK(x->lo == -0.5);
  o.ranges = {*r, *x};
  auto plan = exec::plan_random_inputs(*m->graph, o);
  REQUIRE(plan);
  auto in = exec::random_inputs(*plan, 0, 0);
  for (float x : in[0].second.span<float>()) {
    REQUIRE(x >= -0.5f);
    REQUIRE(x < -0.25f);
  }
  for (int64_t v : in[1].second.span<int64_t>()) {
    REQUIRE(v >= 100);
    REQUIRE(v < 103);
  }
  // A range without a name applies to every input (and must fit each one's type).
  auto all = exec::parse_range("2:4");
  REQUIRE(all);
  CHECK(all->name.empty());
  exec::RandomInputOptions every = o;
  every.ranges = {*all};
  auto everywhere = exec::plan_random_inputs(*m->graph, every);
  REQUIRE_FALSE(everywhere);  // bool cannot hold 2..3
  CHECK(everywhere.error().message.find("--range 2:4: outside the range of bool") != std::string::npos);
  every.ranges = {*all, *exec::parse_range("mask=0:2")};
  auto named_wins = exec::plan_random_inputs(*m->graph, every);
  REQUIRE(named_wins);
  CHECK((*named_wins)[0].lo == 2);
  CHECK((*named_wins)[1].hi == 4);
  CHECK((*named_wins)[2].hi == 2);
  CHECK_FALSE(exec::parse_range("x=1:1"));
  CHECK_FALSE(exec::parse_range("x=a:b"));
  exec::RandomInputOptions bad = o;
  bad.ranges = {*exec::parse_range("ids=0.5:2")};
  auto e = exec::plan_random_inputs(*m->graph, bad);
  REQUIRE_FALSE(e);
  CHECK(e.error().message.find("must be integers") != std::string::npos);
  bad.ranges = {*exec::parse_range("mask=0:3")};
  e = exec::plan_random_inputs(*m->graph, bad);
  REQUIRE_FALSE(e);
  CHECK(e.error().message.find("outside the range of bool") != std::string::npos);
}

TEST_CASE("random inputs: symbolic dims need a --shape naming the input and dim", "[random-inputs]") {
  auto m = test::parse_or_fail(kModel);
  auto e = exec::plan_random_inputs(*m->graph, {});
  REQUIRE_FALSE(e);
  CHECK(e.error().kind == ErrorKind::Usage);
  CHECK(e.error().message.find("input 'X' dim 0 is symbolic ('N')") != std::string::npos);
  exec::RandomInputOptions whole;
  whole.shapes = {{"X", {2, 3}}, {"ids", {2, 5}}};
  auto p = exec::plan_random_inputs(*m->graph, whole);
  REQUIRE(p);
  CHECK((*p)[0].dims == std::vector<int64_t>{2, 3});
  exec::RandomInputOptions wrong;
  wrong.shapes = {{"X", {2, 4}}, {"N", {2}}};
  e = exec::plan_random_inputs(*m->graph, wrong);
  REQUIRE_FALSE(e);
  CHECK(e.error().message.find("dim 1 of input 'X' is fixed at 3") != std::string::npos);
  exec::RandomInputOptions nothing;
  nothing.shapes = {{"N", {2}}, {"Q", {1}}};
  e = exec::plan_random_inputs(*m->graph, nothing);
  REQUIRE_FALSE(e);
  CHECK(e.error().message.find("--shape Q: names no input") != std::string::npos);
  exec::RandomInputOptions huge;
  huge.shapes = {{"N", {int64_t{1} << 40}}};
  e = exec::plan_random_inputs(*m->graph, huge);
  REQUIRE_FALSE(e);
  CHECK(e.error().kind == ErrorKind::IO);
  CHECK(e.error().message.find("more than this machine's memory") != std::string::npos);
}
