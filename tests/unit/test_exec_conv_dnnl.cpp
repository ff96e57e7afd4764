// Conv on oneDNN's primitives (lib/exec/conv_dnnl.h) against the executor's
// reference im2col + GEMM kernels, on random data over the configurations the
// oneDNN path takes: strides, asymmetric pads, dilations, groups, batch, a
// tail chunk of output channels, no bias, a fused Relu, 1-D, batches of small
// images per task; and bit-identical
// results for 1, 2 and 3 threads. The reference kernels are themselves checked
// against hand-computed values (test_exec_kernels.cpp) and ONNX Runtime.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <sstream>

#include "exec/conv_dnnl.h"
#include "exec/executor.h"
#include "util/test_util.h"

using namespace effopt;
using exec::TensorValue;

namespace {

struct Case {
  int64_t N, C, H, W, M, k, stride, dil, group;
  std::vector<int64_t> pads;  // t, l, b, r
  bool bias, relu, one_d;
};

std::string dims(const std::vector<int64_t>& d) {
  std::string s;
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s;
}

std::vector<float> run_case(const Case& c, bool use_dnnl, int threads, const std::vector<float>& x,
                            const std::vector<float>& w, const std::vector<float>& b, std::vector<int64_t>* out_dims) {
  std::vector<int64_t> xd = c.one_d ? std::vector<int64_t>{c.N, c.C, c.W} : std::vector<int64_t>{c.N, c.C, c.H, c.W};
  std::vector<int64_t> wd = c.one_d ? std::vector<int64_t>{c.M, c.C / c.group, c.k}
                                    : std::vector<int64_t>{c.M, c.C / c.group, c.k, c.k};
  std::ostringstream t;
  std::string sp = c.one_d ? "" : "," + std::to_string(c.stride);
  std::string dl = c.one_d ? "" : "," + std::to_string(c.dil);
  std::string pads = c.one_d ? std::to_string(c.pads[1]) + "," + std::to_string(c.pads[3]) : dims(c.pads);
  t << "<ir_version: 8, opset_import: [\"\" : 13]>\n"
    << "g (float[" << dims(xd) << "] x, float[" << dims(wd) << "] w" << (c.bias ? ", float[" + std::to_string(c.M) + "] b" : "")
    << ") => (float[?] y) {\n"
    << "  c = Conv <strides = [" << c.stride << sp << "], dilations = [" << c.dil << dl << "], pads = [" << pads
    << "], group = " << c.group << "> (x, w" << (c.bias ? ", b" : "") << ")\n"
    << (c.relu ? "  y = Relu(c)\n" : "  y = Identity(c)\n") << "}\n";
  auto m = test::parse_or_fail(t.str());
  exec::set_dnnl_conv_enabled(use_dnnl);
  auto s = exec::Session::create(*m, {threads});
  REQUIRE(s);
  std::vector<std::pair<std::string, TensorValue>> in = {{"x", TensorValue::from_vector(DataType::Float, xd, x)},
                                                         {"w", TensorValue::from_vector(DataType::Float, wd, w)}};
  if (c.bias) in.emplace_back("b", TensorValue::from_vector(DataType::Float, {c.M}, b));
  auto r = (*s)->run(in);
  exec::set_dnnl_conv_enabled(true);
  REQUIRE(r);
  *out_dims = (*r)[0].dims();
  auto sp_ = (*r)[0].span<float>();
  return {sp_.begin(), sp_.end()};
}

}  // namespace

