// Calibration statistics and their run on the executor (calibration.h).
#include "analysis/calibration.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "ir/dtype.h"

namespace effopt {

const char* calibration_method_name(CalibrationMethod m) {
  switch (m) {
    case CalibrationMethod::MinMax: return "minmax";
    case CalibrationMethod::Percentile: return "percentile";
    case CalibrationMethod::Entropy: return "entropy";
  }
  return "?";
}

Expected<CalibrationMethod> parse_calibration_method(const std::string& name) {
  for (CalibrationMethod m : {CalibrationMethod::MinMax, CalibrationMethod::Percentile, CalibrationMethod::Entropy})
    if (name == calibration_method_name(m)) return m;
  return usage_error("calibration method '" + name + "': one of minmax, percentile, entropy");
}

CalibrationOptions resolved_calibration_options(const CalibrationOptions& o) {
  CalibrationOptions r = o;
  if (r.num_bins == 0) r.num_bins = o.method == CalibrationMethod::Entropy ? 128 : 2048;
  if (!r.symmetric) r.symmetric = o.method == CalibrationMethod::Percentile;
  return r;
}

const TensorRange* CalibrationResult::find(std::string_view name) const {
  for (const auto& [n, r] : ranges)
    if (n == name) return &r;
  return nullptr;
}

// ---------------------------------------------------------------- histograms

Histogram Histogram::uniform(float lo, float hi, size_t bins) {
  assert(bins > 0 && lo <= hi);
  double first = lo, last = hi;
  if (first == last) first -= 0.5, last += 0.5;  // np.histogram's rule for an empty range
  Histogram h;
  h.counts.assign(bins, 0);
  h.edges.resize(bins + 1);
  // np.linspace(first, last, bins + 1): i * step + first in double (NumPy 1.x), one rounding to float32; the
  // last edge is `last` itself. The two roundings are kept apart (no fused multiply-add).
  const double step = (last - first) / static_cast<double>(bins);
  for (size_t i = 0; i < bins; ++i) {
    volatile double scaled = static_cast<double>(i) * step;
    h.edges[i] = static_cast<float>(scaled + first);
  }
  h.edges[bins] = static_cast<float>(last);
  return h;
}

size_t Histogram::bin_of(float x) const {
  const size_t n = counts.size();
  assert(x >= edges.front() && x <= edges.back());
  // An estimate from the bin width, then moved to the bin whose edges hold x, as np.histogram corrects its
  // own estimate: edges[i] <= x < edges[i + 1], the last bin closed on the right.
  double span = static_cast<double>(edges.back()) - edges.front();
  double f = span > 0 ? (static_cast<double>(x) - edges.front()) / span * static_cast<double>(n) : 0;
  size_t i = f <= 0 ? 0 : std::min(static_cast<size_t>(f), n - 1);
  while (i > 0 && x < edges[i]) --i;
  while (i + 1 < n && x >= edges[i + 1]) ++i;
  return i;
}

void Histogram::add(float x) {
  if (!(x >= edges.front() && x <= edges.back())) return;  // NaN too
  ++counts[bin_of(x)];
}

namespace {

// First index whose cumulative share reaches `v` (np.searchsorted(cdf, v), side "left"); counts.size() if none.
size_t cdf_search(const std::vector<double>& cdf, double v) {
  return static_cast<size_t>(std::lower_bound(cdf.begin(), cdf.end(), v) - cdf.begin());
}

std::pair<float, float> clamp_range(float lo, float hi, float min, float max) {
  if (lo < min) lo = min;
  if (hi > max) hi = max;
  return {lo, hi};
}

}  // namespace

std::pair<float, float> percentile_range(const Histogram& hist, double percentile, bool symmetric, float min,
                                         float max) {
  uint64_t total = 0;
  for (uint64_t c : hist.counts) total += c;
  if (total == 0) return {min, max};
  // cdf = np.cumsum(hist / total): each share rounded, then summed left to right.
  std::vector<double> cdf(hist.counts.size());
  double acc = 0;
  for (size_t i = 0; i < cdf.size(); ++i) {
    acc += static_cast<double>(hist.counts[i]) / static_cast<double>(total);
    cdf[i] = acc;
  }
  if (symmetric) {
    float t = hist.edges[cdf_search(cdf, percentile / 100.0)];
    return clamp_range(-t, t, min, max);
  }
  const double cut = (100.0 - percentile) / 200.0;
  float lo = hist.edges[cdf_search(cdf, cut)];
  float hi = hist.edges[cdf_search(cdf, 1.0 - cut)];
  return clamp_range(lo, hi, min, max);
}

namespace {

// quant_utils.smooth_distribution: zeros become eps, the same mass is taken off the nonzero entries.
// Empty when every entry is zero (ONNX Runtime's None: an infinite divergence).
std::vector<double> smooth_distribution(const std::vector<int64_t>& p, double eps = 0.0001) {
  size_t zeros = static_cast<size_t>(std::count(p.begin(), p.end(), 0));
  size_t nonzeros = p.size() - zeros;
  if (nonzeros == 0) return {};
  const double eps1 = eps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
  std::vector<double> out(p.size());
  for (size_t i = 0; i < p.size(); ++i) out[i] = static_cast<double>(p[i]) + (p[i] == 0 ? eps : -eps1);
  return out;
}

// scipy.stats.entropy(p, q): KL divergence of the normalized distributions.
double kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  double sp = 0, sq = 0;
  for (double x : p) sp += x;
  for (double x : q) sq += x;
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    double pi = p[i] / sp, qi = q[i] / sq;
    if (pi == 0) continue;
    if (!(qi > 0)) return std::numeric_limits<double>::infinity();
    kl += pi * std::log(pi / qi);
  }
  return kl;
}

}  // namespace

