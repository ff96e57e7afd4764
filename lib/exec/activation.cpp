// Vectorized activations; what they compute: activation.h.
#include "exec/activation.h"

#include <cstring>

#include "exec/vector_clones.h"

// The vector helpers below are always inlined into the cloned functions: no vector crosses a call, so the
// ABI note GCC gives for 64-byte vector arguments and returns does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace effopt::exec {

namespace {

// 16 floats: one zmm on AVX-512, two ymm on AVX2, four xmm otherwise (vector_clones.h).
constexpr int64_t kLanes = 16;
using Vec = float __attribute__((vector_size(kLanes * sizeof(float))));
using IVec = int32_t __attribute__((vector_size(kLanes * sizeof(int32_t))));

inline __attribute__((always_inline)) Vec splat(float v) { return Vec{} + v; }

// min(max(v, lo), hi) as std::min(std::max(v, lo), hi): a NaN v stays NaN (a comparison with NaN is false).
inline __attribute__((always_inline)) Vec clamp(Vec v, Vec lo, Vec hi) {
  v = v < lo ? lo : v;
  return hi < v ? hi : v;
}

// exp(x), Cephes' expf: x = n ln2 + r with |r| <= ln2 / 2, a degree-6 polynomial for e^r, times 2^n built in
// the exponent bits. Within 2 ulp of the true value on the clamped range [-87.3, 88.37] (e^x underflows to
// subnormals below it; e^88.72 overflows); NaN stays NaN.
inline __attribute__((always_inline)) Vec exp_vec(Vec x) {
  x = clamp(x, splat(-87.3f), splat(88.37f));
  // n = round(x / ln2) by the 1.5 * 2^23 trick (round to nearest, exact for |n| < 2^22)
  const Vec magic = splat(12582912.f);
  Vec n = (x * splat(1.44269504088896341f) + magic) - magic;
  Vec r = x - n * splat(0.693359375f) - n * splat(-2.12194440e-4f);
  Vec p = splat(1.9875691500e-4f);
  p = p * r + splat(1.3981999507e-3f);
  p = p * r + splat(8.3334519073e-3f);
  p = p * r + splat(4.1665795894e-2f);
  p = p * r + splat(1.6666665459e-1f);
  p = p * r + splat(5.0000001201e-1f);
  Vec e = p * (r * r) + r + splat(1.f);
  IVec bits = (__builtin_convertvector(n, IVec) + 127) << 23;  // 2^n, n in [-126, 127]
  Vec scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return e * scale;
}

inline __attribute__((always_inline)) Vec sigmoid_vec(Vec v) { return splat(1.f) / (splat(1.f) + exp_vec(-v)); }

// max(0, min(1, t)) as std::max(0.f, std::min(1.f, t)): a NaN t gives 1 (the unfused kernels' rule)
inline __attribute__((always_inline)) Vec unit(Vec t) {
  t = t < splat(1.f) ? t : splat(1.f);
  return splat(0.f) < t ? t : splat(0.f);
}

template <ActKind K>
inline __attribute__((always_inline)) Vec act_vec(Vec v, Vec a, Vec b) {
  if constexpr (K == ActKind::Clamp) return clamp(v, a, b);
  if constexpr (K == ActKind::Sigmoid) return sigmoid_vec(v);
  if constexpr (K == ActKind::Silu) return v * sigmoid_vec(v);
  if constexpr (K == ActKind::HardSigmoid) return unit(a * v + b);
  if constexpr (K == ActKind::HardSwishMul) return v * unit(a * v + b);
  if constexpr (K == ActKind::HardSwish) return v * unit(v / splat(6.f) + splat(0.5f));
  return v;
}

// y[i] = act(x[i] + bias): whole vectors, then the tail through a zero-padded vector (same operations).
template <ActKind K, bool Bias>
inline __attribute__((always_inline)) void map(const float* x, float* y, int64_t n, float bias, float a_s,
                                               float b_s) {
  const Vec a = splat(a_s), b = splat(b_s), bv = splat(bias);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    Vec v;
    std::memcpy(&v, x + i, sizeof v);
    if constexpr (Bias) v += bv;
    v = act_vec<K>(v, a, b);
    std::memcpy(y + i, &v, sizeof v);
  }
  if (i < n) {
    float part[kLanes] = {};
    std::memcpy(part, x + i, static_cast<size_t>(n - i) * sizeof(float));
    Vec v;
    std::memcpy(&v, part, sizeof v);
    if constexpr (Bias) v += bv;
    v = act_vec<K>(v, a, b);
    std::memcpy(part, &v, sizeof v);
    std::memcpy(y + i, part, static_cast<size_t>(n - i) * sizeof(float));
  }
}

template <bool Bias>
inline __attribute__((always_inline)) void dispatch(const Activation& act, const float* x, float* y, int64_t n,
                                                    float bias) {
  switch (act.kind) {
    case ActKind::None: map<ActKind::None, Bias>(x, y, n, bias, act.a, act.b); break;
    case ActKind::Clamp: map<ActKind::Clamp, Bias>(x, y, n, bias, act.a, act.b); break;
    case ActKind::Sigmoid: map<ActKind::Sigmoid, Bias>(x, y, n, bias, act.a, act.b); break;
    case ActKind::Silu: map<ActKind::Silu, Bias>(x, y, n, bias, act.a, act.b); break;
    case ActKind::HardSigmoid: map<ActKind::HardSigmoid, Bias>(x, y, n, bias, act.a, act.b); break;
    case ActKind::HardSwishMul: map<ActKind::HardSwishMul, Bias>(x, y, n, bias, act.a, act.b); break;
    case ActKind::HardSwish: map<ActKind::HardSwish, Bias>(x, y, n, bias, act.a, act.b); break;
  }
}

}  // namespace

EFFOPT_VECTOR_CLONES void apply_activation(const Activation& act, const float* x, float* y, int64_t n) {
  dispatch<false>(act, x, y, n, 0.f);
}

EFFOPT_VECTOR_CLONES void bias_activation_row(float* row, int64_t n, float bias, const Activation& act) {
  dispatch<true>(act, row, row, n, bias);
}

}  // namespace effopt::exec
