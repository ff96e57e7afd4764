// The vectorized activations (lib/exec/activation.h) and their fusion into the producing Conv
// (executor.cpp's internal rewrites): SiLU as Mul(x, Sigmoid(x)) in either operand order, HardSwish as
// Mul(x, HardSigmoid(x)) and as the opset-14 op, Sigmoid and HardSigmoid alone, after every Conv kernel
// (1x1 GEMM, oneDNN 3x3, grouped small images at batch 2, depthwise planes at stride 2, depthwise channel
// blocks 5x5). Fused results are compared bit for bit with the same model run node by node and across
// thread counts, and with ONNX Runtime 1.30 (rtol 1e-4, atol 1e-5; skipped without it).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "exec/activation.h"
#include "exec/executor.h"
#include "onnx/convert_proto.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;
using exec::ActKind;
using exec::Activation;
using exec::TensorValue;

namespace {

// Values over the whole float range an activation sees, with the special ones.
std::vector<float> probe_values(size_t n) {
  const float special[] = {0.f, -0.f, 1e-8f, -1e-8f, 3.f, -3.f, 87.f, -87.f, 88.5f, -88.5f, 100.f, -100.f,
                           std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = i < std::size(special) ? special[i] : std::sin(static_cast<float>(i) * 1.37f) * 20.f;
  return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST_CASE("exec activations: vectorized Sigmoid, SiLU, HardSigmoid and HardSwish follow their formulas", "[exec][activation]") {
  std::vector<float> x = probe_values(300);
  std::vector<float> y(x.size());
  SECTION("Sigmoid within 3e-7 relative of 1 / (1 + e^-x) in double (subnormal results within 1e-37)") {
    exec::apply_activation({ActKind::Sigmoid}, x.data(), y.data(), static_cast<int64_t>(x.size()));
    int bad = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      double want = 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])));
      if (!(std::fabs(y[i] - want) <= 3e-7 * want + 1e-37) && bad++ < 5) FAIL_CHECK("x " << x[i] << ": " << y[i] << ", want " << want);
    }
    CHECK(bad == 0);
  }
  SECTION("SiLU is x times the same Sigmoid, bit for bit") {
    std::vector<float> s(x.size());
    exec::apply_activation({ActKind::Sigmoid}, x.data(), s.data(), static_cast<int64_t>(x.size()));
    exec::apply_activation({ActKind::Silu}, x.data(), y.data(), static_cast<int64_t>(x.size()));
    int bad = 0;
    for (size_t i = 0; i < x.size(); ++i)
      if (!same_bits(y[i], x[i] * s[i]) && bad++ < 5) FAIL_CHECK("x " << x[i] << ": " << y[i] << " vs " << x[i] * s[i]);
    CHECK(bad == 0);
  }
  SECTION("HardSigmoid and HardSwish: 0 below, 1 (or x) above, linear between") {
    exec::apply_activation({ActKind::HardSigmoid, 0.2f, 0.5f}, x.data(), y.data(), static_cast<int64_t>(x.size()));
    std::vector<float> hs(x.size());
    exec::apply_activation({ActKind::HardSwish}, x.data(), hs.data(), static_cast<int64_t>(x.size()));
    int bad = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      double sig = std::clamp(0.2 * x[i] + 0.5, 0.0, 1.0), sw = x[i] * std::clamp(x[i] / 6.0 + 0.5, 0.0, 1.0);
      if (!(std::fabs(y[i] - sig) <= 1e-6) && bad++ < 5) FAIL_CHECK("HardSigmoid x " << x[i] << ": " << y[i]);
      if (std::isfinite(x[i]) && !(std::fabs(hs[i] - sw) <= 1e-6 * std::fabs(sw) + 1e-7) && bad++ < 5)
        FAIL_CHECK("HardSwish x " << x[i] << ": " << hs[i]);
    }
    CHECK(bad == 0);
    CHECK(hs[12] == std::numeric_limits<float>::infinity());  // inf * 1
    CHECK(std::isnan(hs[13]));                                // -inf * 0, as the formula (unfused: the same) gives
  }
  SECTION("NaN stays NaN (HardSigmoid's clamp gives 1, as the kernel always did)") {
    float nan = std::numeric_limits<float>::quiet_NaN(), out = 0;
    for (ActKind k : {ActKind::Sigmoid, ActKind::Silu, ActKind::HardSwish, ActKind::HardSwishMul, ActKind::Clamp}) {
      exec::apply_activation({k, 0.f, 6.f}, &nan, &out, 1);
      CHECK(std::isnan(out));
    }
    exec::apply_activation({ActKind::HardSigmoid, 0.2f, 0.5f}, &nan, &out, 1);
    CHECK(out == 1.f);
  }
}

