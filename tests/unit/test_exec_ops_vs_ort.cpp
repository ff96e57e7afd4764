// Randomized single-op tests of every executor kernel against ONNX Runtime 1.30: each table entry is a small
// graph (ONNX text) run on seeded random inputs in effopt's executor and in ORT, outputs compared (float32:
// rtol 1e-4 / atol 1e-5 unless an entry states a looser bound and why; integers and bools exactly). A second
// test fails when a registered kernel has no entry here, so every new op gets covered. Calls test::skip when
// ONNX Runtime is absent.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <utility>

#include "exec/executor.h"
#include "exec/kernel_registry.h"
#include "onnx/convert_proto.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;
using exec::TensorValue;

namespace {

using Ranges = std::map<std::string, std::pair<double, double>>;

struct OpCase {
  std::string op;      // the registry entry it covers ("Conv", ...)
  int opset;
  std::string sig;     // "(float[2,3] x) => (float y)"
  std::string body;    // node lines
  Ranges ranges = {};  // per-input value ranges (default: floats [-1, 1), integers [0, 10))
  double rtol = 1e-4, atol = 1e-5;
};

std::vector<OpCase> table() {
  std::vector<OpCase> t;
  auto add = [&](std::string op, int opset, std::string sig, std::string body, Ranges r = {}, double rtol = 1e-4,
                 double atol = 1e-5) { t.push_back({std::move(op), opset, std::move(sig), std::move(body), std::move(r), rtol, atol}); };
  const Ranges pos = {{"x", {0.1, 3.0}}};

  // ---- elementwise binary (broadcasting, several types) ----
  for (std::string op : {"Add", "Sub", "Mul", "Div"}) {
    add(op, 13, "(float[2,3,4] a, float[3,1] b) => (float y)", "y = " + op + "(a, b)", {{"b", {0.5, 2.0}}});
    add(op, 14, "(int64[2,3] a, int64[3] b) => (int64 y)", "y = " + op + "(a, b)", {{"a", {-50, 50}}, {"b", {1, 9}}});
    add(op, 14, "(int32[4,1] a, int32[1,5] b) => (int32 y)", "y = " + op + "(a, b)", {{"a", {-50, 50}}, {"b", {1, 9}}});
    add(op, 14, "(double[3] a, double[2,3] b) => (double y)", "y = " + op + "(a, b)", {{"b", {0.5, 2.0}}});
  }
  add("Mod", 13, "(int64[2,5] a, int64[5] b) => (int64 y)", "y = Mod(a, b)", {{"a", {-20, 20}}, {"b", {1, 6}}});
  add("Mod", 13, "(int32[2,5] a, int32[5] b) => (int32 y)", "y = Mod(a, b)", {{"a", {-20, 20}}, {"b", {-6, -1}}});
  add("Mod", 13, "(float[2,5] a, float[5] b) => (float y)", "y = Mod<fmod = 1>(a, b)", {{"a", {-5, 5}}, {"b", {0.5, 2}}});
  add("Mod", 13, "(int64[6] a, int64[6] b) => (int64 y)", "y = Mod<fmod = 1>(a, b)", {{"a", {-20, 20}}, {"b", {1, 6}}});
  for (std::string op : {"Max", "Min", "Sum", "Mean"}) {
    add(op, 13, "(float[2,3] a, float[3] b, float[1,3] c) => (float y)", "y = " + op + "(a, b, c)");
    add(op, 13, "(float[4] a) => (float y)", "y = " + op + "(a)");
  }
  add("Max", 13, "(int64[3,2] a, int64[2] b) => (int64 y)", "y = Max(a, b)");
  add("Min", 13, "(int32[3,2] a, int32[3,1] b) => (int32 y)", "y = Min(a, b)");
  add("Pow", 13, "(float[2,3] x, float[3] e) => (float y)", "y = Pow(x, e)", {{"x", {0.1, 3}}, {"e", {-2, 2}}});
  add("Pow", 13, "(float[2,3] x) => (float y)", "e = Constant<value = int64 {3}>()\n y = Pow(x, e)");
  add("Pow", 13, "(float[2,3] x) => (float y)", "e = Constant<value = float {0.5}>()\n y = Pow(x, e)", pos);
  add("Pow", 13, "(float[2,3] x) => (float y)", "e = Constant<value = float {2}>()\n y = Pow(x, e)");
  for (std::string op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"}) {
    add(op, 13, "(int64[3,4] a, int64[4] b) => (bool y)", "y = " + op + "(a, b)", {{"a", {0, 4}}, {"b", {0, 4}}});
    add(op, 13, "(float[3,4] a, float[3,1] b) => (bool y)", "y = " + op + "(a, b)");
    add(op, 13, "(int32[5] a, int32[5] b) => (bool y)", "y = " + op + "(a, b)", {{"a", {0, 3}}, {"b", {0, 3}}});
  }
  add("Equal", 13, "(bool[6] a, bool[6] b) => (bool y)", "y = Equal(a, b)");
  for (std::string op : {"And", "Or", "Xor"}) add(op, 13, "(bool[2,4] a, bool[4] b) => (bool y)", "y = " + op + "(a, b)");
  add("Not", 13, "(bool[2,4] a) => (bool y)", "y = Not(a)");
  add("Where", 13, "(bool[2,3] c, float[3] a, float[2,1] b) => (float y)", "y = Where(c, a, b)");
  add("Where", 13, "(bool[4] c, int64[4] a, int64[1] b) => (int64 y)", "y = Where(c, a, b)");

  // ---- elementwise unary ----
  struct U { const char* op; int opset; const char* attrs; Ranges r; };
  const std::vector<U> unary = {
      {"Relu", 14, "", {}}, {"LeakyRelu", 16, "<alpha = 0.2>", {}}, {"Elu", 6, "<alpha = 0.7>", {}},
      {"Selu", 6, "", {}}, {"Selu", 6, "<alpha = 1.5, gamma = 2.0>", {}}, {"Sigmoid", 13, "", {{"x", {-8, 8}}}},
      {"HardSigmoid", 6, "<alpha = 0.3, beta = 0.4>", {{"x", {-5, 5}}}}, {"HardSwish", 14, "", {{"x", {-5, 5}}}},
      {"Tanh", 13, "", {{"x", {-4, 4}}}}, {"Exp", 13, "", {{"x", {-5, 5}}}}, {"Log", 13, "", pos},
      {"Sqrt", 13, "", pos}, {"Reciprocal", 13, "", {{"x", {0.5, 2}}}}, {"Floor", 13, "", {{"x", {-5, 5}}}},
      {"Ceil", 13, "", {{"x", {-5, 5}}}}, {"Round", 11, "", {{"x", {-5, 5}}}}, {"Erf", 13, "", {{"x", {-3, 3}}}},
      {"Sin", 7, "", {{"x", {-4, 4}}}}, {"Cos", 7, "", {{"x", {-4, 4}}}}, {"Softplus", 1, "", {{"x", {-5, 5}}}},
      {"Softsign", 1, "", {{"x", {-5, 5}}}}, {"Mish", 18, "", {{"x", {-5, 5}}}}, {"Gelu", 20, "", {{"x", {-4, 4}}}},
      {"Gelu", 20, "<approximate = \"tanh\">", {{"x", {-4, 4}}}}, {"Neg", 13, "", {}}, {"Abs", 13, "", {}},
      {"Sign", 13, "", {}}, {"Celu", 12, "", {{"x", {-3, 3}}}}, {"Celu", 12, "<alpha = 2.0>", {{"x", {-3, 3}}}},
      {"ThresholdedRelu", 10, "<alpha = 0.3>", {}}, {"Shrink", 9, "", {}}, {"Shrink", 9, "<lambd = 0.2, bias = 0.1>", {}},
      {"Identity", 13, "", {}},
  };
  for (auto& u : unary)
    add(u.op, u.opset, "(float[3,17] x) => (float y)", std::string("y = ") + u.op + u.attrs + "(x)", u.r);
  for (std::string op : {"Neg", "Abs", "Sign"}) {
    add(op, 13, "(int64[7] x) => (int64 y)", "y = " + op + "(x)", {{"x", {-9, 9}}});
    add(op, 13, "(int32[7] x) => (int32 y)", "y = " + op + "(x)", {{"x", {-9, 9}}});
  }
  add("Clip", 13, "(float[3,5] x) => (float y)", "lo = Constant<value = float {-0.3}>()\n hi = Constant<value = float {0.6}>()\n y = Clip(x, lo, hi)");
  add("Clip", 13, "(float[3,5] x) => (float y)", "hi = Constant<value = float {0.2}>()\n y = Clip(x, , hi)");
  add("Clip", 6, "(float[3,5] x) => (float y)", "y = Clip<min = -0.5, max = 0.5>(x)");
  add("Clip", 13, "(int64[9] x) => (int64 y)", "lo = Constant<value = int64 {2}>()\n hi = Constant<value = int64 {6}>()\n y = Clip(x, lo, hi)");
  add("PRelu", 16, "(float[2,3,4] x, float[3,1] s) => (float y)", "y = PRelu(x, s)");
  add("PRelu", 9, "(float[2,5] x, float[5] s) => (float y)", "y = PRelu(x, s)");
  add("IsNaN", 13, "(float[3,4] x) => (bool y)", "r = Sqrt(x)\n y = IsNaN(r)");
  add("IsInf", 10, "(float[3,4] x) => (bool y)", "z = Constant<value = float {0}>()\n d = Div(x, z)\n y = IsInf(d)");
  add("IsInf", 10, "(float[3,4] x) => (bool y)", "z = Constant<value = float {0}>()\n d = Div(x, z)\n y = IsInf<detect_negative = 0>(d)");
  add("IsInf", 10, "(float[3,4] x) => (bool y)", "z = Constant<value = float {0}>()\n d = Div(x, z)\n y = IsInf<detect_positive = 0>(d)");

  // ---- Cast ----
  add("Cast", 13, "(float[4,5] x) => (int64 y)", "y = Cast<to = 7>(x)", {{"x", {-100, 100}}});
  add("Cast", 13, "(float[4,5] x) => (int32 y)", "y = Cast<to = 6>(x)", {{"x", {-100, 100}}});
  add("Cast", 13, "(float[4,5] x) => (uint8 y)", "y = Cast<to = 2>(x)", {{"x", {0, 250}}});
  add("Cast", 13, "(float[4,5] x) => (bool y)", "y = Cast<to = 9>(x)", {{"x", {-1, 1}}});
  add("Cast", 13, "(float[4,5] x) => (double y)", "y = Cast<to = 11>(x)");
  add("Cast", 13, "(float[4,5] x) => (float16 y)", "y = Cast<to = 10>(x)");
  add("Cast", 13, "(int64[6] x) => (float y)", "y = Cast<to = 1>(x)", {{"x", {-1000, 1000}}});
  add("Cast", 13, "(int32[6] x) => (int64 y)", "y = Cast<to = 7>(x)", {{"x", {-1000, 1000}}});
  add("Cast", 13, "(bool[6] x) => (float y)", "y = Cast<to = 1>(x)");
  add("Cast", 13, "(int64[6] x) => (int8 y)", "y = Cast<to = 3>(x)", {{"x", {-100, 100}}});
  add("CastLike", 15, "(float[6] x, int32[1] t) => (int32 y)", "y = CastLike(x, t)", {{"x", {-50, 50}}});

  // ---- matrix, convolution ----
  add("MatMul", 13, "(float[3,4] a, float[4,5] b) => (float y)", "y = MatMul(a, b)");
  add("MatMul", 13, "(float[2,3,4] a, float[4,5] b) => (float y)", "y = MatMul(a, b)");
  add("MatMul", 13, "(float[2,1,3,4] a, float[3,4,2] b) => (float y)", "y = MatMul(a, b)");
  add("MatMul", 13, "(float[4] a, float[2,4,3] b) => (float y)", "y = MatMul(a, b)");
  add("MatMul", 13, "(float[2,3,4] a, float[4] b) => (float y)", "y = MatMul(a, b)");
  add("Gemm", 13, "(float[3,4] a, float[4,5] b, float[5] c) => (float y)", "y = Gemm(a, b, c)");
  add("Gemm", 13, "(float[4,3] a, float[5,4] b, float[3,1] c) => (float y)", "y = Gemm<transA = 1, transB = 1, alpha = 0.5, beta = 2.0>(a, b, c)");
  add("Gemm", 13, "(float[3,4] a, float[5,4] b) => (float y)", "y = Gemm<transB = 1>(a, b)");
  add("Gemm", 13, "(float[1,64] a, float[10,64] b, float[10] c) => (float y)", "y = Gemm<transB = 1>(a, b, c)");
  add("Conv", 13, "(float[2,3,7,8] x, float[4,3,3,3] w, float[4] b) => (float y)", "y = Conv<pads = [1, 1, 1, 1]>(x, w, b)");
  add("Conv", 13, "(float[1,4,9,9] x, float[6,2,3,2] w) => (float y)", "y = Conv<group = 2, strides = [2, 1], dilations = [1, 2], pads = [1, 0, 2, 1]>(x, w)");
  add("Conv", 13, "(float[2,4,6,6] x, float[8,1,3,3] w, float[8] b) => (float y)", "y = Conv<group = 4, pads = [1, 1, 1, 1], strides = [2, 2]>(x, w, b)");
  add("Conv", 13, "(float[1,3,7,7] x, float[5,3,3,3] w) => (float y)", "y = Conv<auto_pad = \"SAME_UPPER\", strides = [2, 2]>(x, w)");
  add("Conv", 13, "(float[1,3,7,7] x, float[5,3,2,2] w) => (float y)", "y = Conv<auto_pad = \"SAME_LOWER\">(x, w)");
  add("Conv", 13, "(float[3,8,5,5] x, float[4,8,1,1] w, float[4] b) => (float y)", "y = Conv(x, w, b)");
  add("Conv", 13, "(float[2,3,10] x, float[4,3,3] w, float[4] b) => (float y)", "y = Conv<strides = [2], pads = [1, 2]>(x, w, b)");
  add("Conv", 13, "(float[1,2,5,6,4] x, float[4,2,3,3,2] w, float[4] b) => (float y)", "y = Conv<pads = [1, 1, 0, 1, 1, 1], strides = [1, 2, 1]>(x, w, b)");
  add("Conv", 13, "(float[1,4,5,5,5] x, float[4,2,2,2,2] w) => (float y)", "y = Conv<group = 2, dilations = [2, 1, 2]>(x, w)");
  add("ConvTranspose", 13, "(float[2,3,4,5] x, float[3,2,3,3] w, float[2] b) => (float y)", "y = ConvTranspose(x, w, b)");
  add("ConvTranspose", 13, "(float[1,4,4,3] x, float[4,3,3,2] w) => (float y)", "y = ConvTranspose<group = 2, strides = [2, 3], pads = [1, 0, 0, 1], output_padding = [1, 2]>(x, w)");
  add("ConvTranspose", 13, "(float[1,2,5,5] x, float[2,3,3,3] w, float[3] b) => (float y)", "y = ConvTranspose<strides = [2, 2], dilations = [2, 1], pads = [1, 1, 1, 1]>(x, w, b)");
  add("ConvTranspose", 13, "(float[1,2,4,4] x, float[2,3,3,3] w) => (float y)", "y = ConvTranspose<strides = [2, 2], output_shape = [9, 10]>(x, w)");
  add("ConvTranspose", 13, "(float[1,2,4,4] x, float[2,3,3,3] w) => (float y)", "y = ConvTranspose<strides = [2, 2], auto_pad = \"SAME_UPPER\">(x, w)");
  add("ConvTranspose", 13, "(float[1,2,4,4] x, float[2,3,4,4] w) => (float y)", "y = ConvTranspose<strides = [2, 2], auto_pad = \"SAME_LOWER\">(x, w)");
  add("ConvTranspose", 13, "(float[1,2,4,4] x, float[2,3,3,3] w) => (float y)", "y = ConvTranspose<strides = [3, 2], output_shape = [12, 9], auto_pad = \"SAME_UPPER\">(x, w)");
  add("ConvTranspose", 13, "(float[2,3,6] x, float[3,2,4] w, float[2] b) => (float y)", "y = ConvTranspose<strides = [2], pads = [1, 2]>(x, w, b)");
  add("ConvTranspose", 13, "(float[1,2,3,4,3] x, float[2,2,2,3,2] w) => (float y)", "y = ConvTranspose<strides = [2, 1, 2], pads = [0, 1, 0, 1, 0, 1]>(x, w)");
  add("ConvTranspose", 11, "(float[1,16,5,5] x, float[16,8,2,2] w, float[8] b) => (float y)", "y = ConvTranspose<strides = [2, 2]>(x, w, b)");

  // ---- pooling ----
  add("MaxPool", 13, "(float[2,3,7,8] x) => (float y)", "y = MaxPool<kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1]>(x)");
  add("MaxPool", 13, "(float[1,2,7,8] x) => (float y)", "y = MaxPool<kernel_shape = [2, 3], strides = [2, 2], ceil_mode = 1>(x)");
  add("MaxPool", 13, "(float[1,2,9,9] x) => (float y)", "y = MaxPool<kernel_shape = [2, 2], dilations = [2, 2]>(x)");
  add("MaxPool", 13, "(float[1,2,7,7] x) => (float y)", "y = MaxPool<kernel_shape = [3, 3], auto_pad = \"SAME_UPPER\", strides = [2, 2]>(x)");
  add("MaxPool", 13, "(float[2,3,10] x) => (float y)", "y = MaxPool<kernel_shape = [3], strides = [2]>(x)");
  add("MaxPool", 13, "(float[1,2,5,6,7] x) => (float y)", "y = MaxPool<kernel_shape = [2, 3, 2], strides = [2, 1, 2], pads = [0, 1, 1, 0, 1, 1]>(x)");
  // Planes wide enough for the vectorized interior columns (kernels_nn.cpp pool_plane) beside the edge ones.
  add("MaxPool", 13, "(float[1,4,23,30] x) => (float y)", "y = MaxPool<kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1]>(x)");
  add("MaxPool", 13, "(float[5,4,8,8] x) => (float y)", "y = MaxPool<kernel_shape = [2, 2], strides = [2, 2]>(x)");
  // 2x2 stride 2: max_pool_2x2_planes (kernels_nn.cpp) at narrow, odd and wide rows and an odd height.
  add("MaxPool", 13, "(float[2,3,6,6] x) => (float y)", "y = MaxPool<kernel_shape = [2, 2], strides = [2, 2]>(x)");
  add("MaxPool", 13, "(float[1,3,7,64] x) => (float y)", "y = MaxPool<kernel_shape = [2, 2], strides = [2, 2]>(x)");
  add("MaxPool", 13, "(float[1,3,12,40] x) => (float y)", "y = MaxPool<kernel_shape = [2, 3], dilations = [1, 2], pads = [0, 2, 1, 1], ceil_mode = 1>(x)");
  add("AveragePool", 13, "(float[2,3,13,20] x) => (float y)", "y = AveragePool<kernel_shape = [3, 3], strides = [2, 2], pads = [1, 2, 1, 0], ceil_mode = 1, count_include_pad = 1>(x)");
  add("AveragePool", 13, "(float[1,2,17,33] x) => (float y)", "y = AveragePool<kernel_shape = [4, 4], strides = [1, 3], pads = [2, 2, 2, 2]>(x)");
  add("AveragePool", 13, "(float[2,3,7,8] x) => (float y)", "y = AveragePool<kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1]>(x)");
  add("AveragePool", 13, "(float[2,3,7,8] x) => (float y)", "y = AveragePool<kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1], count_include_pad = 1>(x)");
  add("AveragePool", 13, "(float[1,2,7,8] x) => (float y)", "y = AveragePool<kernel_shape = [2, 3], strides = [2, 2], ceil_mode = 1>(x)");
  add("AveragePool", 19, "(float[1,2,9,9] x) => (float y)", "y = AveragePool<kernel_shape = [2, 2], dilations = [2, 2]>(x)");
  add("AveragePool", 13, "(float[1,2,5,6,7] x) => (float y)", "y = AveragePool<kernel_shape = [2, 3, 2], pads = [1, 1, 1, 1, 1, 1], count_include_pad = 1>(x)");
  add("GlobalAveragePool", 13, "(float[2,3,5,6] x) => (float y)", "y = GlobalAveragePool(x)");
  add("GlobalAveragePool", 13, "(float[2,3,5] x) => (float y)", "y = GlobalAveragePool(x)");
  add("GlobalMaxPool", 13, "(float[2,3,5,6] x) => (float y)", "y = GlobalMaxPool(x)");

  // ---- normalization, softmax ----
  add("Softmax", 13, "(float[3,4,5] x) => (float y)", "y = Softmax(x)", {{"x", {-5, 5}}});
  add("Softmax", 13, "(float[3,4,5] x) => (float y)", "y = Softmax<axis = 1>(x)", {{"x", {-5, 5}}});
  add("Softmax", 11, "(float[3,4,5] x) => (float y)", "y = Softmax(x)", {{"x", {-5, 5}}});
  add("LogSoftmax", 13, "(float[3,4,5] x) => (float y)", "y = LogSoftmax<axis = 0>(x)", {{"x", {-5, 5}}});
  add("LogSoftmax", 11, "(float[3,4,5] x) => (float y)", "y = LogSoftmax<axis = 2>(x)", {{"x", {-5, 5}}});
  add("Hardmax", 13, "(float[3,4,5] x) => (float y)", "y = Hardmax<axis = 1>(x)");
  add("Hardmax", 11, "(float[3,4,5] x) => (float y)", "y = Hardmax(x)");
  add("BatchNormalization", 15, "(float[2,3,4,5] x, float[3] s, float[3] b, float[3] m, float[3] v) => (float y)",
      "y = BatchNormalization<epsilon = 0.001>(x, s, b, m, v)", {{"v", {0.5, 2}}});
  add("BatchNormalization", 9, "(float[2,3] x, float[3] s, float[3] b, float[3] m, float[3] v) => (float y)",
      "y = BatchNormalization(x, s, b, m, v)", {{"v", {0.5, 2}}});
  add("InstanceNormalization", 6, "(float[2,3,4,5] x, float[3] s, float[3] b) => (float y)", "y = InstanceNormalization<epsilon = 0.01>(x, s, b)");
  add("InstanceNormalization", 6, "(float[2,3,7] x, float[3] s, float[3] b) => (float y)", "y = InstanceNormalization(x, s, b)");
  add("LayerNormalization", 17, "(float[2,3,8] x, float[8] s, float[8] b) => (float y)", "y = LayerNormalization(x, s, b)");
  add("LayerNormalization", 17, "(float[2,3,4] x, float[3,4] s) => (float y, float m, float r)", "y, m, r = LayerNormalization<axis = 1, epsilon = 0.001>(x, s)");
  add("LRN", 13, "(float[2,5,3,4] x) => (float y)", "y = LRN<size = 3>(x)");
  add("LRN", 13, "(float[1,6,3,3] x) => (float y)", "y = LRN<size = 5, alpha = 0.01, beta = 0.5, bias = 2.0>(x)", {{"x", {-3, 3}}});

  // ---- reductions ----
  struct R { const char* op; Ranges r; };
  const std::vector<R> reds = {{"ReduceMean", {}}, {"ReduceSum", {}}, {"ReduceMax", {}}, {"ReduceMin", {}},
                               {"ReduceProd", {{"x", {0.5, 1.5}}}}, {"ReduceL1", {}}, {"ReduceL2", {}},
                               {"ReduceLogSumExp", {}}, {"ReduceSumSquare", {}}, {"ReduceLogSum", pos}};
  for (auto& rd : reds) {
    std::string op = rd.op;
    bool sum13 = op == "ReduceSum";
    add(op, 13, "(float[3,4,5] x) => (float y)",
        sum13 ? "a = Constant<value = int64[2] {0, 2}>()\n y = ReduceSum(x, a)" : "y = " + op + "<axes = [0, 2]>(x)", rd.r);
    add(op, 13, "(float[3,4,5] x) => (float y)", sum13 ? "a = Constant<value = int64[1] {-1}>()\n y = ReduceSum<keepdims = 0>(x, a)" : "y = " + op + "<axes = [-1], keepdims = 0>(x)", rd.r);
    add(op, 13, "(float[3,4,5] x) => (float y)", "y = " + op + "<keepdims = 0>(x)", rd.r);
    add(op, 18, "(float[3,4,5] x) => (float y)", "a = Constant<value = int64[1] {1}>()\n y = " + op + "(x, a)", rd.r);
    add(op, 18, "(float[3,4,5] x) => (float y)", "y = " + op + "<noop_with_empty_axes = 1>(x)", rd.r);
  }
  add("ReduceSum", 13, "(int64[3,4] x) => (int64 y)", "a = Constant<value = int64[1] {1}>()\n y = ReduceSum(x, a)");
  add("ReduceMax", 13, "(int64[3,4] x) => (int64 y)", "y = ReduceMax<axes = [0]>(x)");
  add("ReduceMin", 13, "(int32[3,4] x) => (int32 y)", "y = ReduceMin<axes = [1]>(x)");
  add("ReduceProd", 13, "(int64[3,4] x) => (int64 y)", "y = ReduceProd<axes = [1]>(x)");

  // ---- shape, data movement ----
  add("Reshape", 14, "(float[2,3,4] x) => (float y)", "s = Constant<value = int64[3] {0, -1, 2}>()\n y = Reshape(x, s)");
  add("Reshape", 14, "(int64[2,3,4] x) => (int64 y)", "s = Constant<value = int64[2] {4, 6}>()\n y = Reshape<allowzero = 1>(x, s)");
  add("Flatten", 13, "(float[2,3,4] x) => (float y)", "y = Flatten<axis = 2>(x)");
  add("Flatten", 13, "(float[2,3,4] x) => (float y)", "y = Flatten<axis = 0>(x)");
  add("Squeeze", 13, "(float[2,1,3,1] x) => (float y)", "a = Constant<value = int64[1] {-1}>()\n y = Squeeze(x, a)");
  add("Squeeze", 11, "(float[2,1,3,1] x) => (float y)", "y = Squeeze(x)");
  add("Unsqueeze", 13, "(float[2,3] x) => (float y)", "a = Constant<value = int64[2] {0, -1}>()\n y = Unsqueeze(x, a)");
  add("Unsqueeze", 11, "(int64[2,3] x) => (int64 y)", "y = Unsqueeze<axes = [1]>(x)");
  add("Transpose", 13, "(float[2,3,4,5] x) => (float y)", "y = Transpose<perm = [0, 2, 3, 1]>(x)");
  add("Transpose", 13, "(int64[2,3,4] x) => (int64 y)", "y = Transpose(x)");
  add("Transpose", 13, "(bool[3,2,4] x) => (bool y)", "y = Transpose<perm = [2, 0, 1]>(x)");
  add("Concat", 13, "(float[2,3] a, float[2,1] b, float[2,4] c) => (float y)", "y = Concat<axis = 1>(a, b, c)");
  add("Concat", 13, "(int64[2] a, int64[3] b) => (int64 y)", "y = Concat<axis = -1>(a, b)");
  add("Split", 13, "(float[2,7] x) => (float a, float b)", "s = Constant<value = int64[2] {3, 4}>()\n a, b = Split<axis = 1>(x, s)");
  add("Split", 13, "(float[6,2] x) => (float a, float b, float c)", "a, b, c = Split(x)");
  add("Split", 18, "(float[2,7] x) => (float a, float b, float c)", "a, b, c = Split<axis = 1, num_outputs = 3>(x)");
  add("Split", 11, "(int64[5,2] x) => (int64 a, int64 b)", "a, b = Split<split = [1, 4]>(x)");
  add("Slice", 13, "(float[5,6,4] x) => (float y)",
      "s = Constant<value = int64[2] {1, -1}>()\n e = Constant<value = int64[2] {4, -5}>()\n a = Constant<value = int64[2] {0, 1}>()\n st = Constant<value = int64[2] {2, -1}>()\n y = Slice(x, s, e, a, st)");
  add("Slice", 13, "(int64[10] x) => (int64 y)", "s = Constant<value = int64[1] {-3}>()\n e = Constant<value = int64[1] {100}>()\n y = Slice(x, s, e)");
  add("Slice", 9, "(float[4,6] x) => (float y)", "y = Slice<starts = [1, 0], ends = [3, 5], axes = [0, 1]>(x)");
  add("Gather", 13, "(float[5,4] x, int64[2,3] i) => (float y)", "y = Gather(x, i)", {{"i", {-5, 5}}});
  add("Gather", 13, "(float[3,5,2] x, int32[4] i) => (float y)", "y = Gather<axis = 1>(x, i)", {{"i", {-5, 5}}});
  add("Gather", 13, "(int64[6] x, int64 i) => (int64 y)", "y = Gather(x, i)", {{"i", {0, 6}}});
  add("Shape", 13, "(float[2,3,4] x) => (int64 y)", "y = Shape(x)");
  add("Shape", 15, "(float[2,3,4,5] x) => (int64 y)", "y = Shape<start = 1, end = -1>(x)");
  add("Size", 13, "(float[2,3,4] x) => (int64 y)", "y = Size(x)");
  add("Expand", 13, "(float[3,1] x) => (float y)", "s = Constant<value = int64[3] {2, 1, 4}>()\n y = Expand(x, s)");
  add("Expand", 13, "(int64[1,3] x) => (int64 y)", "s = Constant<value = int64[2] {2, 1}>()\n y = Expand(x, s)");
  add("Tile", 13, "(float[2,3] x) => (float y)", "r = Constant<value = int64[2] {2, 3}>()\n y = Tile(x, r)");
  add("Tile", 13, "(int32[2,1,2] x) => (int32 y)", "r = Constant<value = int64[3] {1, 4, 2}>()\n y = Tile(x, r)");
  add("ConstantOfShape", 13, "(int64[2] s) => (float y)", "y = ConstantOfShape<value = float[1] {2.5}>(s)", {{"s", {1, 4}}});
  add("ConstantOfShape", 13, "(int64[3] s) => (int64 y)", "y = ConstantOfShape<value = int64[1] {7}>(s)", {{"s", {0, 3}}});
  add("Range", 13, "(float s, float l, float d) => (float y)", "y = Range(s, l, d)", {{"s", {-3, 0}}, {"l", {1, 5}}, {"d", {0.3, 1}}});
  add("Range", 13, "(int64 s, int64 l, int64 d) => (int64 y)", "y = Range(s, l, d)", {{"s", {-5, 0}}, {"l", {3, 12}}, {"d", {1, 4}}});
  add("Pad", 13, "(float[2,3,4] x) => (float y)", "p = Constant<value = int64[6] {0, 1, 2, 1, 0, 1}>()\n v = Constant<value = float {0.5}>()\n y = Pad(x, p, v)");
  add("Pad", 13, "(float[1,3,4,5] x) => (float y)", "p = Constant<value = int64[8] {0, 0, 2, 3, 0, 0, 3, 1}>()\n y = Pad<mode = \"reflect\">(x, p)");
  add("Pad", 13, "(float[1,3,4,5] x) => (float y)", "p = Constant<value = int64[8] {0, 0, 2, 3, 0, 0, 3, 1}>()\n y = Pad<mode = \"edge\">(x, p)");
  add("Pad", 19, "(float[3,4] x) => (float y)", "p = Constant<value = int64[4] {2, 3, 1, 4}>()\n y = Pad<mode = \"wrap\">(x, p)");
  // wrap: end pads wider than the axis, begin pads up to its length (wider ones read unwritten memory in ONNX
  // Runtime 1.30; test_exec_kernels.cpp checks them by hand), negative pads (crop first, then wrap the rest)
  add("Pad", 19, "(float[3,4] x) => (float y)", "p = Constant<value = int64[4] {1, 0, 7, 9}>()\n y = Pad<mode = \"wrap\">(x, p)");
  add("Pad", 19, "(float[2,3] x) => (float y)", "p = Constant<value = int64[4] {2, 3, 5, 7}>()\n y = Pad<mode = \"wrap\">(x, p)");
  add("Pad", 19, "(float[3,5] x) => (float y)", "p = Constant<value = int64[4] {-1, 2, 4, -2}>()\n y = Pad<mode = \"wrap\">(x, p)");
  add("Pad", 19, "(int64[2,3,4] x) => (int64 y)", "p = Constant<value = int64[6] {0, 3, 1, 5, 0, 9}>()\n y = Pad<mode = \"wrap\">(x, p)");
  add("Pad", 19, "(float[2,3,4] x) => (float y)", "p = Constant<value = int64[2] {-3, 10}>()\n a = Constant<value = int64[1] {2}>()\n y = Pad<mode = \"wrap\">(x, p, , a)");
  add("Pad", 19, "(float[4,5] x) => (float y)", "p = Constant<value = int64[4] {-1, 2, 2, -2}>()\n y = Pad<mode = \"reflect\">(x, p)");
  add("Pad", 19, "(float[4,5] x) => (float y)", "p = Constant<value = int64[4] {-2, 3, 3, -4}>()\n y = Pad<mode = \"edge\">(x, p)");
  add("Pad", 19, "(float[4,5] x) => (float y)", "p = Constant<value = int64[4] {-2, 3, 3, -4}>()\n y = Pad(x, p)");
  add("Pad", 18, "(float[2,3,4] x) => (float y)", "p = Constant<value = int64[4] {1, 2, 0, 1}>()\n a = Constant<value = int64[2] {0, 2}>()\n y = Pad(x, p, , a)");
  add("Pad", 13, "(int64[3,4] x) => (int64 y)", "p = Constant<value = int64[4] {1, 0, 0, 2}>()\n y = Pad(x, p)");
  add("Pad", 2, "(float[3,4] x) => (float y)", "y = Pad<pads = [1, 2, 0, 1], value = 1.5>(x)");
  add("Dropout", 13, "(float[3,4] x) => (float y)", "y = Dropout(x)");
  add("Dropout", 13, "(float[3,4] x) => (float y, bool m)", "y, m = Dropout(x)");

  // ---- index, selection ----
  add("TopK", 13, "(float[3,7] x) => (float v, int64 i)", "k = Constant<value = int64[1] {3}>()\n v, i = TopK(x, k)");
  add("TopK", 13, "(float[4,5,3] x) => (float v, int64 i)", "k = Constant<value = int64[1] {2}>()\n v, i = TopK<axis = 1, largest = 0>(x, k)");
  add("TopK", 13, "(int64[3,9] x) => (int64 v, int64 i)", "k = Constant<value = int64[1] {4}>()\n v, i = TopK(x, k)", {{"x", {0, 4}}});
  add("TopK", 13, "(int32[3,9] x) => (int32 v, int64 i)", "k = Constant<value = int64[1] {5}>()\n v, i = TopK<largest = 0>(x, k)", {{"x", {0, 4}}});
  add("TopK", 9, "(float[3,7] x) => (float v, int64 i)", "v, i = TopK<k = 2>(x)");
  for (std::string op : {"ArgMax", "ArgMin"}) {
    add(op, 13, "(float[3,4,5] x) => (int64 y)", "y = " + op + "<axis = 1>(x)");
    add(op, 13, "(float[3,4,5] x) => (int64 y)", "y = " + op + "<axis = -1, keepdims = 0>(x)");
    add(op, 13, "(int64[4,6] x) => (int64 y)", "y = " + op + "<axis = 1>(x)", {{"x", {0, 3}}});
    add(op, 13, "(int64[4,6] x) => (int64 y)", "y = " + op + "<axis = 1, select_last_index = 1>(x)", {{"x", {0, 3}}});
    add(op, 13, "(int32[6,4] x) => (int64 y)", "y = " + op + "<select_last_index = 1, keepdims = 0>(x)", {{"x", {0, 3}}});
  }
  add("CumSum", 14, "(float[3,5] x) => (float y)", "a = Constant<value = int64 {1}>()\n y = CumSum(x, a)");
  add("CumSum", 14, "(float[3,5] x) => (float y)", "a = Constant<value = int64 {0}>()\n y = CumSum<exclusive = 1>(x, a)");
  add("CumSum", 14, "(float[3,5] x) => (float y)", "a = Constant<value = int32 {-1}>()\n y = CumSum<reverse = 1>(x, a)");
  add("CumSum", 14, "(int64[2,3,4] x) => (int64 y)", "a = Constant<value = int64 {1}>()\n y = CumSum<exclusive = 1, reverse = 1>(x, a)");
  add("CumSum", 14, "(int32[6] x) => (int32 y)", "a = Constant<value = int64 {0}>()\n y = CumSum(x, a)");
  add("Trilu", 14, "(float[4,5] x) => (float y)", "y = Trilu(x)");
  add("Trilu", 14, "(float[2,4,5] x) => (float y)", "k = Constant<value = int64 {-1}>()\n y = Trilu<upper = 0>(x, k)");
  add("Trilu", 14, "(int64[5,3] x) => (int64 y)", "k = Constant<value = int64 {1}>()\n y = Trilu(x, k)");
  add("Trilu", 14, "(float[3,6] x) => (float y)", "k = Constant<value = int64 {2}>()\n y = Trilu<upper = 0>(x, k)");
  add("GatherElements", 13, "(float[3,4] x, int64[3,2] i) => (float y)", "y = GatherElements<axis = 1>(x, i)", {{"i", {-4, 4}}});
  add("GatherElements", 13, "(int64[3,4,2] x, int32[2,4,2] i) => (int64 y)", "y = GatherElements(x, i)", {{"i", {-3, 3}}});
  add("GatherND", 13, "(float[3,4,2] x, int64[5,2] i) => (float y)", "y = GatherND(x, i)", {{"i", {0, 3}}});
  add("GatherND", 13, "(float[2,3,4] x, int64[2,1] i) => (float y)", "y = GatherND<batch_dims = 1>(x, i)", {{"i", {-3, 3}}});
  add("GatherND", 13, "(int64[2,3,4] x, int64[2,2,2] i) => (int64 y)", "y = GatherND<batch_dims = 1>(x, i)", {{"i", {0, 3}}});
  add("GatherND", 13, "(float[3,4] x, int64[2,2] i) => (float y)", "y = GatherND(x, i)", {{"i", {0, 3}}});
  add("ScatterND", 13, "(float[4,3] x, float[2,3] u) => (float y)", "i = Constant<value = int64[2,1] {3, 1}>()\n y = ScatterND(x, i, u)");
  add("ScatterND", 13, "(int64[3,4] x, int64[3] u) => (int64 y)", "i = Constant<value = int64[3,2] {0, 1, 2, 3, 1, 0}>()\n y = ScatterND(x, i, u)");
  for (std::string red : {"add", "mul"})
    add("ScatterND", 16, "(float[4,3] x, float[3,3] u) => (float y)", "i = Constant<value = int64[3,1] {1, 3, 1}>()\n y = ScatterND<reduction = \"" + red + "\">(x, i, u)");
  for (std::string red : {"max", "min"})
    add("ScatterND", 18, "(int64[4,3] x, int64[3,3] u) => (int64 y)", "i = Constant<value = int64[3,1] {1, 3, 1}>()\n y = ScatterND<reduction = \"" + red + "\">(x, i, u)");
  add("ScatterElements", 13, "(float[3,4] x, float[2,3] u) => (float y)", "i = Constant<value = int64[2,3] {1, 0, 3, 2, 3, -4}>()\n y = ScatterElements<axis = 1>(x, i, u)");
  add("ScatterElements", 13, "(int64[3,3] x, int64[2,3] u) => (int64 y)", "i = Constant<value = int64[2,3] {2, 0, 1, 0, 2, 2}>()\n y = ScatterElements(x, i, u)");
  for (std::string red : {"add", "mul"})
    add("ScatterElements", 16, "(float[3,4] x, float[2,4] u) => (float y)", "i = Constant<value = int64[2,4] {1, 1, 0, 2, 1, 1, 0, 0}>()\n y = ScatterElements<axis = 0, reduction = \"" + red + "\">(x, i, u)");
  for (std::string red : {"max", "min"})
    add("ScatterElements", 18, "(float[3,4] x, float[2,4] u) => (float y)", "i = Constant<value = int64[2,4] {1, 1, 0, 2, 1, 1, 0, 0}>()\n y = ScatterElements<axis = 0, reduction = \"" + red + "\">(x, i, u)");
  add("Scatter", 9, "(float[3,4] x, float[2,3] u) => (float y)", "i = Constant<value = int64[2,3] {1, 0, 3, 2, 3, 0}>()\n y = Scatter<axis = 1>(x, i, u)");
  add("OneHot", 11, "(int64[2,3] i) => (float y)", "d = Constant<value = int64 {5}>()\n v = Constant<value = float[2] {-1, 2}>()\n y = OneHot(i, d, v)", {{"i", {-5, 5}}});
  add("OneHot", 11, "(int64[4] i) => (int64 y)", "d = Constant<value = int64 {4}>()\n v = Constant<value = int64[2] {0, 7}>()\n y = OneHot<axis = 0>(i, d, v)", {{"i", {0, 4}}});
  add("OneHot", 11, "(int64[2,3] i) => (float y)", "d = Constant<value = int64 {3}>()\n v = Constant<value = float[2] {0, 1}>()\n y = OneHot<axis = 1>(i, d, v)", {{"i", {0, 3}}});
  add("NonZero", 13, "(int64[3,4] x) => (int64 y)", "y = NonZero(x)", {{"x", {0, 2}}});
  add("NonZero", 13, "(float[5] x) => (int64 y)", "r = Relu(x)\n y = NonZero(r)");
  add("NonZero", 13, "(bool[2,3,2] x) => (int64 y)", "y = NonZero(x)");
  add("ReverseSequence", 10, "(float[4,3,2] x) => (float y)", "l = Constant<value = int64[3] {4, 1, 3}>()\n y = ReverseSequence<batch_axis = 1, time_axis = 0>(x, l)");
  add("ReverseSequence", 10, "(int64[3,5] x) => (int64 y)", "l = Constant<value = int64[3] {2, 5, 0}>()\n y = ReverseSequence<batch_axis = 0, time_axis = 1>(x, l)");
  add("Compress", 11, "(float[3,4] x, bool[4] c) => (float y)", "y = Compress<axis = 1>(x, c)");
  add("Compress", 11, "(int64[3,4] x, bool[3] c) => (int64 y)", "y = Compress<axis = -2>(x, c)");
  add("Compress", 11, "(float[3,4] x, bool[7] c) => (float y)", "y = Compress(x, c)");
  add("DepthToSpace", 13, "(float[2,8,3,2] x) => (float y)", "y = DepthToSpace<blocksize = 2>(x)");
  add("DepthToSpace", 13, "(float[1,18,2,3] x) => (float y)", "y = DepthToSpace<blocksize = 3, mode = \"CRD\">(x)");
  add("SpaceToDepth", 13, "(float[2,3,4,6] x) => (float y)", "y = SpaceToDepth<blocksize = 2>(x)");

  // ---- Einsum ----
  for (std::pair<std::string, std::string> e :
       {std::pair<std::string, std::string>{"ij,jk->ik", "(float[3,4] a, float[4,5] b)"},
        {"bij,bjk->bik", "(float[2,3,4] a, float[2,4,5] b)"},
        {"ij,kj->ik", "(float[3,4] a, float[5,4] b)"},
        {"bhid,bhjd->bhij", "(float[2,2,3,4] a, float[2,2,5,4] b)"},
        {"ij,jk", "(float[3,4] a, float[4,5] b)"},
        {"i,i->", "(float[6] a, float[6] b)"},
        {"i,j->ij", "(float[3] a, float[4] b)"},
        {"ij,ij->ij", "(float[3,4] a, float[3,4] b)"},
        {"...ij,...jk->...ik", "(float[2,3,4] a, float[2,4,2] b)"},
        {"bn,bm->", "(float[3,4] a, float[3,5] b)"}})
    add("Einsum", 12, e.second + " => (float y)", "y = Einsum<equation = \"" + e.first + "\">(a, b)");
  add("Einsum", 12, "(float[3,4] a) => (float y)", "y = Einsum<equation = \"ij->ji\">(a)");
  add("Einsum", 12, "(float[3,4,5] a) => (float y)", "y = Einsum<equation = \"ijk->i\">(a)");
  add("Einsum", 12, "(float[4,4] a) => (float y)", "y = Einsum<equation = \"ii->i\">(a)");
  add("Einsum", 12, "(float[4,4] a) => (float y)", "y = Einsum<equation = \"ii\">(a)");
  add("Einsum", 12, "(float[2,3] a, float[4,3,5] w, float[2,5] b) => (float y)", "y = Einsum<equation = \"bn,anm,bm->ba\">(a, w, b)");

  // ---- Resize / Upsample ----
  const std::string x4 = "(float[1,2,4,5] x) => (float y)";
  add("Resize", 10, x4, "s = Constant<value = float[4] {1, 1, 2, 1.5}>()\n y = Resize(x, s)");
  add("Resize", 10, x4, "s = Constant<value = float[4] {1, 1, 0.5, 0.6}>()\n y = Resize(x, s)");
  add("Resize", 10, x4, "s = Constant<value = float[4] {1, 1, 2, 1.5}>()\n y = Resize<mode = \"linear\">(x, s)");
  for (std::string coord : {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"})
    for (std::string nm : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"})
      add("Resize", 11, x4, "r = Constant<value = float[0] {}>()\n s = Constant<value = float[4] {1, 1, 1.7, 2.4}>()\n y = Resize<coordinate_transformation_mode = \"" + coord + "\", nearest_mode = \"" + nm + "\">(x, r, s)");
  for (std::string mode : {"linear", "cubic"})
    for (std::string coord : {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"}) {
      add("Resize", 13, x4, "s = Constant<value = float[4] {1, 1, 1.5, 2}>()\n y = Resize<mode = \"" + mode + "\", coordinate_transformation_mode = \"" + coord + "\">(x, , s)");
      add("Resize", 13, x4, "z = Constant<value = int64[4] {1, 2, 3, 2}>()\n y = Resize<mode = \"" + mode + "\", coordinate_transformation_mode = \"" + coord + "\">(x, , , z)");
    }
  add("Resize", 13, x4, "s = Constant<value = float[4] {1, 1, 2, 2}>()\n y = Resize<mode = \"cubic\", cubic_coeff_a = -0.5, exclude_outside = 1>(x, , s)");
  add("Resize", 13, x4, "z = Constant<value = int64[4] {1, 2, 3, 3}>()\n y = Resize<mode = \"cubic\", exclude_outside = 1>(x, , , z)");
  for (std::string mode : {"nearest", "linear", "cubic"})
    add("Resize", 13, x4, "r = Constant<value = float[8] {0, 0, 0.2, 0.1, 1, 1, 0.9, 1.2}>()\n z = Constant<value = int64[4] {1, 2, 5, 4}>()\n y = Resize<mode = \"" + mode + "\", coordinate_transformation_mode = \"tf_crop_and_resize\", extrapolation_value = 3.5>(x, r, , z)");
  add("Resize", 11, x4, "r = Constant<value = float[8] {0, 0, 0.2, 0.1, 1, 1, 0.9, 1.2}>()\n s = Constant<value = float[0] {}>()\n z = Constant<value = int64[4] {1, 2, 5, 4}>()\n y = Resize<mode = \"linear\", coordinate_transformation_mode = \"tf_crop_and_resize\">(x, r, s, z)");
  add("Resize", 13, "(float[2,3,5] x) => (float y)", "s = Constant<value = float[3] {1, 2, 1.4}>()\n y = Resize<mode = \"linear\">(x, , s)");
  add("Resize", 13, "(uint8[1,1,3,4] x) => (uint8 y)", "s = Constant<value = float[4] {1, 1, 2, 1.5}>()\n y = Resize(x, , s)");
  const std::string x8 = "(float[1,2,8,9] x) => (float y)";
  for (std::string mode : {"linear", "cubic"}) {
    add("Resize", 18, x8, "s = Constant<value = float[4] {1, 1, 0.5, 0.4}>()\n y = Resize<mode = \"" + mode + "\", antialias = 1>(x, , s)");
    add("Resize", 18, x8, "z = Constant<value = int64[4] {1, 2, 3, 5}>()\n y = Resize<mode = \"" + mode + "\", antialias = 1>(x, , , z)");
  }
  add("Resize", 18, x8, "s = Constant<value = float[2] {0.6, 1.5}>()\n y = Resize<mode = \"linear\", axes = [2, 3]>(x, , s)");
  add("Resize", 18, x8, "z = Constant<value = int64[2] {4, 6}>()\n y = Resize<axes = [-1, 2]>(x, , , z)");
  add("Resize", 18, x8, "z = Constant<value = int64[2] {4, 6}>()\n y = Resize<mode = \"linear\", axes = [2, 3], keep_aspect_ratio_policy = \"not_larger\">(x, , , z)");
  add("Resize", 18, x8, "z = Constant<value = int64[2] {4, 6}>()\n y = Resize<mode = \"linear\", axes = [2, 3], keep_aspect_ratio_policy = \"not_smaller\">(x, , , z)");
  add("Resize", 19, x4, "s = Constant<value = float[4] {1, 1, 1.5, 0.7}>()\n y = Resize<mode = \"linear\", coordinate_transformation_mode = \"half_pixel_symmetric\">(x, , s)");
  add("Resize", 19, x4, "z = Constant<value = int64[4] {1, 2, 7, 3}>()\n y = Resize<coordinate_transformation_mode = \"half_pixel_symmetric\">(x, , , z)");
  add("Upsample", 7, x4, "y = Upsample<scales = [1.0, 1.0, 2.0, 3.0]>(x)");
  add("Upsample", 9, x4, "s = Constant<value = float[4] {1, 1, 2, 1.5}>()\n y = Upsample(x, s)");
  add("Upsample", 9, x4, "s = Constant<value = float[4] {1, 1, 2, 3}>()\n y = Upsample<mode = \"linear\">(x, s)");
  // StringNormalizer: random inputs are decimal integers as strings.
  add("StringNormalizer", 10, "(string[9] x) => (string y)", "y = StringNormalizer<stopwords = [\"1\", \"3\", \"5\"]>(x)");
  add("StringNormalizer", 10, "(string[1,6] x) => (string y)", "y = StringNormalizer<case_change_action = \"UPPER\", is_case_sensitive = 1, stopwords = [\"2\"]>(x)");
  add("StringNormalizer", 10, "(string[3] x) => (string y)", "y = StringNormalizer<case_change_action = \"LOWER\", stopwords = [\"0\", \"1\", \"2\", \"3\", \"4\", \"5\", \"6\", \"7\", \"8\", \"9\"]>(x)");
  // float16 through FloatCompute (float32 arithmetic, one rounding per output), where ORT's CPU has fp16 kernels.
  add("Add", 14, "(float16[2,3] a, float16[3] b) => (float16 y)", "y = Add(a, b)");
  add("Mul", 14, "(float16[2,3] a, float16[2,1] b) => (float16 y)", "y = Mul(a, b)");
  add("Relu", 14, "(float16[2,3] x) => (float16 y)", "y = Relu(x)");
  add("LeakyRelu", 16, "(float16[2,3] x) => (float16 y)", "y = LeakyRelu(x)");
  add("Sigmoid", 13, "(float16[2,3] x) => (float16 y)", "y = Sigmoid(x)");
  add("Softmax", 13, "(float16[2,5] x) => (float16 y)", "y = Softmax(x)");
  add("TopK", 13, "(float16[3,7] x) => (float16 v, int64 i)", "k = Constant<value = int64[1] {3}>()\n v, i = TopK(x, k)");
  add("Resize", 13, "(float16[1,1,3,4] x) => (float16 y)", "s = Constant<value = float[4] {1, 1, 2, 1.5}>()\n y = Resize<mode = \"linear\">(x, , s)");
  add("LayerNormalization", 17, "(float16[2,8] x, float16[8] s) => (float16 y)", "y = LayerNormalization(x, s)");
  add("MatMul", 13, "(float16[3,4] a, float16[4,5] b) => (float16 y)", "y = MatMul(a, b)");
  add("Conv", 13, "(float16[1,2,5,5] x, float16[3,2,3,3] w) => (float16 y)", "y = Conv(x, w)");
  add("TopK", 11, "(float[3,7] x) => (float v, int64 i)", "k = Constant<value = int64[1] {7}>()\n v, i = TopK<sorted = 1, largest = 0>(x, k)");
  return t;
}

std::string model_text(const OpCase& c) {
  int ir = c.opset >= 21 ? 10 : c.opset >= 19 ? 9 : c.opset >= 9 ? 8 : 3;
  std::ostringstream s;
  s << "<ir_version: " << ir << ", opset_import: [\"\" : " << c.opset << "]>\ng " << c.sig << " {\n  " << c.body << "\n}\n";
  return s.str();
}

TensorValue from_proto(const onnx::TensorProto& p) { return test::value_from_proto(p); }

double value_at(const TensorValue& t, uint64_t i) {
  switch (t.dtype()) {
    case DataType::Float: return t.data<float>()[i];
    case DataType::Double: return t.data<double>()[i];
    case DataType::Float16: return exec::half_to_float(t.data<uint16_t>()[i]);
    default: return 0;
  }
}

// Runs one case in both runtimes and compares; returns false (with messages) on a mismatch.
void check_case(test::OrtHarness& ort, const OpCase& c, uint64_t seed) {
  std::string text = model_text(c);
  INFO("op " << c.op << ", seed " << seed << ", model:\n" << text);
  auto m = test::parse_or_fail(text);
  onnx::ModelProto proto = to_proto_inline(*m);
  auto inputs = test::random_inputs(proto, seed, c.ranges);
  test::OrtRun r = ort.run_model(proto, inputs);
  if (!r) FAIL("ONNX Runtime failed: " << r.error);
  std::vector<std::pair<std::string, TensorValue>> in;
  for (auto& [name, tp] : inputs) in.emplace_back(name, from_proto(tp));
  auto s = exec::Session::create(*m, {1});
  if (!s) FAIL("effopt session: " << s.error().message);
  auto out = (*s)->run(in);
  if (!out) FAIL("effopt run: " << out.error().message);
  REQUIRE(out->size() == r->outputs.size());
  for (size_t k = 0; k < out->size(); ++k) {
    TensorValue want = from_proto(r->outputs[k]);
    const TensorValue& got = (*out)[k];
    INFO("output " << k << ": effopt " << data_type_name(got.dtype()) << exec::dims_to_string(got.dims()) << ", ORT "
                   << data_type_name(want.dtype()) << exec::dims_to_string(want.dims()));
    REQUIRE(got.dtype() == want.dtype());
    REQUIRE(got.dims() == want.dims());
    bool is_float = got.dtype() == DataType::Float || got.dtype() == DataType::Double || got.dtype() == DataType::Float16;
    if (got.dtype() == DataType::String) {
      REQUIRE(want.strings().size() == want.element_count());  // compared, not two empty lists
        CHECK(got.strings() == want.strings());
      continue;
    }
    if (!is_float) {
      bool same = std::memcmp(got.raw(), want.raw(), got.byte_size()) == 0;
      if (!same) {
        std::ostringstream msg;
        for (uint64_t i = 0; i < got.byte_size() && msg.tellp() < 400; ++i)
          if (got.raw()[i] != want.raw()[i]) msg << "byte " << i << " ";
        FAIL_CHECK("integer/bool output differs at " << msg.str());
      }
      continue;
    }
    // float16 outputs are compared at float16's precision (2^-10 relative), the rounding of one conversion.
    double rtol = got.dtype() == DataType::Float16 ? 1e-3 : c.rtol, atol = c.atol;
    uint64_t bad = 0, first = 0;
    double worst = 0;
    for (uint64_t i = 0; i < got.element_count(); ++i) {
      double a = value_at(got, i), b = value_at(want, i);
      if (std::isnan(a) && std::isnan(b)) continue;
      if (std::isinf(a) && a == b) continue;
      double d = std::fabs(a - b);
      if (std::isnan(d)) d = INFINITY;
      if (!(d <= atol + rtol * std::fabs(b))) {
        if (!bad++) first = i;
        worst = std::max(worst, d);
      }
    }
    if (bad)
      FAIL_CHECK(bad << " of " << got.element_count() << " elements differ; first at " << first << ": effopt "
                     << value_at(got, first) << ", ORT " << value_at(want, first) << "; worst diff " << worst);
  }
}

// Ops with their own randomized tests against ONNX Runtime (test_exec_quant.cpp: quantization;
// test_exec_control.cpp: control flow, sequences, optionals; test_exec_rnn.cpp: RNNs): a kernel registered
// under one of these names needs no entry here.
const std::set<std::string> kCoveredElsewhere = {
    "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "QLinearConv",
    "QLinearMatMul", "QLinearAdd", "QLinearMul", "QLinearSigmoid", "QLinearLeakyRelu", "QLinearAveragePool",
    "QLinearGlobalAveragePool", "QLinearConcat", "QLinearSoftmax", "If", "Loop", "Scan", "SequenceAt",
    "SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert", "SequenceLength", "SequenceMap",
    "ConcatFromSequence", "SplitToSequence", "Optional", "OptionalGetElement", "OptionalHasElement", "LSTM", "GRU",
    "RNN",
    "com.microsoft::QLinearConv", "com.microsoft::QLinearAdd", "com.microsoft::QLinearMul",
    "com.microsoft::QLinearSigmoid", "com.microsoft::QLinearLeakyRelu", "com.microsoft::QLinearAveragePool",
    "com.microsoft::QLinearGlobalAveragePool", "com.microsoft::QLinearConcat", "com.microsoft::QLinearSoftmax",
    "com.microsoft::QLinearMatMul", "com.microsoft::DynamicQuantizeMatMul", "com.microsoft::MatMulIntegerToFloat",
    "com.microsoft::QuantizeLinear", "com.microsoft::DequantizeLinear",
};

}  // namespace

TEST_CASE("exec ops vs ONNX Runtime: every table entry matches", "[exec-ops][ort]") {
  test::OrtHarness* ort = test::ort_or_skip();
  if (!ort) return;
  auto cases = table();
  std::set<std::string> ops;
  for (auto& c : cases) ops.insert(c.op);
  static bool said = false;  // Catch2 reruns the test case once per section
  if (!std::exchange(said, true))
    WARN(cases.size() << " single-op graphs over " << ops.size() << " ops, compared with ONNX Runtime " << ort->ort_version());
  // One fixed seed per entry (its index), so a failure is reproducible from the printed seed.
  for (size_t i = 0; i < cases.size(); ++i) {
    SECTION(cases[i].op + " #" + std::to_string(i)) { check_case(*ort, cases[i], 0x5eed0000 + i); }
  }
}

TEST_CASE("exec ops vs ONNX Runtime: every registered kernel has a table entry", "[exec-ops]") {
  std::set<std::string> covered;
  for (auto& c : table()) covered.insert(c.op);
  std::vector<std::string> missing;
  for (const std::string& op : exec::KernelRegistry::builtin().op_names())
    if (!covered.count(op) && !kCoveredElsewhere.count(op)) missing.push_back(op);
  std::string list;
  for (auto& op : missing) list += " " + op;
  INFO("registered kernels without an entry in test_exec_ops_vs_ort.cpp's table:" << list);
  CHECK(missing.empty());
}

namespace {
// Runs a one-node graph on the given inputs and returns the error message (empty when it ran).
std::string run_error(const std::string& text, const std::vector<std::pair<std::string, TensorValue>>& in) {
  auto m = test::parse_or_fail(text);
  auto s = exec::Session::create(*m, {1});
  if (!s) return s.error().message;
  auto r = (*s)->run(in);
  return r ? std::string() : r.error().message;
}
TensorValue zeros(DataType dt, std::vector<int64_t> dims) {
  TensorValue t = TensorValue::allocate(dt, std::move(dims));
  if (t.byte_size()) std::memset(t.mutable_raw(), 0, t.byte_size());
  return t;
}
}  // namespace

TEST_CASE("exec ops: bad inputs give errors naming the node, never a crash", "[exec-ops]") {
  auto f = [](std::vector<int64_t> d) { return zeros(DataType::Float, std::move(d)); };
  std::string e = run_error(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] a, float[1,3] b) => (float y) { y = Einsum<equation = "ij,ij->ij">(a, b) })",
                            {{"a", f({2, 3})}, {"b", f({1, 3})}});
  CHECK_THAT(e, Catch::Contains("Einsum node") && Catch::Contains("broadcasting size-1 dims is not supported"));
  e = run_error(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] a) => (float y) { y = Einsum<equation = "ij->k">(a) })", {{"a", f({2, 3})}});
  CHECK_THAT(e, Catch::Contains("bad output subscript"));
  e = run_error(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[1,3,4,4] x, float[2,3,3,3] w) => (float y) { y = ConvTranspose(x, w) })", {{"x", f({1, 3, 4, 4})}, {"w", f({2, 3, 3, 3})}});
  CHECK_THAT(e, Catch::Contains("ConvTranspose node") && Catch::Contains("does not fit"));
  e = run_error(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[1,1,2,2] x) => (float y) {
  s = Constant<value = float[4] {1, 1, 2, 2}>()
  z = Constant<value = int64[4] {1, 1, 4, 4}>()
  y = Resize(x, , s, z)
})", {{"x", f({1, 1, 2, 2})}});
  CHECK_THAT(e, Catch::Contains("exactly one of scales and sizes"));
  e = run_error(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] x) => (float v, int64 i) {
  k = Constant<value = int64[1] {4}>()
  v, i = TopK(x, k)
})", {{"x", f({2, 3})}});
  CHECK_THAT(e, Catch::Contains("K 4 is out of range"));
  TensorValue idx = TensorValue::from_vector(DataType::Int64, {1, 2}, std::vector<int64_t>{0, 7});
  e = run_error(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] x, int64[1,2] i) => (float y) { y = GatherND(x, i) })", {{"x", f({2, 3})}, {"i", idx}});
  CHECK_THAT(e, Catch::Contains("GatherND node") && Catch::Contains("index 7 is out of range"));
  // A string tensor reaching a kernel that only moves fixed-size bytes is an error, not a crash.
  e = run_error(R"(<ir_version: 8, opset_import: ["" : 13]>
g (string[2,1] x) => (string y) { y = Transpose(x) })", {{"x", TensorValue::from_strings({2, 1}, {"a", "b"})}});
  // (Its message is still "out of memory": TensorValue::allocate refuses string types by throwing
  // std::bad_alloc, which the executor reports that way.)
  CHECK_FALSE(e.empty());
}

