// Neural-network kernels: Conv (oneDNN's convolution primitives, conv_dnnl.h;
// fallback and reference: im2col + GEMM; depthwise in conv_depthwise.h),
// Gemm, MatMul, pooling, Softmax, normalizations, Reduce*.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "exec/activation.h"
#include "exec/conv_depthwise.h"
#include "exec/conv_dnnl.h"
#include "exec/conv_geometry.h"
#include "exec/gemm.h"
#include "exec/kernel_registry.h"
#include "ir/constants.h"
#include "exec/kernels_nd.h"
#include "exec/vector_clones.h"

namespace effopt::exec {

// Geometry (conv_geometry.h) is shared with the quantized convolutions.

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, bool ceil_mode) {
  int64_t eff = (k - 1) * d + 1;
  int64_t num = in + pb + pe - eff;
  if (num < 0) return 0;
  int64_t o = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
  if (ceil_mode && (o - 1) * s >= in + pb) --o;  // the last window must start inside the input
  return o;
}

Status resolve_auto_pad(const KernelContext& ctx, const std::vector<int64_t>& in, const std::vector<int64_t>& kernel,
                        const std::vector<int64_t>& strides, const std::vector<int64_t>& dilations,
                        std::vector<int64_t>& pads) {
  size_t sp = in.size();
  std::string auto_pad = ctx.node.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t i = 0; i < sp; ++i) {
      int64_t o = (in[i] + strides[i] - 1) / strides[i];
      int64_t total = std::max<int64_t>(0, (o - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - in[i]);
      int64_t small = total / 2, big = total - small;
      pads[i] = auto_pad == "SAME_UPPER" ? small : big;
      pads[i + sp] = auto_pad == "SAME_UPPER" ? big : small;
    }
  } else if (auto_pad == "VALID") {
    std::fill(pads.begin(), pads.end(), 0);
  } else if (auto_pad != "NOTSET" && !auto_pad.empty()) {
    return ctx.fail("unknown auto_pad '" + auto_pad + "'");
  }
  return ok();
}

// Reads kernel_shape/strides/dilations/pads/auto_pad. x_dims: [N, C, spatial...]; kernel: spatial kernel dims.
Expected<Geometry> geometry(const KernelContext& ctx, const std::vector<int64_t>& x_dims, std::vector<int64_t> kernel,
                            bool ceil_mode) {
  size_t sp = x_dims.size() - 2;
  if (sp < 1 || sp > 2) return ctx.fail("only 1-D and 2-D spatial inputs are supported (got rank " + std::to_string(x_dims.size()) + ")");
  if (kernel.size() != sp) return ctx.fail("kernel_shape does not match the input's spatial rank");
  auto strides = ctx.node.attr_ints("strides", std::vector<int64_t>(sp, 1));
  auto dil = ctx.node.attr_ints("dilations", std::vector<int64_t>(sp, 1));
  auto pads = ctx.node.attr_ints("pads", std::vector<int64_t>(2 * sp, 0));
  if (strides.size() != sp || dil.size() != sp || pads.size() != 2 * sp) return ctx.fail("strides/dilations/pads do not match the spatial rank");
  for (size_t i = 0; i < sp; ++i)
    if (strides[i] < 1 || dil[i] < 1 || kernel[i] < 1) return ctx.fail("strides, dilations and kernel sizes must be positive");
  EFFOPT_TRY(resolve_auto_pad(ctx, std::vector<int64_t>(x_dims.begin() + 2, x_dims.end()), kernel, strides, dil, pads));
  Geometry g;
  if (sp == 2) {
    g.H = x_dims[2]; g.W = x_dims[3]; g.kH = kernel[0]; g.kW = kernel[1];
    g.sH = strides[0]; g.sW = strides[1]; g.dH = dil[0]; g.dW = dil[1];
    g.pt = pads[0]; g.pl = pads[1]; g.pb = pads[2]; g.pr = pads[3];
  } else {
    g.W = x_dims[2]; g.kW = kernel[0]; g.sW = strides[0]; g.dW = dil[0]; g.pl = pads[0]; g.pr = pads[1];
  }
  g.OH = out_size(g.H, g.kH, g.sH, g.dH, g.pt, g.pb, ceil_mode);
  g.OW = out_size(g.W, g.kW, g.sW, g.dW, g.pl, g.pr, ceil_mode);
  return g;
}

std::vector<int64_t> out_dims(const std::vector<int64_t>& x, int64_t c, const Geometry& g) {
  if (x.size() == 3) return {x[0], c, g.OW};
  return {x[0], c, g.OH, g.OW};
}

