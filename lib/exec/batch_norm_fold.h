// Folding an inference BatchNormalization into the Conv, ConvTranspose, Gemm
// or MatMul before it: the one set of applicability checks and the one
// computation of the folded weights, used by the fuse-conv-bn and
// fuse-matmul-bn passes and by the executor's load-time fold
// (RunOptions::fold_batch_norm).
//
//   y = P(x, W[, b]);  z = BatchNormalization(y, gamma, beta, mean, var)
//   becomes  z = P(x, W', b')  with, per output channel c,
//   s[c] = gamma[c] / sqrt(var[c] + eps),  W' = W * s  along W's output-channel
//   axis,  b'[c] = (b[c] - mean[c]) * s[c] + beta[c]  (b = 0 when absent).
//
// Output-channel axis of W: Conv [M, C/group, k...] axis 0; ConvTranspose
// [Cin, Cout/group, k...] axis 1 per group (output channel g * Cout/group + j
// of input channel i, g = i / (Cin/group)); Gemm B [K, F] axis 1, or axis 0
// with transB; MatMul B [K, F] axis 1. For Gemm, b = beta_attr * C (C absent,
// a scalar, [1], [F], [1, 1] or [1, F]): the folded Gemm's beta must be 1.
// Everything is computed in double and rounded once to W's type.
//
// Applies when (else `refusal` says why, about the producer or the BN):
//  - structure: bn is a default-domain BatchNormalization with its 5 inputs,
//    reading output 0 of `producer` (default domain, same graph), which feeds
//    nothing else and is no graph output in any scope;
//  - inference mode: training_mode 0, is_test 1 before opset 7, spatial 1
//    before opset 9, and outputs 1..4 absent or unused;
//  - constants: W, b (Conv/ConvTranspose), C (Gemm) and the four BN
//    parameters are fixed constants (ir/constants.h: fixed_constant_tensor,
//    so never an initializer a feed can override);
//  - types: W is float, double or float16 (is_ieee_float_type) and every other
//    tensor has W's type;
//  - shapes: the BN parameters and b are [channels]; Conv/ConvTranspose W has
//    rank >= 3 (ConvTranspose: Cin divisible by group); Gemm/MatMul B is 2-D,
//    MatMul's A is known to be 2-D (so BN's axis 1 is the feature axis), and
//    the opset is at least 7 (a Gemm with a [F] bias broadcasts it from then on).
#pragma once

#include <cstdint>
#include <string>

#include "ir/ir.h"

namespace effopt::exec {

struct BatchNormFold {
  std::string refusal;            // empty when the fold applies
  const Node* refused = nullptr;  // the node the refusal is about (producer or BN)
  TensorPtr weight;               // W': W's dims and type
  TensorPtr bias;                 // b': [channels], W's type
  explicit operator bool() const { return refusal.empty(); }
};

// Folds `bn` into `producer` (Conv, ConvTranspose, Gemm or MatMul) at `opset`
// (the default domain's, where the nodes are). `model` decides which
// initializers a feed can override.
BatchNormFold fold_batch_norm(const Node& producer, const Node& bn, int64_t opset, const Model& model);

}  // namespace effopt::exec
