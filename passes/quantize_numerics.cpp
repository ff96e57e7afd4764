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
#include "exec/vector_clones.h"
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
// (a fixed order: the same on every thread and, the file being compiled
// without FMA contraction, on every ISA the loop is cloned for).
EFFOPT_VECTOR_CLONES double rounding_error(const float* x, size_t n, float s, float zp, float lo, float hi) {
  float inv = 1.f / s;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
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

// The smallest and largest element (exact whatever the order).
EFFOPT_VECTOR_CLONES void min_max(const float* x, size_t n, float& lo, float& hi) {
  // In 16 lanes: a single running min/max does not vectorize (GCC keeps its NaN order).
  float l[16] = {}, h[16] = {};
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (size_t k = 0; k < 16; ++k) {
      l[k] = x[i + k] < l[k] ? x[i + k] : l[k];
      h[k] = x[i + k] > h[k] ? x[i + k] : h[k];
    }
  for (; i < n; ++i) {
    l[0] = x[i] < l[0] ? x[i] : l[0];
    h[0] = x[i] > h[0] ? x[i] : h[0];
  }
  lo = *std::min_element(l, l + 16);
  hi = *std::max_element(h, h + 16);
}

// The integers of a group, stored as their low 8 bits.
EFFOPT_VECTOR_CLONES void round_group(const float* x, size_t n, float s, float zp, float lo, float hi, int8_t* q) {
  float inv = 1.f / s;
  for (size_t i = 0; i < n; ++i)
    q[i] = static_cast<int8_t>(static_cast<uint8_t>(static_cast<int32_t>(quantize_float(x[i], inv, zp, lo, hi)) & 0xFF));
}

// Symmetric candidates whose exact error is worth computing. The error of
// scale s splits into the clipped elements' (x - c s)^2, computed here exactly
// from per-ratio sums (an element is clipped by every ratio below |x| / (c s0)),
// and the rounding error of the others, modelled as s^2 / 12 each (uniform
// rounding residue) with a standard deviation of s^2 sqrt(n / 180). Only the
// candidates whose modelled error is within kNoiseMargins standard deviations
// of the best modelled one are rounded for real; ratio 1 (max-abs) always is,
// so the result is never worse than max-abs rounding. On groups of thousands
// of elements that is a handful of the 51 candidates; on small groups, where
// the model is noisier, most of them. The exact errors decide, in candidate
// order, as the full search does.
constexpr double kNoiseMargins = 6.0;

// bucket[k] for worth_rounding (see there): inv_pos = 1 / (hi s0), inv_neg = 1 / (-lo s0).
EFFOPT_VECTOR_CLONES void bucket_indexes(const float* x, size_t n, float inv_pos, float inv_neg, int32_t S,
                                         int32_t* bucket) {
  const float span = 2.0f * static_cast<float>(S - 1), fS = static_cast<float>(S);
  for (size_t k = 0; k < n; ++k) {
    // Selects and min/max only, so the loop vectorizes.
    float v = x[k];
    bool negative = v < 0;
    float t = (negative ? -v : v) * (negative ? inv_neg : inv_pos);
    // first = floor((1 - t) span) + 1, as truncation of a value kept >= 0; 0 when every candidate
    // clips x, S when none does (t <= 0.5).
    float g = (1.0f - t) * span + 1.0f;
    g = g > 0.0f ? g : 0.0f;
    g = g < fS ? g : fS;
    bucket[k] = static_cast<int32_t>(g) + (negative ? S + 1 : 0);
  }
}

std::vector<char> worth_rounding(const float* x, size_t n, const std::vector<float>& scales, double s0, QRange R) {
  size_t S = scales.size();
  std::vector<char> keep(S, 1);
  if (S <= 2) return keep;
  // Candidate i (ratio r_i = 1 - 0.5 i / (S - 1)) clips x when |x| > c s0 r_i, c = hi for x >= 0 and -lo
  // below, i.e. for every i >= first(x) = floor(2 (1 - |x| / (c s0)) (S - 1)) + 1; buckets
  // [0, S) hold positive x by first(x), [S + 1, 2 S + 1) negative ones, S and 2 S + 1 the
  // elements no candidate clips. The bucket indexes are computed in a vector loop, then summed.
  float inv_pos = static_cast<float>(1.0 / (R.hi * s0)), inv_neg = static_cast<float>(1.0 / (-R.lo * s0));
  if (!std::isfinite(inv_pos) || !std::isfinite(inv_neg)) return keep;
  std::vector<int32_t> bucket(n);
  bucket_indexes(x, n, inv_pos, inv_neg, static_cast<int32_t>(S), bucket.data());
  struct Sums {
    double count = 0, sum = 0, sum_sq = 0;
  };
  std::vector<Sums> sums(2 * S + 2);
  for (size_t k = 0; k < n; ++k) {
    Sums& b = sums[static_cast<size_t>(bucket[k])];
    double a = std::fabs(static_cast<double>(x[k]));
    b.count += 1;
    b.sum += a;
    b.sum_sq += a * a;
  }
  const Sums* pos = sums.data();
  const Sums* neg = sums.data() + S + 1;
  double chi = R.hi, clo = -static_cast<double>(R.lo);
  std::vector<double> model(S), sigma(S);
  Sums cp, cn;
  for (size_t i = 0; i < S; ++i) {
    cp.count += pos[i].count, cp.sum += pos[i].sum, cp.sum_sq += pos[i].sum_sq;
    cn.count += neg[i].count, cn.sum += neg[i].sum, cn.sum_sq += neg[i].sum_sq;
    double s = scales[i];
    double clipped = cp.sum_sq - 2 * chi * s * cp.sum + cp.count * chi * chi * s * s + cn.sum_sq -
                     2 * clo * s * cn.sum + cn.count * clo * clo * s * s;
    double rounded = static_cast<double>(n) - cp.count - cn.count;
    model[i] = clipped + rounded * s * s / 12.0;
    sigma[i] = s * s * std::sqrt(std::max(rounded, 1.0) / 180.0);
  }
  size_t best = 0;
  for (size_t i = 1; i < S; ++i)
    if (model[i] < model[best]) best = i;
  for (size_t i = 1; i < S; ++i) keep[i] = model[i] <= model[best] + kNoiseMargins * (sigma[i] + sigma[best]);
  return keep;
}

// The best scale (and zero point) for the values `x` of one group.
GroupResult choose_scale(const float* x, size_t n, QRange R, bool symmetric, int64_t search) {
  GroupResult best;
  float flo, fhi;
  min_max(x, n, flo, fhi);
  double lo = flo, hi = fhi;
  if (lo == 0 && hi == 0) {
    best.zero_point = symmetric ? 0 : std::clamp(0, R.lo, R.hi);
    return best;  // all zeros: any scale is exact
  }
  std::vector<float> scales(static_cast<size_t>(search));
  std::vector<int32_t> zps(scales.size(), 0);
  // The smallest symmetric scale that clips nothing.
  double s0 = std::max(hi / R.hi, R.lo < 0 ? -lo / -R.lo : 0.0);
  for (int64_t i = 0; i < search; ++i) {
    double r = search == 1 ? 1.0 : 1.0 - 0.5 * static_cast<double>(i) / static_cast<double>(search - 1);
    if (symmetric) {
      scales[static_cast<size_t>(i)] = static_cast<float>(s0 * r);
    } else {
      double l = lo * r, h = hi * r;
      float s = static_cast<float>((h - l) / (R.hi - R.lo));
      scales[static_cast<size_t>(i)] = s;
      zps[static_cast<size_t>(i)] = static_cast<int32_t>(std::clamp(
          std::nearbyint(R.lo - l / s), static_cast<double>(R.lo), static_cast<double>(R.hi)));
    }
  }
  std::vector<char> keep = symmetric ? worth_rounding(x, n, scales, s0, R) : std::vector<char>(scales.size(), 1);
  double best_err = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < scales.size(); ++i) {
    float s = scales[i];
    if (!keep[i] || !(s > 0) || !std::isfinite(s) || !std::isfinite(1.f / s)) continue;
    double err = rounding_error(x, n, s, static_cast<float>(zps[i]), static_cast<float>(R.lo), static_cast<float>(R.hi));
    if (err < best_err) {
      best_err = err;
      best.scale = s;
      best.zero_point = zps[i];
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

namespace {

// The largest |bit pattern| of n float32s: one is inf or NaN exactly when it
// is >= 0x7F800000. A max reduction, so the loop vectorizes.
EFFOPT_VECTOR_CLONES uint32_t max_float_magnitude_bits(const std::byte* b, uint64_t n) {
  uint32_t m = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, b + i * 4, 4);
    u &= 0x7FFFFFFFu;
    m = u > m ? u : m;
  }
  return m;
}

}  // namespace

bool all_finite(const Tensor& t) {
  uint64_t n = t.element_count().value_or(0);
  const std::byte* b = t.bytes().data();
  if (t.byte_size() < packed_byte_size(t.data_type, n)) return false;
  // The planner reads every weight once, here: a mapped file's pages go back
  // to the page cache afterwards (quantizing reads them again, one tensor at a time).
  struct Release {
    const Tensor& t;
    ~Release() {
      if (t.storage) t.storage->release_file_pages();
    }
  } release{t};
  switch (t.data_type) {
    case DataType::Float:
      return max_float_magnitude_bits(b, n) < 0x7F800000u;
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

QuantizedValues quantize_values(const std::vector<float>& x, const std::vector<int64_t>& dims, Precision p,
                                const Granularity& g, bool symmetric, bool reduce_range, int64_t search, int threads) {
  assert(p != Precision::Float);
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
  // Fixed chunks of groups, each computed the same way on any thread. A
  // chunk's groups are copied out to contiguous rows first, in each group's
  // element order. Channels that are not contiguous (a MatMul weight's N axis:
  // [pre, D, post] with pre > 1) are copied row by row of the tensor, all the
  // chunk's channels at once, so each row's cache line and page is touched
  // once, not once per channel (a strided walk per channel made a 600 MB model
  // take 10 s longer).
  // Strided channels are copied 256 at a time (1 KB of each float row, which
  // the hardware prefetcher follows); other groups 16 at a time.
  const uint64_t kGroupsPerTask = L.kind == Granularity::Kind::PerAxis && L.pre > 1 && L.post == 1 ? 256 : 16;
  int64_t tasks = exec::chunk_count(static_cast<int64_t>(L.groups), static_cast<int64_t>(kGroupsPerTask));
  const float flo = static_cast<float>(R.lo), fhi = static_cast<float>(R.hi);
  int64_t search_n = std::max<int64_t>(1, search);
  auto run = [&](int64_t t) {
    uint64_t g0 = static_cast<uint64_t>(t) * kGroupsPerTask, g1 = std::min<uint64_t>(L.groups, g0 + kGroupsPerTask);
    std::vector<float> rows;
    std::vector<int8_t> ints;
    std::vector<size_t> begin(g1 - g0 + 1, 0);
    if (L.kind == Granularity::Kind::PerAxis) {
      size_t len = static_cast<size_t>(L.pre * L.post);
      rows.resize(len * (g1 - g0));
      for (uint64_t gi = g0; gi <= g1; ++gi) begin[gi - g0] = (gi - g0) * len;
      // In tiles of 16 tensor rows: the writes to 16 copied rows per channel stay in a few pages.
      for (int64_t p0 = 0; p0 < L.pre; p0 += 16) {
        int64_t p1 = std::min(L.pre, p0 + 16);
        for (uint64_t gi = g0; gi < g1; ++gi)
          for (int64_t pi = p0; pi < p1; ++pi) {
            const float* src = x.data() + (pi * L.D + static_cast<int64_t>(gi)) * L.post;
            float* dst = rows.data() + begin[gi - g0] + static_cast<size_t>(pi * L.post);
            for (int64_t qi = 0; qi < L.post; ++qi) dst[qi] = src[qi];
          }
      }
    } else {
      for (uint64_t gi = g0; gi < g1; ++gi) {
        for_group(L, gi, [&](uint64_t e) { rows.push_back(x[e]); });
        begin[gi - g0 + 1] = rows.size();
      }
    }
    ints.resize(rows.size());
    for (uint64_t gi = g0; gi < g1; ++gi) {
      const float* v = rows.data() + begin[gi - g0];
      size_t n = begin[gi - g0 + 1] - begin[gi - g0];
      GroupResult best = choose_scale(v, n, R, sym, search_n);
      round_group(v, n, best.scale, static_cast<float>(best.zero_point), flo, fhi, ints.data() + begin[gi - g0]);
      out.scales[gi] = best.scale;
      if (!sym) out.zero_points[gi] = best.zero_point;
    }
    if (L.kind == Granularity::Kind::PerAxis) {
      for (int64_t p0 = 0; p0 < L.pre; p0 += 16) {
        int64_t p1 = std::min(L.pre, p0 + 16);
        for (int64_t pi = p0; pi < p1; ++pi)
          for (uint64_t gi = g0; gi < g1; ++gi) {
            const int8_t* src = ints.data() + begin[gi - g0] + static_cast<size_t>(pi * L.post);
            int8_t* dst = out.values.data() + (pi * L.D + static_cast<int64_t>(gi)) * L.post;
            for (int64_t qi = 0; qi < L.post; ++qi) dst[qi] = src[qi];
          }
      }
    } else {
      for (uint64_t gi = g0; gi < g1; ++gi) {
        size_t k = begin[gi - g0];
        for_group(L, gi, [&](uint64_t e) { out.values[e] = ints[k++]; });
      }
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