TEST_CASE("exec activations: vectorized Tanh, Erf and both Gelu forms follow their formulas", "[exec][activation]") {
  std::vector<float> x = probe_values(4000);
  for (size_t i = 20; i < 2000; ++i) x[i] = (static_cast<float>(i) - 1010.f) / 100.f;  // [-9.9, 9.9] densely
  x.push_back(1e-30f);
  x.push_back(-3e-4f);
  x.push_back(5e-4f);
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> y(x.size());
  auto check = [&](ActKind k, double (*want)(double), double rel, double abs) {
    exec::apply_activation({k}, x.data(), y.data(), n);
    int bad = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      double w = want(static_cast<double>(x[i]));
      bool good = std::isnan(w) ? std::isnan(y[i]) : std::isinf(w) ? y[i] == w : std::fabs(y[i] - w) <= rel * std::fabs(w) + abs;
      if (!good && bad++ < 5)
        FAIL_CHECK("x " << x[i] << ": " << y[i] << ", want " << w);
    }
    CHECK(bad == 0);
  };
  SECTION("Tanh within 1e-6 relative of tanh in double") { check(ActKind::Tanh, [](double v) { return std::tanh(v); }, 1e-6, 1e-38); }
  SECTION("Erf within 1e-6 relative of erf in double") { check(ActKind::Erf, [](double v) { return std::erf(v); }, 1e-6, 1e-38); }
  SECTION("Gelu, tanh form, within 1e-6 relative + 1e-6 absolute of the formula in double") {
    check(ActKind::GeluTanh, [](double v) {
      return std::isinf(v) ? (v > 0 ? v : std::nan("")) : 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    }, 1e-6, 1e-6);
  }
  SECTION("Gelu, erf form, within 1e-6 relative + 2e-6 absolute of the formula in double (erf's 4.3e-7 near 3.3, times x / 2)") {
    check(ActKind::GeluErf, [](double v) {
      return std::isinf(v) ? (v > 0 ? v : std::nan("")) : 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
    }, 1e-6, 2e-6);
  }
  SECTION("NaN stays NaN, +-inf saturate to exactly +-1") {
    float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity(), out = 0;
    for (ActKind k : {ActKind::Tanh, ActKind::Erf, ActKind::GeluTanh, ActKind::GeluErf}) {
      exec::apply_activation({k}, &nan, &out, 1);
      CHECK(std::isnan(out));
    }
    for (ActKind k : {ActKind::Tanh, ActKind::Erf}) {
      exec::apply_activation({k}, &inf, &out, 1);
      CHECK(out == 1.f);
      float minus = -inf;
      exec::apply_activation({k}, &minus, &out, 1);
      CHECK(out == -1.f);
    }
  }
}

TEST_CASE("exec activations: softmax_row matches the formula in double, for every length and tail", "[exec][activation]") {
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t n : {1, 2, 15, 16, 17, 31, 100, 128, 197}) {
    std::vector<float> x(static_cast<size_t>(n)), y(x.size()), ly(x.size());
    for (int64_t i = 0; i < n; ++i) x[i] = std::sin(static_cast<float>(i) * 2.1f) * 12.f;
    if (n > 3) x[2] = -inf;  // a masked position
    exec::softmax_row(x.data(), y.data(), n, false);
    exec::softmax_row(x.data(), ly.data(), n, true);
    double m = -INFINITY, sum = 0;
    for (float v : x) m = std::max(m, static_cast<double>(v));
    for (float v : x) sum += std::exp(v - m);
    int bad = 0;
    for (int64_t i = 0; i < n; ++i) {
      double w = std::exp(x[i] - m) / sum, lw = x[i] - m - std::log(sum);
      if (!(std::fabs(y[i] - w) <= 2e-6 * w + 1e-38) && bad++ < 5) FAIL_CHECK("n " << n << " at " << i << ": " << y[i] << " want " << w);
      if (!(std::isinf(lw) ? ly[i] == -inf : std::fabs(ly[i] - lw) <= 2e-6 * std::fabs(lw) + 2e-6) && bad++ < 5)
        FAIL_CHECK("log, n " << n << " at " << i << ": " << ly[i] << " want " << lw);
    }
    CHECK(bad == 0);
    if (n > 3) CHECK(y[2] == 0.f);
  }
  float nan_row[3] = {1.f, std::numeric_limits<float>::quiet_NaN(), 2.f}, out[3];
  exec::softmax_row(nan_row, out, 3, false);
  CHECK(std::isnan(out[0]));
  CHECK(std::isnan(out[2]));
}

