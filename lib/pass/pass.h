// The pass interface: what a pass is, its typed options, what it reports, and
// the registry that turns every pass into a named pipeline element.
//
// A pass is a PassInfo: name (kebab-case, the same as its file in passes/),
// summary, docs, typed options with defaults, whether it is lossy, and a run
// function. A graph-scoped pass (run_on_graph) is applied by the pass manager
// to every graph of the model: the main graph, every subgraph (If/Loop/Scan
// bodies, innermost first) and every model-local function body. A
// model-scoped pass (run_on_model) sees the whole model once (convert-opset,
// fix-shapes).
//
// Passes never read or write files and never exit: they change the IR and
// return counters, or an Error (InvalidModel for input they cannot handle,
// Internal for their own bugs).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "exec/random_inputs.h"
#include "ir/ir.h"
#include "support/error.h"

namespace effopt {
class SampleSource;  // analysis/fidelity.h
struct GuardResult;  // analysis/quality_guard.h
}  // namespace effopt

namespace effopt::pass {

// File: a path to a file the pass reads (a sensitivity table). Files: a list
// of such paths separated by ';' (the data files of a sample set). The
// pipeline recorded in outputs and reports names each file by its file name
// and SHA-256, never by its path (lib/pass/pipeline.h), so output bytes do
// not depend on where the files live.
enum class OptionType { Bool, Int, Float, String, Enum, File, Files };

// The input samples an option stands for. The command line fills such an
// option from its flag of the same name (tools/pass_data.h), so the pipeline
// recorded in outputs and reports names the data a pass read and how much of
// it (docs/passes.md, "Data files"); the pass reads the samples themselves
// from PassContext::samples, never the files. Declare them with
// calibration_data_options() / evaluation_data_options().
enum class DataOption {
  None,
  Calibration,         // Files `calibration`: --calibration
  CalibrationSamples,  // Int `calibration-samples`: rows of the calibration data used, 0 = all
  Evaluation,          // Files `data`: --data, the quality guard's data
  Random,              // Int `random`: --random N seeded random samples for the guard (0 = none)
  Seed,                // Int `seed`: --seed of --random
  Range,               // String `range`: --range of --random, ';'-separated
};

// One typed option of a pass. Values are kept as text in the pipeline
// (`name=value`) and checked against the spec when parsed.
struct OptionSpec {
  std::string name;           // kebab-case
  OptionType type = OptionType::String;
  std::string default_value;  // in pipeline text form ("true", "0.5", "channel")
  std::string help;
  std::vector<std::string> choices;  // Enum only
  double min = -1e300, max = 1e300;  // Int / Float bounds, inclusive
  // Bool only: the command-line flag that sets the option to false, where a
  // command generates its flags from this table (`effopt quantize`:
  // `--per-channel` / `--per-tensor` both set per-channel).
  std::string cli_negation = "";
  DataOption data = DataOption::None;
};

// The options of a pass that reads calibration samples: `calibration` and
// `calibration-samples`. Append them to the pass's option table.
std::vector<OptionSpec> calibration_data_options();
// The options of a pass whose quality guard reads evaluation samples:
// `data`, `random`, `seed`, `range`.
std::vector<OptionSpec> evaluation_data_options();

// The paths of a Files value ("" = none), and back.
std::vector<std::string> split_file_list(const std::string& value);
std::string join_file_list(const std::vector<std::string>& paths);

// Checks `value` against `spec`; the error message names the option and says
// what is accepted (Usage error).
Status check_option_value(const OptionSpec& spec, std::string_view value);

// The contents of a File option's file (Usage error naming the option when
// it is empty, I/O error naming the file when it cannot be read). A value in
// the recorded form `PATH@sha256:HEX` reads PATH (the pass manager checked
// the hash before the pipeline ran). Passes never open files themselves: they
// get a File option's bytes from here.
class PassOptions;
Expected<std::string> read_option_file(const PassOptions& options, std::string_view name);

// The options of one pass instance: every option of its spec, with the
// defaults filled in. Getters assert that the name exists and has the type.
class PassOptions {
 public:
  PassOptions() = default;
  explicit PassOptions(const std::vector<OptionSpec>* specs);  // all defaults
  // Sets a value after check_option_value; Usage error on unknown name or bad value.
  Status set(std::string_view name, std::string_view value);
  bool get_bool(std::string_view name) const;
  int64_t get_int(std::string_view name) const;
  double get_float(std::string_view name) const;
  const std::string& get_string(std::string_view name) const;  // String, Enum and File
  // `key=value key2=value2` in spec order, every option present.
  std::string print() const;
  const std::vector<std::pair<std::string, std::string>>& values() const { return values_; }