namespace {

// ---- Conv ----

// Fills col[K = C*kH*kW][cols] for output positions [p0, p0 + cols) of one image/group.
void im2col(const float* x, int64_t C, const Geometry& g, int64_t p0, int64_t cols, float* col) {
  for (int64_t c = 0; c < C; ++c)
    for (int64_t kh = 0; kh < g.kH; ++kh)
      for (int64_t kw = 0; kw < g.kW; ++kw) {
        float* dst = col + ((c * g.kH + kh) * g.kW + kw) * cols;
        const float* src = x + c * g.H * g.W;
        int64_t p = p0;
        int64_t oh = p / g.OW, ow = p % g.OW;
        for (int64_t j = 0; j < cols;) {
          int64_t ih = oh * g.sH - g.pt + kh * g.dH;
          int64_t run = std::min(g.OW - ow, cols - j);
          if (ih < 0 || ih >= g.H) {
            std::memset(dst + j, 0, static_cast<size_t>(run) * sizeof(float));
          } else {
            const float* row = src + ih * g.W;
            int64_t iw = ow * g.sW - g.pl + kw * g.dW;
            if (g.sW == 1 && iw >= 0 && iw + run <= g.W) {
              std::memcpy(dst + j, row + iw, static_cast<size_t>(run) * sizeof(float));
            } else {
              for (int64_t t = 0; t < run; ++t, iw += g.sW) dst[j + t] = (iw >= 0 && iw < g.W) ? row[iw] : 0.f;
            }
          }
          j += run;
          ow = 0;
          ++oh;
        }
      }
}

Status conv_kernel(KernelContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs X and W");
  const TensorValue& X = ctx.in(0);
  const TensorValue& Wt = ctx.in(1);
  if (X.rank() > 4) return conv_nd_kernel(ctx);  // 3-D and up: the generic kernel
  EFFOPT_TRY(need_float(ctx, X, "X"));
  EFFOPT_TRY(need_float(ctx, Wt, "W"));
  if (X.rank() < 3 || Wt.rank() != X.rank()) return ctx.fail("X and W must have the same rank (3 or 4)");
  int64_t group = ctx.node.attr_int("group", 1);
  int64_t N = X.dim(0), C = X.dim(1), M = Wt.dim(0);
  if (group < 1 || C % group != 0 || M % group != 0 || Wt.dim(1) * group != C)
    return ctx.fail("channels (" + std::to_string(C) + ", W " + dims_to_string(Wt.dims()) + ") do not fit group " +
                    std::to_string(group));
  std::vector<int64_t> kernel(Wt.dims().begin() + 2, Wt.dims().end());
  auto ks = ctx.node.attr_ints("kernel_shape", kernel);
  if (ks != kernel) return ctx.fail("kernel_shape does not match W");
  EFFOPT_TRY_ASSIGN(Geometry g, geometry(ctx, X.dims(), kernel, false));
  EFFOPT_TRY_ASSIGN(const float* bias, conv_bias(ctx, M));
  TensorValue Y = TensorValue::allocate(DataType::Float, out_dims(X.dims(), M, g));
  const float* x = X.data<float>();
  const float* w = Wt.data<float>();
  float* y = Y.mutable_data<float>();
  int64_t Cg = C / group, Mg = M / group, P = g.OH * g.OW, HW = g.H * g.W;
  int64_t K = Cg * g.kH * g.kW;

  // oneDNN's convolution primitives (conv_dnnl.h) for spatial kernels; 1x1
  // and depthwise convolutions stay on the kernels below, which measured
  // faster for them (docs/executor.md). The kernels below are also the
  // fallback and the reference the oneDNN path is tested against.
  bool depthwise = group == C && Cg == 1;
  bool is_1x1 = g.kH == 1 && g.kW == 1;
  if (dnnl_conv_enabled() && P > 0 && N > 0 && !depthwise && !is_1x1) {
    ConvShape s{N, C, g.H, g.W, M, g.kH, g.kW, g.sH, g.sW, g.dH, g.dW, g.pt, g.pl, g.pb, g.pr, group, g.OH, g.OW};
    if (dnnl_conv2d(ctx, s, x, w, ctx.node.input(1) && is_constant(ctx.node.input(1)), bias, y)) {
      ctx.outputs[0] = std::move(Y);
      return ok();
    }
  }

  if (depthwise && P > 0) {
    depthwise_conv2d(ctx.pool, x, w, bias, N, C, M, g, ctx.activation, y);
    ctx.outputs[0] = std::move(Y);
    return ok();
  }

  bool pointwise = g.kH == 1 && g.kW == 1 && g.sH == 1 && g.sW == 1 && g.pt == 0 && g.pl == 0 && g.pb == 0 &&
                   g.pr == 0;
  // Column tiles: a fixed number of output positions per task (from the shape only).
  // (2^16 / K columns: 64-1000 wide for these K; 2^15..2^18 measured within noise on resnet18.)
  int64_t tile = std::max<int64_t>(64, ((int64_t{1} << 16) / std::max<int64_t>(K, 1)) / 16 * 16);
  // 1x1 convs: wider tiles when K is small (a GEMM call needs enough work to amortize packing).
  if (pointwise) tile = std::max<int64_t>(256, ((int64_t{1} << 18) / std::max<int64_t>(K, 1)) / 16 * 16);
  // Small images (P below one tile) at batch > 1: one GEMM covers several whole images, its columns
  // scattered back per image afterwards.
  if (!pointwise && P > 0 && P * 2 <= tile && N > 1) {
    int64_t per = std::min<int64_t>(tile / P, N);
    int64_t batches = chunk_count(N, per);
    ctx.pool.parallel_for(batches * group, [&](int64_t t) {
      int64_t n0 = (t / group) * per, gi = t % group, k = std::min(per, N - n0), cols = k * P;
      thread_local std::vector<float> col, tmp;
      if (col.size() < static_cast<size_t>(K * cols)) col.resize(static_cast<size_t>(K * cols));
      if (tmp.size() < static_cast<size_t>(Mg * cols)) tmp.resize(static_cast<size_t>(Mg * cols));
      // im2col of each image into its own column block: col[K][k * P]
      thread_local std::vector<float> one;
      if (one.size() < static_cast<size_t>(K * P)) one.resize(static_cast<size_t>(K * P));
      for (int64_t i = 0; i < k; ++i) {
        im2col(x + ((n0 + i) * C + gi * Cg) * HW, Cg, g, 0, P, one.data());
        for (int64_t r = 0; r < K; ++r)
          std::memcpy(col.data() + r * cols + i * P, one.data() + r * P, static_cast<size_t>(P) * sizeof(float));
      }
      sgemm(false, false, Mg, cols, K, 1.f, w + gi * Mg * K, K, col.data(), cols, 0.f, tmp.data(), cols);
      for (int64_t i = 0; i < k; ++i)
        for (int64_t m = 0; m < Mg; ++m) {
          float* row = y + ((n0 + i) * M + gi * Mg + m) * P;
          const float* src = tmp.data() + m * cols + i * P;
          float b = bias ? bias[gi * Mg + m] : 0.f;
          for (int64_t j = 0; j < P; ++j) row[j] = src[j] + b;
          if (ctx.activation.kind != ActKind::None) apply_activation(ctx.activation, row, row, P);
        }
    });
    ctx.outputs[0] = std::move(Y);
    return ok();
  }
  tile = std::min(tile, std::max<int64_t>(P, 1));
  int64_t tiles = chunk_count(P, tile);
  ctx.pool.parallel_for(N * group * tiles, [&](int64_t t) {
    int64_t n = t / (group * tiles), rest = t % (group * tiles), gi = rest / tiles, j0 = (rest % tiles) * tile;
    int64_t cols = std::min(tile, P - j0);
    const float* xg = x + (n * C + gi * Cg) * HW;
    const float* wg = w + gi * Mg * K;
    float* yg = y + (n * M + gi * Mg) * P;
    if (pointwise) {
      sgemm(false, false, Mg, cols, K, 1.f, wg, K, xg + j0, HW, 0.f, yg + j0, P);
    } else {
      thread_local std::vector<float> col;
      if (col.size() < static_cast<size_t>(K * cols)) col.resize(static_cast<size_t>(K * cols));
      im2col(xg, Cg, g, j0, cols, col.data());
      sgemm(false, false, Mg, cols, K, 1.f, wg, K, col.data(), cols, 0.f, yg + j0, P);
    }
    // bias and the fused activation in one vectorized pass over the tile (the GEMM's epilogue, in cache)
    if (bias || ctx.activation.kind != ActKind::None)
      for (int64_t m = 0; m < Mg; ++m) {
        float* row = yg + m * P + j0;
        if (bias) bias_activation_row(row, cols, bias[gi * Mg + m], ctx.activation);
        else apply_activation(ctx.activation, row, row, cols);  // no `+ 0`: a -0 stays -0, as unfused
      }
  });
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// ---- Gemm / MatMul ----

Status gemm_kernel(KernelContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs A and B");
  const TensorValue &A = ctx.in(0), &B = ctx.in(1);
  EFFOPT_TRY(need_float(ctx, A, "A"));
  EFFOPT_TRY(need_float(ctx, B, "B"));
  if (A.rank() != 2 || B.rank() != 2) return ctx.fail("A and B must be 2-D");
  bool ta = ctx.node.attr_int("transA", 0) != 0, tb = ctx.node.attr_int("transB", 0) != 0;
  float alpha = ctx.node.attr_float("alpha", 1.f), beta = ctx.node.attr_float("beta", 1.f);
  int64_t M = ta ? A.dim(1) : A.dim(0), K = ta ? A.dim(0) : A.dim(1);
  int64_t KB = tb ? B.dim(1) : B.dim(0), N = tb ? B.dim(0) : B.dim(1);
  if (K != KB) return ctx.fail("inner dimensions differ: A " + dims_to_string(A.dims()) + ", B " + dims_to_string(B.dims()));
  TensorValue Y = TensorValue::allocate(DataType::Float, {M, N});
  float* y = Y.mutable_data<float>();
  float gemm_beta = 0.f;
  if (ctx.has_input(2) && beta != 0.f) {
    const TensorValue& Cv = ctx.in(2);
    EFFOPT_TRY(need_float(ctx, Cv, "C"));
    auto bs = broadcast_shapes(Cv.dims(), {M, N});
    if (!bs || *bs != std::vector<int64_t>{M, N}) return ctx.fail("C " + dims_to_string(Cv.dims()) + " does not broadcast to [M, N]");
    auto st = broadcast_strides(Cv.dims(), {M, N});
    const float* c = Cv.data<float>();
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) y[i * N + j] = beta * c[i * st[0] + j * st[1]];
    gemm_beta = 1.f;
  }
  sgemm_tiled(ctx.pool, ta, tb, M, N, K, alpha, A.data<float>(), A.dim(1), B.data<float>(), B.dim(1), gemm_beta, y, N);
  ctx.outputs[0] = std::move(Y);
  return ok();
}

Status matmul_kernel(KernelContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs A and B");
  const TensorValue &A = ctx.in(0), &B = ctx.in(1);
  EFFOPT_TRY(need_float(ctx, A, "A"));
  EFFOPT_TRY(need_float(ctx, B, "B"));
  if (A.rank() == 0 || B.rank() == 0) return ctx.fail("inputs must not be scalars");
  std::vector<int64_t> ad = A.dims(), bd = B.dims();
  bool a1 = ad.size() == 1, b1 = bd.size() == 1;
  if (a1) ad.insert(ad.begin(), 1);
  if (b1) bd.push_back(1);
  int64_t M = ad[ad.size() - 2], K = ad.back(), N = bd.back();
  if (bd[bd.size() - 2] != K) return ctx.fail("inner dimensions differ: A " + dims_to_string(A.dims()) + ", B " + dims_to_string(B.dims()));
  std::vector<int64_t> abatch(ad.begin(), ad.end() - 2), bbatch(bd.begin(), bd.end() - 2);
  auto batch = broadcast_shapes(abatch, bbatch);
  if (!batch) return ctx.fail(batch.error().message);
  std::vector<int64_t> od = *batch;
  if (!a1) od.push_back(M);
  if (!b1) od.push_back(N);
  TensorValue Y = TensorValue::allocate(DataType::Float, od);
  const float* a = A.data<float>();
  const float* b = B.data<float>();
  float* y = Y.mutable_data<float>();
  int64_t nb = static_cast<int64_t>(shape_size(*batch));
  if (nb == 0 || M == 0 || N == 0) {
    if (K == 0) std::fill(y, y + Y.element_count(), 0.f);
    ctx.outputs[0] = std::move(Y);
    return ok();
  }
  if (shape_size(bbatch) == 1 && shape_size(abatch) == static_cast<uint64_t>(nb)) {
    // B is one matrix: all of A's batches are one [nb*M, K] x [K, N] product.
    sgemm_tiled(ctx.pool, false, false, nb * M, N, K, 1.f, a, K, b, N, 0.f, y, N);
  } else {
    auto sa = broadcast_strides(abatch, *batch), sb = broadcast_strides(bbatch, *batch);
    ctx.pool.parallel_for(nb, [&](int64_t t) {
      int64_t rem = t, oa = 0, ob = 0;
      for (size_t d = batch->size(); d-- > 0;) {
        int64_t i = rem % (*batch)[d];
        rem /= (*batch)[d];
        oa += i * sa[d];
        ob += i * sb[d];
      }
      sgemm(false, false, M, N, K, 1.f, a + oa * M * K, K, b + ob * K * N, N, 0.f, y + t * M * N, N);
    });
  }
  // An internal rewrite's epilogue (executor.cpp): the bias Add after the MatMul (input 2, N values) and the
  // activation after that, row by row: the same operations, so the same bits, as the Add and activation steps.
  if (ctx.has_input(2) || ctx.activation.kind != ActKind::None) {
    const float* bias = ctx.has_input(2) ? ctx.in(2).data<float>() : nullptr;
    if (bias && ctx.in(2).element_count() != static_cast<uint64_t>(N)) return ctx.fail("the fused bias does not have N values");
    const int64_t rows = static_cast<int64_t>(Y.element_count()) / N, per = std::max<int64_t>(1, 16384 / N);
    ctx.pool.parallel_for(chunk_count(rows, per), [&](int64_t t) {
      for (int64_t r = t * per; r < std::min(rows, (t + 1) * per); ++r) {
        float* row = y + r * N;
        if (bias)
          for (int64_t i = 0; i < N; ++i) row[i] += bias[i];
        if (ctx.activation.kind != ActKind::None) apply_activation(ctx.activation, row, row, N);
      }
    });
  }
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// ---- pooling ----

// One pooling plane. Output columns whose window lies inside the row in every tap (all but a few at the
// edges) are computed a row at a time, tap by tap over the whole run of columns, so the loop vectorizes;
// the edge columns take the per-element path with bounds checks. Both see the taps in (kh, kw) order, so
// averages sum in the same order everywhere. Max keeps NaN: a NaN tap makes the result NaN.
EFFOPT_VECTOR_CLONES void pool_plane(const float* in, const Geometry& g, bool is_max, bool include_pad, float* out) {
  auto one = [&](int64_t oh, int64_t ow) {
    float acc = is_max ? -std::numeric_limits<float>::infinity() : 0.f;
    int64_t count = 0, padded = 0;
    bool nan = false;
    for (int64_t kh = 0; kh < g.kH; ++kh) {
      int64_t ih = oh * g.sH - g.pt + kh * g.dH;
      for (int64_t kw = 0; kw < g.kW; ++kw) {
        int64_t iw = ow * g.sW - g.pl + kw * g.dW;
        if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) {
          // count_include_pad counts the explicit padding, not positions past it (ceil_mode).
          if (ih >= -g.pt && ih < g.H + g.pb && iw >= -g.pl && iw < g.W + g.pr) ++padded;
          continue;
        }
        float v = in[ih * g.W + iw];
        if (is_max) {
          if (std::isnan(v)) nan = true;
          acc = std::max(acc, v);
        } else {
          acc += v;
        }
        ++count;
      }
    }
    if (is_max) return nan ? std::numeric_limits<float>::quiet_NaN() : acc;
    int64_t div = include_pad ? count + padded : count;
    return div ? acc / static_cast<float>(div) : 0.f;
  };
  // Interior columns [lo, hi): ow * sW - pl >= 0 and ow * sW - pl + (kW - 1) * dW < W.
  int64_t lo = std::min(g.OW, (g.pl + g.sW - 1) / g.sW);
  int64_t last = g.W - 1 - (g.kW - 1) * g.dW + g.pl;
  int64_t hi = last < 0 ? lo : std::max(lo, std::min(g.OW, last / g.sW + 1));
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    float* o = out + oh * g.OW;
    for (int64_t ow = 0; ow < lo; ++ow) o[ow] = one(oh, ow);
    for (int64_t ow = hi; ow < g.OW; ++ow) o[ow] = one(oh, ow);
    if (hi <= lo) continue;
    float init = is_max ? -std::numeric_limits<float>::infinity() : 0.f;
    for (int64_t ow = lo; ow < hi; ++ow) o[ow] = init;
    int64_t rows = 0, pad_rows = 0;
    for (int64_t kh = 0; kh < g.kH; ++kh) {
      int64_t ih = oh * g.sH - g.pt + kh * g.dH;
      if (ih < 0 || ih >= g.H) {
        if (ih >= -g.pt && ih < g.H + g.pb) ++pad_rows;
        continue;
      }
      ++rows;
      for (int64_t kw = 0; kw < g.kW; ++kw) {
        const float* __restrict src = in + ih * g.W + kw * g.dW - g.pl;
        float* __restrict dst = o;
        if (is_max) {
          for (int64_t ow = lo; ow < hi; ++ow) {  // two selects: `||` here compiles to a branch per lane
            float v = src[ow * g.sW], d = dst[ow];
            d = v > d ? v : d;
            dst[ow] = v != v ? v : d;
          }
        } else {
          for (int64_t ow = lo; ow < hi; ++ow) dst[ow] += src[ow * g.sW];
        }
      }
    }
    if (is_max) {
      if (rows == 0)  // no tap inside: the per-element path's answer (-inf)
        for (int64_t ow = lo; ow < hi; ++ow) o[ow] = one(oh, ow);
    } else {
      int64_t div = (include_pad ? rows + pad_rows : rows) * g.kW;
      float d = static_cast<float>(div);
      for (int64_t ow = lo; ow < hi; ++ow) o[ow] = div ? o[ow] / d : 0.f;
    }
  }
}

