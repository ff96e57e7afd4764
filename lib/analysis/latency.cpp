#include "analysis/latency.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "exec/executor.h"

namespace effopt {

double percentile_nearest_rank(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size())));
  return values[std::min(values.size(), std::max<size_t>(rank, 1)) - 1];
}

Expected<LatencyStats> measure_latency(const Model& model,
                                       const std::vector<std::pair<std::string, exec::TensorValue>>& inputs,
                                       const LatencyOptions& opts) {
  if (opts.runs < 1) return usage_error("--latency: the number of runs must be at least 1");
  exec::RunOptions ro;
  ro.threads = std::max(1, opts.threads);
  EFFOPT_TRY_ASSIGN(auto session, exec::Session::create(model, ro));
  LatencyStats s;
  s.runs = opts.runs;
  s.warmup = opts.warmup;
  s.threads = ro.threads;
  for (int i = 0; i < opts.warmup + opts.runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto out = session->run(inputs);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!out) return std::move(out).error();
    if (i >= opts.warmup) s.ms.push_back(ms);
  }
  s.median_ms = percentile_nearest_rank(s.ms, 0.5);
  s.p90_ms = percentile_nearest_rank(s.ms, 0.9);
  s.min_ms = *std::min_element(s.ms.begin(), s.ms.end());
  s.max_ms = *std::max_element(s.ms.begin(), s.ms.end());
  return s;
}

}  // namespace effopt
