// ONNX Runtime 1.30 CPU operator support table (lib/ort/ort_ops.h).
//
// Every expectation here was observed with onnxruntime-node 1.30.0 (linux-x64): a one-node model with the
// given opset import either built an InferenceSession or failed ("Could not find an implementation for
// Op(N) node", "... is not a registered function/op", a deprecated-op error, or the released-opset check).
#include <catch2/catch.hpp>

#include "ort/ort_ops.h"

using effopt::ort_cpu_knows_domain;
using effopt::ort_cpu_supports;

TEST_CASE("ort_ops: common ai.onnx kernels", "[ort_ops]") {
  CHECK(ort_cpu_supports("", "Conv", 1));
  CHECK(ort_cpu_supports("", "Conv", 11));
  CHECK(ort_cpu_supports("", "Conv", 13));
  CHECK(ort_cpu_supports("", "Conv", 22));
  CHECK(ort_cpu_supports("", "Conv", 26));
  CHECK(ort_cpu_supports("", "Relu", 13));
  CHECK(ort_cpu_supports("", "Relu", 14));
  CHECK(ort_cpu_supports("", "Relu", 26));
  CHECK(ort_cpu_supports("", "Gemm", 7));
  CHECK(ort_cpu_supports("", "Gemm", 11));
  CHECK(ort_cpu_supports("", "Gemm", 13));
  CHECK(ort_cpu_supports("", "QLinearConv", 10));
  CHECK(ort_cpu_supports("", "QLinearConv", 26));
  CHECK(ort_cpu_supports("", "LayerNormalization", 17));
  CHECK(ort_cpu_supports("", "Attention", 23));
  CHECK(ort_cpu_supports("", "Gelu", 20));
  CHECK(ort_cpu_supports("", "Col2Im", 18));
  CHECK(ort_cpu_supports("", "StringSplit", 20));
  CHECK(ort_cpu_supports("", "BitCast", 26));
  CHECK(ort_cpu_supports("", "CumProd", 26));
  // Not in the stored OperatorKernels.md, but ORT 1.30 runs them.
  CHECK(ort_cpu_supports("", "NonMaxSuppression", 10));
  CHECK(ort_cpu_supports("", "NonMaxSuppression", 26));
  CHECK(ort_cpu_supports("", "DeformConv", 19));
  CHECK(ort_cpu_supports("", "Constant", 13));
}

TEST_CASE("ort_ops: the default domain may be spelled ai.onnx", "[ort_ops]") {
  CHECK(ort_cpu_supports("ai.onnx", "Relu", 13));
  CHECK_FALSE(ort_cpu_supports("ai.onnx", "Relu", 5));
}

TEST_CASE("ort_ops: ops without a CPU kernel", "[ort_ops]") {
  CHECK_FALSE(ort_cpu_supports("", "ImageDecoder", 20));
  CHECK_FALSE(ort_cpu_supports("", "ImageDecoder", 26));
  CHECK_FALSE(ort_cpu_supports("", "NoSuchOp", 13));
  // Ranges that stop: no kernel for the newer schema.
  CHECK(ort_cpu_supports("", "RoiAlign", 21));
  CHECK_FALSE(ort_cpu_supports("", "RoiAlign", 22));
  CHECK(ort_cpu_supports("", "RandomNormal", 21));
  CHECK_FALSE(ort_cpu_supports("", "RandomNormal", 22));
  CHECK_FALSE(ort_cpu_supports("", "GlobalLpPool", 22));
  CHECK(ort_cpu_supports("", "Upsample", 9));
  CHECK_FALSE(ort_cpu_supports("", "Upsample", 10));
  CHECK(ort_cpu_supports("", "Scatter", 10));
  CHECK_FALSE(ort_cpu_supports("", "Scatter", 11));
  CHECK(ort_cpu_supports("", "Affine", 9));
  CHECK_FALSE(ort_cpu_supports("", "Affine", 10));
}