// MaxPool 2x2 / stride 2 without padding or dilation over planes of even width (CNNs' most common pool; digits_cnn
// pools 360 x 64 planes of 8x8): per task a run of whole planes, in two flat passes that vectorize whatever the
// width: first the horizontal pairs, h[k] = max(x[2k], x[2k + 1]) over every row of the run at once, then each
// output row the max of two rows of h. Each max is pool_plane's `(v > acc || v != v) ? v : acc`; taken in the
// order (0,0), (0,1), then (1,0), (1,1) as a tree it keeps the first maximal tap and the last NaN, as the
// sequential order (0,0), (0,1), (1,0), (1,1) does, so the bits are pool_plane's (tested).
// Rows narrower than a vector (OW = 1, 2, 4, 8 with H = 2 OH: the rows of h alternate top, bottom over the
// whole run): the row length a constant, so each row's maxima are one short vector operation.
template <int OW>
inline __attribute__((always_inline)) int64_t max_rows_narrow(const float* __restrict h, int64_t outputs,
                                                              float* __restrict out) {
  for (int64_t r = 0; r < outputs / OW; ++r) {
    const float* __restrict t = h + 2 * r * OW;
    float* __restrict o = out + r * OW;
    for (int c = 0; c < OW; ++c) {
      const float u = t[OW + c];
      o[c] = (u > t[c] || u != u) ? u : t[c];
    }
  }
  return outputs / OW * OW;
}

