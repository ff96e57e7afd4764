// ConvTranspose (any spatial rank) as a GEMM plus col2im, and the N-D Conv
// (im2col + GEMM) and pooling used for 3-D inputs.
//
// ConvTranspose: for each image and group, col[Mg * K, P_in] = W_g^T * X_g
// (W is [C, M/group, k...], so W_g^T needs no copy), then col2im adds each
// column entry into the output position it reaches. Tasks are one (image,
// group) each, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "exec/conv_geometry.h"
#include "exec/gemm.h"
#include "exec/kernels_nd.h"

namespace effopt::exec {

namespace {

struct NdGeometry {
  size_t sp = 0;
  std::vector<int64_t> in, k, s, d, pb, pe, out;
  int64_t in_size() const { int64_t p = 1; for (auto v : in) p *= v; return p; }
  int64_t out_size() const { int64_t p = 1; for (auto v : out) p *= v; return p; }
  int64_t k_size() const { int64_t p = 1; for (auto v : k) p *= v; return p; }
};

// Conv / pooling geometry (forward direction).
Expected<NdGeometry> forward_geometry(const KernelContext& ctx, const std::vector<int64_t>& x_dims,
                                      const std::vector<int64_t>& kernel, bool ceil_mode) {
  NdGeometry g;
  g.sp = x_dims.size() - 2;
  size_t sp = g.sp;
  if (kernel.size() != sp) return ctx.fail("kernel_shape does not match the input's spatial rank");
  g.in.assign(x_dims.begin() + 2, x_dims.end());
  g.k = kernel;
  g.s = ctx.node.attr_ints("strides", std::vector<int64_t>(sp, 1));
  g.d = ctx.node.attr_ints("dilations", std::vector<int64_t>(sp, 1));
  auto pads = ctx.node.attr_ints("pads", std::vector<int64_t>(2 * sp, 0));
  if (g.s.size() != sp || g.d.size() != sp || pads.size() != 2 * sp)
    return ctx.fail("strides/dilations/pads do not match the spatial rank");
  for (size_t i = 0; i < sp; ++i)
    if (g.s[i] < 1 || g.d[i] < 1 || g.k[i] < 1) return ctx.fail("strides, dilations and kernel sizes must be positive");
  EFFOPT_TRY(resolve_auto_pad(ctx, g.in, g.k, g.s, g.d, pads));
  g.pb.assign(pads.begin(), pads.begin() + static_cast<int64_t>(sp));
  g.pe.assign(pads.begin() + static_cast<int64_t>(sp), pads.end());
  for (size_t i = 0; i < sp; ++i) g.out.push_back(out_size(g.in[i], g.k[i], g.s[i], g.d[i], g.pb[i], g.pe[i], ceil_mode));
  return g;
}

// Walks the kernel offsets and output positions: col is [C * K][P_out] for im2col, [C * K][P_in] for col2im.
// For output position o along axis i and kernel offset k, the input position is o * s - pb + k * d.
void im2col_nd(const float* x, int64_t C, const NdGeometry& g, float* col) {
  size_t sp = g.sp;
  int64_t K = g.k_size(), P = g.out_size(), HW = g.in_size();
  std::vector<int64_t> kidx(sp), oidx(sp);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t kk = 0; kk < K; ++kk) {
      int64_t rem = kk;
      for (size_t i = sp; i-- > 0;) { kidx[i] = rem % g.k[i]; rem /= g.k[i]; }
      float* dst = col + (c * K + kk) * P;
      const float* src = x + c * HW;
      std::fill(oidx.begin(), oidx.end(), 0);
      for (int64_t p = 0; p < P; ++p) {
        int64_t off = 0;
        bool inside = true;
        for (size_t i = 0; i < sp; ++i) {
          int64_t v = oidx[i] * g.s[i] - g.pb[i] + kidx[i] * g.d[i];
          if (v < 0 || v >= g.in[i]) { inside = false; break; }
          off = off * g.in[i] + v;
        }
        dst[p] = inside ? src[off] : 0.f;
        for (size_t i = sp; i-- > 0;) {
          if (++oidx[i] < g.out[i]) break;
          oidx[i] = 0;
        }
      }
    }
}

}  // namespace