TEST_CASE("conv on oneDNN matches the reference kernels and is thread-count independent", "[exec][conv-dnnl]") {
  const std::vector<Case> cases = {
      {1, 8, 9, 11, 16, 3, 1, 1, 1, {1, 1, 1, 1}, true, false, false},
      {2, 5, 12, 10, 70, 3, 2, 1, 1, {0, 1, 2, 0}, true, true, false},   // tail chunk (70 = 64 + 6), asymmetric pads
      {3, 6, 10, 10, 12, 3, 1, 2, 1, {2, 2, 2, 2}, false, false, false},  // dilation, no bias, batch 3
      {1, 16, 8, 8, 32, 3, 1, 1, 4, {1, 1, 1, 1}, true, true, false},     // grouped (not depthwise)
      {1, 3, 23, 23, 64, 7, 2, 1, 1, {3, 3, 3, 3}, true, false, false},   // a stem conv
      {2, 4, 1, 31, 10, 5, 2, 1, 1, {0, 2, 0, 1}, true, false, true},     // 1-D
      {70, 3, 9, 9, 8, 3, 1, 1, 1, {1, 1, 1, 1}, true, true, false},      // tiny images: 2 batches of 35 per task
      {12, 8, 6, 6, 16, 3, 1, 1, 2, {1, 1, 1, 1}, false, false, false},   // grouped, batches of 12
      {13, 2, 20, 20, 4, 3, 1, 1, 1, {1, 1, 1, 1}, true, false, false},   // 13 divides by nothing: 1 per task
  };
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    INFO("case " << i);
    int64_t k2 = c.one_d ? c.k : c.k * c.k;
    std::vector<float> x(static_cast<size_t>(c.N * c.C * c.H * c.W)), w(static_cast<size_t>(c.M * (c.C / c.group) * k2)),
        b(static_cast<size_t>(c.M));
    for (auto* v : {&x, &w, &b})
      for (float& f : *v) f = u(rng);
    std::vector<int64_t> d_ref, d1, d2, d3;
    auto ref = run_case(c, false, 1, x, w, b, &d_ref);
    uint64_t before = exec::dnnl_conv_count();
    auto one = run_case(c, true, 1, x, w, b, &d1);
    CHECK(exec::dnnl_conv_count() == before + 1);  // the oneDNN path ran, no silent fallback
    auto two = run_case(c, true, 2, x, w, b, &d2);
    auto three = run_case(c, true, 3, x, w, b, &d3);
    REQUIRE(d1 == d_ref);
    REQUIRE(one.size() == ref.size());
    double err = 0, norm = 0;
    for (size_t j = 0; j < ref.size(); ++j) err += (one[j] - ref[j]) * (one[j] - ref[j]), norm += ref[j] * ref[j];
    CHECK(std::sqrt(err / std::max(norm, 1e-30)) <= 1e-6);
    CHECK(one == two);
    CHECK(one == three);
    if (c.relu)
      for (float f : one) CHECK(f >= 0.f);
  }
}

TEST_CASE("conv on oneDNN: constant weights are reordered once and reused across runs", "[exec][conv-dnnl]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,5,5] x) => (float[1,3,5,5] y)
  <float[3,2,3,3] w = {0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9, 1.0, -1.1, 1.2, 1.3, -1.4, 1.5, 1.6, -1.7, 1.8,
                       0.2, 0.1, -0.3, 0.5, 0.4, -0.6, 0.8, 0.7, -0.9, 1.1, 1.0, -1.2, 1.4, 1.3, -1.5, 1.7, 1.6, -1.8,
                       -0.1, 0.2, 0.3, -0.4, 0.5, 0.6, -0.7, 0.8, 0.9, -1.0, 1.1, 1.2, -1.3, 1.4, 1.5, -1.6, 1.7, 1.8},
   float[3] b = {0.5, -0.5, 0.25}> {
  y = Conv <pads = [1, 1, 1, 1]> (x, w, b)
}
)");
  std::vector<float> xv(50);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = std::sin(static_cast<float>(i));
  auto x = TensorValue::from_vector(DataType::Float, {1, 2, 5, 5}, xv);
  exec::set_dnnl_conv_enabled(false);
  auto sr = exec::Session::create(*m);
  REQUIRE(sr);
  auto ref = (*sr)->run({{"x", x}});
  exec::set_dnnl_conv_enabled(true);
  REQUIRE(ref);
  auto s = exec::Session::create(*m);
  REQUIRE(s);
  for (int run = 0; run < 3; ++run) {
    INFO("run " << run);
    uint64_t before = exec::dnnl_conv_count();
    auto r = (*s)->run({{"x", x}});
    REQUIRE(r);
    CHECK(exec::dnnl_conv_count() == before + 1);
    auto a = (*r)[0].span<float>(), e = (*ref)[0].span<float>();
    REQUIRE(a.size() == e.size());
    for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(e[i]).margin(1e-5));
  }
}
