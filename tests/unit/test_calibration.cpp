// Calibration (analysis/calibration.h) and the executor's observer hook it
// runs on (exec::ValueObserver): histograms, the percentile and entropy
// thresholds on hand-made histograms, ranges through calibrate() on small
// graphs, bounded memory, and batches cut into rows (split_rows).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "analysis/calibration.h"
#include "analysis/fidelity.h"
#include "exec/executor.h"
#include "exec/tensor_io.h"
#include "util/test_util.h"

using namespace effopt;
using exec::TensorValue;

namespace {

// Samples given in memory.
class VectorSource : public SampleSource {
 public:
  explicit VectorSource(std::vector<Sample> s) : samples_(std::move(s)) {}
  size_t size() const override { return samples_.size(); }
  std::string describe() const override { return std::to_string(samples_.size()) + " samples"; }
  Expected<Sample> load(size_t i) const override { return samples_[i]; }

 private:
  std::vector<Sample> samples_;
};

Sample sample_of(const std::string& input, std::vector<int64_t> dims, const std::vector<float>& v) {
  Sample s;
  s.label = "sample";
  s.inputs.emplace_back(input, TensorValue::from_vector(DataType::Float, std::move(dims), v));
  return s;
}

// Records what it sees: value names in order, and the element count of each.
class Recorder : public exec::ValueObserver {
 public:
  void observe(const Value& value, const TensorValue& tensor) override {
    names.push_back(value.name());
    elements[value.name()] += tensor.element_count();
  }
  std::vector<std::string> names;
  std::map<std::string, uint64_t> elements;
};

constexpr const char* kReluMul = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,4] X) => (float[N,4] Z) <float two = {2}> {
  Y = Relu(X)
  Z = Mul(Y, two)
}
)";

}  // namespace

TEST_CASE("executor observer: sees the inputs and each node output once, in order, at no memory cost", "[calibration]") {
  auto m = test::parse_or_fail(kReluMul);
  std::vector<std::pair<std::string, TensorValue>> in = {
      {"X", TensorValue::from_vector(DataType::Float, {2, 4}, std::vector<float>{-1, 2, -3, 4, 5, -6, 7, -8})}};
  exec::RunOptions plain;
  plain.internal_rewrites = false;
  auto s0 = exec::Session::create(*m, plain);
  REQUIRE(s0);
  REQUIRE((*s0)->run(in));
  const uint64_t peak = (*s0)->last_stats().peak_live_bytes;

  Recorder rec;
  exec::RunOptions ro = plain;
  ro.observer = &rec;
  auto s = exec::Session::create(*m, ro);
  REQUIRE(s);
  auto out = (*s)->run(in);
  REQUIRE(out);
  CHECK(rec.names == std::vector<std::string>{"X", "Y", "Z"});  // the constant `two` is not observed
  CHECK(rec.elements["Y"] == 8);
  CHECK((*s)->last_stats().peak_live_bytes == peak);
  // A second run is observed again, the same way.
  REQUIRE((*s)->run(in));
  CHECK(rec.names.size() == 6);
}

TEST_CASE("calibration: histogram edges and bins as np.histogram", "[calibration]") {
  Histogram h = Histogram::uniform(-1, 1, 4);
  CHECK(h.edges == std::vector<float>{-1, -0.5f, 0, 0.5f, 1});
  CHECK(h.bin_of(-1) == 0);
  CHECK(h.bin_of(-0.5f) == 1);  // left edge closed
  CHECK(h.bin_of(0.49f) == 2);
  CHECK(h.bin_of(0.5f) == 3);
  CHECK(h.bin_of(1) == 3);  // the last bin is closed on the right
  h.add(2);                 // outside: ignored
  h.add(std::nanf(""));
  h.add(0.25f);
  CHECK(h.counts == std::vector<uint64_t>{0, 0, 1, 0});
  // An empty range becomes [lo - 0.5, hi + 0.5], as NumPy does.
  Histogram e = Histogram::uniform(3, 3, 2);
  CHECK(e.edges == std::vector<float>{2.5f, 3, 3.5f});
}

