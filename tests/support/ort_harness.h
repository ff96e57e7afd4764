// ONNX Runtime as the tests' reference runtime, plus tensor helpers for tests.
//
// Debian has no ONNX Runtime C/C++ headers, so OrtHarness drives onnxruntime-node through one long-lived
// `node tests/ort/ort_runner.js` child (protocol documented in that script). Tensors cross as serialized
// onnx.TensorProto files in a temporary directory, the layout of ONNX's backend test data.
//
// Where onnxruntime-node lives: $EFFOPT_ORT_DIR (an npm prefix holding node_modules/onnxruntime-node), the
// one place the tests look; unset, the harness is unavailable (tools/run-tests.sh sets it to
// $EFFOPT_CACHE/ort, default ~/.cache/effopt/ort, where tools/install-deps.sh installs it). Other knobs: $EFFOPT_NODE (node binary, default `node` on PATH),
// $EFFOPT_ORT_RUNNER (script path, default the source tree's tests/ort/ort_runner.js),
// $EFFOPT_ORT_LOG_LEVEL (ORT log severity 0..4, default 3 = errors only).
//
// Typical test:
//   auto* ort = test::ort_or_skip();   // util/test_util.h: skips (or fails under EFFOPT_REQUIRE_ORT)
//   if (!ort) return;
//   OrtRun r = ort->run(model_path, bind_inputs(model, load_test_data_set(dir)));
//   REQUIRE(r.ok); ... r->outputs[0] ...
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace effopt::test {

struct OrtOptions {
  int intra_threads = 1;
  std::string opt_level = "all";      // "all" | "extended" | "basic" | "layout" | "disabled"
  std::string optimized_model_path;   // if set, ORT saves its optimized graph there
  int warmup = 0;                     // untimed runs before the timed ones
  int repeat = 1;                     // timed runs; outputs come from the last one
  double timeout_s = 600;             // per request; on expiry the runner is killed (and restarted next run)
};

struct OrtResult {
  std::vector<onnx::TensorProto> outputs;  // in the graph's output order, named after the outputs
  std::vector<std::string> output_names;
  double load_ms = 0;                      // session creation (includes ORT's graph optimization)
  std::vector<double> latency_ms;          // one per timed run
  // CPU time of the runner process per timed run (all its threads): on a
  // loaded machine far less noisy than latency_ms.
  std::vector<double> cpu_ms;
};

// Expected-like: ok with a result, or !ok with ORT's (or the harness's) message.
struct OrtRun {
  bool ok = false;
  std::string error;
  OrtResult result;

  explicit operator bool() const { return ok; }
  const OrtResult* operator->() const { return &result; }
  const OrtResult& operator*() const { return result; }
};

class OrtHarness {
 public:
  // The process-wide runner, started on first call; nullptr when node or onnxruntime-node is unavailable
  // (see unavailable_reason()). The child is stopped at process exit.
  static OrtHarness* get();
  // Why get() returned nullptr, phrased for test::skip; empty when the harness is available.
  static std::string unavailable_reason();

  // Runs model_path on the given (graph input name, tensor) pairs. Never throws for model or runtime
  // errors: those come back as !ok. A name that is not among ORT's session inputs is refused (!ok):
  // onnxruntime-node would drop it silently, so it cannot override an initializer listed among the graph
  // inputs (run a copy without that initializer instead). Thread-safe (requests are serialized).
  OrtRun run(const std::string& model_path,
             const std::vector<std::pair<std::string, onnx::TensorProto>>& inputs,
             const OrtOptions& opts = {});
  // Same, with inputs already serialized as TensorProto files: (graph input name, .pb path).
  OrtRun run_files(const std::string& model_path,
                   const std::vector<std::pair<std::string, std::string>>& inputs,
                   const OrtOptions& opts = {});
  // Same, for an in-memory model (written to a temporary file first).
  OrtRun run_model(const onnx::ModelProto& model,
                   const std::vector<std::pair<std::string, onnx::TensorProto>>& inputs,
                   const OrtOptions& opts = {});

  const std::string& ort_version() const;  // e.g. "1.30.0"

  ~OrtHarness();
  OrtHarness(const OrtHarness&) = delete;
  OrtHarness& operator=(const OrtHarness&) = delete;

  struct Impl;

 private:
  explicit OrtHarness(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ---- Test data -------------------------------------------------------------------------------------------

// Reads DIR/<prefix>0.pb, DIR/<prefix>1.pb, ... until the first missing index. Throws std::runtime_error on
// a file that does not parse.
std::vector<onnx::TensorProto> load_test_data_set(const std::string& dir, const std::string& prefix = "input_");

// Reads a model file; throws std::runtime_error if it cannot be read or parsed.
onnx::ModelProto load_model(const std::string& path);

// Names of the graph inputs that are not initializers, in graph order (IR < 4 models list initializers
// among the inputs).
std::vector<std::string> runtime_input_names(const onnx::ModelProto& model);

// Pairs tensors with runtime_input_names(model) in order (and sets each tensor's name). Throws
// std::invalid_argument when the counts differ.
std::vector<std::pair<std::string, onnx::TensorProto>> bind_inputs(const onnx::ModelProto& model,
                                                                   std::vector<onnx::TensorProto> tensors);

// Deterministic inputs for every runtime input: the same model, seed, ranges and shapes give the same bytes
// on every machine and standard library. Floating types are uniform in [lo, hi) (default [-1, 1)),
// integers uniform in [lo, hi) (default [0, 10)), bools fair coins, strings decimal integers. Dimensions
// that are symbolic or unknown are 1 unless `shapes` gives the input's whole shape. Each input draws from
// its own stream (seeded from seed and its name), so one input's shape does not change another's values.
// Throws std::invalid_argument for non-tensor inputs and unsupported element types.
std::vector<std::pair<std::string, onnx::TensorProto>> random_inputs(
    const onnx::ModelProto& model, uint64_t seed,
    const std::map<std::string, std::pair<double, double>>& ranges = {},
    const std::map<std::string, std::vector<int64_t>>& shapes = {});

// ---- Tensor helpers --------------------------------------------------------------------------------------

// Builds a tensor with raw_data. T: float, double, int8..int64, uint8..uint64, bool. (For float16 and
// bfloat16 use make_tensor_raw with the bit patterns.)
template <class T>
onnx::TensorProto make_tensor(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<T>& values);
onnx::TensorProto make_tensor_raw(const std::string& name, int32_t data_type, const std::vector<int64_t>& dims,
                                  std::string raw_bytes);

// Size in bytes of one element of a fixed-size ONNX data type; 0 for strings and unknown types.
size_t element_size(int32_t data_type);

// Product of dims (1 for a scalar).
int64_t element_count(const onnx::TensorProto& t);

// The tensor's elements as little-endian bytes, whether stored in raw_data or in the typed fields.
// Throws std::invalid_argument for strings, external data and unsupported types.
std::string tensor_bytes(const onnx::TensorProto& t);

// The elements of a numeric tensor (float16/bfloat16 decoded; int64 beyond 2^53 loses precision).
std::vector<double> tensor_values(const onnx::TensorProto& t);

// Same data type, dims and element bytes (strings: same string_data). Names are ignored. On false, *why
// (if given) says what differs, e.g. the first differing element and how many differ.
bool tensors_bit_identical(const onnx::TensorProto& a, const onnx::TensorProto& b, std::string* why = nullptr);

// Largest |a - b| over elements of two float/double/float16/bfloat16 tensors. +inf when data types or
// dims differ, for other types, or when an element is NaN in one tensor only (NaN vs NaN counts as equal).
double max_abs_diff(const onnx::TensorProto& a, const onnx::TensorProto& b);

// IEEE binary16 / bfloat16 <-> float, round to nearest even.
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bfloat16_to_float(uint16_t b);
uint16_t float_to_bfloat16(float f);

}  // namespace effopt::test