// HistogramCollector.get_entropy_threshold of ONNX Runtime's calibrate.py: for every window of
// 2i + 1 bins centred on the zero bin (i from half the quantized bins to half the histogram), the reference
// distribution p is the window with the outliers added to its end bins, and q the window requantized to
// `num_quantized_bins` levels and expanded back (each level's count spread, truncated to an integer, over
// its bins; bins beyond the last full level stay 0); the window with the least KL(p || q) wins (the first
// on ties). ONNX Runtime computes the smoothing and the divergence in float32, effopt in double.
std::pair<float, float> entropy_range(const Histogram& hist, size_t num_quantized_bins, float min, float max) {
  const std::vector<uint64_t>& h = hist.counts;
  const size_t num_bins = h.size();
  assert(num_quantized_bins >= 1 && num_quantized_bins <= num_bins);
  const size_t zero_bin = num_bins / 2;
  const size_t half_quantized = num_quantized_bins / 2;
  double best = std::numeric_limits<double>::infinity();
  std::pair<float, float> best_range{hist.edges.front(), hist.edges.back()};
  bool have_best = false;
  for (size_t i = half_quantized; i <= zero_bin; ++i) {
    const size_t start = zero_bin - i;
    const size_t end = std::min(zero_bin + i + 1, num_bins);
    const size_t width = end - start;
    std::vector<int64_t> p(width);
    for (size_t k = 0; k < width; ++k) p[k] = static_cast<int64_t>(h[start + k]);
    int64_t left = 0, right = 0;
    for (size_t k = 0; k < start; ++k) left += static_cast<int64_t>(h[k]);
    for (size_t k = end; k < num_bins; ++k) right += static_cast<int64_t>(h[k]);
    p.front() += left;
    p.back() += right;
    const size_t merged = width / num_quantized_bins;
    std::vector<int64_t> quantized(num_quantized_bins, 0);
    for (size_t b = 0; b < num_quantized_bins; ++b)
      for (size_t k = b * merged; k < (b + 1) * merged; ++k) quantized[b] += static_cast<int64_t>(h[start + k]);
    for (size_t k = num_quantized_bins * merged; k < width; ++k)
      quantized.back() += static_cast<int64_t>(h[start + k]);
    std::vector<int64_t> q(width, 0);
    for (size_t b = 0; b < num_quantized_bins; ++b) {
      int64_t norm = 0;
      for (size_t k = b * merged; k < (b + 1) * merged; ++k) norm += p[k] != 0;
      if (norm == 0) continue;
      const int64_t spread = quantized[b] / norm;  // float division stored into an int64 array: truncated
      for (size_t k = b * merged; k < (b + 1) * merged; ++k) q[k] = spread;
    }
    std::vector<double> ps = smooth_distribution(p), qs = smooth_distribution(q);
    double kl = ps.empty() || qs.empty() ? std::numeric_limits<double>::infinity() : kl_divergence(ps, qs);
    if (!have_best || kl < best) {  // np.argmin: the first minimum
      best = kl;
      best_range = {hist.edges[start], hist.edges[end]};
      have_best = true;
    }
  }
  return clamp_range(best_range.first, best_range.second, min, max);
}

// ---------------------------------------------------------------- collector

CalibrationCollector::CalibrationCollector(std::vector<const Value*> tensors, const CalibrationOptions& options)
    : opts_(resolved_calibration_options(options)), follow_all_(tensors.empty()) {
  stats_.reserve(tensors.size());
  for (const Value* v : tensors) {
    if (index_.count(v)) continue;
    index_.emplace(v, stats_.size());
    Stats s;
    s.value = v;
    stats_.push_back(std::move(s));
  }
}

