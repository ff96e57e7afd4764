// Depthwise convolution kernels; what they compute and how: conv_depthwise.h.
#include "exec/conv_depthwise.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "exec/vector_clones.h"

namespace effopt::exec {

namespace {

std::atomic<DepthwiseKernel> g_kernel{DepthwiseKernel::ByShape};

// One depthwise plane. The input is copied once into a zero-padded buffer split into sW column phases
// (phase p holds padded columns p, p + sW, ...), so every kernel tap reads a contiguous run with no bounds
// checks. Outputs are computed kDepthwiseBlock columns at a time in vector registers: every tap is one
// multiply-add over the block, and the block is stored once (with the fused activation), instead of a load
// and a store of the output row per tap. Each output element sees bias, then the taps in (kh, kw) order,
// whatever the thread count. Vectors are 16 floats: one zmm on AVX-512, two ymm on AVX2, four xmm otherwise
// (vector_clones.h).

constexpr int64_t kDepthwiseBlock = 16;

using Vec = float __attribute__((vector_size(kDepthwiseBlock * sizeof(float))));

// Transposes a 16x16 block held as 16 vectors, in registers: at step b (8, 4, 2, 1) rows i and i + b swap
// their off-diagonal b x b blocks. Inlined into each vector version (vectors pass by pointer: no vector ABI).
#define EFFOPT_LO(b, t) (((t) & (b)) ? 16 + (t) - (b) : (t))
#define EFFOPT_HI(b, t) (((t) & (b)) ? 16 + (t) : (t) + (b))
// __builtin_shufflevector (GCC 12 and clang) takes the lane indices as constant arguments.
#define EFFOPT_LANES(F, b)                                                                             \
  F(b, 0), F(b, 1), F(b, 2), F(b, 3), F(b, 4), F(b, 5), F(b, 6), F(b, 7), F(b, 8), F(b, 9), F(b, 10), \
      F(b, 11), F(b, 12), F(b, 13), F(b, 14), F(b, 15)
static_assert(kDepthwiseBlock == 16, "transpose16 is written for 16 lanes");
template <int B>
inline __attribute__((always_inline)) void transpose_step(Vec* r) {
  for (int i = 0; i < 16; ++i)
    if (!(i & B)) {
      Vec a = r[i], c = r[i + B];
      r[i] = __builtin_shufflevector(a, c, EFFOPT_LANES(EFFOPT_LO, B));
      r[i + B] = __builtin_shufflevector(a, c, EFFOPT_LANES(EFFOPT_HI, B));
    }
}
inline __attribute__((always_inline)) void transpose16(Vec* r) {
  transpose_step<8>(r);
  transpose_step<4>(r);
  transpose_step<2>(r);
  transpose_step<1>(r);
}
#undef EFFOPT_LANES
#undef EFFOPT_HI
#undef EFFOPT_LO

// The output rows of one plane; KT > 0: the tap count is a constant (unrolled, weights in registers).
template <int64_t KT>
inline __attribute__((always_inline)) void plane_rows(const float* phases, const int64_t* tap_rt, const float* w_rt,
                                                      int64_t K_rt, float bias, const Geometry& g, int64_t PW,
                                                      bool clamp, float lo, float hi, float* y) {
  constexpr int64_t KMax = KT > 0 ? KT : 1;
  const int64_t K = KT > 0 ? KT : K_rt;
  // Local copies: the compiler cannot keep weights read through a pointer in registers across the stores to y.
  float w_fixed[KMax];
  int64_t tap_fixed[KMax];
  if constexpr (KT > 0)
    for (int64_t k = 0; k < KT; ++k) w_fixed[k] = w_rt[k], tap_fixed[k] = tap_rt[k];
  const float* w = KT > 0 ? w_fixed : w_rt;
  const int64_t* tap = KT > 0 ? tap_fixed : tap_rt;
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    float* out = y + oh * g.OW;
    const float* rows = phases + oh * g.sH * PW;
    for (int64_t ow0 = 0; ow0 < g.OW; ow0 += kDepthwiseBlock) {
      Vec acc = Vec{} + bias;
      for (int64_t k = 0; k < K; ++k) {
        Vec v;
        std::memcpy(&v, rows + tap[k] + ow0, sizeof v);
        acc += w[k] * v;
      }
      if (clamp) {
        Vec vlo = Vec{} + lo, vhi = Vec{} + hi;
        // min(max(v, lo), hi) keeping NaN, as clamp_inplace: a comparison with NaN is false
        acc = acc < vlo ? vlo : acc;
        acc = acc > vhi ? vhi : acc;
      }
      int64_t n = g.OW - ow0;
      if (n >= kDepthwiseBlock) {
        std::memcpy(out + ow0, &acc, sizeof acc);  // one vector store (a variable-size copy costs more)
      } else {
        float part[kDepthwiseBlock];
        std::memcpy(part, &acc, sizeof acc);
        for (int64_t i = 0; i < n; ++i) out[ow0 + i] = part[i];
      }
    }
  }
}

EFFOPT_VECTOR_CLONES void depthwise_plane(const float* x, const float* w, float bias, const Geometry& g,
                                          bool clamp, float lo, float hi, float* y) {
  int64_t Hp = std::max(g.H + g.pt, (g.OH - 1) * g.sH + (g.kH - 1) * g.dH + 1);
  int64_t Wp = std::max(g.W + g.pl, (g.OW - 1) * g.sW + (g.kW - 1) * g.dW + 1);
  int64_t PW = (Wp + g.sW - 1) / g.sW + 1;  // columns per phase
  thread_local std::vector<float> buf;
  // kDepthwiseBlock of slack: the last block of a row reads past its end (into lanes it never stores).
  size_t need = static_cast<size_t>(g.sW * Hp * PW + kDepthwiseBlock);
  if (buf.size() < need) buf.resize(need);
  float* phases = buf.data();
  // Zero only what no input lands on (the padding rows and columns), then copy each input row into its
  // phases: a plain copy for stride 1, an even/odd split in vector registers for stride 2.
  for (int64_t p = 0; p < g.sW; ++p) {
    float* phase = phases + p * Hp * PW;
    int64_t i0 = g.pl > p ? (g.pl - p + g.sW - 1) / g.sW : 0;  // padded column p + sW * i0 is input column iw0
    int64_t iw0 = p + g.sW * i0 - g.pl, n = iw0 < g.W ? (g.W - iw0 + g.sW - 1) / g.sW : 0;
    std::fill(phase, phase + g.pt * PW, 0.f);
    for (int64_t ih = 0; ih < g.H; ++ih) {
      const float* src = x + ih * g.W + iw0;
      float* dst = phase + (ih + g.pt) * PW;
      std::fill(dst, dst + i0, 0.f);
      dst += i0;
      int64_t k = 0;
      if (g.sW == 1) {
        std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
        k = n;
      } else if (g.sW == 2) {
        for (; 2 * (k + kDepthwiseBlock) <= g.W - iw0; k += kDepthwiseBlock) {  // reads stay inside the row
          Vec lo_half, hi_half;
          std::memcpy(&lo_half, src + 2 * k, sizeof lo_half);
          std::memcpy(&hi_half, src + 2 * k + kDepthwiseBlock, sizeof hi_half);
          Vec v = __builtin_shufflevector(lo_half, hi_half, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
          std::memcpy(dst + k, &v, sizeof v);
        }
      }
      for (; k < n; ++k) dst[k] = src[g.sW * k];
      std::fill(dst + n, phase + (ih + g.pt + 1) * PW, 0.f);
    }
    std::fill(phase + (g.H + g.pt) * PW, phase + Hp * PW, 0.f);
  }
  std::fill(phases + g.sW * Hp * PW, phases + need, 0.f);  // the slack
  // Where each tap reads, relative to its output row's first input row (no divisions in the loop below).
  thread_local std::vector<int64_t> tap;
  tap.resize(static_cast<size_t>(g.kH * g.kW));
  for (int64_t kh = 0; kh < g.kH; ++kh)
    for (int64_t kw = 0; kw < g.kW; ++kw) {
      int64_t c = kw * g.dW;
      tap[kh * g.kW + kw] = ((c % g.sW) * Hp + kh * g.dH) * PW + c / g.sW;
    }
  int64_t K = g.kH * g.kW;
  // 3x3 and 5x5 (EfficientNet's and MobileNetV3's): taps unrolled, weights and offsets in registers
  if (K == 9) plane_rows<9>(phases, tap.data(), w, K, bias, g, PW, clamp, lo, hi, y);
  else if (K == 25) plane_rows<25>(phases, tap.data(), w, K, bias, g, PW, clamp, lo, hi, y);
  else plane_rows<0>(phases, tap.data(), w, K, bias, g, PW, clamp, lo, hi, y);
}

// The output pixels of one channel block, [P][16]; KT > 0: the tap count is a constant (unrolled, weight
// vectors in registers).
template <int64_t KT>
inline __attribute__((always_inline)) void block_pixels(const float* in, const float* wt, const int64_t* tap_rt,
                                                        int64_t K_rt, const Vec& b, const Geometry& g, int64_t Wp,
                                                        bool clamp, float lo, float hi, float* out) {
  constexpr int64_t L = kDepthwiseBlock, KMax = KT > 0 ? KT : 1;
  const int64_t K = KT > 0 ? KT : K_rt;
  Vec w_fixed[KMax];
  int64_t tap_fixed[KMax];
  if constexpr (KT > 0)
    for (int64_t k = 0; k < KT; ++k) std::memcpy(&w_fixed[k], wt + k * L, sizeof(Vec)), tap_fixed[k] = tap_rt[k];
  const int64_t* tap = KT > 0 ? tap_fixed : tap_rt;
  Vec vlo = Vec{} + lo, vhi = Vec{} + hi;
  // U output pixels at once: U independent chains of multiply-adds (one chain waits on each add's latency),
  // each pixel's operations unchanged, so the bits do not depend on U.
  auto pixels = [&]<int U>(int64_t oh, int64_t ow) __attribute__((always_inline)) {
    Vec acc[U];
    for (int u = 0; u < U; ++u) acc[u] = b;
    const float* corner = in + (oh * g.sH * Wp + ow * g.sW) * L;
    for (int64_t k = 0; k < K; ++k) {
      Vec wv;
      if constexpr (KT > 0) wv = w_fixed[k];
      else std::memcpy(&wv, wt + k * L, sizeof wv);
      for (int u = 0; u < U; ++u) {
        Vec xv;
        std::memcpy(&xv, corner + u * g.sW * L + tap[k], sizeof xv);
        acc[u] += wv * xv;
      }
    }
    for (int u = 0; u < U; ++u) {
      if (clamp) {
        acc[u] = acc[u] < vlo ? vlo : acc[u];
        acc[u] = acc[u] > vhi ? vhi : acc[u];
      }
      std::memcpy(out + (oh * g.OW + ow + u) * L, &acc[u], sizeof acc[u]);
    }
  };
  constexpr int U = 4;
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    int64_t ow = 0;
    for (; ow + U <= g.OW; ow += U) pixels.template operator()<U>(oh, ow);
    for (; ow < g.OW; ++ow) pixels.template operator()<1>(oh, ow);
  }
}

// Depthwise over a block of kDepthwiseBlock output channels with the vectors across channels (as ONNX
// Runtime's NCHWc kernels do): for small planes, where a row of the plane kernel above fills a fraction
// of a vector and the per-plane copy dominates. The block's inputs are transposed into a zero-padded
// [Hp][Wp][lanes] buffer, every output position is one vector per tap, and the results are transposed
// back. Each output element sees the same operations in the same order as in depthwise_plane, so the
// two kernels give the same bits and the choice between them (by shape only) changes nothing.
EFFOPT_VECTOR_CLONES void depthwise_channel_block(const float* x, int64_t mult, int64_t m0, int64_t M, const float* w,
                                                  const float* bias, const Geometry& g, bool clamp, float lo,
                                                  float hi, float* y) {
  constexpr int64_t L = kDepthwiseBlock;
  int64_t Hp = std::max(g.H + g.pt, (g.OH - 1) * g.sH + (g.kH - 1) * g.dH + 1);
  int64_t Wp = std::max(g.W + g.pl, (g.OW - 1) * g.sW + (g.kW - 1) * g.dW + 1);
  int64_t HW = g.H * g.W, P = g.OH * g.OW, K = g.kH * g.kW;
  int64_t lanes = std::min(L, M - m0);
  // float buffers with unaligned vector loads: a vector type as a template argument loses its alignment
  thread_local std::vector<float> in, out, wt;
  in.assign(static_cast<size_t>(Hp * Wp * L), 0.f);
  if (out.size() < static_cast<size_t>(P * L)) out.resize(static_cast<size_t>(P * L));
  wt.assign(static_cast<size_t>(K * L), 0.f);
  float lane_bias[L] = {};
  const float* plane[L];  // each lane's input plane (lanes past the last channel repeat it)
  for (int64_t l = 0; l < L; ++l) plane[l] = x + ((m0 + std::min(l, lanes - 1)) / mult) * HW;
  for (int64_t l = 0; l < lanes; ++l) {
    int64_t m = m0 + l;
    for (int64_t k = 0; k < K; ++k) wt[k * L + l] = w[m * K + k];
    lane_bias[l] = bias ? bias[m] : 0.f;
  }
  // Transpose in: 16 pixels x 16 channels per register transpose into pixel-major rows, then each image
  // row into its padded place.
  thread_local std::vector<float> pix;
  if (pix.size() < static_cast<size_t>(HW * L)) pix.resize(static_cast<size_t>(HW * L));
  int64_t q = 0;
  for (; q + L <= HW; q += L) {
    Vec r[L];
    for (int64_t l = 0; l < L; ++l) std::memcpy(&r[l], plane[l] + q, sizeof(Vec));
    transpose16(r);
    for (int64_t i = 0; i < L; ++i) std::memcpy(pix.data() + (q + i) * L, &r[i], sizeof(Vec));
  }
  for (; q < HW; ++q)
    for (int64_t l = 0; l < L; ++l) pix[q * L + l] = plane[l][q];
  for (int64_t ih = 0; ih < g.H; ++ih)
    std::memcpy(in.data() + ((ih + g.pt) * Wp + g.pl) * L, pix.data() + ih * g.W * L,
                static_cast<size_t>(g.W * L) * sizeof(float));
  Vec b;
  std::memcpy(&b, lane_bias, sizeof b);
  thread_local std::vector<int64_t> tap;  // where each tap reads, relative to the window's corner
  tap.resize(static_cast<size_t>(K));
  for (int64_t kh = 0; kh < g.kH; ++kh)
    for (int64_t kw = 0; kw < g.kW; ++kw) tap[kh * g.kW + kw] = (kh * g.dH * Wp + kw * g.dW) * L;
  if (K == 9) block_pixels<9>(in.data(), wt.data(), tap.data(), K, b, g, Wp, clamp, lo, hi, out.data());  // 3x3
  else if (K == 25) block_pixels<25>(in.data(), wt.data(), tap.data(), K, b, g, Wp, clamp, lo, hi, out.data());
  else block_pixels<0>(in.data(), wt.data(), tap.data(), K, b, g, Wp, clamp, lo, hi, out.data());
  // Transpose out: 16 pixels at a time back into the channels' planes.
  int64_t p = 0;
  for (; p + L <= P; p += L) {
    Vec r[L];
    for (int64_t i = 0; i < L; ++i) std::memcpy(&r[i], out.data() + (p + i) * L, sizeof(Vec));
    transpose16(r);
    for (int64_t l = 0; l < lanes; ++l) std::memcpy(y + (m0 + l) * P + p, &r[l], sizeof(Vec));
  }
  for (; p < P; ++p)
    for (int64_t l = 0; l < lanes; ++l) y[(m0 + l) * P + p] = out[p * L + l];
}

}  // namespace

