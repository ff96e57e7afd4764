// The executor's internal rewrites (RunOptions::internal_rewrites): an inference BatchNormalization folded
// into the Conv before it (and a Relu after it fused on top), only when the Conv's output has no other
// reader and every parameter is a constant (exec/batch_norm_fold.h); results against the same model run
// node by node.
#include <catch2/catch.hpp>

#include <cmath>

#include "exec/executor.h"
#include "util/test_util.h"

using namespace effopt;
using exec::TensorValue;

namespace {

struct Result {
  std::vector<float> y;
  uint64_t nodes_run;
};

Result run(const Model& m, const std::vector<std::pair<std::string, TensorValue>>& in, bool rewrites,
           bool fold_batch_norm = true) {
  exec::RunOptions o;
  o.internal_rewrites = rewrites;
  o.fold_batch_norm = fold_batch_norm;
  auto s = exec::Session::create(m, o);
  REQUIRE(s);
  auto r = (*s)->run(in);
  REQUIRE(r);
  auto sp = (*r)[0].span<float>();
  return {{sp.begin(), sp.end()}, (*s)->last_stats().nodes_run};
}

TensorValue F(std::vector<int64_t> dims, std::vector<float> v) {
  return TensorValue::from_vector(DataType::Float, std::move(dims), v);
}

}  // namespace

TEST_CASE("exec rewrites: BatchNormalization folds into the Conv before it (hand-computed)", "[exec]") {
  // 1x1 conv, one channel: c = 2x + 1; BN with gamma 3, beta 0.5, mean 1, var 3, eps 1: (c - 1) * 3 / 2 + 0.5,
  // so y = 3x + 0.5 exactly; the Relu clamps x = -1 (-2.5) to 0.
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,1,1,3] x) => (float[1,1,1,3] y)
  <float[1,1,1,1] w = {2}, float[1] b = {1}, float[1] gamma = {3}, float[1] beta = {0.5}, float[1] mean = {1},
   float[1] var = {3}> {
  c = Conv(x, w, b)
  n = BatchNormalization<epsilon = 1.0>(c, gamma, beta, mean, var)
  y = Relu(n)
}
)");
  auto in = std::vector<std::pair<std::string, TensorValue>>{{"x", F({1, 1, 1, 3}, {1, 2, -1})}};
  Result folded = run(*m, in, true), plain = run(*m, in, false);
  CHECK(folded.y == std::vector<float>{3.5f, 6.5f, 0.f});
  CHECK(plain.y == std::vector<float>{3.5f, 6.5f, 0.f});
  CHECK(folded.nodes_run == 1);  // Conv with the BN folded in and the Relu fused
  CHECK(plain.nodes_run == 3);
  Result unfolded = run(*m, in, true, false);  // what compare and --check-outputs use: BN runs as written
  CHECK(unfolded.nodes_run == 3);
  CHECK(unfolded.y == plain.y);
}

TEST_CASE("exec rewrites: folded BatchNormalization matches node-by-node execution on random weights", "[exec]") {
  // 3x3 conv, 4 -> 6 channels, no conv bias, then BN and Clip(0, 6): weights made up, compared at 1e-5.
  std::string w, gamma, beta, mean, var;
  for (int i = 0; i < 6 * 4 * 9; ++i) w += (i ? ", " : "") + std::to_string(std::sin(i * 0.7) * 0.5);
  for (int c = 0; c < 6; ++c) {
    std::string sep = c ? ", " : "";
    gamma += sep + std::to_string(0.5 + 0.2 * c);
    beta += sep + std::to_string(0.1 * c - 0.2);
    mean += sep + std::to_string(0.05 * c);
    var += sep + std::to_string(0.3 + 0.1 * c);
  }
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,4,7,9] x) => (float[2,6,7,9] y)
  <float[6,4,3,3] w = {)" + w + R"(}, float[6] gamma = {)" + gamma + R"(}, float[6] beta = {)" + beta +
                               R"(}, float[6] mean = {)" + mean + R"(}, float[6] var = {)" + var + R"(},
   float lo = {0}, float hi = {6}> {
  c = Conv<pads = [1, 1, 1, 1]>(x, w)
  n = BatchNormalization(c, gamma, beta, mean, var)
  y = Clip(n, lo, hi)
}
)");
  std::vector<float> xv(2 * 4 * 7 * 9);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = std::cos(static_cast<float>(i) * 0.31f) * 3.f;
  auto in = std::vector<std::pair<std::string, TensorValue>>{{"x", F({2, 4, 7, 9}, xv)}};
  Result folded = run(*m, in, true), plain = run(*m, in, false);
  CHECK(folded.nodes_run == 1);
  REQUIRE(folded.y.size() == plain.y.size());
  double err = 0, norm = 0;
  for (size_t i = 0; i < plain.y.size(); ++i) err += std::pow(folded.y[i] - plain.y[i], 2), norm += std::pow(plain.y[i], 2);
  CHECK(norm > 0);
  CHECK(std::sqrt(err / norm) <= 1e-6);
}

TEST_CASE("exec rewrites: no fold when the Conv output has another reader or the BN parameters are inputs", "[exec]") {
  auto shared = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,1,1,2] x) => (float[1,1,1,2] y)
  <float[1,1,1,1] w = {2}, float[1] gamma = {3}, float[1] beta = {0.5}, float[1] mean = {1}, float[1] var = {3}> {
  c = Conv(x, w)
  n = BatchNormalization<epsilon = 1.0>(c, gamma, beta, mean, var)
  y = Add(n, c)
}
)");
  auto in = std::vector<std::pair<std::string, TensorValue>>{{"x", F({1, 1, 1, 2}, {1, 2})}};
  Result a = run(*shared, in, true);
  CHECK(a.nodes_run == 3);
  // c = 2x: n = (2x - 1) * 1.5 + 0.5 = 3x - 1; y = n + c = 5x - 1
  CHECK(a.y == std::vector<float>{4.f, 9.f});

  auto inputs = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,1,1,2] x, float[1] gamma) => (float[1,1,1,2] y)
  <float[1,1,1,1] w = {2}, float[1] beta = {0.5}, float[1] mean = {1}, float[1] var = {3}> {
  c = Conv(x, w)
  y = BatchNormalization<epsilon = 1.0>(c, gamma, beta, mean, var)
}
)");
  auto in2 = std::vector<std::pair<std::string, TensorValue>>{{"x", F({1, 1, 1, 2}, {1, 2})}, {"gamma", F({1}, {3})}};
  Result b = run(*inputs, in2, true);
  CHECK(b.nodes_run == 2);
  CHECK(b.y == std::vector<float>{2.f, 5.f});  // 3x - 1
}