 private:
  const std::string* find(std::string_view name) const;
  const std::vector<OptionSpec>* specs_ = nullptr;
  std::vector<std::pair<std::string, std::string>> values_;  // spec order
};

// What one run of a pass did. Counters keep their first-seen order so logs and
// reports read in the order the pass reported them.
struct PassResult {
  bool changed = false;
  std::vector<std::pair<std::string, int64_t>> counters;
  // Human-readable notes, e.g. why a candidate was skipped ("Conv 'c1': output
  // has 2 consumers"); they go to the report's per-pass section.
  std::vector<std::string> notes;

  // A quality guard's search and verdict (analysis/quality_guard.h), for the
  // report's passes[].quality_guard block; a failed guard (passed = false)
  // makes the command exit 3 after writing the output and the report.
  std::shared_ptr<const GuardResult> quality_guard;

  void count(std::string_view counter, int64_t n = 1);
  int64_t counter(std::string_view name) const;  // 0 if absent
  void note(std::string text) { notes.push_back(std::move(text)); }
  // Adds another result (changed ORed, counters summed, notes appended, a quality guard kept).
  void merge(const PassResult& other);
};

// The values of a graph that must keep their identity, and so their name:
// its graph outputs, and values a subgraph below it returns directly as one
// of its own outputs (ONNX lets an If branch return an outer-scope value; such
// a return is not a use). A pass may not remove, rename or replace them.
// apply_pass computes it once per graph and pass run (PassContext::pinned):
// rewrites keep it valid, since no pass replaces a pinned value.
class Pinned {
 public:
  explicit Pinned(const Graph& g);
  bool operator()(const Value* v) const { return v->is_graph_output() || outer_.count(v) > 0; }
  // Pinned, or read by a node.
  bool is_read(const Value* v) const { return !v->uses().empty() || (*this)(v); }

