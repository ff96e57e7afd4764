// Fidelity of a model: how far its outputs are from a reference's, on the
// same inputs. The reference is another model (`effopt compare A B`, the
// quality guards of quantize/prune) or the expected outputs stored beside the
// inputs (`effopt compare MODEL --data DIR`). Library only: it takes models
// and samples and returns numbers; printing and exit codes are the caller's.
//
//   auto samples = data_samples({"dir/test_data_set_0"}, *reference.graph);
//   auto r = compare_models(reference, candidate, **samples, {.threads = 2});
//   auto checks = check_fidelity_limits(*r, limits);   // then fidelity_limits_status(*checks)
//
// The metrics (max/mean abs, rel-l2, cosine, SQNR, top-1) and their
// zero-reference and NaN rules are exec/metrics.h's, pooled over every
// element of every sample (the outputs of all samples and batch rows
// concatenated); docs/report.md, "The fidelity block", states them for users.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "exec/metrics.h"
#include "exec/random_inputs.h"
#include "exec/tensor_value.h"
#include "ir/ir.h"
#include "support/error.h"

namespace effopt {

// ---------------------------------------------------------------- metrics

// The metric types of exec/metrics.h, which the results below carry.
using exec::ClassifierShape;
using exec::ErrorAccumulator;
using exec::ErrorMetrics;

// ---------------------------------------------------------------- samples

// One input set, with what a data folder can hold beside it.
struct Sample {
  std::string label;  // "data/test_data_set_0", "random sample 3"
  std::vector<std::pair<std::string, exec::TensorValue>> inputs;  // by input name
  // Expected outputs by graph-output position (absent = no file); files too.
  std::vector<std::optional<exec::TensorValue>> expected;
  std::vector<std::string> expected_files;
  std::optional<exec::TensorValue> labels;  // labels.pb: int labels, one per row
  std::string labels_file;
  std::vector<std::string> warnings;  // e.g. NaN/Inf in an input file
};

// Samples are loaded one at a time, so a large data set never sits in memory whole.
class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual size_t size() const = 0;
  virtual Expected<Sample> load(size_t i) const = 0;
  // "2 data folders", "3 random samples (seed 7)"
  virtual std::string describe() const = 0;
  // The files the samples are read from, in order (each input_K.pb / NAME.npy, and labels.pb): what a
  // recorded pipeline names (docs/passes.md, "Data files"). Empty for generated samples.
  virtual std::vector<std::string> files() const { return {}; }
};

// One sample per path, binding files to `graph`'s non-initializer inputs:
// - a test_data_set folder: input_K.pb = K-th input, output_K.pb = K-th
//   graph output (optional), labels.pb (optional);
// - a folder of NAME.npy files (NAME = input name; a lone file binds to a
//   single-input model), labels.pb optional;
// - a folder holding test_data_set_* folders: each of them is a sample;
// - a single .npy or .pb file (a single-input model, or NAME.npy).
// Usage errors name the file: unknown input names, missing inputs, element
// types or shapes that contradict the model's declared input types. IO
// errors for unreadable or malformed files.
// `flag` names the paths in messages ("--data PATH: no such file or folder").
Expected<std::unique_ptr<SampleSource>> data_samples(const std::vector<std::string>& paths, const Graph& graph,
                                                     const std::string& flag = "--data");
// `count` samples drawn with exec::random_tensor.
std::unique_ptr<SampleSource> random_samples(std::vector<exec::RandomInputPlan> plan, uint64_t seed, size_t count);

// The samples cut into single rows, for calibration: a sample whose inputs all
// have the same size N along axis 0, where no input of `graph` declares a
// fixed dim 0, becomes N samples of one row each (dim 0 = 1; labels.pb split
// alike; expected outputs dropped). Others (a fixed batch dim, rank-0 or
// string inputs, sizes that differ) stay whole and count as N rows (1 for
// rank 0). At most `max_rows` rows are taken (0 = all): rows of the last
// sample beyond it are left out, a sample that cannot be split is taken
// whole when it starts below the limit. Memory: one source sample at a time
// (the one being cut), plus the row handed out. Counting the rows reads each
// sample once when the source is built; load() then reads each once more.
Expected<std::unique_ptr<SampleSource>> split_rows(std::unique_ptr<SampleSource> samples, const Graph& graph,
                                                   uint64_t max_rows = 0);

// ----------------------------------------------------------------- limits

// Every --max-error metric is an error: lower is better.
enum class FidelityMetric { RelL2, MaxAbs, CosineDistance, Top1Mismatch, AccuracyDrop };
const char* metric_name(FidelityMetric m);  // "rel-l2", ...
Expected<FidelityMetric> parse_metric(const std::string& name);
// The names, for help texts: "rel-l2, max-abs, cosine-distance, top1-mismatch, accuracy-drop".
std::string metric_names();