TEST_CASE("exec activations: each element's result depends only on its value (vector bodies, tails, bias pass)", "[exec][activation]") {
  std::vector<float> x = probe_values(67);
  for (ActKind k : {ActKind::Clamp, ActKind::Sigmoid, ActKind::Silu, ActKind::HardSigmoid, ActKind::HardSwishMul,
                    ActKind::HardSwish, ActKind::Tanh, ActKind::Erf, ActKind::GeluTanh, ActKind::GeluErf}) {
    Activation act{k, k == ActKind::Clamp ? -1.f : 1.f / 6, k == ActKind::Clamp ? 2.f : 0.5f};
    INFO("activation kind " << static_cast<int>(k));
    std::vector<float> whole(x.size());
    exec::apply_activation(act, x.data(), whole.data(), static_cast<int64_t>(x.size()));
    int bad = 0;
    for (size_t n : {1, 5, 15, 16, 17, 33}) {  // shorter calls from other offsets: every element in a tail or not
      for (size_t at = 0; at + n <= x.size(); at += 7) {
        std::vector<float> part(n);
        exec::apply_activation(act, x.data() + at, part.data(), static_cast<int64_t>(n));
        for (size_t i = 0; i < n; ++i)
          if (!same_bits(part[i], whole[at + i]) && bad++ < 5) FAIL_CHECK("n " << n << " at " << at + i);
      }
    }
    // bias_activation_row(row, bias) == act(row + bias), in place
    std::vector<float> row = x, shifted(x.size()), want(x.size());
    for (size_t i = 0; i < x.size(); ++i) shifted[i] = x[i] + 0.375f;
    exec::apply_activation(act, shifted.data(), want.data(), static_cast<int64_t>(x.size()));
    exec::bias_activation_row(row.data(), static_cast<int64_t>(row.size()), 0.375f, act);
    for (size_t i = 0; i < x.size(); ++i)
      if (!same_bits(row[i], want[i]) && bad++ < 5) FAIL_CHECK("bias pass at " << i);
    CHECK(bad == 0);
  }
}