Status conv_nd_kernel(KernelContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs X and W");
  const TensorValue &X = ctx.in(0), &Wt = ctx.in(1);
  EFFOPT_TRY(need_float(ctx, X, "X"));
  EFFOPT_TRY(need_float(ctx, Wt, "W"));
  if (X.rank() < 3 || Wt.rank() != X.rank()) return ctx.fail("X and W must have the same rank");
  int64_t group = ctx.node.attr_int("group", 1);
  int64_t N = X.dim(0), C = X.dim(1), M = Wt.dim(0);
  if (group < 1 || C % group != 0 || M % group != 0 || Wt.dim(1) * group != C)
    return ctx.fail("channels do not fit group " + std::to_string(group));
  std::vector<int64_t> kernel(Wt.dims().begin() + 2, Wt.dims().end());
  if (ctx.node.attr_ints("kernel_shape", kernel) != kernel) return ctx.fail("kernel_shape does not match W");
  EFFOPT_TRY_ASSIGN(NdGeometry g, forward_geometry(ctx, X.dims(), kernel, false));
  EFFOPT_TRY_ASSIGN(const float* bias, conv_bias(ctx, M));
  std::vector<int64_t> od = {N, M};
  od.insert(od.end(), g.out.begin(), g.out.end());
  TensorValue Y = TensorValue::allocate(DataType::Float, od);
  int64_t Cg = C / group, Mg = M / group, P = g.out_size(), HW = g.in_size(), K = Cg * g.k_size();
  const float* x = X.data<float>();
  const float* w = Wt.data<float>();
  float* y = Y.mutable_data<float>();
  ctx.pool.parallel_for(N * group, [&](int64_t t) {
    int64_t n = t / group, gi = t % group;
    std::vector<float> col(static_cast<size_t>(K * P));
    im2col_nd(x + (n * C + gi * Cg) * HW, Cg, g, col.data());
    float* yg = y + (n * M + gi * Mg) * P;
    sgemm(false, false, Mg, P, K, 1.f, w + gi * Mg * K, K, col.data(), P, 0.f, yg, P);
    for (int64_t m = 0; m < Mg; ++m) {
      float* row = yg + m * P;
      if (bias) for (int64_t j = 0; j < P; ++j) row[j] += bias[gi * Mg + m];
      if (ctx.activation.kind != ActKind::None) apply_activation(ctx.activation, row, row, P);
    }
  });
  ctx.outputs[0] = std::move(Y);
  return ok();
}

Status pool_nd_kernel(KernelContext& ctx, bool is_max) {
  const TensorValue& X = ctx.in(0);
  EFFOPT_TRY(need_float(ctx, X, "X"));
  if (ctx.outputs.size() > 1 && ctx.node.output(1)) return ctx.fail("the Indices output is not supported");
  if (X.rank() < 3) return ctx.fail("X must have rank 3 or more");
  auto kernel = ctx.node.attr_ints("kernel_shape");
  if (kernel.empty()) return ctx.fail("kernel_shape is required");
  bool ceil_mode = ctx.node.attr_int("ceil_mode", 0) != 0;
  if (ctx.node.attr_int("storage_order", 0) != 0) return ctx.fail("storage_order 1 is not supported");
  EFFOPT_TRY_ASSIGN(NdGeometry g, forward_geometry(ctx, X.dims(), kernel, ceil_mode));
  bool include_pad = ctx.node.attr_int("count_include_pad", 0) != 0;
  int64_t N = X.dim(0), C = X.dim(1), P = g.out_size(), HW = g.in_size(), K = g.k_size();
  size_t sp = g.sp;
  std::vector<int64_t> od = {N, C};
  od.insert(od.end(), g.out.begin(), g.out.end());
  TensorValue Y = TensorValue::allocate(DataType::Float, od);
  const float* x = X.data<float>();
  float* y = Y.mutable_data<float>();
  ctx.pool.parallel_for(N * C, [&](int64_t t) {
    const float* in = x + t * HW;
    float* out = y + t * P;
    std::vector<int64_t> oidx(sp, 0), kidx(sp);
    for (int64_t p = 0; p < P; ++p) {
      float acc = is_max ? -std::numeric_limits<float>::infinity() : 0.f;
      int64_t count = 0, padded = 0;
      bool nan = false;
      for (int64_t kk = 0; kk < K; ++kk) {
        int64_t rem = kk;
        for (size_t i = sp; i-- > 0;) { kidx[i] = rem % g.k[i]; rem /= g.k[i]; }
        int64_t off = 0;
        bool inside = true, in_pad = true;
        for (size_t i = 0; i < sp; ++i) {
          int64_t v = oidx[i] * g.s[i] - g.pb[i] + kidx[i] * g.d[i];
          if (v < 0 || v >= g.in[i]) inside = false;
          if (v < -g.pb[i] || v >= g.in[i] + g.pe[i]) in_pad = false;
          off = off * g.in[i] + v;
        }
        if (!inside) {
          // count_include_pad counts the explicit padding, not positions past it (ceil_mode).
          if (in_pad) ++padded;
          continue;
        }
        float v = in[off];
        if (is_max) {
          if (std::isnan(v)) nan = true;
          acc = std::max(acc, v);
        } else {
          acc += v;
        }
        ++count;
      }
      if (is_max) out[p] = nan ? std::numeric_limits<float>::quiet_NaN() : acc;
      else {
        int64_t div = include_pad ? count + padded : count;
        out[p] = div ? acc / static_cast<float>(div) : 0.f;
      }
      for (size_t i = sp; i-- > 0;) {
        if (++oidx[i] < g.out[i]) break;
        oidx[i] = 0;
      }
    }
  });
  ctx.outputs[0] = std::move(Y);
  return ok();
}

