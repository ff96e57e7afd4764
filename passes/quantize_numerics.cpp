// quantize: choosing scales and rounding (passes/quantize.h, "numerics").
//
// Each group of elements that shares a scale (a tensor, a channel, a block)
// gets the scale that minimizes its squared rounding error, sum (x - s q)^2,
// as llama.cpp's quantizers choose theirs: candidate scales clip the range at
// `search` ratios from 1 (max-abs: nothing clipped) down to 0.5, evenly
// spaced. Ratio 1 is always a candidate, so the error is never above max-abs
// rounding's. (Refining each candidate's scale by least squares for its
// integers, s = sum(x q) / sum(q q), lowers the weights' error further but
// raised the outputs' error on PaddleOCR det and cls, measured: it is not done.)
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>

#include "exec/thread_pool.h"
#include "ir/dtype.h"
#include "passes/quantize.h"

namespace effopt::passes::quant {

namespace {

struct QRange {
  int lo, hi;
};

QRange range_of(Precision p, bool symmetric, bool reduce_range) {
  switch (p) {
    case Precision::Int8: return reduce_range ? QRange{-63, 63} : (symmetric ? QRange{-127, 127} : QRange{-128, 127});
    case Precision::UInt8: return reduce_range ? QRange{0, 127} : QRange{0, 255};
    case Precision::Int4: return reduce_range ? QRange{-4, 3} : QRange{-8, 7};
    case Precision::UInt4: return reduce_range ? QRange{0, 7} : QRange{0, 15};
    case Precision::Float: break;
  }
  return {0, 0};
}

bool is_signed(Precision p) { return p == Precision::Int8 || p == Precision::Int4; }

// The elements of a tensor viewed as [pre, D, post] around an axis.
struct Layout {
  int64_t pre = 1, D = 1, post = 1;
  int64_t blocks = 1, block = 1;  // along D (Blocked); PerAxis: D blocks of 1
  uint64_t groups = 1;
  Granularity::Kind kind = Granularity::Kind::PerTensor;
};

Layout layout_of(const std::vector<int64_t>& dims, const Granularity& g) {
  Layout L;
  L.kind = g.kind;
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  if (g.kind == Granularity::Kind::PerTensor) {
    L.D = n;
    L.block = n;
    return L;
  }
  for (size_t i = 0; i < dims.size(); ++i) {
    if (static_cast<int64_t>(i) < g.axis) L.pre *= dims[i];
    else if (static_cast<int64_t>(i) > g.axis) L.post *= dims[i];
  }
  L.D = dims[static_cast<size_t>(g.axis)];
  if (g.kind == Granularity::Kind::PerAxis) {
    L.groups = static_cast<uint64_t>(L.D);
    return L;
  }
  L.block = g.block_size;
  L.blocks = (L.D + L.block - 1) / L.block;
  L.groups = static_cast<uint64_t>(L.pre * L.blocks * L.post);
  return L;
}

// Calls fn(element index) for every element of group `gi`, in a fixed order.
template <class F>
void for_group(const Layout& L, uint64_t gi, F&& fn) {
  int64_t g = static_cast<int64_t>(gi);
  switch (L.kind) {
    case Granularity::Kind::PerTensor:
      for (int64_t i = 0; i < L.D; ++i) fn(static_cast<uint64_t>(i));
      return;
    case Granularity::Kind::PerAxis:
      for (int64_t p = 0; p < L.pre; ++p)
        for (int64_t q = 0; q < L.post; ++q) fn(static_cast<uint64_t>((p * L.D + g) * L.post + q));
      return;
    case Granularity::Kind::Blocked: {
      int64_t q = g % L.post, r = g / L.post, blk = r % L.blocks, p = r / L.blocks;
      int64_t d1 = std::min(L.D, (blk + 1) * L.block);
      for (int64_t d = blk * L.block; d < d1; ++d) fn(static_cast<uint64_t>((p * L.D + d) * L.post + q));
      return;
    }
  }
}

struct GroupResult {
  float scale = 1.f;
  int32_t zero_point = 0;
};

// The integer for x: round half to even of x / s (as x * (1 / s)) plus the
// zero point, clamped to [lo, hi]. Clamping first equals saturating after (the
// bounds are integers), and adding 1.5 * 2^23 then rounds exactly as nearbyint
// does, without a library call, so the loops below vectorize.
inline float quantize_float(float x, float inv, float zp, float lo, float hi) {
  float t = x * inv + zp;
  t = t > lo ? t : lo;
  t = t < hi ? t : hi;
  constexpr float kMagic = 12582912.0f;
  return (t + kMagic) - kMagic;
}

// sum (x - s (q - zp))^2 over the group, in 8 float lanes summed in double
// (a fixed order: the same on every thread).
double rounding_error(const std::vector<float>& x, float s, float zp, float lo, float hi) {
  float inv = 1.f / s;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t n = x.size(), i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t l = 0; l < 8; ++l) {
      float e = x[i + l] - (quantize_float(x[i + l], inv, zp, lo, hi) - zp) * s;
      acc[l] += e * e;
    }
  double err = 0;
  for (; i < n; ++i) {
    float e = x[i] - (quantize_float(x[i], inv, zp, lo, hi) - zp) * s;
    err += static_cast<double>(e) * e;
  }
  for (float a : acc) err += a;
  return err;
}

// The best scale (and zero point) for the values `x` of one group.
GroupResult choose_scale(const std::vector<float>& x, QRange R, bool symmetric, int64_t search) {
  GroupResult best;
  double lo = 0, hi = 0;
  for (float v : x) {
    lo = std::min(lo, static_cast<double>(v));
    hi = std::max(hi, static_cast<double>(v));
  }
  if (lo == 0 && hi == 0) {
    best.zero_point = symmetric ? 0 : std::clamp(0, R.lo, R.hi);
    return best;  // all zeros: any scale is exact
  }
  double best_err = std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < search; ++i) {
    double r = search == 1 ? 1.0 : 1.0 - 0.5 * static_cast<double>(i) / static_cast<double>(search - 1);
    float s;
    int32_t zp = 0;
    if (symmetric) {
      // The smallest scale that clips nothing, times r.
      double s0 = std::max(hi / R.hi, R.lo < 0 ? -lo / -R.lo : 0.0);
      s = static_cast<float>(s0 * r);
    } else {
      double l = lo * r, h = hi * r;
      s = static_cast<float>((h - l) / (R.hi - R.lo));
      zp = static_cast<int32_t>(std::clamp(std::nearbyint(R.lo - l / s), static_cast<double>(R.lo),
                                           static_cast<double>(R.hi)));
    }
    if (!(s > 0) || !std::isfinite(s) || !std::isfinite(1.f / s)) continue;
    double err = rounding_error(x, s, static_cast<float>(zp), static_cast<float>(R.lo), static_cast<float>(R.hi));
    if (err < best_err) {
      best_err = err;
      best.scale = s;
      best.zero_point = zp;
    }
  }
  return best;
}

}  // namespace

