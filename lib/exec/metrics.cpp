// Error metrics between a reference and a candidate tensor (metrics.h).
#include "exec/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "ir/dtype.h"

namespace effopt::exec {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

void ErrorAccumulator::add(std::span<const double> a, std::span<const double> b) {
  assert(a.size() == b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    const double x = a[k], y = b[k];
    ++count_;
    if (!std::isfinite(x) || !std::isfinite(y)) {
      const bool same = (std::isnan(x) && std::isnan(y)) || x == y;
      if (!same) {
        if (!nonfinite_) first_nonfinite_ = count_ - 1;
        ++nonfinite_;
      }
      continue;  // equal non-finite pairs add no error and no energy
    }
    const double d = y - x, ad = std::fabs(d);
    max_abs_ = std::max(max_abs_, ad);
    sum_abs_ += ad;
    sum_sq_diff_ += d * d;
    sum_sq_ref_ += x * x;
    sum_sq_cand_ += y * y;
    dot_ += x * y;
  }
}

void ErrorAccumulator::add(const TensorValue& reference, const TensorValue& candidate) {
  assert(reference.element_count() == candidate.element_count());
  std::vector<double> a = to_doubles(reference), b = to_doubles(candidate);
  add(a, b);
}

ErrorMetrics ErrorAccumulator::metrics() const {
  ErrorMetrics m;
  m.elements = count_;
  m.nonfinite_mismatches = nonfinite_;
  m.first_nonfinite_mismatch = first_nonfinite_;
  m.zero_reference = sum_sq_ref_ == 0;
  if (nonfinite_) {
    m.max_abs_error = m.mean_abs_error = m.rel_l2_error = kInf;
    m.sqnr_db = -kInf;
    m.cosine_similarity = kNaN;
    return m;
  }
  m.max_abs_error = max_abs_;
  m.mean_abs_error = count_ ? sum_abs_ / static_cast<double>(count_) : 0;
  const double ref = std::sqrt(sum_sq_ref_), cand = std::sqrt(sum_sq_cand_), diff = std::sqrt(sum_sq_diff_);
  m.rel_l2_error = diff == 0 ? 0 : ref == 0 ? kInf : diff / ref;
  if (ref == 0 && cand == 0) m.cosine_similarity = 1;
  else if (ref == 0 || cand == 0) m.cosine_similarity = 0;
  else m.cosine_similarity = std::clamp(dot_ / (ref * cand), -1.0, 1.0);
  m.sqnr_db = sum_sq_diff_ == 0 ? kInf : sum_sq_ref_ == 0 ? -kInf : 10 * std::log10(sum_sq_ref_ / sum_sq_diff_);
  return m;
}

ErrorMetrics error_metrics(const TensorValue& reference, const TensorValue& candidate) {
  ErrorAccumulator acc;
  acc.add(reference, candidate);
  return acc.metrics();
}

std::optional<ClassifierShape> classifier_shape(DataType dtype, const std::vector<int64_t>& dims) {
  if (!is_float_type(dtype) || dims.empty()) return std::nullopt;
  if (dims.size() == 1) {
    if (dims[0] < 2) return std::nullopt;
    return ClassifierShape{1, static_cast<uint64_t>(dims[0])};
  }
  for (size_t i = 2; i < dims.size(); ++i)
    if (dims[i] != 1) return std::nullopt;
  if (dims[1] < 2 || dims[0] < 0) return std::nullopt;
  return ClassifierShape{static_cast<uint64_t>(dims[0]), static_cast<uint64_t>(dims[1])};
}

std::vector<int64_t> top1(const TensorValue& t, const ClassifierShape& shape) {
  std::vector<double> v = to_doubles(t);
  std::vector<int64_t> out(static_cast<size_t>(shape.rows));
  for (uint64_t r = 0; r < shape.rows; ++r) {
    const double* row = v.data() + r * shape.classes;
    uint64_t best = 0;
    for (uint64_t c = 1; c < shape.classes && !std::isnan(row[best]); ++c)
      if (std::isnan(row[c]) || row[c] > row[best]) best = c;
    out[r] = static_cast<int64_t>(best);
  }
  return out;
}

}  // namespace effopt::exec