namespace {

struct ConvCase {
  std::string what;
  std::vector<int64_t> x, w;
  int64_t group, stride, pad;
};

struct ActCase {
  std::string what, lines;  // the activation after `c = Conv(...)`, writing y
  int nodes_unfused;
};

std::string list(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s;
}

std::vector<float> run(const Model& m, const std::vector<std::pair<std::string, TensorValue>>& in, bool rewrites,
                       int threads, uint64_t* nodes_run = nullptr) {
  exec::RunOptions o;
  o.threads = threads;
  o.internal_rewrites = rewrites;
  auto s = exec::Session::create(m, o);
  REQUIRE(s);
  auto r = (*s)->run(in);
  REQUIRE(r);
  if (nodes_run) *nodes_run = (*s)->last_stats().nodes_run;
  auto sp = (*r)[0].span<float>();
  return {sp.begin(), sp.end()};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("exec rewrites: SiLU, HardSwish, Sigmoid and HardSigmoid fuse into every Conv kernel, bit for bit", "[exec][activation]") {
  const std::vector<ConvCase> convs = {
      {"1x1 (GEMM)", {1, 24, 10, 13}, {40, 24, 1, 1}, 1, 1, 0},
      {"3x3 dense (oneDNN)", {1, 8, 12, 11}, {16, 8, 3, 3}, 1, 1, 1},
      {"grouped 3x3, batch 2 of small images", {2, 8, 5, 5}, {8, 4, 3, 3}, 2, 1, 1},
      {"depthwise 3x3 stride 2 (planes)", {1, 20, 33, 35}, {20, 1, 3, 3}, 20, 2, 1},
      {"depthwise 5x5 (channel blocks)", {1, 20, 7, 7}, {20, 1, 5, 5}, 20, 1, 2},
  };
  const std::vector<ActCase> acts = {
      {"SiLU, Mul(c, s)", "  s = Sigmoid(c)\n  y = Mul(c, s)\n", 3},
      {"SiLU, Mul(s, c)", "  s = Sigmoid(c)\n  y = Mul(s, c)\n", 3},
      {"HardSwish as HardSigmoid + Mul", "  s = HardSigmoid<alpha = 0.16666667, beta = 0.5>(c)\n  y = Mul(c, s)\n", 3},
      {"HardSwish", "  y = HardSwish(c)\n", 2},
      {"Sigmoid", "  y = Sigmoid(c)\n", 2},
      {"HardSigmoid", "  y = HardSigmoid<alpha = 0.3, beta = 0.4>(c)\n", 2},
  };
  test::OrtHarness* ort = test::ort_or_skip();  // fused and unfused are still compared without it
  uint64_t seed = 0xac7;
  for (const ConvCase& cv : convs)
    for (const ActCase& ac : acts) {
      std::ostringstream t;
      t << "<ir_version: 8, opset_import: [\"\" : 14]>\n"
        << "g (float[" << list(cv.x) << "] x, float[" << list(cv.w) << "] w, float[" << cv.w[0] << "] b) => (float y) {\n"
        << "  c = Conv<group = " << cv.group << ", strides = [" << cv.stride << ", " << cv.stride << "], pads = ["
        << cv.pad << ", " << cv.pad << ", " << cv.pad << ", " << cv.pad << "]>(x, w, b)\n"
        << ac.lines << "}\n";
      INFO(cv.what << ", " << ac.what << ":\n" << t.str());
      auto m = test::parse_or_fail(t.str());
      onnx::ModelProto proto = to_proto_inline(*m);
      auto inputs = test::random_inputs(proto, ++seed);
      std::vector<std::pair<std::string, TensorValue>> in;
      for (auto& [name, tp] : inputs) in.emplace_back(name, test::value_from_proto(tp));
      uint64_t fused_nodes = 0, plain_nodes = 0;
      auto fused = run(*m, in, true, 1, &fused_nodes);
      auto plain = run(*m, in, false, 1, &plain_nodes);
      CHECK(fused_nodes == 1);
      CHECK(plain_nodes == static_cast<uint64_t>(ac.nodes_unfused));
      CHECK(same_bits(fused, plain));
      CHECK(same_bits(run(*m, in, true, 2), fused));

      if (!ort) continue;
      test::OrtRun r = ort->run_model(proto, inputs);
      REQUIRE(r);
      TensorValue want = test::value_from_proto(r->outputs[0]);
      REQUIRE(want.element_count() == fused.size());
      auto w = want.span<float>();
      int bad = 0;
      for (size_t j = 0; j < fused.size(); ++j)
        if (!(std::fabs(fused[j] - w[j]) <= 1e-5 + 1e-4 * std::fabs(w[j])) && bad++ < 5)
          FAIL_CHECK("element " << j << ": effopt " << fused[j] << ", ORT " << w[j]);
      CHECK(bad == 0);
    }
}

TEST_CASE("exec rewrites: SiLU is not fused when a value in it has another reader or is a graph output, nor in float16", "[exec][activation]") {
  auto x = TensorValue::from_vector(DataType::Float, {1, 1, 1, 3}, std::vector<float>{-1.f, 0.5f, 2.f});
  auto nodes = [&](const std::string& text, const TensorValue& in) {
    auto m = test::parse_or_fail(text);
    uint64_t on = 0, off = 0;
    auto a = run(*m, {{"x", in}}, true, 1, &on);
    auto b = run(*m, {{"x", in}}, false, 1, &off);
    CHECK(same_bits(a, b));
    return std::pair{on, off};
  };
  SECTION("the Conv's output has a third reader") {
    auto [on, off] = nodes(R"(
<ir_version: 8, opset_import: ["" : 14]>
g (float[1,1,1,3] x) => (float[1,1,1,3] y)
  <float[1,1,1,1] w = {2}> {
  c = Conv(x, w)
  s = Sigmoid(c)
  m = Mul(c, s)
  y = Add(m, c)
}
)", x);
    CHECK(on == 4);
    CHECK(off == 4);
  }
  SECTION("the Sigmoid's output is a graph output: only the Mul's operands stay") {
    auto [on, off] = nodes(R"(
<ir_version: 8, opset_import: ["" : 14]>
g (float[1,1,1,3] x) => (float[1,1,1,3] y, float[1,1,1,3] s)
  <float[1,1,1,1] w = {2}> {
  c = Conv(x, w)
  s = Sigmoid(c)
  y = Mul(c, s)
}
)", x);
    CHECK(on == 3);
    CHECK(off == 3);
  }
  SECTION("float16: the unfused ops round the Conv's output first, so they run as written") {
    std::vector<uint16_t> h = {exec::float_to_half(-1.f), exec::float_to_half(0.5f), exec::float_to_half(2.f)};
    auto half = TensorValue::from_vector(DataType::Float16, {1, 1, 1, 3}, h);
    auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 14]>
g (float16[1,1,1,3] x, float16[1,1,1,1] w) => (float16[1,1,1,3] y) {
  c = Conv(x, w)
  s = Sigmoid(c)
  y = Mul(c, s)
}
)");
    exec::RunOptions o;
    auto s = exec::Session::create(*m, o);
    REQUIRE(s);
    auto w = TensorValue::from_vector(DataType::Float16, {1, 1, 1, 1}, std::vector<uint16_t>{exec::float_to_half(2.f)});
    auto r = (*s)->run({{"x", half}, {"w", w}});
    REQUIRE(r);
    CHECK((*s)->last_stats().nodes_run == 3);
  }
}