std::vector<float> tensor_floats(const Tensor& t) {
  uint64_t n = t.element_count().value_or(0);
  std::vector<float> out(static_cast<size_t>(n));
  const std::byte* b = t.bytes().data();
  if (t.byte_size() < packed_byte_size(t.data_type, n)) return {};
  switch (t.data_type) {
    case DataType::Float: std::memcpy(out.data(), b, n * 4); break;
    case DataType::Double:
      for (uint64_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, b + i * 8, 8);
        out[i] = static_cast<float>(d);
      }
      break;
    case DataType::Float16:
    case DataType::BFloat16:
      for (uint64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, b + i * 2, 2);
        out[i] = t.data_type == DataType::Float16 ? half_to_float(h) : bf16_to_float(h);
      }
      break;
    default: return {};
  }
  return out;
}

bool all_finite(const Tensor& t) {
  uint64_t n = t.element_count().value_or(0);
  const std::byte* b = t.bytes().data();
  if (t.byte_size() < packed_byte_size(t.data_type, n)) return false;
  switch (t.data_type) {
    case DataType::Float:
      for (uint64_t i = 0; i < n; ++i) {
        uint32_t u;
        std::memcpy(&u, b + i * 4, 4);
        if ((u & 0x7F800000u) == 0x7F800000u) return false;
      }
      return true;
    case DataType::Double:
      for (uint64_t i = 0; i < n; ++i) {
        uint64_t u;
        std::memcpy(&u, b + i * 8, 8);
        if ((u & 0x7FF0000000000000ull) == 0x7FF0000000000000ull) return false;
      }
      return true;
    case DataType::Float16:
      for (uint64_t i = 0; i < n; ++i) {
        uint16_t u;
        std::memcpy(&u, b + i * 2, 2);
        if ((u & 0x7C00u) == 0x7C00u) return false;
      }
      return true;
    case DataType::BFloat16:
      for (uint64_t i = 0; i < n; ++i) {
        uint16_t u;
        std::memcpy(&u, b + i * 2, 2);
        if ((u & 0x7F80u) == 0x7F80u) return false;
      }
      return true;
    default: return false;
  }
}

