// Models whose quality guard outcome is known by construction, for the quantize and prune guards' unit and CLI
// tests.
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

// Prune's: y = x @ W1 @ W2, x float[4,64], W1 and W2 float[64,64] (4096 weights each, above min-size).
// W1's weights are all +-1 (+-0.01 of noise): zeroing half of them zeroes half the terms of every output,
// a relative L2 error of about sqrt(0.5) = 0.7; zeroing even a fifth costs about 0.45. W2 is 4 * the identity
// plus noise under 0.001: pruning it to 50% (or 2:4 along K) zeroes only noise (the diagonal is each group's
// largest), an error under 0.001. So at scope=layer, sparsity 0.5 (or 2:4), a max-error of 0.05 holds only
// with W1 dense and W2 pruned, and W1 is the more sensitive weight. Both MatMuls have 4*64*64 MACs.
inline std::string sensitive_prune_model() {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> dist(-1, 1);
  auto number = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6f", v);
    return std::string(buf);
  };
  std::string w1, w2;
  for (int i = 0; i < 64 * 64; ++i) {
    double u = dist(rng);
    w1 += (i ? ", " : "") + number((u < 0 ? -1 : 1) * (1 + 0.01 * dist(rng)));
    w2 += (i ? ", " : "") + number((i / 64 == i % 64 ? 4 : 0) + 0.001 * dist(rng));
  }
  return "<ir_version: 8, opset_import: [\"\" : 13]>\n"
         "g (float[4,64] x) => (float[4,64] y) {\n"
         "W1 = Constant<value = float[64,64] {" + w1 + "}>()\n"
         "W2 = Constant<value = float[64,64] {" + w2 + "}>()\n"
         "t = MatMul(x, W1)\n"
         "y = MatMul(t, W2)\n}\n";
}

// Channel pruning's: y = Relu(Relu(x @ W1) @ W2) @ W3, x float[4,32], W1 [32,64], W2 [64,64], W3 [64,16]
// (2048, 4096 and 1024 weights). W1's 64 features all carry the same weight (columns of +-1 with noise):
// removing half of them changes W2's inputs by about half, a relative L2 error near 0.5 or more. W2's
// last 32 features have columns under 0.001 (its first 32 are +-1): removing the lowest-norm half of W2's
// features removes only those, an error under 0.01. W3's features reach the graph output and stay. So at
// sparsity 0.5 a max-error of 0.05 holds only with W1's group dense and W2's pruned.
inline std::string sensitive_channel_model() {
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> dist(-1, 1);
  auto number = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6f", v);
    return std::string(buf);
  };
  auto sign = [&]() { return dist(rng) < 0 ? -1.0 : 1.0; };
  std::string w1, w2, w3;
  for (int i = 0; i < 32 * 64; ++i) w1 += (i ? ", " : "") + number(sign() * (1 + 0.01 * dist(rng)));
  for (int i = 0; i < 64 * 64; ++i) w2 += (i ? ", " : "") + number(i % 64 < 32 ? sign() * (1 + 0.01 * dist(rng))
                                                                                 : 0.001 * dist(rng));
  for (int i = 0; i < 64 * 16; ++i) w3 += (i ? ", " : "") + number(dist(rng));
  return "<ir_version: 8, opset_import: [\"\" : 13]>\n"
         "g (float[4,32] x) => (float[4,16] y) {\n"
         "W1 = Constant<value = float[32,64] {" + w1 + "}>()\n"
         "W2 = Constant<value = float[64,64] {" + w2 + "}>()\n"
         "W3 = Constant<value = float[64,16] {" + w3 + "}>()\n"
         "a = MatMul(x, W1)\n"
         "ar = Relu(a)\n"
         "b = MatMul(ar, W2)\n"
         "br = Relu(b)\n"
         "y = MatMul(br, W3)\n}\n";
}

}  // namespace effopt::test
