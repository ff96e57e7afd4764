// The footprint report (`effopt report`, `--report` of transforming
// commands): a versioned JSON document (docs/report.md, docs/report.schema.json)
// with the whole-model totals at the top level as plain numbers, and a compact
// text table for stderr.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "analysis/footprint.h"
#include "analysis/latency.h"
#include "report/file_stats.h"
#include "report/run_report.h"

namespace effopt {

// One version for every report document (docs/report.md lists the changes).
inline constexpr int kFootprintSchemaVersion = RunReport::kSchemaVersion;

// One model: {"path", totals as plain numbers (null with KEY_unknown_reason
// when not known), "unbound_inputs", "files", "footprint": {...}}.
// `files` null = file sizes not computed (then file_bytes etc. are absent).
nlohmann::json model_section(const std::string& path, const Footprint& f, const ModelFileStats* files,
                             bool per_node = true);

// `effopt report MODEL --json`: schema header + model_section at the top level.
nlohmann::json model_report(const std::string& path, const Footprint& f, const ModelFileStats* files,
                            const std::vector<std::string>& shape_bindings);

// `effopt report BEFORE AFTER --json` and the before/after block of a run:
// {"before": section, "after": section, "delta": {key: after - before, null when either is unknown},
// "op_count_changes": {...}}.
nlohmann::json diff_block(const nlohmann::json& before, const nlohmann::json& after);
nlohmann::json diff_report(const nlohmann::json& before, const nlohmann::json& after);

// {"runtime": "effopt executor", "note": ..., "threads", "runs", "warmup",
// "median_ms", "p90_ms", "min_ms", "max_ms"}: `report --latency`.
nlohmann::json latency_block(const LatencyStats& s);

// The numeric totals kept at the top level (and diffed).
const std::vector<std::string>& total_keys();

// Human-readable report of one model. A total that is not known reads "?",
// or ">= N" where a lower bound is known, never a plain number; a last line
// names the inputs' unknown dims with a ready-to-paste --shape.
std::string model_text(const std::string& path, const Footprint& f, const ModelFileStats* files);
// Compact before/after table (op counts, parameters, bytes, MACs, peak
// activation); changes highlighted with ANSI colors when `color`. When a
// total is unknown, a last line says how to count it: `command` (e.g.
// "effopt report IN OUT") followed by the --shape flags.
std::string compact_table(const Footprint& before, const Footprint& after, bool color,
                          const ModelFileStats* before_files = nullptr, const ModelFileStats* after_files = nullptr,
                          const std::string& command = "");
// "123456 (123.5 K)", ">= 123456 (>= 123.5 K)" (only a lower bound known), or "?".
std::string total_text(const Total& t, bool bytes);
// "123.5 K", ">= 123.5 K" or "?".
std::string total_short(const Total& t, bool bytes);
// "" when every total of `before` (and `after`) is known; otherwise one line
// (no indent, no newline) naming the unknown input dims and the --shape
// flags that bind them, after `command` when given.
std::string unknown_dims_note(const Footprint& before, const Footprint* after, const std::string& command);

// "46.7 MB", "1.81 G"
std::string human_bytes(uint64_t b);
std::string human_count(uint64_t n);

}  // namespace effopt

// ---- Analysis of a model file: load, bind shapes, infer, count.
#include <memory>

#include "analysis/shape_propagation.h"

namespace effopt {

struct AnalysisOptions {
  std::vector<ShapeBinding> shapes;
  // Diff mode: skip bindings that name nothing in this model (the caller
  // checks that each one matched some model, see ModelAnalysis::bindings_used).
  bool skip_unmatched_bindings = false;
  bool file_stats = true;         // sizes, compressed sizes, SHA-256 (a full pass over the file)
  bool read_tensor_bytes = true;  // nonzero and deduplicated parameter counts
  CompressOptions compress;
};

struct ModelAnalysis {
  std::unique_ptr<Model> model;
  Footprint footprint;
  std::optional<ModelFileStats> files;
  std::vector<bool> bindings_used;  // per AnalysisOptions::shapes entry
};

Expected<ModelAnalysis> analyze_model_file(const std::string& path, const AnalysisOptions& opts);

// The report's `runtime_prediction` block for an analyzed model
// (ort/ort_prediction.h, runtime_prediction_block), with the footprint's MACs
// weighing what runs in integer kernels (integer_kernel_macs,
// integer_kernel_mac_fraction).
nlohmann::json runtime_prediction_for(const ModelAnalysis& a);

}  // namespace effopt