EFFOPT_VECTOR_CLONES void max_pool_2x2_planes(const float* __restrict in, int64_t planes, int64_t H, int64_t W,
                                              int64_t OH, float* __restrict h, float* __restrict out) {
  const int64_t OW = W / 2, pairs = planes * H * OW;
  for (int64_t k = 0; k < pairs; ++k) {
    float a = in[2 * k], b = in[2 * k + 1];
    h[k] = (b > a || b != b) ? b : a;
  }
  if (H == 2 * OH && OW < 16) {
    const int64_t outputs = planes * OH * OW;
    int64_t j = OW == 1 ? max_rows_narrow<1>(h, outputs, out)
                : OW == 2 ? max_rows_narrow<2>(h, outputs, out)
                : OW == 4 ? max_rows_narrow<4>(h, outputs, out)
                : OW == 8 ? max_rows_narrow<8>(h, outputs, out)
                          : 0;
    for (; j < outputs; ++j) {  // the tail, and other narrow widths
      const float t = h[2 * j - j % OW], b = h[2 * j - j % OW + OW];
      out[j] = (b > t || b != b) ? b : t;
    }
    return;
  }
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < OH; ++oh) {
      const float* __restrict t = h + (p * H + 2 * oh) * OW;
      const float* __restrict b = t + OW;
      float* __restrict o = out + (p * OH + oh) * OW;
      for (int64_t c = 0; c < OW; ++c) o[c] = (b[c] > t[c] || b[c] != b[c]) ? b[c] : t[c];
    }
}