CalibrationCollector::Stats* CalibrationCollector::stats_for(const Value& v) {
  auto it = index_.find(&v);
  if (it != index_.end()) return &stats_[it->second];
  if (!follow_all_ || histograms_) return nullptr;  // the second pass follows what the first one found
  index_.emplace(&v, stats_.size());
  Stats s;
  s.value = &v;
  stats_.push_back(std::move(s));
  return &stats_.back();
}

namespace {

// Calls f(x) for every element of a floating-point tensor, as float32; false for other types.
template <class F>
bool for_each_float(const exec::TensorValue& t, F&& f) {
  const uint64_t n = t.element_count();
  switch (t.dtype()) {
    case DataType::Float: {
      const float* d = t.data<float>();
      for (uint64_t i = 0; i < n; ++i) f(d[i]);
      return true;
    }
    case DataType::Double: {
      const double* d = t.data<double>();
      for (uint64_t i = 0; i < n; ++i) f(static_cast<float>(d[i]));
      return true;
    }
    case DataType::Float16: {
      const uint16_t* d = t.data<uint16_t>();
      for (uint64_t i = 0; i < n; ++i) f(half_to_float(d[i]));
      return true;
    }
    case DataType::BFloat16: {
      const uint16_t* d = t.data<uint16_t>();
      for (uint64_t i = 0; i < n; ++i) f(bf16_to_float(d[i]));
      return true;
    }
    default: return false;
  }
}

}  // namespace

void CalibrationCollector::observe(const Value& value, const exec::TensorValue& tensor) {
  if (follow_all_ && !histograms_ && !index_.count(&value) && !is_float_type(tensor.dtype())) return;
  Stats* s = stats_for(value);
  if (!s) return;
  if (histograms_) {
    if (s->range.values == 0) return;
    const bool abs_values = opts_.method == CalibrationMethod::Percentile && *opts_.symmetric;
    Histogram& h = s->hist;
    for_each_float(tensor, [&](float x) {
      if (std::isfinite(x)) h.add(abs_values ? std::fabs(x) : x);
    });
    return;
  }
  TensorRange& r = s->range;
  float lo = r.values ? r.min : std::numeric_limits<float>::infinity();
  float hi = r.values ? r.max : -std::numeric_limits<float>::infinity();
  float alo = r.values ? s->abs_min : std::numeric_limits<float>::infinity();
  float ahi = r.values ? s->abs_max : 0.0f;
  uint64_t finite = 0, nonfinite = 0;
  bool is_float = for_each_float(tensor, [&](float x) {
    if (!std::isfinite(x)) {
      ++nonfinite;
      return;
    }
    ++finite;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    float a = std::fabs(x);
    alo = std::min(alo, a);
    ahi = std::max(ahi, a);
  });
  if (!is_float) return;
  s->seen = true;
  r.nonfinite += nonfinite;
  if (finite == 0) return;
  r.values += finite;
  r.min = lo;
  r.max = hi;
  s->abs_min = alo;
  s->abs_max = ahi;
}

bool CalibrationCollector::needs_histograms() const { return opts_.method != CalibrationMethod::MinMax; }

void CalibrationCollector::start_histograms() {
  assert(needs_histograms() && !histograms_);
  histograms_ = true;
  for (Stats& s : stats_) {
    if (s.range.values == 0) continue;
    if (opts_.method == CalibrationMethod::Percentile && *opts_.symmetric) {
      s.hist = Histogram::uniform(s.abs_min, s.abs_max, opts_.num_bins);
    } else {
      // ONNX Runtime's threshold: max(|min|, |max|), a float32 like the data.
      float m = std::max(std::fabs(s.range.min), std::fabs(s.range.max));
      s.hist = Histogram::uniform(-m, m, opts_.num_bins);
    }
  }
}

std::vector<std::pair<std::string, TensorRange>> CalibrationCollector::ranges() const {
  std::vector<std::pair<std::string, TensorRange>> out;
  for (const Stats& s : stats_) {
    if (!s.seen) continue;
    TensorRange r = s.range;
    if (r.values == 0) {
      r.lo = r.hi = r.min = r.max = 0;
    } else if (opts_.method == CalibrationMethod::MinMax) {
      if (*opts_.symmetric) {
        float m = std::max(std::fabs(r.min), std::fabs(r.max));
        r.lo = -m, r.hi = m;
      } else {
        r.lo = r.min, r.hi = r.max;
      }
    } else if (!histograms_) {
      r.lo = r.min, r.hi = r.max;  // the histogram pass never ran
    } else if (opts_.method == CalibrationMethod::Percentile) {
      std::tie(r.lo, r.hi) = percentile_range(s.hist, opts_.percentile, *opts_.symmetric, r.min, r.max);
    } else {
      std::tie(r.lo, r.hi) = entropy_range(s.hist, opts_.num_quantized_bins, r.min, r.max);
    }
    out.emplace_back(s.value->name(), r);
  }
  return out;
}