TEST_CASE("calibration: percentile thresholds on a hand-made histogram", "[calibration]") {
  // Symmetric: a histogram of |x|; cdf = [0.05, 0.95, 1, 1].
  Histogram a;
  a.counts = {5, 90, 5, 0};
  a.edges = {0, 1, 2, 3, 4};
  // The first bin whose cumulative share reaches P/100 gives its left edge.
  CHECK(percentile_range(a, 94, true, -4, 4) == std::pair<float, float>{-1, 1});
  CHECK(percentile_range(a, 96, true, -4, 4) == std::pair<float, float>{-2, 2});
  // Clamped to the observed extremes.
  CHECK(percentile_range(a, 96, true, -1.5f, 4) == std::pair<float, float>{-1.5f, 2});
  // Asymmetric: x over [-2, 2], cdf = [0.1, 0.5, 0.9, 1]; P = 85 cuts 0.075 on each side:
  // left at the first bin reaching 0.075 (bin 0, edge -2), right at the first reaching 0.925 (bin 3, edge 1).
  Histogram b;
  b.counts = {10, 40, 40, 10};
  b.edges = {-2, -1, 0, 1, 2};
  CHECK(percentile_range(b, 85, false, -2, 2) == std::pair<float, float>{-2, 1});
  CHECK(percentile_range(b, 85, false, -1.5f, 1.5f) == std::pair<float, float>{-1.5f, 1});
}

TEST_CASE("calibration: entropy thresholds on hand-made histograms", "[calibration]") {
  // 4 bins over [-2, 2], 2 quantized bins: two candidate windows, bins 1..3 (edges -1..2, the bin left of it
  // added to its first bin) and the whole histogram. Computed by hand (smoothing eps 1e-4):
  //   counts {1, 8, 8, 0}: window 1..3: p = {9, 8, 0}, q = {8, 8, 0}, KL 0.0017;
  //                        whole:       p = {1, 8, 8, 0}, q = {4, 4, 8, 8} (9/2 truncated), KL 0.589
  //   -> the narrower window, [-1, 2].
  Histogram h;
  h.edges = {-2, -1, 0, 1, 2};
  h.counts = {1, 8, 8, 0};
  CHECK(entropy_range(h, 2, -2, 2) == std::pair<float, float>{-1, 2});
  //   counts {4, 4, 4, 4}: window 1..3: p = {8, 4, 4}, q = {4, 8, 0}; whole: p = q = {4, 4, 4, 4}, KL 0
  //   -> the whole histogram.
  h.counts = {4, 4, 4, 4};
  CHECK(entropy_range(h, 2, -2, 2) == std::pair<float, float>{-2, 2});
  // Clamped to the observed extremes.
  CHECK(entropy_range(h, 2, -1.25f, 1.75f) == std::pair<float, float>{-1.25f, 1.75f});
  // As many quantized bins as bins: one candidate, the whole histogram (ONNX Runtime's default 128/128).
  h.counts = {1, 8, 8, 0};
  CHECK(entropy_range(h, 4, -2, 2) == std::pair<float, float>{-2, 2});
}

TEST_CASE("calibration: minmax ranges of every tensor over all samples", "[calibration]") {
  auto m = test::parse_or_fail(kReluMul);
  VectorSource src({sample_of("X", {1, 4}, {-1, 2, -3, 0.5f}), sample_of("X", {2, 4}, {0, 1, 2, 3, -7, 4, 1, 1})});
  CalibrationOptions o;
  auto r = calibrate(*m, src, {"X", "Y", "Z"}, o);
  REQUIRE(r);
  CHECK(r->samples == 2);
  REQUIRE(r->ranges.size() == 3);
  const TensorRange* x = r->find("X");
  REQUIRE(x);
  CHECK(x->lo == -7);
  CHECK(x->hi == 4);
  CHECK(x->values == 12);
  const TensorRange* y = r->find("Y");
  REQUIRE(y);
  CHECK(y->lo == 0);
  CHECK(y->hi == 4);
  const TensorRange* z = r->find("Z");
  REQUIRE(z);
  CHECK(z->lo == 0);
  CHECK(z->hi == 8);
  // Symmetric minmax: [-m, m], m = the largest magnitude.
  o.symmetric = true;
  auto s = calibrate(*m, src, {"X"}, o);
  REQUIRE(s);
  CHECK(s->find("X")->lo == -7);
  CHECK(s->find("X")->hi == 7);
  // Every floating-point tensor when none is named, in the order produced.
  auto all = calibrate(*m, src, {}, CalibrationOptions{});
  REQUIRE(all);
  REQUIRE(all->ranges.size() == 3);
  CHECK(all->ranges[0].first == "X");
  CHECK(all->ranges[2].first == "Z");
  // max_samples: only the first sample.
  o.symmetric.reset();
  o.max_samples = 1;
  auto one = calibrate(*m, src, {"X"}, o);
  REQUIRE(one);
  CHECK(one->find("X")->lo == -3);
  CHECK(one->find("X")->hi == 2);
}

