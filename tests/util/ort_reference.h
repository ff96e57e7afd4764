// ONNX Runtime's optimized graphs as a checked-in reference for the ORT-prediction tests.
//
// The prediction (ort/ort_prediction.h) is compared with the graph real ONNX Runtime 1.30 saves
// (optimized_model_path), summarized as op counts and, for every input-model node, the kind of node that
// produces its first output there (its fate). ORT's level-all graph (NCHWc) depends on the CPU: the
// prediction is for block 16, what ORT does with AVX-512F. So ORT's summaries from an AVX-512F host are kept
// in tests/ort/reference/*.json, with the ORT version and CPU they came from, and
// - the prediction is compared with the reference on every host;
// - live ORT is compared with the reference where this host can reproduce it (level all needs AVX-512F;
//   elsewhere that part calls skip(Needs::HostFeature, ...)), so a changed ORT or a stale file fails;
// - EFFOPT_REGEN_ORT_REFERENCE=1 (on an AVX-512F host, with ONNX Runtime) stores live ORT's summaries in
//   the file instead; commit the result. Every entry carries a digest of the model it came from, and a
//   changed model fails until the file is regenerated.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ort/ort_prediction.h"
#include "ir/ir.h"

namespace effopt::test {

class OrtHarness;

// ORT's optimized graph as the prediction is compared on it.
struct OrtGraphSummary {
  uint64_t nodes = 0;
  std::map<std::string, uint64_t> op_counts;  // "domain.op" outside ai.onnx, as OrtPrediction::op_counts
  // One per node of the input model's main graph, in order: the kind of node producing its first output in
  // ORT's graph ("" when none does), as PredictedNodeFate::output_producer.
  std::vector<std::string> output_producers;
  bool operator==(const OrtGraphSummary&) const = default;
};
OrtGraphSummary summarize_ort_graph(const Model& input, const Model& ort_optimized);

// Where a prediction differs from ORT's graph.
struct PredictionDiff {
  std::map<std::string, std::pair<uint64_t, uint64_t>> op_differences;  // op -> (predicted, ORT)
  std::vector<std::string> fate_mismatches;                            // "node (op): predicted X, ORT Y"
  bool empty() const { return op_differences.empty() && fate_mismatches.empty(); }
};
PredictionDiff diff_prediction(const OrtPrediction& p, const Model& input, const OrtGraphSummary& ort);
// One line per difference, for messages.
std::string describe(const PredictionDiff& d, size_t max_fates = 10);

// Where the prediction is knowingly wrong for a model at a level: why, and the exact differences (measured
// against real ONNX Runtime 1.30 on an AVX-512F host). Tests require exactly these, so a fix (or a new
// difference) shows up as a failure to update.
struct KnownDifference {
  std::string reason;
  std::map<std::string, std::pair<uint64_t, uint64_t>> op_differences;  // op -> (predicted, ORT)
  // Every node whose fate differs, grouped: "OP: predicted X, ORT Y" -> the nodes' names, in graph order.
  std::map<std::string, std::string> fate_mismatches;
};
// PredictionDiff's fate mismatches ("NODE (OP): predicted X, ORT Y"), grouped as KnownDifference's.
std::map<std::string, std::string> grouped(const std::vector<std::string>& fate_mismatches);

// 64-bit FNV-1a of `bytes` as 16 hex digits: the digest that ties a reference entry to its model.
std::string digest_of(const std::string& bytes);

// Whether EFFOPT_REGEN_ORT_REFERENCE is set.
bool regenerating_ort_reference();

// ORT's summary for the entry `key` of the reference file `file` (a path relative to tests/ort/reference/):
// the reference entry, checked against live ORT where this host can reproduce it (`run_ort` runs ORT at
// `level` and returns its optimized graph; it is called only then). `digest` identifies the model and level.
// Fails the test when the entry is missing or stale; in regeneration mode returns live ORT's summary after
// storing it.
OrtGraphSummary ort_reference_summary(const std::string& file, const std::string& key, const std::string& digest,
                                      OrtOptLevel level, const Model& input,
                                      const std::function<std::unique_ptr<Model>(OrtHarness&)>& run_ort);

}  // namespace effopt::test