Status pool_kernel(KernelContext& ctx, bool is_max) {
  const TensorValue& X = ctx.in(0);
  if (X.rank() > 4) return pool_nd_kernel(ctx, is_max);  // 3-D and up: the generic kernel
  EFFOPT_TRY(need_float(ctx, X, "X"));
  if (ctx.outputs.size() > 1 && ctx.node.output(1)) return ctx.fail("the Indices output is not supported");
  if (X.rank() < 3) return ctx.fail("X must have rank 3 or 4");
  auto kernel = ctx.node.attr_ints("kernel_shape");
  if (kernel.empty()) return ctx.fail("kernel_shape is required");
  bool ceil_mode = ctx.node.attr_int("ceil_mode", 0) != 0;
  if (ctx.node.attr_int("storage_order", 0) != 0) return ctx.fail("storage_order 1 is not supported");
  if (!is_max && ctx.node.attr("dilations") && ctx.opset < 19) return ctx.fail("dilations need opset 19");
  EFFOPT_TRY_ASSIGN(Geometry g, geometry(ctx, X.dims(), kernel, ceil_mode));
  bool include_pad = ctx.node.attr_int("count_include_pad", 0) != 0;
  int64_t N = X.dim(0), C = X.dim(1);
  TensorValue Y = TensorValue::allocate(DataType::Float, out_dims(X.dims(), C, g));
  const float* x = X.data<float>();
  float* y = Y.mutable_data<float>();
  if (is_max && g.kH == 2 && g.kW == 2 && g.sH == 2 && g.sW == 2 && g.dH == 1 && g.dW == 1 && g.pt == 0 &&
      g.pl == 0 && g.pb == 0 && g.pr == 0 && g.W % 2 == 0 && g.OW * 2 == g.W && g.OH * 2 <= g.H && g.OH > 0) {
    // Runs of whole planes, about 16384 input floats per task (the boundaries depend on the shapes only).
    const int64_t planes = N * C, per = std::max<int64_t>(1, 16384 / (g.H * g.W));
    ctx.pool.parallel_for(chunk_count(planes, per), [&](int64_t t) {
      int64_t p0 = t * per, n = std::min(per, planes - p0);
      std::unique_ptr<float[]> h(new float[static_cast<size_t>(n * g.H * g.OW)]);
      max_pool_2x2_planes(x + p0 * g.H * g.W, n, g.H, g.W, g.OH, h.get(), y + p0 * g.OH * g.OW);
    });
  } else {
    ctx.pool.parallel_for(N * C, [&](int64_t t) {
      pool_plane(x + t * g.H * g.W, g, is_max, include_pad, y + t * g.OH * g.OW);
    });
  }
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// out[c] = p[c * n] + p[c * n + 1] + ... left to right, for `count` planes of n floats: eight planes at a time,
// eight independent running sums, so the adds overlap instead of waiting on each other's latency, each sum still
// in the plain left-to-right order. That order is kept on purpose: partial sums in vector lanes (another order)
// moved ppocr_det_v4's output by up to 1.2e-4 against its expected values, past the corpus test's tolerance.
void sum_planes(const float* p, int64_t n, int64_t count, float* out) {
  int64_t c = 0;
  for (; c + 8 <= count; c += 8) {
    const float* q = p + c * n;
    float a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    for (int64_t s = 0; s < n; ++s) {
      a0 += q[s];
      a1 += q[n + s];
      a2 += q[2 * n + s];
      a3 += q[3 * n + s];
      a4 += q[4 * n + s];
      a5 += q[5 * n + s];
      a6 += q[6 * n + s];
      a7 += q[7 * n + s];
    }
    out[c] = a0, out[c + 1] = a1, out[c + 2] = a2, out[c + 3] = a3;
    out[c + 4] = a4, out[c + 5] = a5, out[c + 6] = a6, out[c + 7] = a7;
  }
  for (; c < count; ++c) {
    float a = 0;
    for (int64_t s = 0; s < n; ++s) a += p[c * n + s];
    out[c] = a;
  }
}

Status global_pool_kernel(KernelContext& ctx, bool is_max) {
  const TensorValue& X = ctx.in(0);
  EFFOPT_TRY(need_float(ctx, X, "X"));
  if (X.rank() < 3) return ctx.fail("X must have rank 3 or more");
  int64_t N = X.dim(0), C = X.dim(1);
  int64_t S = static_cast<int64_t>(X.element_count()) / std::max<int64_t>(N * C, 1);
  std::vector<int64_t> od = {N, C};
  od.resize(X.rank(), 1);
  TensorValue Y = TensorValue::allocate(DataType::Float, od);
  const float* x = X.data<float>();
  float* y = Y.mutable_data<float>();
  ctx.pool.parallel_for(chunk_count(N * C, 64), [&](int64_t t) {
    if (!is_max) {
      int64_t i0 = t * 64, count = std::min<int64_t>(64, N * C - i0);
      sum_planes(x + i0 * S, S, count, y + i0);
      for (int64_t i = i0; i < i0 + count; ++i) y[i] /= static_cast<float>(S);
      return;
    }
    for (int64_t i = t * 64; i < std::min(N * C, t * 64 + 64); ++i) {
      const float* p = x + i * S;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t s = 0; s < S; ++s) m = std::isnan(p[s]) || std::isnan(m) ? std::numeric_limits<float>::quiet_NaN() : std::max(m, p[s]);
      y[i] = m;
    }
  });
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// ---- Softmax ----

Status softmax_kernel(KernelContext& ctx, bool log) {
  const TensorValue& X = ctx.in(0);
  EFFOPT_TRY(need_float(ctx, X, "input"));
  int64_t r = static_cast<int64_t>(X.rank());
  int64_t axis_attr = ctx.node.attr_int("axis", ctx.opset >= 13 ? -1 : 1);
  if (r == 0) return ctx.fail("input must not be a scalar");
  EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(axis_attr, r, ctx));
  int64_t outer = 1, len = 1, inner = 1;
  if (ctx.opset >= 13) {  // along one axis
    for (int64_t i = 0; i < axis; ++i) outer *= X.dim(static_cast<size_t>(i));
    len = X.dim(static_cast<size_t>(axis));
    for (int64_t i = axis + 1; i < r; ++i) inner *= X.dim(static_cast<size_t>(i));
  } else {  // input coerced to 2-D at axis
    for (int64_t i = 0; i < axis; ++i) outer *= X.dim(static_cast<size_t>(i));
    for (int64_t i = axis; i < r; ++i) len *= X.dim(static_cast<size_t>(i));
  }
  TensorValue Y = TensorValue::allocate(DataType::Float, X.dims());
  const float* x = X.data<float>();
  float* y = Y.mutable_data<float>();
  if (inner == 1) {  // rows along the last axis: the vectorized row (activation.h)
    ctx.pool.parallel_for(outer, [&](int64_t o) { softmax_row(x + o * len, y + o * len, len, log); });
    ctx.outputs[0] = std::move(Y);
    return ok();
  }
  ctx.pool.parallel_for(outer * inner, [&](int64_t t) {
    int64_t o = t / inner, in = t % inner;
    const float* p = x + o * len * inner + in;
    float* q = y + o * len * inner + in;
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < len; ++i) m = std::max(m, p[i * inner]);
    float sum = 0;
    for (int64_t i = 0; i < len; ++i) {
      float e = std::exp(p[i * inner] - m);
      q[i * inner] = e;
      sum += e;
    }
    if (log) {
      float ls = std::log(sum);
      for (int64_t i = 0; i < len; ++i) q[i * inner] = p[i * inner] - m - ls;
    } else {
      float inv = 1.f / sum;
      for (int64_t i = 0; i < len; ++i) q[i * inner] *= inv;
    }
  });
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// ---- normalizations ----