std::vector<std::string> CalibrationCollector::never_produced() const {
  std::vector<std::string> out;
  for (const Stats& s : stats_)
    if (!s.seen) out.push_back(s.value->name());
  return out;
}

size_t CalibrationCollector::state_bytes() const {
  size_t n = sizeof(*this) + stats_.capacity() * sizeof(Stats);
  for (const Stats& s : stats_) n += s.hist.counts.capacity() * sizeof(uint64_t) + s.hist.edges.capacity() * sizeof(float);
  // The name index: its buckets and one node (key, value, next pointer) per tensor.
  n += index_.bucket_count() * sizeof(void*) + index_.size() * (sizeof(std::pair<const Value*, size_t>) + sizeof(void*));
  return n;
}

// ---------------------------------------------------------------- the run

namespace {

Expected<std::vector<const Value*>> resolve_tensors(const Model& model, const std::vector<std::string>& names) {
  std::unordered_map<std::string_view, const Value*> by_name;
  auto add = [&](Graph& g) {
    for (const Value* v : g.inputs()) by_name.emplace(v->name(), v);
    for (const auto& n : g.nodes())
      for (const Value* o : n->outputs())
        if (o) by_name.emplace(o->name(), o);
  };
  for_each_graph(*model.graph, add);
  std::vector<const Value*> out;
  for (const std::string& name : names) {
    auto it = by_name.find(name);
    if (it == by_name.end())
      return usage_error("calibration: the model has no value '" + name + "' (neither a graph input nor a node output)");
    out.push_back(it->second);
  }
  return out;
}

}  // namespace

Expected<CalibrationResult> calibrate(const Model& model, const SampleSource& samples,
                                      const std::vector<std::string>& tensors, const CalibrationOptions& options) {
  if (!model.graph) return invalid_model("the model has no graph");
  const CalibrationOptions o = resolved_calibration_options(options);
  if (!(o.percentile >= 0 && o.percentile <= 100))
    return usage_error("calibration: the percentile must be within 0..100, got " + std::to_string(o.percentile));
  if (o.method == CalibrationMethod::Entropy && (o.num_quantized_bins < 1 || o.num_quantized_bins > o.num_bins))
    return usage_error("calibration: entropy needs 1 to " + std::to_string(o.num_bins) + " quantized bins, got " +
                       std::to_string(o.num_quantized_bins));
  uint64_t n = samples.size();
  if (o.max_samples) n = std::min<uint64_t>(n, o.max_samples);
  if (n == 0) return usage_error("calibration needs at least one sample (" + samples.describe() + ")");
  EFFOPT_TRY_ASSIGN(std::vector<const Value*> values, resolve_tensors(model, tensors));

  CalibrationCollector collector(std::move(values), o);
  exec::RunOptions ro;
  ro.threads = std::max(1, o.threads);
  ro.internal_rewrites = false;  // every value of the model as written, BatchNormalization included
  ro.fold_batch_norm = false;
  ro.observer = &collector;
  auto session = exec::Session::create(model, ro);
  if (!session) return std::move(session).error().context("calibration");
  CalibrationResult result;
  auto run_all = [&]() -> Status {
    for (uint64_t i = 0; i < n; ++i) {
      auto s = samples.load(i);
      if (!s) return std::move(s).error().context("calibration");
      auto r = (*session)->run(s->inputs);
      if (!r) return std::move(r).error().context("calibration sample " + s->label);
    }
    return ok();
  };
  try {
    EFFOPT_TRY(run_all());
    if (collector.needs_histograms()) {
      collector.start_histograms();
      EFFOPT_TRY(run_all());
    }
  } catch (const std::bad_alloc&) {
    return io_error("out of memory while calibrating");
  }
  result.samples = n;
  result.ranges = collector.ranges();
  for (const std::string& name : collector.never_produced())
    result.warnings.push_back("calibration: '" + name + "' was never produced as a floating-point tensor (" +
                              "a constant, a value of another type, or in a branch that never ran)");
  for (const auto& [name, r] : result.ranges)
    if (r.nonfinite)
      result.warnings.push_back("calibration: '" + name + "' held " + std::to_string(r.nonfinite) +
                                " NaN or infinite values; they are left out of its range");
  return result;
}

}  // namespace effopt
