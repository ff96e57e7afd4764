// Resize (opsets 10-19) and Upsample (7, 9): nearest, linear and cubic
// interpolation over any axes, applied one axis at a time (the ONNX reference
// interpolates separably too). Coordinates are computed in float32, as ONNX
// Runtime does, so nearest-neighbour ties fall the same way.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "exec/kernel_registry.h"

namespace effopt::exec {

namespace {

struct ResizeAttrs {
  std::string mode = "nearest";
  std::string coord = "half_pixel";
  std::string nearest = "round_prefer_floor";  // "simple": Upsample and Resize-10
  float cubic_a = -0.75f;
  bool exclude_outside = false;
  float extrapolation = 0.f;
  bool antialias = false;
};

// One output position along an axis: weighted input positions, or the extrapolation value.
struct Tap {
  std::vector<int64_t> idx;
  std::vector<float> w;
  bool extrapolate = false;
};

float transform(const ResizeAttrs& a, float x, float scale, int64_t in, int64_t out, float roi_start, float roi_end) {
  const std::string& m = a.coord;
  if (m == "half_pixel") return (x + 0.5f) / scale - 0.5f;
  if (m == "half_pixel_symmetric") {
    float adjustment = static_cast<float>(out) / (scale * static_cast<float>(in));
    float center = static_cast<float>(in) / 2.f;
    float offset = center * (1.f - adjustment);
    return offset + (x + 0.5f) / scale - 0.5f;
  }
  if (m == "pytorch_half_pixel") return out > 1 ? (x + 0.5f) / scale - 0.5f : 0.f;
  if (m == "align_corners")
    return out == 1 ? 0.f : x * static_cast<float>(in - 1) / static_cast<float>(out - 1);
  if (m == "tf_half_pixel_for_nn") return (x + 0.5f) / scale;
  if (m == "tf_crop_and_resize")
    return out > 1 ? roi_start * static_cast<float>(in - 1) +
                         x * (roi_end - roi_start) * static_cast<float>(in - 1) / static_cast<float>(out - 1)
                   : 0.5f * (roi_start + roi_end) * static_cast<float>(in - 1);
  return x / scale;  // asymmetric
}

int64_t nearest_index(const ResizeAttrs& a, float x, float scale) {
  if (a.nearest == "simple") return scale < 1.f ? static_cast<int64_t>(std::ceil(x)) : static_cast<int64_t>(x);
  if (a.nearest == "floor") return static_cast<int64_t>(std::floor(x));
  if (a.nearest == "ceil") return static_cast<int64_t>(std::ceil(x));
  if (a.nearest == "round_prefer_ceil") return static_cast<int64_t>(std::round(x));
  // round_prefer_floor
  if (x == std::floor(x) + 0.5f) return static_cast<int64_t>(std::floor(x));
  return static_cast<int64_t>(std::round(x));
}

float cubic_weight(float x, float A) {
  x = std::fabs(x);
  if (x <= 1.f) return ((A + 2.f) * x - (A + 3.f)) * x * x + 1.f;
  if (x < 2.f) return ((A * x - 5.f * A) * x + 8.f * A) * x - 4.f * A;
  return 0.f;
}

std::vector<Tap> axis_taps(const ResizeAttrs& a, int64_t in, int64_t out, float scale, float roi_start, float roi_end) {
  std::vector<Tap> taps(static_cast<size_t>(out));
  bool tf_crop = a.coord == "tf_crop_and_resize";
  for (int64_t o = 0; o < out; ++o) {
    Tap& t = taps[o];
    float x = transform(a, static_cast<float>(o), scale, in, out, roi_start, roi_end);
    if (tf_crop && (x < 0.f || x > static_cast<float>(in - 1))) {
      t.extrapolate = true;
      continue;
    }
    if (a.mode == "nearest") {
      int64_t i = std::clamp<int64_t>(nearest_index(a, x, scale), 0, in - 1);
      t.idx = {i};
      t.w = {1.f};
      continue;
    }
    // Linear / cubic: weights over the nearest neighbours of x (edge-replicated outside the input).
    bool aa = a.antialias && scale < 1.f;
    float support_scale = aa ? scale : 1.f;
    int64_t x0 = static_cast<int64_t>(std::floor(x));
    float ratio = x - static_cast<float>(x0);
    if (a.mode == "linear" && !aa) {
      x = std::clamp(x, 0.f, static_cast<float>(in - 1));
      int64_t i0 = std::min<int64_t>(static_cast<int64_t>(x), in - 1), i1 = std::min<int64_t>(i0 + 1, in - 1);
      float d = x - static_cast<float>(i0);
      t.idx = {i0, i1};
      t.w = {1.f - d, d};
      continue;
    }
    // Kernel over offsets j relative to x0: linear (support 1) or cubic (support 2), widened by 1/scale when
    // antialiasing a downscale.
    float support = (a.mode == "cubic" ? 2.f : 1.f) / support_scale;
    int64_t jlo = static_cast<int64_t>(std::floor(-support)) + 1, jhi = static_cast<int64_t>(std::ceil(support));
    if (ratio == 0.f) {  // integer x: the reference prefers the window ending at x (identical weights)
    }
    float sum = 0;
    for (int64_t j = jlo; j <= jhi; ++j) {
      float dist = (static_cast<float>(j) - ratio) * support_scale;
      float wv = a.mode == "cubic" ? cubic_weight(dist, a.cubic_a) : std::max(0.f, 1.f - std::fabs(dist));
      int64_t i = x0 + j;
      if (a.exclude_outside && (i < 0 || i >= in)) wv = 0.f;
      if (wv == 0.f) continue;
      t.idx.push_back(std::clamp<int64_t>(i, 0, in - 1));
      t.w.push_back(wv);
      sum += wv;
    }
    if (aa || a.exclude_outside)
      if (sum != 0.f)
        for (float& wv : t.w) wv /= sum;
  }
  return taps;
}

// Resizes one axis of a float tensor.
TensorValue resize_axis(const TensorValue& x, size_t axis, int64_t out, const std::vector<Tap>& taps, float extrapolation,
                        ThreadPool& pool) {
  std::vector<int64_t> od = x.dims();
  int64_t in = od[axis];
  od[axis] = out;
  TensorValue y = TensorValue::allocate(DataType::Float, od);
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < axis; ++i) outer *= od[i];
  for (size_t i = axis + 1; i < od.size(); ++i) inner *= od[i];
  const float* px = x.data<float>();
  float* py = y.mutable_data<float>();
  pool.parallel_for(outer, [&](int64_t o) {
    const float* src = px + o * in * inner;
    float* dst = py + o * out * inner;
    for (int64_t j = 0; j < out; ++j) {
      const Tap& t = taps[j];
      float* d = dst + j * inner;
      if (t.extrapolate) {
        std::fill(d, d + inner, extrapolation);
        continue;
      }
      if (t.idx.size() == 1 && t.w[0] == 1.f) {
        std::memcpy(d, src + t.idx[0] * inner, static_cast<size_t>(inner) * sizeof(float));
        continue;
      }
      std::fill(d, d + inner, 0.f);
      for (size_t k = 0; k < t.idx.size(); ++k) {
        const float* s = src + t.idx[k] * inner;
        float wv = t.w[k];
        for (int64_t i = 0; i < inner; ++i) d[i] += wv * s[i];
      }
    }
  });
  return y;
}

// Nearest resize of any fixed-size element type (byte copies).
TensorValue resize_axis_bytes(const TensorValue& x, size_t axis, int64_t out, const std::vector<Tap>& taps) {
  std::vector<int64_t> od = x.dims();
  int64_t in = od[axis];
  od[axis] = out;
  TensorValue y = TensorValue::allocate(x.dtype(), od);
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < axis; ++i) outer *= od[i];
  for (size_t i = axis + 1; i < od.size(); ++i) inner *= od[i];
  size_t row = static_cast<size_t>(inner) * element_size(x.dtype());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < out; ++j) {
      std::byte* d = y.mutable_raw() + (o * out + j) * static_cast<int64_t>(row);
      if (taps[j].extrapolate) std::memset(d, 0, row);
      else std::memcpy(d, x.raw() + (o * in + taps[j].idx[0]) * static_cast<int64_t>(row), row);
    }
  return y;
}