Status batchnorm_kernel(KernelContext& ctx) {
  if (ctx.input_count() < 5) return ctx.fail("needs X, scale, B, mean, var");
  for (size_t i = 0; i < 5; ++i) {
    if (!ctx.has_input(i)) return ctx.fail("needs X, scale, B, mean, var");
    EFFOPT_TRY(need_float(ctx, ctx.in(i), "inputs"));
  }
  if (ctx.opset >= 14 && ctx.node.attr_int("training_mode", 0) != 0) return ctx.fail("training_mode 1 is not supported");
  if (ctx.opset < 9 && ctx.node.attr_int("spatial", 1) != 1) return ctx.fail("spatial 0 is not supported");
  for (size_t o = 1; o < ctx.outputs.size(); ++o)
    if (ctx.node.output(o)) return ctx.fail("the training outputs (mean, var, saved_*) are not supported");
  const TensorValue& X = ctx.in(0);
  if (X.rank() < 2) return ctx.fail("X must have rank 2 or more");
  float eps = ctx.node.attr_float("epsilon", 1e-5f);
  int64_t N = X.dim(0), C = X.dim(1);
  int64_t S = static_cast<int64_t>(X.element_count()) / std::max<int64_t>(N * C, 1);
  for (size_t i = 1; i < 5; ++i)
    if (ctx.in(i).element_count() != static_cast<uint64_t>(C)) return ctx.fail("scale/B/mean/var must have C elements");
  std::vector<float> a(static_cast<size_t>(C)), b(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    a[c] = ctx.in(1).data<float>()[c] / std::sqrt(ctx.in(4).data<float>()[c] + eps);
    b[c] = ctx.in(2).data<float>()[c] - ctx.in(3).data<float>()[c] * a[c];
  }
  TensorValue Y = TensorValue::allocate(DataType::Float, X.dims());
  const float* x = X.data<float>();
  float* y = Y.mutable_data<float>();
  ctx.pool.parallel_for(N * C, [&](int64_t t) {
    int64_t c = t % C;
    for (int64_t s = 0; s < S; ++s) y[t * S + s] = x[t * S + s] * a[c] + b[c];
  });
  ctx.outputs[0] = std::move(Y);
  return ok();
}