struct FidelityLimits {
  std::optional<double> max_error;  // at most, in `metric`
  FidelityMetric metric = FidelityMetric::RelL2;
  std::optional<double> min_sqnr_db;   // at least, every output
  std::optional<double> min_accuracy;  // at least, the candidate's accuracy on labels
  bool any() const { return max_error || min_sqnr_db || min_accuracy; }
};

// ---------------------------------------------------------------- results

struct OutputFidelity {
  std::string name;            // reference output name
  std::string candidate_name;  // the candidate's (same unless matched by position)
  DataType dtype = DataType::Undefined;
  std::vector<int64_t> dims;  // of the first sample
  ErrorMetrics metrics;       // pooled over every sample
  size_t samples = 0;          // samples this output was compared on
  double worst_sample_rel_l2 = 0;
  size_t worst_sample = 0;  // index into FidelityResult::sample_labels
  bool classifier = false;
  uint64_t rows = 0, top1_matches = 0;  // classifier-shaped outputs only
  double top1_agreement() const { return rows ? static_cast<double>(top1_matches) / rows : 1.0; }
};

// --per-node: one intermediate value present in both models.
struct ValueFidelity {
  std::string value, node, op_type;
  size_t node_index = 0;  // position in the reference graph
  DataType dtype = DataType::Undefined;
  std::vector<int64_t> dims;
  ErrorMetrics metrics;
  std::string skipped;  // why it could not be compared (shapes differ); empty if compared
  bool over_limit = false, first_over_limit = false;
};

struct AccuracyResult {
  std::string output;  // the classifier-shaped output used
  uint64_t rows = 0, reference_correct = 0, candidate_correct = 0;
  bool has_reference = false;  // the reference's accuracy is known
  double reference() const { return rows ? static_cast<double>(reference_correct) / rows : 0; }
  double candidate() const { return rows ? static_cast<double>(candidate_correct) / rows : 0; }
  double drop() const { return reference() - candidate(); }
};

struct FidelityResult {
  bool against_expected = false;  // one model against the data's expected outputs
  std::string inputs;             // SampleSource::describe()
  std::vector<std::string> sample_labels;
  std::vector<OutputFidelity> outputs;
  std::vector<std::pair<std::string, std::string>> skipped_outputs;  // (output, why)
  std::optional<AccuracyResult> accuracy;
  bool per_node = false;
  std::vector<ValueFidelity> values;  // graph order of the reference
  std::vector<std::string> warnings;
};

struct FidelityOptions {
  int threads = 1;
  bool per_node = false;
  // Marks per-node values over the per-tensor limits (rel-l2, max-abs,
  // cosine-distance, min SQNR); the first one in graph order is flagged.
  FidelityLimits limits;
};

// Both models on every sample. Outputs and inputs are matched by name, or
// by position when the names differ but the counts agree. An output whose
// shape differs between the models is a CheckFailed error.
Expected<FidelityResult> compare_models(const Model& reference, const Model& candidate, const SampleSource& samples,
                                        const FidelityOptions& opts = {});
// The model against the samples' expected outputs (outputs without one are
// skipped and listed). per_node is not available here.
Expected<FidelityResult> compare_to_expected(const Model& model, const SampleSource& samples,
                                             const FidelityOptions& opts = {});

// The reference model's outputs on every sample, computed once, so that many
// candidates can be measured without running the reference again (the
// quality guard). Holds every output of every sample in memory. The model
// and the samples must outlive it.
struct ReferenceOutputs {
  const Model* model = nullptr;
  const SampleSource* samples = nullptr;
  std::vector<std::vector<exec::TensorValue>> outputs;  // per sample, in graph-output order
};
Expected<ReferenceOutputs> reference_outputs(const Model& reference, const SampleSource& samples,
                                             const FidelityOptions& opts = {});
// compare_models(reference, candidate, samples) with the reference's outputs
// taken from `reference` (the same result); per_node is not available here.
Expected<FidelityResult> compare_to_reference(const ReferenceOutputs& reference, const Model& candidate,
                                              const FidelityOptions& opts = {});

struct LimitCheck {
  std::string output;  // output name, or the accuracy's output
  std::string metric;  // "rel-l2", "sqnr", "accuracy"
  double value = 0, limit = 0;
  bool at_least = false;  // sqnr and accuracy: higher is better
  bool passed = true;
};
// Usage error when a limit cannot be evaluated on this result (top1-mismatch
// with no classifier-shaped output, accuracy limits without labels).
Expected<std::vector<LimitCheck>> check_fidelity_limits(const FidelityResult& r, const FidelityLimits& limits);
// Ok, or CheckFailed (exit 3) with one line per broken limit naming output, metric and value.
Status fidelity_limits_status(const std::vector<LimitCheck>& checks);
// True when the metrics break a per-tensor limit (what --per-node marks).
bool breaks_tensor_limits(const ErrorMetrics& m, const FidelityLimits& limits);

}  // namespace effopt