void set_depthwise_kernel(DepthwiseKernel k) { g_kernel = k; }

void depthwise_conv2d(ThreadPool& pool, const float* x, const float* w, const float* bias, int64_t N, int64_t C,
                      int64_t M, const Geometry& g, const Activation& act, float* y) {
  int64_t mult = M / C, HW = g.H * g.W, P = g.OH * g.OW;
  // A clamp runs in registers; other activations in one pass over the task's output, still in cache.
  bool clamp = act.kind == ActKind::Clamp;
  float lo = act.a, hi = act.b;
  bool post = act.kind != ActKind::None && !clamp;
  DepthwiseKernel k = g_kernel;
  // Output rows narrower than two vectors: channel blocks. The plane kernel computes whole 16-column vectors,
  // so a 17-wide row (EfficientNet-B2's 17x17 layers) fills 17 of 32 lanes; measured 1.1-2.2x faster for
  // mobilenet's 14x14 and 7x7 layers, 1.2-1.5x for 17x17 (3x3 and 5x5), even at 28 wide, slower from 65 wide.
  // With 5x5 and larger kernels blocks also win up to 47 wide (33 wide: 0.55 vs 0.70 ms; 3x3 there: planes
  // 0.14 vs 0.16 ms). docs/executor.md has the measurements.
  if (k == DepthwiseKernel::ByShape) {
    bool narrow = g.OW < 2 * kDepthwiseBlock || (g.kH * g.kW >= 25 && g.OW < 3 * kDepthwiseBlock);
    k = narrow ? DepthwiseKernel::ChannelBlocks : DepthwiseKernel::Planes;
  }
  if (k == DepthwiseKernel::ChannelBlocks) {
    int64_t blocks = chunk_count(M, kDepthwiseBlock);
    pool.parallel_for(N * blocks, [&](int64_t t) {
      int64_t n = t / blocks, m0 = (t % blocks) * kDepthwiseBlock;
      depthwise_channel_block(x + n * C * HW, mult, m0, M, w, bias, g, clamp, lo, hi, y + n * M * P);
      if (post) {
        float* out = y + (n * M + m0) * P;
        apply_activation(act, out, out, std::min(kDepthwiseBlock, M - m0) * P);
      }
    });
    return;
  }
  pool.parallel_for(N * M, [&](int64_t t) {
    int64_t n = t / M, m = t % M, c = m / mult;
    float* out = y + (n * M + m) * P;
    depthwise_plane(x + (n * C + c) * HW, w + m * g.kH * g.kW, bias ? bias[m] : 0.f, g, clamp, lo, hi, out);
    if (post) apply_activation(act, out, out, P);
  });
}

}  // namespace effopt::exec
