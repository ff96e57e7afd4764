// Vectorized activations; what they compute: activation.h.
#include "exec/activation.h"

#include <cmath>
#include <cstring>
#include <limits>

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

// tanh(x): below 0.55 in magnitude, Eigen's and ONNX Runtime's (MLAS) odd degree-13 over even degree-6
// rational approximation (x itself below 4e-4); above, sign(x) (1 - e) / (1 + e) with e = exp(-2|x|) (the
// exp above), which is exactly +-1 once e is negligible and accurate to a few ulp of 1 near saturation, where
// Gelu's 1 + tanh(u) would magnify the rational form's error. NaN stays NaN.
inline __attribute__((always_inline)) Vec tanh_vec(Vec v) {
  Vec ax = v < splat(0.f) ? -v : v;
  Vec x = clamp(v, splat(-0.55f), splat(0.55f));
  Vec x2 = x * x;
  Vec p = splat(-2.76076847742355e-16f);
  p = p * x2 + splat(2.00018790482477e-13f);
  p = p * x2 + splat(-8.60467152213735e-11f);
  p = p * x2 + splat(5.12229709037114e-08f);
  p = p * x2 + splat(1.48572235717979e-05f);
  p = p * x2 + splat(6.37261928875436e-04f);
  p = p * x2 + splat(4.89352455891786e-03f);
  Vec q = splat(1.19825839466702e-06f);
  q = q * x2 + splat(1.18534705686654e-04f);
  q = q * x2 + splat(2.26843463243900e-03f);
  q = q * x2 + splat(4.89352518554385e-03f);
  Vec small = ax < splat(4e-4f) ? x : x * p / q;
  Vec e = exp_vec(splat(-2.f) * ax);
  Vec big = (splat(1.f) - e) / (splat(1.f) + e);
  big = v < splat(0.f) ? -big : big;
  return ax < splat(0.55f) ? small : big;
}

// erf(x): Eigen's odd degree-13 over even degree-8 rational approximation on x clamped to [-4, 4], and exactly
// +-1 from |x| = 3.92 on (where erf(x) rounds to +-1 in float32). Measured within 4.3e-7 of erf in double on
// [-10, 10] (the largest error near |x| = 3.3); NaN stays NaN.
inline __attribute__((always_inline)) Vec erf_vec(Vec v) {
  Vec x = clamp(v, splat(-4.f), splat(4.f));
  Vec x2 = x * x;
  Vec p = splat(-2.72614225801306e-10f);
  p = p * x2 + splat(2.77068142495902e-08f);
  p = p * x2 + splat(-2.10102402082508e-06f);
  p = p * x2 + splat(-5.69250639462346e-05f);
  p = p * x2 + splat(-7.34990630326855e-04f);
  p = p * x2 + splat(-2.95459980854025e-03f);
  p = p * x2 + splat(-1.60960333262415e-02f);
  Vec q = splat(-1.45660718464996e-05f);
  q = q * x2 + splat(-2.13374055278905e-04f);
  q = q * x2 + splat(-1.68282697438203e-03f);
  q = q * x2 + splat(-7.37332916720468e-03f);
  q = q * x2 + splat(-1.42647390514189e-02f);
  Vec r = clamp(x * p / q, splat(-1.f), splat(1.f));
  r = v >= splat(3.92f) ? splat(1.f) : r;
  return v <= splat(-3.92f) ? splat(-1.f) : r;
}

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
  if constexpr (K == ActKind::Tanh) return tanh_vec(v);
  if constexpr (K == ActKind::Erf) return erf_vec(v);
  if constexpr (K == ActKind::GeluTanh)
    return splat(0.5f) * v * (splat(1.f) + tanh_vec(splat(0.7978845608028654f) * (v + splat(0.044715f) * v * v * v)));
  if constexpr (K == ActKind::GeluErf) return splat(0.5f) * v * (splat(1.f) + erf_vec(v * splat(0.7071067811865476f)));
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

// x[i, i + 16) with the elements at or past n replaced by `pad`.
inline __attribute__((always_inline)) Vec load_padded(const float* x, int64_t i, int64_t n, float pad) {
  Vec v;
  if (i + kLanes <= n) {
    std::memcpy(&v, x + i, sizeof v);
  } else {
    float part[kLanes];
    for (int64_t k = 0; k < kLanes; ++k) part[k] = i + k < n ? x[i + k] : pad;
    std::memcpy(&v, part, sizeof v);
  }
  return v;
}