namespace {

// x = 4 * xin (so Gelu sees [-4, 4)), then the Gelu `lines` writing y; 24000 elements: two 16384-element tasks.
std::string gelu_model(const std::string& lines, const std::string& extra_outputs = "") {
  return "<ir_version: 8, opset_import: [\"\" : 13]>\n"
         "g (float[2,3,4000] xin) => (float[2,3,4000] y" + extra_outputs + ")\n"
         "  <float k = {4.0}, float half = {0.5}, float three = {3.0}, float c = {0.044715}, float s = {0.7978845608},\n"
         "   float one = {1.0}, float sq2 = {1.4142135}, float r = {0.70710677}> {\n"
         "  x = Mul(xin, k)\n" + lines + "}\n";
}

}  // namespace

TEST_CASE("exec rewrites: Gelu written out (tanh form, erf form) runs as one step", "[exec][activation]") {
  struct Form {
    std::string what, lines;
    uint64_t nodes_unfused;
  };
  const Form forms[] = {
      {"GPT-2's tanh form", "  hx = Mul(x, half)\n  p = Pow(x, three)\n  cube = Mul(p, c)\n  a = Add(x, cube)\n"
                            "  u = Mul(a, s)\n  t = Tanh(u)\n  t1 = Add(t, one)\n  y = Mul(hx, t1)\n", 9},
      {"tanh form, operands swapped", "  hx = Mul(half, x)\n  p = Pow(x, three)\n  cube = Mul(c, p)\n  a = Add(cube, x)\n"
                                      "  u = Mul(s, a)\n  t = Tanh(u)\n  t1 = Add(one, t)\n  y = Mul(t1, hx)\n", 9},
      {"PyTorch's erf form", "  d = Div(x, sq2)\n  e = Erf(d)\n  e1 = Add(e, one)\n  xe = Mul(x, e1)\n  y = Mul(xe, half)\n", 6},
      {"erf form, Mul by 1/sqrt(2), halving first", "  d = Mul(r, x)\n  e = Erf(d)\n  e1 = Add(one, e)\n  hx = Mul(x, half)\n"
                                                    "  y = Mul(e1, hx)\n", 6},
  };
  auto* ort = test::ort_or_skip();
  uint64_t seed = 40;
  for (const Form& f : forms) {
    INFO(f.what);
    auto m = test::parse_or_fail(gelu_model(f.lines));
    onnx::ModelProto proto = to_proto_inline(*m);
    auto inputs = test::random_inputs(proto, ++seed);
    std::vector<std::pair<std::string, TensorValue>> in;
    for (auto& [name, tp] : inputs) in.emplace_back(name, test::value_from_proto(tp));
    uint64_t fused_nodes = 0, plain_nodes = 0;
    auto fused = run(*m, in, true, 1, &fused_nodes);
    auto plain = run(*m, in, false, 1, &plain_nodes);
    CHECK(fused_nodes == 2);  // the scaling Mul and the Gelu
    CHECK(plain_nodes == f.nodes_unfused);
    CHECK(same_bits(run(*m, in, true, 2), fused));
    int bad = 0;  // a few ulp apart: the fused formula rounds in other places (activation.h)
    for (size_t j = 0; j < fused.size(); ++j)
      if (!(std::fabs(fused[j] - plain[j]) <= 2e-6 + 1e-5 * std::fabs(plain[j])) && bad++ < 5)
        FAIL_CHECK("element " << j << ": fused " << fused[j] << ", as written " << plain[j]);
    CHECK(bad == 0);
    if (!ort) continue;
    test::OrtRun r = ort->run_model(proto, inputs);
    REQUIRE(r);
    auto w = test::value_from_proto(r->outputs[0]).span<float>();
    REQUIRE(w.size() == fused.size());
    for (size_t j = 0; j < fused.size(); ++j)
      if (!(std::fabs(fused[j] - w[j]) <= 1e-5 + 1e-4 * std::fabs(w[j])) && bad++ < 5)
        FAIL_CHECK("element " << j << ": effopt " << fused[j] << ", ORT " << w[j]);
    CHECK(bad == 0);
  }
}

