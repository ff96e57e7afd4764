// Latency of a model on effopt's own executor, as `effopt report --latency`
// measures it: warm-up runs, then N timed runs of one sample; median and p90
// of the wall time. Labeled everywhere as effopt's executor on this machine,
// not a prediction for another runtime.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "exec/tensor_value.h"
#include "ir/ir.h"
#include "support/error.h"

namespace effopt {

struct LatencyOptions {
  int runs = 20;    // timed runs (>= 1)
  int warmup = 3;   // untimed runs first: first-run costs (weight reorders, page faults) are not latency
  int threads = 1;  // executor threads
};

struct LatencyStats {
  int runs = 0, warmup = 0, threads = 0;
  double median_ms = 0, p90_ms = 0, min_ms = 0, max_ms = 0;
  std::vector<double> ms;  // every timed run, in order
};

// Runs `model` on `inputs` (by name). Errors are the executor's (a model it
// cannot run, inputs that do not fit).
Expected<LatencyStats> measure_latency(const Model& model,
                                       const std::vector<std::pair<std::string, exec::TensorValue>>& inputs,
                                       const LatencyOptions& opts);

// p in [0, 1] of sorted values, nearest rank (the smallest value with at
// least p of the values at or below it).
double percentile_nearest_rank(std::vector<double> values, double p);

}  // namespace effopt