 private:
  std::unordered_set<const Value*> outer_;
};

// Input samples for passes, owned by the caller (tools/ builds them from
// --calibration, --data, --random; tests build their own) and read-only: a
// sample is one set of inputs by graph-input name (analysis/fidelity.h,
// SampleSource, loaded one at a time). Passes that read them declare the
// matching options (DataOption), so the recorded pipeline names the data.
struct PassSamples {
  // --calibration: single rows (split_rows), at most calibration-samples of them; nullptr = none.
  const SampleSource* calibration = nullptr;
  // The quality guard's data: --data, or --random N; nullptr = none (the guard then falls back to the
  // calibration data, else to seeded random inputs drawn with `random`, with a warning).
  const SampleSource* evaluation = nullptr;
  // Seed, --shape dims and --range for random inputs a pass draws itself.
  exec::RandomInputOptions random;
};

// What a pass sees besides the IR.
struct PassContext {
  Model& model;
  const PassOptions& options;
  int threads = 1;
  // The opset imports in force for the graph being processed: the model's, or
  // a local function's own. Use opset() rather than model.opset().
  const std::vector<OpsetImport>* opset_imports = nullptr;
  // Graph-scoped passes: the pinned values of the graph being processed
  // (set by apply_pass); nullptr for model-scoped passes.
  const Pinned* pinned = nullptr;
  // Input samples (calibration, the quality guard's); nullptr = none given.
  const PassSamples* samples = nullptr;
  int64_t opset(std::string_view domain = "") const;
};

// IR < 4 models: ONNX requires every initializer of the main graph to be
// listed among its inputs, and ONNX Runtime treats such initializer inputs as
// constants (only from IR 4 on may a feed override an initializer: then an
// initializer listed as an input is just a default). effopt's passes follow
// ONNX Runtime, with one rule: a pass never sees the IR < 4 form. Before a
// graph-scoped pass runs on an IR < 4 model whose main graph lists
// initializers among its inputs, apply_pass calls this; so does every helper
// that adds an initializer (passes/pass_util.h), as IR < 4 would need it
// listed. It detaches the initializer inputs (they become plain initializers,
// constants as before: nothing a caller can feed changes) and moves the model
// to IR 4; returns how many inputs it detached. No-op for IR >= 4. apply_pass
// counts "initializer-inputs-detached" and, when a graph-scoped pass run
// raised the IR version, "ir-version-raised".
size_t allow_plain_initializers(Model& m);

using GraphPassFn = std::function<Expected<PassResult>(Graph&, PassContext&)>;
using ModelPassFn = std::function<Expected<PassResult>(Model&, PassContext&)>;

struct PassInfo {
  std::string name;     // kebab-case, unique; also the file name in passes/
  std::string summary;  // one line, for `effopt passes` and --help
  // The pass's one description, shown by `effopt passes NAME` and in
  // docs/passes.md (its file's header comment is a single line, so the two
  // cannot drift). Paragraphs are separated by blank lines. A paragraph that
  // starts with "When:", "Not when:" or "Maths:" is that section; one that
  // starts with "Before:" is an example kept line by line ("Before: ...",
  // then "After:  ..."). Every graph-scoped pass has When, Before and After
  // (tests/unit/test_pass_docs.cpp checks this and the one-line headers).
  std::string doc;
  std::vector<OptionSpec> options;
  // A lossy pass changes outputs on purpose (quantize, prune) and is checked by
  // its own quality guards; --check-outputs checks every other pass.
  bool lossy = false;
  // Exactly one of these is set.
  GraphPassFn run_on_graph;
  ModelPassFn run_on_model;
};

class PassRegistry {
 public:
  // Adds a pass; asserts the name is new and exactly one run function is set.
  void add(PassInfo info);
  const PassInfo* find(std::string_view name) const;
  // Every pass, sorted by name.
  std::vector<const PassInfo*> all() const;
  // The registered name closest to `name` (edit distance), for "did you mean".
  std::string nearest(std::string_view name) const;
  // Removes a pass added by a test (pointers to other passes stay valid);
  // false if there is none of that name.
  bool remove(std::string_view name);

  // The registry with every built-in pass; tests may add their own
  // (deliberately broken) passes to it. Defined in passes/registry.cpp, so
  // users of global() link effopt_passes.
  static PassRegistry& global();

 private:
  // Held by pointer: PassInfo pointers (kept by parsed pipelines and
  // PassOptions) stay valid when tests add or remove passes.
  std::vector<std::unique_ptr<PassInfo>> passes_;
};

// Applies one pass to a model with the given options: model-scoped passes run
// once, graph-scoped ones on every graph (subgraphs first, then their parent;
// function bodies too), each with its Pinned values, after
// allow_plain_initializers when the main graph of an IR < 4 model lists
// initializers among its inputs. This is the building block of the pass
// manager; tests of single passes call it directly.
Expected<PassResult> apply_pass(const PassInfo& info, Model& model, const PassOptions& options, int threads = 1,
                                const PassSamples* samples = nullptr);
// By name from PassRegistry::global(), with all-default options; asserts the
// pass exists (defined in passes/registry.cpp).
Expected<PassResult> apply_pass(std::string_view name, Model& model, int threads = 1);

}  // namespace effopt::pass

namespace effopt::passes {
// Registers every built-in pass (passes/registry.cpp).
void register_builtin_passes(pass::PassRegistry& r);
}  // namespace effopt::passes