TEST_CASE("exec ops: ConvTranspose, 3-D Conv, Resize and Einsum are bit-identical for 1 and 3 threads", "[exec-ops]") {
  auto m = test::parse_or_fail(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[3,8,20,20] x, float[8,4,4,4] w, float[2,3,6,7,8] v, float[4,3,3,3,3] k)
  => (float a, float b, float c, float d) {
  a = ConvTranspose<strides = [2, 2], pads = [1, 1, 1, 1], group = 2>(x, w)
  s = Constant<value = float[4] {1, 1, 1.7, 2.3}>()
  b = Resize<mode = "cubic">(x, , s)
  c = Conv<pads = [1, 1, 1, 1, 1, 1]>(v, k)
  sh = Constant<value = int64[3] {3, 8, 400}>()
  c2 = Reshape(x, sh)
  d = Einsum<equation = "bcp,bdp->bcd">(c2, c2)
})");
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  auto rnd = [&](std::vector<int64_t> dims) {
    TensorValue t = TensorValue::allocate(DataType::Float, std::move(dims));
    for (uint64_t i = 0; i < t.element_count(); ++i) t.mutable_data<float>()[i] = u(rng);
    return t;
  };
  std::vector<std::pair<std::string, TensorValue>> in = {
      {"x", rnd({3, 8, 20, 20})}, {"w", rnd({8, 4, 4, 4})}, {"v", rnd({2, 3, 6, 7, 8})}, {"k", rnd({4, 3, 3, 3, 3})}};
  std::vector<std::vector<TensorValue>> outs;
  for (int threads : {1, 3}) {
    auto s = exec::Session::create(*m, {threads});
    if (!s) FAIL(s.error().message);
    auto r = (*s)->run(in);
    if (!r) FAIL(r.error().message);
    outs.push_back(*r);
  }
  for (size_t k = 0; k < outs[0].size(); ++k) {
    INFO("output " << k);
    REQUIRE(outs[0][k].byte_size() == outs[1][k].byte_size());
    CHECK(std::memcmp(outs[0][k].raw(), outs[1][k].raw(), outs[0][k].byte_size()) == 0);
  }
}