TEST_CASE("exec rewrites: Gelu is not fused when a value inside it is read elsewhere or a constant is off", "[exec][activation]") {
  auto xin = TensorValue::allocate(DataType::Float, {2, 3, 4000});
  auto xs = xin.mutable_data<float>();
  for (int64_t i = 0; i < 24000; ++i) xs[i] = std::sin(static_cast<float>(i) * 0.37f);
  auto nodes = [&](const std::string& text) {
    auto m = test::parse_or_fail(text);
    uint64_t on = 0, off = 0;
    auto a = run(*m, {{"xin", xin}}, true, 1, &on);
    auto b = run(*m, {{"xin", xin}}, false, 1, &off);
    CHECK(same_bits(a, b));
    return std::pair{on, off};
  };
  SECTION("the Erf's output is a graph output") {
    auto [on, off] = nodes(gelu_model("  d = Div(x, sq2)\n  e = Erf(d)\n  e1 = Add(e, one)\n  xe = Mul(x, e1)\n"
                                      "  y = Mul(xe, half)\n", ", float[2,3,4000] e"));
    CHECK(on == 6);
    CHECK(off == 6);
  }
  SECTION("the tanh form's cube coefficient is not 0.044715") {
    auto [on, off] = nodes(gelu_model("  hx = Mul(x, half)\n  p = Pow(x, three)\n  cube = Mul(p, half)\n  a = Add(x, cube)\n"
                                      "  u = Mul(a, s)\n  t = Tanh(u)\n  t1 = Add(t, one)\n  y = Mul(hx, t1)\n"));
    CHECK(on == 9);
    CHECK(off == 9);
  }
  SECTION("fold_batch_norm off (effopt compare, the pass manager's checks): the model's rounding, as written") {
    auto m = test::parse_or_fail(gelu_model("  d = Div(x, sq2)\n  e = Erf(d)\n  e1 = Add(e, one)\n  xe = Mul(x, e1)\n"
                                            "  y = Mul(xe, half)\n"));
    exec::RunOptions o;
    o.fold_batch_norm = false;
    auto s = exec::Session::create(*m, o);
    REQUIRE(s);
    auto a = (*s)->run({{"xin", xin}});
    REQUIRE(a);
    CHECK((*s)->last_stats().nodes_run == 6);
    auto b = run(*m, {{"xin", xin}}, false, 1);
    auto sp = (*a)[0].span<float>();
    CHECK(same_bits(std::vector<float>(sp.begin(), sp.end()), b));
  }
  SECTION("the erf form adds 0.5 instead of 1") {
    auto [on, off] = nodes(gelu_model("  d = Div(x, sq2)\n  e = Erf(d)\n  e1 = Add(e, half)\n  xe = Mul(x, e1)\n"
                                      "  y = Mul(xe, half)\n"));
    CHECK(on == 6);
    CHECK(off == 6);
  }
}

namespace {

// LayerNormalization over the last axis as opset-13 exports write it; `lines` compute y from xin, with the
// constants below (gamma/beta of 300 values: rows of 300 floats leave a 12-float tail after 16-lane vectors).
std::string layer_norm_model(const std::string& lines, const std::string& extra_outputs = "", int opset = 13) {
  std::string gamma, beta;
  for (int i = 0; i < 300; ++i) {
    gamma += (i ? ", " : "") + std::to_string(0.5 + 0.01 * (i % 97));
    beta += (i ? ", " : "") + std::to_string(-0.3 + 0.002 * (i % 89));
  }
  return "<ir_version: 8, opset_import: [\"\" : " + std::to_string(opset) + "]>\n"
         "g (float[4,50,300] xin) => (float[4,50,300] y" + extra_outputs + ")\n"
         "  <float two = {2.0}, float eps = {1e-5}, float[300] gamma = {" + gamma + "}, float[300] beta = {" + beta +
         "}, int64[1] ax = {-1}> {\n" + lines + "}\n";
}
const char* kLayerNormLines =
    "  m = ReduceMean<axes = [-1]>(xin)\n  d = Sub(xin, m)\n  p = Pow(d, two)\n  v = ReduceMean<axes = [-1]>(p)\n"
    "  a = Add(v, eps)\n  s = Sqrt(a)\n  n = Div(d, s)\n  g1 = Mul(n, gamma)\n  y = Add(g1, beta)\n";

}  // namespace