TEST_CASE("calibration: non-finite values are skipped and counted; unknown names are usage errors", "[calibration]") {
  auto m = test::parse_or_fail(kReluMul);
  VectorSource src({sample_of("X", {1, 4}, {1, INFINITY, std::nanf(""), -2})});
  auto r = calibrate(*m, src, {"X"}, CalibrationOptions{});
  REQUIRE(r);
  CHECK(r->find("X")->lo == -2);
  CHECK(r->find("X")->hi == 1);
  CHECK(r->find("X")->nonfinite == 2);
  REQUIRE(r->warnings.size() == 1);
  CHECK(r->warnings[0].find("'X' held 2 NaN or infinite values") != std::string::npos);
  auto bad = calibrate(*m, src, {"nope"}, CalibrationOptions{});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == ErrorKind::Usage);
  CHECK(bad.error().message.find("'nope'") != std::string::npos);
  VectorSource none({});
  auto empty = calibrate(*m, none, {"X"}, CalibrationOptions{});
  REQUIRE_FALSE(empty);
  CHECK(empty.error().kind == ErrorKind::Usage);
  CalibrationOptions p;
  p.method = CalibrationMethod::Percentile;
  p.percentile = 101;
  auto pct = calibrate(*m, src, {"X"}, p);
  REQUIRE_FALSE(pct);
  CHECK(pct.error().message.find("percentile") != std::string::npos);
}

TEST_CASE("calibration: percentile and entropy equal the thresholds of one histogram of all values", "[calibration]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N] X) => (float[N] Y) {
  Y = Identity(X)
}
)");
  // 1000 values with a long tail: x = ((i % 100) - 50) / 10, plus a few large ones.
  std::vector<float> all;
  for (int i = 0; i < 1000; ++i) all.push_back(static_cast<float>((i % 100) - 50) / 10.0f);
  all[7] = 40;
  all[500] = -25;
  const float lo = *std::min_element(all.begin(), all.end()), hi = *std::max_element(all.begin(), all.end());
  // The same values as one sample, as ten, and as ten in another order.
  auto batches = [&](size_t n, bool reversed) {
    std::vector<Sample> s;
    const size_t per = all.size() / n;
    for (size_t b = 0; b < n; ++b) {
      size_t k = reversed ? n - 1 - b : b;
      s.push_back(sample_of("X", {static_cast<int64_t>(per)},
                            std::vector<float>(all.begin() + static_cast<long>(k * per),
                                               all.begin() + static_cast<long>((k + 1) * per))));
    }
    return VectorSource(std::move(s));
  };
  for (CalibrationMethod method : {CalibrationMethod::Percentile, CalibrationMethod::Entropy}) {
    CalibrationOptions o;
    o.method = method;
    o.percentile = 99;
    o.num_bins = method == CalibrationMethod::Entropy ? 512 : 0;
    const CalibrationOptions ro = resolved_calibration_options(o);
    // The expectation: one histogram of all values over the range ONNX Runtime uses, then the threshold.
    std::pair<float, float> expected;
    if (method == CalibrationMethod::Percentile) {
      float amin = INFINITY, amax = 0;
      for (float x : all) amin = std::min(amin, std::fabs(x)), amax = std::max(amax, std::fabs(x));
      Histogram h = Histogram::uniform(amin, amax, ro.num_bins);
      for (float x : all) h.add(std::fabs(x));
      expected = percentile_range(h, 99, true, lo, hi);
    } else {
      float t = std::max(std::fabs(lo), std::fabs(hi));
      Histogram h = Histogram::uniform(-t, t, ro.num_bins);
      for (float x : all) h.add(x);
      expected = entropy_range(h, 128, lo, hi);
    }
    INFO(calibration_method_name(method));
    // The tail is cut: the range is narrower than [min, max].
    CHECK(expected.second < hi);
    for (auto [n, reversed] : {std::pair<size_t, bool>{1, false}, {10, false}, {10, true}}) {
      VectorSource src = batches(n, reversed);
      auto r = calibrate(*m, src, {"X", "Y"}, o);
      REQUIRE(r);
      CHECK(r->find("X")->lo == expected.first);
      CHECK(r->find("X")->hi == expected.second);
      CHECK(r->find("Y")->hi == expected.second);
    }
  }
}