namespace {

Status conv_transpose_kernel(KernelContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs X and W");
  const TensorValue &X = ctx.in(0), &Wt = ctx.in(1);
  EFFOPT_TRY(need_float(ctx, X, "X"));
  EFFOPT_TRY(need_float(ctx, Wt, "W"));
  if (X.rank() < 3 || Wt.rank() != X.rank()) return ctx.fail("X and W must have the same rank (3 or more)");
  int64_t group = ctx.node.attr_int("group", 1);
  int64_t N = X.dim(0), C = X.dim(1);
  if (group < 1 || C % group != 0 || Wt.dim(0) != C)
    return ctx.fail("W " + dims_to_string(Wt.dims()) + " does not fit " + std::to_string(C) + " input channels and group " +
                    std::to_string(group));
  int64_t Mg = Wt.dim(1), M = Mg * group, Cg = C / group;
  size_t sp = X.rank() - 2;
  NdGeometry g;
  g.sp = sp;
  g.in.assign(X.dims().begin() + 2, X.dims().end());
  g.k.assign(Wt.dims().begin() + 2, Wt.dims().end());
  if (ctx.node.attr_ints("kernel_shape", g.k) != g.k) return ctx.fail("kernel_shape does not match W");
  g.s = ctx.node.attr_ints("strides", std::vector<int64_t>(sp, 1));
  g.d = ctx.node.attr_ints("dilations", std::vector<int64_t>(sp, 1));
  auto pads = ctx.node.attr_ints("pads", std::vector<int64_t>(2 * sp, 0));
  auto adj = ctx.node.attr_ints("output_padding", std::vector<int64_t>(sp, 0));
  auto out_shape = ctx.node.attr_ints("output_shape");
  if (g.s.size() != sp || g.d.size() != sp || pads.size() != 2 * sp || adj.size() != sp)
    return ctx.fail("strides/dilations/pads/output_padding do not match the spatial rank");
  // output_shape may list the whole output shape or only its spatial dims.
  if (out_shape.size() == sp + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  if (!out_shape.empty() && out_shape.size() != sp) return ctx.fail("output_shape does not match the spatial rank");
  for (size_t i = 0; i < sp; ++i)
    if (g.s[i] < 1 || g.d[i] < 1 || g.k[i] < 1) return ctx.fail("strides, dilations and kernel sizes must be positive");
  std::string auto_pad = ctx.node.attr_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" && auto_pad != "VALID" && !auto_pad.empty())
    return ctx.fail("unknown auto_pad '" + auto_pad + "'");
  g.pb.resize(sp);
  g.pe.resize(sp);
  g.out.resize(sp);
  // As ONNX Runtime's ComputeTransposePadAndOutputShape.
  for (size_t i = 0; i < sp; ++i) {
    int64_t full = (g.in[i] - 1) * g.s[i] + adj[i] + (g.k[i] - 1) * g.d[i] + 1;
    if (!out_shape.empty()) {
      int64_t total = std::max<int64_t>(0, full - out_shape[i]);
      if (auto_pad == "SAME_UPPER") { g.pb[i] = total - total / 2; g.pe[i] = total / 2; }
      else { g.pb[i] = total / 2; g.pe[i] = total - total / 2; }
      g.out[i] = out_shape[i];
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t total = std::max<int64_t>(0, full - g.in[i] * g.s[i]);
      if (auto_pad == "SAME_UPPER") { g.pb[i] = total / 2; g.pe[i] = total - total / 2; }
      else { g.pb[i] = total - total / 2; g.pe[i] = total / 2; }
      g.out[i] = g.in[i] * g.s[i];
    } else {
      if (auto_pad != "VALID") { g.pb[i] = pads[i]; g.pe[i] = pads[i + sp]; }
      g.out[i] = full - g.pb[i] - g.pe[i];
    }
    if (g.out[i] < 0) return ctx.fail("negative output size");
  }
  EFFOPT_TRY_ASSIGN(const float* bias, conv_bias(ctx, M));
  std::vector<int64_t> od = {N, M};
  od.insert(od.end(), g.out.begin(), g.out.end());
  TensorValue Y = TensorValue::allocate(DataType::Float, od);
  int64_t Pin = g.in_size(), Pout = g.out_size(), K = g.k_size(), rows = Mg * K;
  const float* x = X.data<float>();
  const float* w = Wt.data<float>();
  float* y = Y.mutable_data<float>();
  ctx.pool.parallel_for(N * group, [&](int64_t t) {
    int64_t n = t / group, gi = t % group;
    float* yg = y + (n * M + gi * Mg) * Pout;
    for (int64_t m = 0; m < Mg; ++m) std::fill(yg + m * Pout, yg + (m + 1) * Pout, bias ? bias[gi * Mg + m] : 0.f);
    if (Pin == 0 || Pout == 0) return;
    std::vector<float> col(static_cast<size_t>(rows * Pin));
    // col[Mg*K, Pin] = W_g^T [Mg*K, Cg] x X_g [Cg, Pin]; W_g is [Cg, Mg*K] row-major.
    sgemm(true, false, rows, Pin, Cg, 1.f, w + gi * Cg * rows, rows, x + (n * C + gi * Cg) * Pin, Pin, 0.f, col.data(), Pin);
    // col2im: input position p with kernel offset k lands on output p * s - pb + k * d.
    std::vector<int64_t> kidx(sp), iidx(sp);
    for (int64_t r = 0; r < rows; ++r) {
      int64_t m = r / K, rem = r % K;
      for (size_t i = sp; i-- > 0;) { kidx[i] = rem % g.k[i]; rem /= g.k[i]; }
      const float* src = col.data() + r * Pin;
      float* dst = yg + m * Pout;
      std::fill(iidx.begin(), iidx.end(), 0);
      int64_t inner = g.in[sp - 1], s_last = g.s[sp - 1];
      int64_t base_last = kidx[sp - 1] * g.d[sp - 1] - g.pb[sp - 1];
      for (int64_t p = 0; p < Pin; p += inner) {
        int64_t off = 0;
        bool inside = true;
        for (size_t i = 0; i + 1 < sp; ++i) {
          int64_t v = iidx[i] * g.s[i] - g.pb[i] + kidx[i] * g.d[i];
          if (v < 0 || v >= g.out[i]) { inside = false; break; }
          off = off * g.out[i] + v;
        }
        if (inside) {
          float* drow = dst + off * g.out[sp - 1];
          const float* srow = src + p;
          for (int64_t j = 0; j < inner; ++j) {
            int64_t v = j * s_last + base_last;
            if (v >= 0 && v < g.out[sp - 1]) drow[v] += srow[j];
          }
        }
        for (size_t i = sp - 1; i-- > 0;) {
          if (++iidx[i] < g.in[i]) break;
          iidx[i] = 0;
        }
      }
    }
  });
  ctx.outputs[0] = std::move(Y);
  return ok();
}

}  // namespace

void register_conv_transpose_kernels(KernelRegistry& r) {
  r.add("ConvTranspose", 1, INT64_MAX, conv_transpose_kernel, KernelFlags::FloatCompute);
}

}  // namespace effopt::exec