TEST_CASE("exec rewrites: LayerNormalization written out (opset 13 exports) runs as one vectorized step",
          "[exec][layer-norm]") {
  struct Form {
    std::string what, text;
  };
  const Form forms[] = {
      {"PyTorch's opset-13 form", layer_norm_model(kLayerNormLines)},
      {"operands swapped, axes = [2]",
       layer_norm_model("  m = ReduceMean<axes = [2]>(xin)\n  d = Sub(xin, m)\n  p = Pow(d, two)\n"
                        "  v = ReduceMean<axes = [2], keepdims = 1>(p)\n  a = Add(eps, v)\n  s = Sqrt(a)\n  n = Div(d, s)\n"
                        "  g1 = Mul(gamma, n)\n  y = Add(beta, g1)\n")},
      {"opset 18, axes as an input",
       layer_norm_model("  m = ReduceMean(xin, ax)\n  d = Sub(xin, m)\n  p = Pow(d, two)\n  v = ReduceMean(p, ax)\n"
                        "  a = Add(v, eps)\n  s = Sqrt(a)\n  n = Div(d, s)\n  g1 = Mul(n, gamma)\n  y = Add(g1, beta)\n",
                        "", 18)},
  };
  auto* ort = test::ort_or_skip();
  uint64_t seed = 70;
  for (const Form& f : forms) {
    INFO(f.what);
    auto m = test::parse_or_fail(f.text);
    onnx::ModelProto proto = to_proto_inline(*m);
    auto inputs = test::random_inputs(proto, ++seed);
    std::vector<std::pair<std::string, TensorValue>> in;
    for (auto& [name, tp] : inputs) in.emplace_back(name, test::value_from_proto(tp));
    uint64_t fused_nodes = 0, plain_nodes = 0;
    auto fused = run(*m, in, true, 1, &fused_nodes);
    auto plain = run(*m, in, false, 1, &plain_nodes);
    CHECK(fused_nodes == 1);
    CHECK(plain_nodes == 9);
    CHECK(same_bits(run(*m, in, true, 2), fused));  // 200 rows over two threads
    CHECK(same_bits(run(*m, in, true, 3), fused));
    int bad = 0;  // the fused row multiplies by 1 / sqrt(var + eps) and sums in lanes: a few ulp apart
    for (size_t j = 0; j < fused.size(); ++j)
      if (!(std::fabs(fused[j] - plain[j]) <= 2e-6 + 1e-5 * std::fabs(plain[j])) && bad++ < 5)
        FAIL_CHECK("element " << j << ": fused " << fused[j] << ", as written " << plain[j]);
    CHECK(bad == 0);
    if (!ort) continue;
    test::OrtRun r = ort->run_model(proto, inputs);
    REQUIRE(r);
    auto w = test::value_from_proto(r->outputs[0]).span<float>();
    REQUIRE(w.size() == fused.size());
    for (size_t j = 0; j < fused.size(); ++j)
      if (!(std::fabs(fused[j] - w[j]) <= 1e-5 + 1e-4 * std::fabs(w[j])) && bad++ < 5)
        FAIL_CHECK("element " << j << ": effopt " << fused[j] << ", ORT " << w[j]);
    CHECK(bad == 0);
  }
}