TEST_CASE("calibration: the collector's memory does not grow with the samples", "[calibration]") {
  auto m = test::parse_or_fail(kReluMul);
  CalibrationOptions o;
  o.method = CalibrationMethod::Percentile;
  exec::RunOptions ro;
  ro.internal_rewrites = false;
  CalibrationCollector c({}, o);
  ro.observer = &c;
  auto s = exec::Session::create(*m, ro);
  REQUIRE(s);
  auto in = [](float k) {
    return std::vector<std::pair<std::string, TensorValue>>{
        {"X", TensorValue::from_vector(DataType::Float, {64, 4}, std::vector<float>(256, k))}};
  };
  REQUIRE((*s)->run(in(1)));
  const size_t after_one = c.state_bytes();
  for (int i = 0; i < 20; ++i) REQUIRE((*s)->run(in(static_cast<float>(i))));
  CHECK(c.state_bytes() == after_one);
  c.start_histograms();
  const size_t with_histograms = c.state_bytes();
  CHECK(with_histograms >= 3 * 2048 * sizeof(uint64_t));  // one histogram per tensor: X, Y, Z
  for (int i = 0; i < 20; ++i) REQUIRE((*s)->run(in(static_cast<float>(i))));
  CHECK(c.state_bytes() == with_histograms);
  auto r = c.ranges();
  REQUIRE(r.size() == 3);
  CHECK(r[0].second.max == 19);
}

TEST_CASE("split_rows: a batch becomes rows, at most max_rows of them", "[calibration]") {
  auto m = test::parse_or_fail(kReluMul);
  std::vector<float> v(5 * 4);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  auto base = std::make_unique<VectorSource>(std::vector<Sample>{sample_of("X", {5, 4}, v), sample_of("X", {2, 4}, std::vector<float>(8, -1))});
  auto rows = split_rows(std::move(base), *m->graph, 6);
  REQUIRE(rows);
  REQUIRE((*rows)->size() == 6);  // 5 rows of the first sample, 1 of the second
  for (size_t r = 0; r < 5; ++r) {
    auto s = (*rows)->load(r);
    REQUIRE(s);
    REQUIRE(s->inputs.size() == 1);
    const TensorValue& t = s->inputs[0].second;
    CHECK(t.dims() == std::vector<int64_t>{1, 4});
    CHECK(t.data<float>()[0] == static_cast<float>(4 * r));
  }
  auto last = (*rows)->load(5);
  REQUIRE(last);
  CHECK(last->inputs[0].second.data<float>()[0] == -1);
  // A fixed batch dim: samples stay whole and count their rows.
  auto fixed = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[5,4] X) => (float[5,4] Y) {
  Y = Relu(X)
}
)");
  auto whole = split_rows(std::make_unique<VectorSource>(std::vector<Sample>{sample_of("X", {5, 4}, v)}), *fixed->graph, 0);
  REQUIRE(whole);
  CHECK((*whole)->size() == 1);
  CHECK((*whole)->describe().find("5 rows") != std::string::npos);
}

TEST_CASE("calibration: ranges do not depend on the thread count", "[calibration]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,3,16,16] X, float[8,3,3,3] W) => (float[1,8,14,14] Y) {
  C = Conv(X, W)
  Y = Relu(C)
}
)");
  exec::RandomInputOptions ro;
  ro.ranges = {{"", -1, 1}};
  auto plan = exec::plan_random_inputs(*m->graph, ro);
  REQUIRE(plan);
  auto src = random_samples(*plan, 5, 3);
  for (CalibrationMethod method : {CalibrationMethod::MinMax, CalibrationMethod::Percentile, CalibrationMethod::Entropy}) {
    INFO(calibration_method_name(method));
    CalibrationOptions o;
    o.method = method;
    o.num_bins = method == CalibrationMethod::Entropy ? 1024 : 0;
    o.threads = 1;
    auto one = calibrate(*m, *src, {"C", "Y"}, o);
    o.threads = 3;
    auto three = calibrate(*m, *src, {"C", "Y"}, o);
    REQUIRE(one);
    REQUIRE(three);
    REQUIRE(one->ranges.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
      CHECK(one->ranges[i].second.lo == three->ranges[i].second.lo);
      CHECK(one->ranges[i].second.hi == three->ranges[i].second.hi);
      CHECK(one->ranges[i].second.values == 8 * 14 * 14 * 3);
    }
  }
}