uint64_t group_of(const std::vector<int64_t>& dims, const Granularity& g, uint64_t i) {
  Layout L = layout_of(dims, g);
  int64_t e = static_cast<int64_t>(i);
  switch (L.kind) {
    case Granularity::Kind::PerTensor: return 0;
    case Granularity::Kind::PerAxis: return static_cast<uint64_t>((e / L.post) % L.D);
    case Granularity::Kind::Blocked: {
      int64_t q = e % L.post, r = e / L.post, d = r % L.D, p = r / L.D;
      return static_cast<uint64_t>((p * L.blocks + d / L.block) * L.post + q);
    }
  }
  return 0;
}

namespace {

// out[c][a][b] = in[a][c][b] for in viewed as [A][C][B] (B contiguous
// elements move together), in tiles so that neither side is read or written
// with a large stride one element at a time.
template <class T>
void swap_outer_axes(const T* in, T* out, int64_t A, int64_t C, int64_t B) {
  constexpr int64_t kTile = 64;
  if (B == 1) {  // element by element: no memcpy call per element
    for (int64_t a0 = 0; a0 < A; a0 += kTile)
      for (int64_t c0 = 0; c0 < C; c0 += kTile)
        for (int64_t c = c0; c < std::min(C, c0 + kTile); ++c)
          for (int64_t a = a0; a < std::min(A, a0 + kTile); ++a) out[c * A + a] = in[a * C + c];
    return;
  }
  for (int64_t a0 = 0; a0 < A; a0 += kTile)
    for (int64_t c0 = 0; c0 < C; c0 += kTile)
      for (int64_t a = a0; a < std::min(A, a0 + kTile); ++a)
        for (int64_t c = c0; c < std::min(C, c0 + kTile); ++c)
          std::memcpy(out + (c * A + a) * B, in + (a * C + c) * B, static_cast<size_t>(B) * sizeof(T));
}

}  // namespace