// y[i, min(i + 16, n)) = v's first lanes.
inline __attribute__((always_inline)) void store_part(float* y, int64_t i, int64_t n, Vec v) {
  if (i + kLanes <= n) {
    std::memcpy(y + i, &v, sizeof v);
  } else {
    float part[kLanes];
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
    case ActKind::Tanh: map<ActKind::Tanh, Bias>(x, y, n, bias, act.a, act.b); break;
    case ActKind::Erf: map<ActKind::Erf, Bias>(x, y, n, bias, act.a, act.b); break;
    case ActKind::GeluTanh: map<ActKind::GeluTanh, Bias>(x, y, n, bias, act.a, act.b); break;
    case ActKind::GeluErf: map<ActKind::GeluErf, Bias>(x, y, n, bias, act.a, act.b); break;
  }
}

}  // namespace

EFFOPT_VECTOR_CLONES void apply_activation(const Activation& act, const float* x, float* y, int64_t n) {
  dispatch<false>(act, x, y, n, 0.f);
}

EFFOPT_VECTOR_CLONES void bias_activation_row(float* row, int64_t n, float bias, const Activation& act) {
  dispatch<true>(act, row, row, n, bias);
}

EFFOPT_VECTOR_CLONES void softmax_row(const float* x, float* y, int64_t n, bool log) {
  if (n <= 0) return;
  const float inf = std::numeric_limits<float>::infinity();
  const Vec neg_inf = splat(-inf);
  // The maximum: std::max's rule, a NaN never wins (it makes the sum NaN below, as in the scalar loop).
  Vec mv = neg_inf;
  for (int64_t i = 0; i < n; i += kLanes) {
    Vec v = load_padded(x, i, n, -inf);
    mv = v > mv ? v : mv;
  }
  float m = mv[0];
  for (int k = 1; k < kLanes; ++k) m = mv[k] > m ? mv[k] : m;
  const Vec mb = splat(m);
  // exp(x - max), stored, summed in 16 lanes; the tail's -inf padding and -inf inputs (a causal mask) give 0
  // (exp_vec clamps its argument, so e^-inf is selected, not computed).
  Vec sv{};
  for (int64_t i = 0; i < n; i += kLanes) {
    Vec v = load_padded(x, i, n, -inf);
    Vec e = exp_vec(v - mb);
    e = v == neg_inf ? Vec{} : e;
    sv += e;
    if (!log) store_part(y, i, n, e);
  }
  float lanes[kLanes];  // lanes added in a fixed tree: 16 -> 8 -> 4 -> 2 -> 1
  std::memcpy(lanes, &sv, sizeof sv);
  for (int w = kLanes / 2; w >= 1; w /= 2)
    for (int k = 0; k < w; ++k) lanes[k] += lanes[k + w];
  const float sum = lanes[0];
  if (log) {
    const float shift = m + std::log(sum);
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] - shift;
  } else {
    const float inv = 1.f / sum;
    for (int64_t i = 0; i < n; ++i) y[i] *= inv;
  }
}

namespace {
// The 16 lanes of v added in a fixed tree: 16 -> 8 -> 4 -> 2 -> 1.
inline __attribute__((always_inline)) float lane_sum(Vec v) {
  float lanes[kLanes];
  std::memcpy(lanes, &v, sizeof v);
  for (int w = kLanes / 2; w >= 1; w /= 2)
    for (int k = 0; k < w; ++k) lanes[k] += lanes[k + w];
  return lanes[0];
}
}  // namespace

EFFOPT_VECTOR_CLONES void layer_norm_row(const float* x, float* y, int64_t n, float eps, const float* scale,
                                         const float* bias, float* mean_out, float* inv_out) {
  if (n <= 0) return;
  Vec sv{};
  for (int64_t i = 0; i < n; i += kLanes) sv += load_padded(x, i, n, 0.f);
  const float mean = lane_sum(sv) / static_cast<float>(n);
  const Vec mb = splat(mean);
  Vec qv{};
  for (int64_t i = 0; i < n; i += kLanes) {
    Vec d = load_padded(x, i, n, mean) - mb;  // the padding gives d = 0
    qv += d * d;
  }
  const float inv = 1.f / std::sqrt(lane_sum(qv) / static_cast<float>(n) + eps);
  const Vec ib = splat(inv);
  for (int64_t i = 0; i < n; i += kLanes) {
    Vec d = load_padded(x, i, n, mean) - mb;
    Vec v = d * ib * load_padded(scale, i, n, 0.f) + load_padded(bias, i, n, 0.f);
    store_part(y, i, n, v);
  }
  if (mean_out) *mean_out = mean;
  if (inv_out) *inv_out = inv;
}

}  // namespace effopt::exec