TEST_CASE("ort_ops: function ops are expanded without a kernel", "[ort_ops]") {
  CHECK(ort_cpu_supports("", "HardSwish", 14));
  CHECK(ort_cpu_supports("", "HardSwish", 26));
  CHECK(ort_cpu_supports("", "Mish", 18));
  CHECK(ort_cpu_supports("", "CastLike", 15));
  CHECK(ort_cpu_supports("", "SoftmaxCrossEntropyLoss", 13));
  CHECK(ort_cpu_supports("", "Swish", 24));
  CHECK_FALSE(ort_cpu_supports("", "Swish", 25));
  CHECK(ort_cpu_supports("", "Bernoulli", 15));
  CHECK_FALSE(ort_cpu_supports("", "Bernoulli", 22));
}

TEST_CASE("ort_ops: low default-domain opsets follow the kernel ranges", "[ort_ops]") {
  // ORT 1.30 has no blanket rejection of opset < 7: these load at opset 6 ...
  CHECK(ort_cpu_supports("", "Relu", 6));
  CHECK(ort_cpu_supports("", "Abs", 6));
  CHECK(ort_cpu_supports("", "Conv", 6));
  // ... and these do not, because their first kernels are newer.
  CHECK_FALSE(ort_cpu_supports("", "Add", 6));
  CHECK_FALSE(ort_cpu_supports("", "Gemm", 6));
  CHECK_FALSE(ort_cpu_supports("", "Relu", 5));
  CHECK_FALSE(ort_cpu_supports("", "Relu", 0));
}

TEST_CASE("ort_ops: opsets newer than ORT 1.30 are rejected", "[ort_ops]") {
  CHECK_FALSE(ort_cpu_supports("", "Gemm", 27));
  CHECK(ort_cpu_supports("ai.onnx.ml", "Scaler", 5));
  CHECK_FALSE(ort_cpu_supports("ai.onnx.ml", "Scaler", 6));
  CHECK_FALSE(ort_cpu_supports("com.microsoft", "FusedConv", 2));
}

TEST_CASE("ort_ops: ai.onnx.ml", "[ort_ops]") {
  CHECK(ort_cpu_supports("ai.onnx.ml", "LabelEncoder", 2));
  CHECK(ort_cpu_supports("ai.onnx.ml", "LabelEncoder", 5));
  CHECK(ort_cpu_supports("ai.onnx.ml", "TreeEnsemble", 5));
  CHECK(ort_cpu_supports("ai.onnx.ml", "TreeEnsembleRegressor", 4));
  CHECK_FALSE(ort_cpu_supports("ai.onnx.ml", "TreeEnsembleRegressor", 5));  // deprecated in ml opset 5
}

TEST_CASE("ort_ops: com.microsoft", "[ort_ops]") {
  CHECK(ort_cpu_supports("com.microsoft", "FusedConv", 1));
  CHECK(ort_cpu_supports("com.microsoft", "QLinearConv", 1));
  CHECK(ort_cpu_supports("com.microsoft", "Gelu", 1));
  CHECK(ort_cpu_supports("com.microsoft", "MatMulNBits", 1));
  CHECK(ort_cpu_supports("com.microsoft", "Attention", 1));
  CHECK(ort_cpu_supports("com.microsoft", "QLinearAveragePool", 1));
  CHECK_FALSE(ort_cpu_supports("com.microsoft", "QLinearReduceMean", 1));
  CHECK_FALSE(ort_cpu_supports("com.microsoft", "NhwcConv", 1));
  CHECK_FALSE(ort_cpu_supports("com.microsoft", "LayerNormalization", 1));  // it is ai.onnx there
}

TEST_CASE("ort_ops: unknown domains", "[ort_ops]") {
  CHECK(ort_cpu_knows_domain(""));
  CHECK(ort_cpu_knows_domain("ai.onnx"));
  CHECK(ort_cpu_knows_domain("ai.onnx.ml"));
  CHECK(ort_cpu_knows_domain("com.microsoft"));
  CHECK_FALSE(ort_cpu_knows_domain("org.example.custom"));
  CHECK_FALSE(ort_cpu_knows_domain("ai.onnx.preview.training"));
  CHECK_FALSE(ort_cpu_supports("org.example.custom", "Foo", 1));
  CHECK_FALSE(ort_cpu_supports("ai.onnx.preview.training", "Adagrad", 1));
}