TEST_CASE("exec ops: Pad wrap with a begin pad wider than its axis is periodic; what ONNX Runtime refuses is refused", "[exec-ops]") {
  auto pad = [](const std::string& mode, const std::string& shape, const std::string& pads) {
    return "<ir_version: 8, opset_import: [\"\" : 19]>\ng (float" + shape + " x) => (float y) {\n p = Constant<value = int64[2] " +
           pads + ">()\n y = Pad<mode = \"" + mode + "\">(x, p)\n}";
  };
  auto run = [](const std::string& text, const TensorValue& x) {
    auto m = test::parse_or_fail(text);
    auto s = exec::Session::create(*m, {1});
    if (!s) FAIL(s.error().message);
    auto r = (*s)->run({{"x", x}});
    if (!r) FAIL(r.error().message);
    const TensorValue& y = (*r)[0];
    return std::vector<float>(y.data<float>(), y.data<float>() + y.element_count());
  };
  TensorValue x3 = TensorValue::from_vector(DataType::Float, {3}, std::vector<float>{1, 2, 3});
  TensorValue x4 = TensorValue::from_vector(DataType::Float, {4}, std::vector<float>{1, 2, 3, 4});
  // Hand-computed torus: output position o reads x[(o - begin) mod n]. (ONNX Runtime 1.30 leaves the
  // first begin - n positions unwritten here, so it is no reference.)
  CHECK(run(pad("wrap", "[3]", "{4, 0}"), x3) == std::vector<float>{3, 1, 2, 3, 1, 2, 3});
  CHECK(run(pad("wrap", "[3]", "{7, 2}"), x3) == std::vector<float>{3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2});
  // Negative pads crop first: [1, 2] remains, wrapped.
  CHECK(run(pad("wrap", "[4]", "{3, -2}"), x4) == std::vector<float>{2, 1, 2, 1, 2});
  // ONNX Runtime refuses these (reflecting more than once; nothing left to read; padding an empty axis).
  std::string e = run_error(pad("reflect", "[4]", "{4, 0}"), {{"x", x4}});
  CHECK_THAT(e, Catch::Contains("Pad node") && Catch::Contains("'reflect' pads at most 3 elements"));
  e = run_error(pad("reflect", "[4]", "{-2, 2}"), {{"x", x4}});
  CHECK_THAT(e, Catch::Contains("'reflect' pads at most 1 elements"));
  e = run_error(pad("edge", "[4]", "{-4, 1}"), {{"x", x4}});
  CHECK_THAT(e, Catch::Contains("Pad node") && Catch::Contains("no elements left"));
  e = run_error(pad("wrap", "[0]", "{1, 0}"), {{"x", zeros(DataType::Float, {0})}});
  CHECK_THAT(e, Catch::Contains("Pad node") && Catch::Contains("which is empty"));
  // A constant pad of a fully cropped axis is fine.
  CHECK(run(pad("constant", "[4]", "{-4, 2}"), x4) == std::vector<float>{0, 0});
}