Expected<std::vector<float>> read_floats(const TensorValue& t, const KernelContext& ctx) {
  std::vector<float> v;
  if (t.dtype() == DataType::Float) {
    for (float f : t.span<float>()) v.push_back(f);
  } else if (t.dtype() == DataType::Double) {
    for (double f : t.span<double>()) v.push_back(static_cast<float>(f));
  } else {
    return ctx.fail("scales/roi must be float32");
  }
  return v;
}

// Shared by Resize and Upsample once scales or sizes are known (full rank).
Status run_resize(KernelContext& ctx, const ResizeAttrs& a, std::vector<float> scales, std::vector<int64_t> out,
                  const std::vector<float>& roi) {
  const TensorValue& X = ctx.in(0);
  size_t r = X.rank();
  if (a.mode != "nearest" && a.mode != "linear" && a.mode != "cubic") return ctx.fail("unknown mode '" + a.mode + "'");
  static const char* coords[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                                 "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
  if (std::find(std::begin(coords), std::end(coords), a.coord) == std::end(coords))
    return ctx.fail("unknown coordinate_transformation_mode '" + a.coord + "'");
  static const char* nearests[] = {"simple", "round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  if (std::find(std::begin(nearests), std::end(nearests), a.nearest) == std::end(nearests))
    return ctx.fail("unknown nearest_mode '" + a.nearest + "'");
  bool float_data = X.dtype() == DataType::Float;
  if (!float_data && (a.mode != "nearest" || element_size(X.dtype()) == 0))
    return ctx.fail(std::string("element type ") + data_type_name(X.dtype()) + " needs mode nearest");
  TensorValue cur = X;
  // Innermost axis first: the widest rows are copied while the tensor is smallest for upsampling.
  for (size_t ax = r; ax-- > 0;) {
    int64_t in = X.dim(ax);
    float rs = roi.size() == 2 * r ? roi[ax] : 0.f, re = roi.size() == 2 * r ? roi[ax + r] : 1.f;
    bool identity = out[ax] == in && scales[ax] == 1.f && a.coord != "tf_crop_and_resize";
    if (identity) continue;
    if (out[ax] > 0 && in == 0) return ctx.fail("cannot resize an empty axis to a non-empty one");
    auto taps = axis_taps(a, in, out[ax], scales[ax], rs, re);
    cur = float_data ? resize_axis(cur, ax, out[ax], taps, a.extrapolation, ctx.pool) : resize_axis_bytes(cur, ax, out[ax], taps);
  }
  if (cur.raw() == X.raw()) cur = TensorValue::from_bytes(X.dtype(), X.dims(), {X.raw(), X.byte_size()});
  ctx.outputs[0] = std::move(cur);
  return ok();
}

Status resize_kernel(KernelContext& ctx) {
  const TensorValue& X = ctx.in(0);
  size_t r = X.rank();
  ResizeAttrs a;
  a.mode = ctx.node.attr_string("mode", "nearest");
  if (ctx.opset < 11) {
    a.coord = "asymmetric";
    a.nearest = "simple";
  } else {
    a.coord = ctx.node.attr_string("coordinate_transformation_mode", "half_pixel");
    a.nearest = ctx.node.attr_string("nearest_mode", "round_prefer_floor");
    a.cubic_a = ctx.node.attr_float("cubic_coeff_a", -0.75f);
    a.exclude_outside = ctx.node.attr_int("exclude_outside", 0) != 0;
    a.extrapolation = ctx.node.attr_float("extrapolation_value", 0.f);
  }
  std::vector<int64_t> axes;
  std::string policy = "stretch";
  if (ctx.opset >= 18) {
    a.antialias = ctx.node.attr_int("antialias", 0) != 0;
    axes = ctx.node.attr_ints("axes");
    policy = ctx.node.attr_string("keep_aspect_ratio_policy", "stretch");
    if (policy != "stretch" && policy != "not_larger" && policy != "not_smaller")
      return ctx.fail("unknown keep_aspect_ratio_policy '" + policy + "'");
  }
  for (int64_t& ax : axes) { EFFOPT_TRY_ASSIGN(ax, normalize_axis(ax, static_cast<int64_t>(r), ctx)); }
  bool all_axes = axes.empty();
  if (all_axes)
    for (size_t i = 0; i < r; ++i) axes.push_back(static_cast<int64_t>(i));
  std::vector<float> scales_in, roi_in;
  std::vector<int64_t> sizes_in;
  if (ctx.opset < 11) {
    if (!ctx.has_input(1)) return ctx.fail("needs scales");
    EFFOPT_TRY_ASSIGN(scales_in, read_floats(ctx.in(1), ctx));
  } else {
    if (ctx.has_input(1) && ctx.in(1).element_count() > 0) { EFFOPT_TRY_ASSIGN(roi_in, read_floats(ctx.in(1), ctx)); }
    if (ctx.has_input(2) && ctx.in(2).element_count() > 0) { EFFOPT_TRY_ASSIGN(scales_in, read_floats(ctx.in(2), ctx)); }
    if (ctx.has_input(3) && ctx.in(3).element_count() > 0) { EFFOPT_TRY_ASSIGN(sizes_in, read_ints(ctx.in(3), ctx)); }
  }
  if (scales_in.empty() == sizes_in.empty()) return ctx.fail("exactly one of scales and sizes must be given");
  size_t na = axes.size();
  std::vector<float> scales(r, 1.f), roi;
  std::vector<int64_t> out = X.dims();
  if (!roi_in.empty()) {
    if (roi_in.size() != 2 * na) return ctx.fail("roi must have 2 * (number of axes) entries");
    roi.assign(2 * r, 0.f);
    for (size_t i = 0; i < r; ++i) roi[i + r] = 1.f;
    for (size_t i = 0; i < na; ++i) {
      roi[axes[i]] = roi_in[i];
      roi[axes[i] + r] = roi_in[i + na];
    }
  }
  if (!scales_in.empty()) {
    if (scales_in.size() != na) return ctx.fail("scales must have one entry per axis");
    for (size_t i = 0; i < na; ++i) {
      if (!(scales_in[i] > 0.f)) return ctx.fail("scales must be positive");
      int64_t ax = axes[i];
      scales[ax] = scales_in[i];
      out[ax] = static_cast<int64_t>(std::floor(static_cast<float>(X.dim(ax)) * scales_in[i]));
    }
  } else {
    if (sizes_in.size() != na) return ctx.fail("sizes must have one entry per axis");
    for (int64_t s : sizes_in)
      if (s < 0) return ctx.fail("sizes must not be negative");
    if (policy != "stretch") {
      float scale = policy == "not_larger" ? INFINITY : 0.f;
      for (size_t i = 0; i < na; ++i) {
        float s = static_cast<float>(sizes_in[i]) / static_cast<float>(X.dim(axes[i]));
        scale = policy == "not_larger" ? std::min(scale, s) : std::max(scale, s);
      }
      for (size_t i = 0; i < na; ++i) {
        scales[axes[i]] = scale;
        out[axes[i]] = static_cast<int64_t>(std::round(scale * static_cast<float>(X.dim(axes[i]))));
      }
    } else {
      for (size_t i = 0; i < na; ++i) {
        out[axes[i]] = sizes_in[i];
        scales[axes[i]] = X.dim(axes[i]) ? static_cast<float>(sizes_in[i]) / static_cast<float>(X.dim(axes[i])) : 1.f;
      }
    }
  }
  return run_resize(ctx, a, scales, out, roi);
}

Status upsample_kernel(KernelContext& ctx) {
  const TensorValue& X = ctx.in(0);
  ResizeAttrs a;
  a.mode = ctx.node.attr_string("mode", "nearest");
  if (a.mode == "bilinear") a.mode = "linear";
  a.coord = "asymmetric";
  a.nearest = "simple";
  std::vector<float> scales;
  if (ctx.opset < 9) {
    const Attribute* s = ctx.node.attr("scales");
    if (!s) return ctx.fail("needs the scales attribute");
    scales = s->floats;
  } else {
    if (!ctx.has_input(1)) return ctx.fail("needs scales");
    EFFOPT_TRY_ASSIGN(scales, read_floats(ctx.in(1), ctx));
  }
  if (scales.size() != X.rank()) return ctx.fail("scales must have one entry per input dim");
  std::vector<int64_t> out = X.dims();
  for (size_t i = 0; i < scales.size(); ++i) {
    if (!(scales[i] >= 1.f)) return ctx.fail("Upsample scales must be >= 1");
    out[i] = static_cast<int64_t>(std::floor(static_cast<float>(X.dim(i)) * scales[i]));
  }
  return run_resize(ctx, a, scales, out, {});
}

}  // namespace

void register_resize_kernels(KernelRegistry& r) {
  r.add("Resize", 10, INT64_MAX, resize_kernel, KernelFlags::FloatCompute);
  r.add("Upsample", 7, 9, upsample_kernel, KernelFlags::FloatCompute);
}

}  // namespace effopt::exec
