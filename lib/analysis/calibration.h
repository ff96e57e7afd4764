// Calibration: the value range of a model's activations on sample inputs, the
// statistics static quantization chooses its scales from.
//
//   CalibrationOptions o;
//   o.method = CalibrationMethod::Percentile;        // percentile 99.999, as ONNX Runtime
//   auto r = calibrate(model, samples, {"conv1_out", "relu2_out"}, o);
//   const TensorRange* x = r->find("conv1_out");     // x->lo, x->hi
//
// The model runs on effopt's executor with internal rewrites off (so
// BatchNormalization is not folded and every value of the model as written
// is produced), and a CalibrationCollector (an exec::ValueObserver) updates
// fixed-size statistics per tensor as each value is produced; no value is
// kept. Memory is the executor's for one sample plus the statistics: a few
// numbers per tensor, and for percentile / entropy one histogram per tensor
// (num_bins counts); nothing grows with the number of samples or of values
// observed. Percentile and entropy read the samples twice: once for each
// tensor's range, once to fill histograms over that fixed range, so the
// histograms are those of the whole data set at once, whatever the order or
// size of the samples (ONNX Runtime's collect_data builds them in one go over
// every batch it keeps in memory; merged per batch they would depend on the
// batching).
//
// The methods are ONNX Runtime's (onnxruntime/python/tools/quantization/
// calibrate.py: MinMaxCalibrater, HistogramCollector.compute_percentile and
// get_entropy_threshold), with its defaults:
//   minmax      [min, max]; symmetric: [-m, m], m = max(|min|, |max|)
//   percentile  2048 bins; symmetric (ONNX Runtime's default for it): a
//               histogram of |x| over [min |x|, max |x|], threshold = the
//               left edge of the bin where the cumulative share reaches
//               P/100, range [-t, t]; asymmetric: a histogram of x over
//               [-m, m], cutting (100 - P) / 200 on each side
//   entropy     128 bins over [-m, m], 128 quantized bins: the threshold
//               pair with the least KL divergence between the clipped
//               histogram and its 128-level requantization (TensorRT's
//               method). With these defaults the search has one candidate,
//               the whole histogram, so entropy gives [min, max] as ONNX
//               Runtime's does; more bins (num_bins) make it search.
// Every range is then clamped to the observed [min, max]. A range does not
// necessarily hold zero: the quantizer widens it (ONNX Runtime does the same).
// Values that are NaN or infinite are skipped and counted (ONNX Runtime fails
// on them). float16 / bfloat16 / double values are binned as float32.
//
// Determinism: min / max are exact; histogram counts are integers, so the
// histograms do not depend on the order of the values; the thresholds are
// computed from the counts in a fixed order. The ranges are therefore
// identical for any --threads (the executor's results are bit-identical for
// any thread count). On another CPU the activations themselves may differ in
// their last bits (docs/executor.md, "Threads and determinism": oneDNN picks
// other instructions), and with them a range's last bit and so a scale's.
// Bin edges follow NumPy 1.x's np.histogram (computed in double, rounded to
// float32 once); NumPy 2 computes them in float32 and ONNX Runtime's KL
// divergence is computed in float32, where effopt uses double: a value on an
// edge, or two candidates within float32 rounding of each other, can come out
// one bin apart from ONNX Runtime's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "analysis/fidelity.h"
#include "exec/executor.h"
#include "ir/ir.h"
#include "support/error.h"