QuantizedValues quantize_values(const std::vector<float>& x, const std::vector<int64_t>& dims, Precision p,
                                const Granularity& g, bool symmetric, bool reduce_range, int64_t search, int threads) {
  assert(p != Precision::Float);
  {
    // A channel or block that is not contiguous (a MatMul weight's N axis,
    // blocks along K of [K, N]) is quantized on a copy where it is: reading
    // one strided element at a time made a 600 MB model take 10 s more. The
    // integers, scales and zero points come out exactly as before.
    Layout L = layout_of(dims, g);
    if (L.kind == Granularity::Kind::PerAxis && L.pre > 1) {
      // [pre, D, post] -> [D, pre, post]: channel c is row c.
      std::vector<float> xt(x.size());
      swap_outer_axes(x.data(), xt.data(), L.pre, L.D, L.post);
      QuantizedValues q = quantize_values(xt, {L.D, L.pre * L.post}, p, {Granularity::Kind::PerAxis, 0, 0},
                                          symmetric, reduce_range, search, threads);
      std::vector<int8_t> back(q.values.size());
      swap_outer_axes(q.values.data(), back.data(), L.D, L.pre, L.post);
      q.values.swap(back);
      return q;
    }
    if (L.kind == Granularity::Kind::Blocked && L.post > 1) {
      // [pre, D, post] blocked along D -> [pre, post, D] blocked along the last axis; group
      // (p, blk, q) is (p * blocks + blk) * post + q before and (p * post + q) * blocks + blk after.
      std::vector<float> xt(x.size());
      for (int64_t pi = 0; pi < L.pre; ++pi)
        swap_outer_axes(x.data() + pi * L.D * L.post, xt.data() + pi * L.D * L.post, L.D, L.post, 1);
      QuantizedValues q = quantize_values(xt, {L.pre, L.post, L.D}, p, {Granularity::Kind::Blocked, 2, L.block},
                                          symmetric, reduce_range, search, threads);
      std::vector<int8_t> back(q.values.size());
      for (int64_t pi = 0; pi < L.pre; ++pi)
        swap_outer_axes(q.values.data() + pi * L.D * L.post, back.data() + pi * L.D * L.post, L.post, L.D, 1);
      q.values.swap(back);
      std::vector<float> scales(q.scales.size());
      std::vector<int32_t> zps(q.zero_points.size());
      for (int64_t pi = 0; pi < L.pre; ++pi)
        for (int64_t blk = 0; blk < L.blocks; ++blk)
          for (int64_t qi = 0; qi < L.post; ++qi) {
            size_t before = static_cast<size_t>((pi * L.blocks + blk) * L.post + qi);
            size_t after = static_cast<size_t>((pi * L.post + qi) * L.blocks + blk);
            scales[before] = q.scales[after];
            if (!zps.empty()) zps[before] = q.zero_points[after];
          }
      q.scales.swap(scales);
      q.zero_points.swap(zps);
      q.scale_dims = dims;
      q.scale_dims[static_cast<size_t>(g.axis)] = L.blocks;
      return q;
    }
  }
  QuantizedValues out;
  out.type = precision_type(p);
  // Unsigned types always carry a zero point; signed ones are symmetric.
  bool sym = is_signed(p) && symmetric;
  QRange R = range_of(p, sym, reduce_range);
  Layout L = layout_of(dims, g);
  out.values.assign(x.size(), 0);
  out.scales.assign(L.groups, 1.f);
  if (!sym) out.zero_points.assign(L.groups, 0);
  switch (g.kind) {
    case Granularity::Kind::PerTensor: break;
    case Granularity::Kind::PerAxis: out.scale_dims = {L.D}; break;
    case Granularity::Kind::Blocked:
      out.scale_dims = dims;
      out.scale_dims[static_cast<size_t>(g.axis)] = L.blocks;
      break;
  }
  // Fixed chunks of groups, each computed the same way on any thread.
  constexpr uint64_t kGroupsPerTask = 16;
  int64_t tasks = exec::chunk_count(static_cast<int64_t>(L.groups), kGroupsPerTask);
  auto run = [&](int64_t t) {
    std::vector<float> vals;
    uint64_t g0 = static_cast<uint64_t>(t) * kGroupsPerTask, g1 = std::min<uint64_t>(L.groups, g0 + kGroupsPerTask);
    for (uint64_t gi = g0; gi < g1; ++gi) {
      vals.clear();
      for_group(L, gi, [&](uint64_t e) { vals.push_back(x[e]); });
      GroupResult best = choose_scale(vals, R, sym, std::max<int64_t>(1, search));
      float inv = 1.f / best.scale, zp = static_cast<float>(best.zero_point);
      for_group(L, gi, [&](uint64_t e) {
        int32_t q = static_cast<int32_t>(
            quantize_float(x[e], inv, zp, static_cast<float>(R.lo), static_cast<float>(R.hi)));
        out.values[e] = static_cast<int8_t>(static_cast<uint8_t>(q & 0xFF));
      });
      out.scales[gi] = best.scale;
      if (!sym) out.zero_points[gi] = zp;
    }
  };
  if (threads > 1 && tasks > 1) {
    exec::ThreadPool pool(threads);
    pool.parallel_for(tasks, run);
  } else {
    for (int64_t t = 0; t < tasks; ++t) run(t);
  }
  return out;
}

float dequantized(const QuantizedValues& q, const std::vector<int64_t>& dims, const Granularity& g, uint64_t i) {
  uint64_t gi = group_of(dims, g, i);
  bool is_unsigned = q.type == DataType::UInt8 || q.type == DataType::UInt4;
  int32_t v = is_unsigned ? static_cast<int32_t>(static_cast<uint8_t>(q.values[i])) : q.values[i];
  int32_t zp = q.zero_points.empty() ? 0 : q.zero_points[gi];
  return static_cast<float>(v - zp) * q.scales[gi];
}

std::vector<std::byte> pack_values(const std::vector<int8_t>& v, DataType t) {
  if (t == DataType::Int4 || t == DataType::UInt4) {
    std::vector<std::byte> out((v.size() + 1) / 2, std::byte{0});
    for (size_t i = 0; i < v.size(); ++i) {
      uint8_t nib = static_cast<uint8_t>(v[i]) & 0x0F;
      out[i / 2] |= static_cast<std::byte>(i % 2 ? nib << 4 : nib);
    }
    return out;
  }
  std::vector<std::byte> out(v.size());
  std::memcpy(out.data(), v.data(), v.size());
  return out;
}

}  // namespace effopt::passes::quant
