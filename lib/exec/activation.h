// Element-wise activations shared by the standalone kernels (Sigmoid, HardSigmoid, HardSwish, Relu/Clip
// bounds) and the epilogues the Session fuses into a producing Conv (executor.cpp: Conv -> Relu / Clip /
// Sigmoid / HardSigmoid / HardSwish, and SiLU / HardSwish written as `x * Sigmoid(x)` / `x * HardSigmoid(x)`).
// One implementation per activation, vectorized (vector_clones.h), so a fused epilogue gives exactly the bits
// the unfused ops give on the same CPU: turning the executor's internal rewrites off changes no output.
#pragma once

#include <cstdint>

namespace effopt::exec {

enum class ActKind : uint8_t {
  None,
  Clamp,        // min(max(v, a), b), NaN kept (Relu: a = 0, b = inf; Clip)
  Sigmoid,      // 1 / (1 + exp(-v))
  Silu,         // v * Sigmoid(v)  (Sigmoid + Mul)
  HardSigmoid,  // max(0, min(1, a * v + b))
  HardSwishMul, // v * HardSigmoid(v) with alpha a, beta b (HardSigmoid + Mul)
  HardSwish,    // v * max(0, min(1, v / 6 + 0.5))  (the HardSwish op, opset 14)
  Tanh,         // tanh(v)
  Erf,          // erf(v)
  GeluTanh,     // 0.5 v (1 + tanh(sqrt(2 / pi) (v + 0.044715 v^3)))  (Gelu approximate="tanh", written out by GPT-2)
  GeluErf,      // 0.5 v (1 + erf(v / sqrt(2)))  (Gelu, written out as Div/Erf/Add/Mul/Mul by PyTorch below opset 20)
};

struct Activation {
  ActKind kind = ActKind::None;
  float a = 0, b = 0;  // Clamp: bounds [a, b]; HardSigmoid, HardSwishMul: alpha, beta
};

// y[i] = act(x[i]) for i < n; y may equal x. The result of each element depends only on its value (never on
// n or its position), so tails and the choice of kernel change no bits.
void apply_activation(const Activation& act, const float* x, float* y, int64_t n);

// row[i] = act(row[i] + bias) in one pass (the epilogue of a GEMM or a convolution tile).
void bias_activation_row(float* row, int64_t n, float bias, const Activation& act);

// Softmax (or LogSoftmax) of n contiguous values: the maximum, exp(x - max) (the same exp as Sigmoid's) summed
// in 16 lanes added in a fixed tree, then each exp times 1 / sum (log: x - max - log(sum)). The order of the
// operations depends only on n, never on the thread that runs the row.
void softmax_row(const float* x, float* y, int64_t n, bool log);

// LayerNormalization of n contiguous values: mean and variance summed in 16 lanes added in a fixed tree (the
// order depends only on n), y = (x - mean) * (1 / sqrt(var + eps)) * scale + bias (scale and bias n values);
// mean_out / inv_out (may be null) get the mean and 1 / sqrt(var + eps).
void layer_norm_row(const float* x, float* y, int64_t n, float eps, const float* scale, const float* bias,
                    float* mean_out, float* inv_out);

}  // namespace effopt::exec