Status instancenorm_kernel(KernelContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(2)) return ctx.fail("needs input, scale and B");
  const TensorValue& X = ctx.in(0);
  for (size_t i = 0; i < 3; ++i) EFFOPT_TRY(need_float(ctx, ctx.in(i), "inputs"));
  if (X.rank() < 3) return ctx.fail("input must have rank 3 or more");
  int64_t N = X.dim(0), C = X.dim(1);
  int64_t S = static_cast<int64_t>(X.element_count()) / std::max<int64_t>(N * C, 1);
  if (ctx.in(1).element_count() != static_cast<uint64_t>(C) || ctx.in(2).element_count() != static_cast<uint64_t>(C))
    return ctx.fail("scale and B must have C elements");
  float eps = ctx.node.attr_float("epsilon", 1e-5f);
  TensorValue Y = TensorValue::allocate(DataType::Float, X.dims());
  const float* x = X.data<float>();
  float* y = Y.mutable_data<float>();
  ctx.pool.parallel_for(N * C, [&](int64_t t) {
    int64_t c = t % C;
    const float* p = x + t * S;
    float sum = 0;
    for (int64_t i = 0; i < S; ++i) sum += p[i];
    float mean = sum / static_cast<float>(S), var = 0;
    for (int64_t i = 0; i < S; ++i) var += (p[i] - mean) * (p[i] - mean);
    var /= static_cast<float>(S);
    float a = ctx.in(1).data<float>()[c] / std::sqrt(var + eps), b = ctx.in(2).data<float>()[c];
    for (int64_t i = 0; i < S; ++i) y[t * S + i] = (p[i] - mean) * a + b;
  });
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// LayerNormalization of X (input 0) over the dims from `axis` on, with Scale (input 1) and an optional B
// (input 2) broadcast to those dims: one vectorized row per task (layer_norm_row, activation.h).
Status layer_norm(KernelContext& ctx, int64_t axis, float eps) {
  const TensorValue& X = ctx.in(0);
  const int64_t r = static_cast<int64_t>(X.rank());
  int64_t outer = 1, len = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= X.dim(static_cast<size_t>(i));
  for (int64_t i = axis; i < r; ++i) len *= X.dim(static_cast<size_t>(i));
  std::vector<int64_t> norm_dims(X.dims().begin() + axis, X.dims().end());
  auto check = [&](const TensorValue& t, const char* what) -> Status {
    auto bs = broadcast_shapes(t.dims(), norm_dims);
    if (!bs || *bs != norm_dims) return ctx.fail(std::string(what) + " does not broadcast to the normalized dims");
    return ok();
  };
  EFFOPT_TRY(check(ctx.in(1), "Scale"));
  const TensorValue* B = ctx.has_input(2) ? &ctx.in(2) : nullptr;
  if (B) {
    EFFOPT_TRY(need_float(ctx, *B, "B"));
    EFFOPT_TRY(check(*B, "B"));
  }
  auto ss = broadcast_strides(ctx.in(1).dims(), norm_dims);
  std::vector<int64_t> bsd = B ? broadcast_strides(B->dims(), norm_dims) : std::vector<int64_t>{};
  // Expand scale/bias to full [len] vectors (they are small).
  auto expand = [&](const TensorValue& t, const std::vector<int64_t>& st) {
    std::vector<float> v(static_cast<size_t>(len));
    for (int64_t i = 0; i < len; ++i) {
      int64_t rem = i, off = 0;
      for (size_t d = norm_dims.size(); d-- > 0;) {
        off += (rem % norm_dims[d]) * st[d];
        rem /= norm_dims[d];
      }
      v[i] = t.data<float>()[off];
    }
    return v;
  };
  std::vector<float> scale = expand(ctx.in(1), ss);
  std::vector<float> bias = B ? expand(*B, bsd) : std::vector<float>(static_cast<size_t>(len), 0.f);
  TensorValue Y = TensorValue::allocate(DataType::Float, X.dims());
  std::vector<int64_t> stat_dims = X.dims();
  for (int64_t i = axis; i < r; ++i) stat_dims[i] = 1;
  bool want_mean = ctx.outputs.size() > 1 && ctx.node.output(1);
  bool want_inv = ctx.outputs.size() > 2 && ctx.node.output(2);
  TensorValue Mean = want_mean ? TensorValue::allocate(DataType::Float, stat_dims) : TensorValue{};
  TensorValue Inv = want_inv ? TensorValue::allocate(DataType::Float, stat_dims) : TensorValue{};
  const float* x = X.data<float>();
  float* y = Y.mutable_data<float>();
  ctx.pool.parallel_for(outer, [&](int64_t o) {
    layer_norm_row(x + o * len, y + o * len, len, eps, scale.data(), bias.data(),
                   want_mean ? Mean.mutable_data<float>() + o : nullptr, want_inv ? Inv.mutable_data<float>() + o : nullptr);
  });
  ctx.outputs[0] = std::move(Y);
  if (want_mean) ctx.outputs[1] = std::move(Mean);
  if (want_inv) ctx.outputs[2] = std::move(Inv);
  return ok();
}

Status layernorm_kernel(KernelContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs X and Scale");
  const TensorValue& X = ctx.in(0);
  EFFOPT_TRY(need_float(ctx, X, "X"));
  EFFOPT_TRY(need_float(ctx, ctx.in(1), "Scale"));
  EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(ctx.node.attr_int("axis", -1), static_cast<int64_t>(X.rank()), ctx));
  return layer_norm(ctx, axis, ctx.node.attr_float("epsilon", 1e-5f));
}

// ---- Reduce* ----

enum class Red { Mean, Sum, Max, Min, Prod, L1, L2, LogSumExp, SumSquare, LogSum };

// Opset where the axes attribute became an input.
int64_t axes_input_since(Red r) { return r == Red::Sum ? 13 : 18; }