namespace effopt {

enum class CalibrationMethod { MinMax, Percentile, Entropy };
const char* calibration_method_name(CalibrationMethod m);  // "minmax", "percentile", "entropy"
Expected<CalibrationMethod> parse_calibration_method(const std::string& name);

struct CalibrationOptions {
  CalibrationMethod method = CalibrationMethod::MinMax;
  double percentile = 99.999;  // Percentile: 0..100
  // Unset: ONNX Runtime's default for the method (percentile symmetric, minmax not; entropy has none).
  std::optional<bool> symmetric;
  // Histogram bins; 0 = ONNX Runtime's default (2048 percentile, 128 entropy).
  size_t num_bins = 0;
  size_t num_quantized_bins = 128;  // entropy; at most num_bins
  int threads = 1;                   // executor threads (results do not depend on it)
  uint64_t max_samples = 0;          // samples of the source to run; 0 = all
};

// The calibrated range of one tensor and what it was computed from.
struct TensorRange {
  float lo = 0, hi = 0;     // the range the method chose
  float min = 0, max = 0;   // observed finite minimum and maximum
  uint64_t values = 0;      // finite values seen
  uint64_t nonfinite = 0;   // NaN / infinite values skipped
};

struct CalibrationResult {
  // In the order the tensors were asked for (or, when none were named, first produced).
  std::vector<std::pair<std::string, TensorRange>> ranges;
  uint64_t samples = 0;               // samples run
  std::vector<std::string> warnings;  // tensors never produced, skipped non-finite values
  const TensorRange* find(std::string_view name) const;
};

// Calibrates the named tensors (graph inputs or node outputs of any graph;
// empty = every floating-point tensor produced) on `samples` (rows: see
// split_rows in fidelity.h). InvalidModel when the executor cannot run the
// model; Usage when a name is not a value of the model, no sample is given,
// or the options are out of range.
Expected<CalibrationResult> calibrate(const Model& model, const SampleSource& samples,
                                      const std::vector<std::string>& tensors, const CalibrationOptions& options);

// ---------------------------------------------------------------- the parts

// A histogram as np.histogram gives it: counts[i] holds the values in
// [edges[i], edges[i + 1]), the last bin also its right edge.
struct Histogram {
  std::vector<uint64_t> counts;
  std::vector<float> edges;  // counts.size() + 1
  // np.histogram's edges for `bins` equal bins over [lo, hi] (lo == hi: [lo - 0.5, hi + 0.5]), computed as
  // NumPy 1.x's linspace does (in double, rounded to float32 once; the last edge is hi exactly).
  static Histogram uniform(float lo, float hi, size_t bins);
  // Adds x (finite, within [edges.front(), edges.back()]; others are ignored).
  void add(float x);
  size_t bin_of(float x) const;  // asserts x is within the edges
};

// The ranges from a histogram, as ONNX Runtime computes them (see the top of
// this file); `min`/`max` are the observed extremes the result is clamped to.
// percentile_range: `hist` is of |x| when symmetric, of x over [-m, m] otherwise.
std::pair<float, float> percentile_range(const Histogram& hist, double percentile, bool symmetric, float min, float max);
// entropy_range: `hist` of x over [-m, m]; num_quantized_bins <= its bin count.
std::pair<float, float> entropy_range(const Histogram& hist, size_t num_quantized_bins, float min, float max);

// The statistics of a calibration run, updated as the executor produces each
// value (RunOptions::observer). Minmax needs one pass over the samples;
// percentile and entropy a second one after start_histograms(), which fixes
// each tensor's histogram range from the first pass. Its memory
// (state_bytes()) depends on the tensors and the options only.
class CalibrationCollector : public exec::ValueObserver {
 public:
  // `tensors`: values of `model` to follow (empty: every floating-point tensor produced).
  CalibrationCollector(std::vector<const Value*> tensors, const CalibrationOptions& options);
  void observe(const Value& value, const exec::TensorValue& tensor) override;
  bool needs_histograms() const;
  void start_histograms();
  // The ranges, in the order of the tensors (or of first production).
  std::vector<std::pair<std::string, TensorRange>> ranges() const;
  std::vector<std::string> never_produced() const;
  // Bytes held by the statistics (the collector's own memory).
  size_t state_bytes() const;

 private:
  struct Stats {
    const Value* value = nullptr;
    bool seen = false;
    TensorRange range;
    float abs_min = 0, abs_max = 0;  // symmetric percentile
    Histogram hist;
  };
  Stats* stats_for(const Value& v);
  CalibrationOptions opts_;
  bool follow_all_ = false;
  bool histograms_ = false;
  std::vector<Stats> stats_;
  std::unordered_map<const Value*, size_t> index_;
};

// The options with ONNX Runtime's defaults filled in (bins, symmetric).
CalibrationOptions resolved_calibration_options(const CalibrationOptions& o);

}  // namespace effopt
