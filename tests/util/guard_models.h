// A model whose quality guard outcome is known by construction, for the quantize guard's unit and CLI tests.
//
// y = (x * M) @ W1 @ W2, x float[2,64], with M = {0, 1, 1, ...} (1-D: quantize leaves it float) and W1's
// first row 100 in every column. That row meets only zeros, so it adds nothing to y, but it sets every
// column's scale: the other weights of W1 (in [-1, 1)) get an int8 step of about 100/127 and mostly round
// to 0 or +-0.79, an error of the order of the outputs themselves (int4: a step of 100/7, everything but
// the row rounds to 0). W2 (uniform in [-1, 1)) keeps int8's usual error, under 0.02, and int4's, under
// 0.1 (tests/unit/test_pass_quantize.cpp's header). So a limit between those bounds (0.05 for int8, 0.2
// for int4) holds only with W1 float, and W1 is the most sensitive tensor. Both MatMuls have 2*64*32 MACs.
#pragma once

#include <cstdio>
#include <random>
#include <string>

namespace effopt::test {

inline std::string sensitive_two_matmul_model() {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> dist(-1, 1);
  auto values = [&](size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6f", dist(rng));
      s += (i ? ", " : "") + std::string(buf);
    }
    return s;
  };
  std::string w1;
  for (int j = 0; j < 32; ++j) w1 += (j ? ", " : "") + std::string("100");
  w1 += ", " + values(63 * 32);
  std::string mask = "0";
  for (int k = 1; k < 64; ++k) mask += ", 1";
  return "<ir_version: 8, opset_import: [\"\" : 13]>\n"
         "g (float[2,64] x) => (float[2,64] y) {\n"
         "M = Constant<value = float[64] {" + mask + "}>()\n"
         "W1 = Constant<value = float[64,32] {" + w1 + "}>()\n"
         "W2 = Constant<value = float[32,64] {" + values(32 * 64) + "}>()\n"
         "xm = Mul(x, M)\n"
         "t = MatMul(xm, W1)\n"
         "y = MatMul(t, W2)\n}\n";
}

}  // namespace effopt::test