KernelFn reduce_kernel(Red kind) {
  return [kind](KernelContext& ctx) -> Status {
    const TensorValue& X = ctx.in(0);
    bool is_int = X.dtype() == DataType::Int64 || X.dtype() == DataType::Int32;
    if (X.dtype() != DataType::Float && !(is_int && (kind == Red::Sum || kind == Red::Max || kind == Red::Min || kind == Red::Prod)))
      return ctx.fail(std::string("element type ") + data_type_name(X.dtype()) + " is not supported");
    int64_t r = static_cast<int64_t>(X.rank());
    bool keepdims = ctx.node.attr_int("keepdims", 1) != 0;
    std::vector<int64_t> axes;
    bool noop_empty = false;
    if (ctx.opset >= axes_input_since(kind)) {
      noop_empty = ctx.node.attr_int("noop_with_empty_axes", 0) != 0;
      if (ctx.has_input(1)) { EFFOPT_TRY_ASSIGN(axes, read_ints(ctx.in(1), ctx)); }
    } else {
      axes = ctx.node.attr_ints("axes");
    }
    if (axes.empty() && noop_empty) {
      // Nothing is reduced, but the per-element part still applies (|x| for L1/L2, x^2, log x), as in
      // ONNX Runtime and the ONNX reference implementation.
      TensorValue Y = TensorValue::from_bytes(X.dtype(), X.dims(), {X.raw(), X.byte_size()});
      if (X.dtype() == DataType::Float) {
        float* y = Y.mutable_data<float>();
        for (uint64_t i = 0; i < Y.element_count(); ++i) {
          if (kind == Red::L1 || kind == Red::L2) y[i] = std::fabs(y[i]);
          else if (kind == Red::SumSquare) y[i] = y[i] * y[i];
          else if (kind == Red::LogSum) y[i] = std::log(y[i]);
        }
      }
      ctx.outputs[0] = std::move(Y);
      return ok();
    }
    std::vector<bool> red(static_cast<size_t>(r), axes.empty());
    for (int64_t a : axes) {
      EFFOPT_TRY_ASSIGN(int64_t n, normalize_axis(a, r, ctx));
      red[n] = true;
    }
    std::vector<int64_t> perm, kept_dims, out_d;
    int64_t outer = 1, len = 1;
    for (int64_t i = 0; i < r; ++i)
      if (!red[i]) { perm.push_back(i); outer *= X.dim(i); }
    for (int64_t i = 0; i < r; ++i)
      if (red[i]) { perm.push_back(i); len *= X.dim(i); }
    for (int64_t i = 0; i < r; ++i) {
      if (!red[i]) out_d.push_back(X.dim(i));
      else if (keepdims) out_d.push_back(1);
    }
    bool identity_perm = true;
    for (int64_t i = 0; i < r; ++i) identity_perm &= perm[i] == i;
    TensorValue src = identity_perm ? X : transpose_tensor(X, perm, ctx.pool);
    TensorValue Y = TensorValue::allocate(X.dtype(), out_d);
    if (X.dtype() == DataType::Float) {
      const float* x = src.data<float>();
      float* y = Y.mutable_data<float>();
      ctx.pool.parallel_for(chunk_count(outer, 64), [&](int64_t t) {
        for (int64_t o = t * 64; o < std::min(outer, t * 64 + 64); ++o) {
          const float* p = x + o * len;
          float acc;
          switch (kind) {
            case Red::Max: case Red::Min: {
              acc = len ? p[0] : (kind == Red::Max ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity());
              for (int64_t i = 0; i < len; ++i) {
                if (std::isnan(p[i])) { acc = p[i]; break; }
                acc = kind == Red::Max ? std::max(acc, p[i]) : std::min(acc, p[i]);
              }
              break;
            }
            case Red::Prod: acc = 1; for (int64_t i = 0; i < len; ++i) acc *= p[i]; break;
            case Red::L1: acc = 0; for (int64_t i = 0; i < len; ++i) acc += std::fabs(p[i]); break;
            case Red::L2: case Red::SumSquare:
              acc = 0; for (int64_t i = 0; i < len; ++i) acc += p[i] * p[i];
              if (kind == Red::L2) acc = std::sqrt(acc);
              break;
            case Red::LogSumExp: {
              float m = -std::numeric_limits<float>::infinity();
              for (int64_t i = 0; i < len; ++i) m = std::max(m, p[i]);
              float s = 0;
              for (int64_t i = 0; i < len; ++i) s += std::exp(p[i] - m);
              acc = std::isinf(m) ? m : m + std::log(s);
              break;
            }
            default:
              acc = 0; for (int64_t i = 0; i < len; ++i) acc += p[i];
              if (kind == Red::Mean) acc /= static_cast<float>(len);
              if (kind == Red::LogSum) acc = std::log(acc);
          }
          y[o] = acc;
        }
      });
    } else {
      auto go = [&](auto tag) {
        using T = decltype(tag);
        const T* x = src.data<T>();
        T* y = Y.mutable_data<T>();
        for (int64_t o = 0; o < outer; ++o) {
          const T* p = x + o * len;
          T acc = kind == Red::Prod ? T(1) : kind == Red::Max ? std::numeric_limits<T>::lowest()
                                            : kind == Red::Min ? std::numeric_limits<T>::max() : T(0);
          for (int64_t i = 0; i < len; ++i) {
            if (kind == Red::Sum) acc = static_cast<T>(acc + p[i]);
            else if (kind == Red::Prod) acc = static_cast<T>(acc * p[i]);
            else if (kind == Red::Max) acc = std::max(acc, p[i]);
            else acc = std::min(acc, p[i]);
          }
          y[o] = acc;
        }
      };
      if (X.dtype() == DataType::Int64) go(int64_t{}); else go(int32_t{});
    }
    ctx.outputs[0] = std::move(Y);
    return ok();
  };
}

}  // namespace

void register_nn_kernels(KernelRegistry& r) {
  constexpr auto F = KernelFlags::FloatCompute;
  r.add("Conv", 1, INT64_MAX, conv_kernel, F);
  r.add("Gemm", 6, INT64_MAX, gemm_kernel, F);  // C broadcasts numpy-style (opset 6: when broadcast=1)
  r.add("MatMul", 1, INT64_MAX, matmul_kernel, F);
  r.add("MaxPool", 1, INT64_MAX, [](KernelContext& c) { return pool_kernel(c, true); }, F);
  r.add("AveragePool", 1, INT64_MAX, [](KernelContext& c) { return pool_kernel(c, false); }, F);
  r.add("GlobalAveragePool", 1, INT64_MAX, [](KernelContext& c) { return global_pool_kernel(c, false); }, F);
  r.add("GlobalMaxPool", 1, INT64_MAX, [](KernelContext& c) { return global_pool_kernel(c, true); }, F);
  r.add("Softmax", 1, INT64_MAX, [](KernelContext& c) { return softmax_kernel(c, false); }, F);
  r.add("LogSoftmax", 1, INT64_MAX, [](KernelContext& c) { return softmax_kernel(c, true); }, F);
  r.add("BatchNormalization", 6, INT64_MAX, batchnorm_kernel, F);
  r.add("InstanceNormalization", 6, INT64_MAX, instancenorm_kernel, F);
  r.add("LayerNormalization", 17, INT64_MAX, layernorm_kernel, F);
  r.add("ReduceMean", 1, INT64_MAX, reduce_kernel(Red::Mean), F);
  r.add("ReduceSum", 1, INT64_MAX, reduce_kernel(Red::Sum), F);
  r.add("ReduceMax", 1, INT64_MAX, reduce_kernel(Red::Max), F);
  r.add("ReduceMin", 1, INT64_MAX, reduce_kernel(Red::Min), F);
  r.add("ReduceProd", 1, INT64_MAX, reduce_kernel(Red::Prod), F);
  r.add("ReduceL1", 1, INT64_MAX, reduce_kernel(Red::L1), F);
  r.add("ReduceL2", 1, INT64_MAX, reduce_kernel(Red::L2), F);
  r.add("ReduceLogSumExp", 1, INT64_MAX, reduce_kernel(Red::LogSumExp), F);
  r.add("ReduceSumSquare", 1, INT64_MAX, reduce_kernel(Red::SumSquare), F);
  r.add("ReduceLogSum", 1, INT64_MAX, reduce_kernel(Red::LogSum), F);
}

const KernelDef& fused_layer_norm_kernel() {
  static const KernelDef def{"", "FusedLayerNormalization", 1, INT64_MAX, [](KernelContext& ctx) -> Status {
    const TensorValue& X = ctx.in(0);
    if (X.dtype() != DataType::Float || X.rank() == 0) return ctx.fail("the fused LayerNormalization takes float32 of rank >= 1");
    for (int k = 1; k < 3; ++k)
      if (ctx.in(k).dtype() != DataType::Float) return ctx.fail("the fused LayerNormalization takes float32 scale and bias");
    return layer_norm(ctx, static_cast<int64_t>(X.rank()) - 1, ctx.activation.a);
  }};
  return def;
}

}  // namespace effopt::exec