TEST_CASE("exec rewrites: LayerNormalization written out is left alone when it is not exactly one", "[exec][layer-norm]") {
  auto xin = TensorValue::allocate(DataType::Float, {4, 50, 300});
  auto xs = xin.mutable_data<float>();
  for (int64_t i = 0; i < 60000; ++i) xs[i] = std::sin(static_cast<float>(i) * 0.37f);
  auto nodes = [&](const std::string& text) {
    auto m = test::parse_or_fail(text);
    uint64_t on = 0, off = 0;
    auto a = run(*m, {{"xin", xin}}, true, 1, &on);
    auto b = run(*m, {{"xin", xin}}, false, 1, &off);
    CHECK(same_bits(a, b));
    return std::pair{on, off};
  };
  auto replace = [](std::string s, const std::string& from, const std::string& to) {
    size_t at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  SECTION("the centered value is a graph output") {
    auto [on, off] = nodes(layer_norm_model(kLayerNormLines, ", float[4,50,300] d"));
    CHECK(on == 9);
    CHECK(off == 9);
  }
  SECTION("the variance is over another axis") {
    auto [on, off] = nodes(layer_norm_model(replace(kLayerNormLines, "v = ReduceMean<axes = [-1]>", "v = ReduceMean<axes = [1]>")));
    CHECK(on == 9);
    CHECK(off == 9);
  }
  SECTION("Pow by 3, not 2") {
    auto [on, off] = nodes(layer_norm_model(replace(kLayerNormLines, "p = Pow(d, two)", "p = Pow(d, eps)")));
    CHECK(on == 9);
    CHECK(off == 9);
  }
  SECTION("fold_batch_norm off (effopt compare, the pass manager's checks): the model's rounding, as written") {
    auto m = test::parse_or_fail(layer_norm_model(kLayerNormLines));
    exec::RunOptions o;
    o.fold_batch_norm = false;
    auto s = exec::Session::create(*m, o);
    REQUIRE(s);
    auto a = (*s)->run({{"xin", xin}});
    REQUIRE(a);
    CHECK((*s)->last_stats().nodes_run == 9);
    auto b = run(*m, {{"xin", xin}}, false, 1);
    auto sp = (*a)[0].span<float>();
    CHECK(same_bits(std::vector<float>(sp.begin(), sp.end()), b));
  }
}

namespace {

// y = MatMul(xin [2,37,64], W [64,100]) + b [100], then `tail` (from `s`); W and b from a sine, so exact.
std::string linear_model(const std::string& tail, const std::string& out = "float[2,37,100] y",
                         const std::string& in = "float[2,37,64] xin", bool matmul = true) {
  std::string w, b;
  for (int i = 0; i < 6400; ++i) w += (i ? ", " : "") + std::to_string(0.1 * std::sin(0.7 * i));
  for (int i = 0; i < 100; ++i) b += (i ? ", " : "") + std::to_string(0.05 * std::cos(1.3 * i));
  return "<ir_version: 8, opset_import: [\"\" : 13]>\ng (" + in + ") => (" + out + ")\n"
         "  <float[64,100] W = {" + w + "}, float[100] b = {" + b + "}, float half = {0.5}, float one = {1.0},"
         " float sq2 = {1.4142135}> {\n" +
         (matmul ? "  mm = MatMul(xin, W)\n  s = Add(b, mm)\n" : "") + tail + "}\n";
}
const char* kErfGelu = "  d = Div(s, sq2)\n  e = Erf(d)\n  e1 = Add(e, one)\n  xe = Mul(s, e1)\n  y = Mul(xe, half)\n";

}  // namespace

TEST_CASE("exec rewrites: MatMul + bias Add (+ the fused Gelu) in one step, with the unfused steps' bits", "[exec][activation]") {
  auto xin = TensorValue::allocate(DataType::Float, {2, 37, 64});
  auto xs = xin.mutable_data<float>();
  for (int64_t i = 0; i < 2 * 37 * 64; ++i) xs[i] = std::sin(static_cast<float>(i) * 0.37f);
  SECTION("bias only: the same bits as the model as written, one step") {
    auto m = test::parse_or_fail(linear_model("  y = Identity(s)\n"));
    uint64_t on = 0, off = 0;
    auto a = run(*m, {{"xin", xin}}, true, 1, &on);
    auto b = run(*m, {{"xin", xin}}, false, 1, &off);
    CHECK(same_bits(a, b));
    CHECK(same_bits(run(*m, {{"xin", xin}}, true, 2), a));
    CHECK(on == 2);  // MatMul with its bias, Identity
    CHECK(off == 3);
  }
  SECTION("bias and Gelu: the bits of MatMul + Add as written, then the fused Gelu step") {
    auto m = test::parse_or_fail(linear_model(kErfGelu));
    uint64_t on = 0;
    auto fused = run(*m, {{"xin", xin}}, true, 1, &on);
    CHECK(on == 1);
    CHECK(same_bits(run(*m, {{"xin", xin}}, true, 2), fused));
    auto lin = test::parse_or_fail(linear_model("  y = Identity(s)\n"));
    auto s = run(*lin, {{"xin", xin}}, false, 1);
    auto gelu = test::parse_or_fail(linear_model(kErfGelu, "float[2,37,100] y", "float[2,37,100] s", false));
    uint64_t gelu_nodes = 0;
    auto want = run(*gelu, {{"s", TensorValue::from_vector(DataType::Float, {2, 37, 100}, s)}}, true, 1, &gelu_nodes);
    CHECK(gelu_nodes == 1);  // the Gelu ran fused there too
    CHECK(same_bits(fused, want));
  }
  SECTION("the MatMul's output has another reader: nothing fused into the MatMul") {
    auto m = test::parse_or_fail(linear_model("  y = Identity(s)\n  z = Identity(mm)\n", "float[2,37,100] y, float[2,37,100] z"));
    uint64_t on = 0, off = 0;
    auto a = run(*m, {{"xin", xin}}, true, 1, &on);
    auto b = run(*m, {{"xin", xin}}, false, 1, &off);
    CHECK(same_bits(a, b));
    CHECK(on == off);
  }
}
