// Small helpers shared by effopt's tests: corpus location, temporary
// folders, running the effopt binary.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "exec/tensor_value.h"
#include "ir/ir.h"
#include "pass/pass.h"
#include "util/skip.h"

namespace onnx {
class TensorProto;
}

namespace effopt::test {

class OrtHarness;

// ../shared/corpus, or $EFFOPT_CORPUS; nullopt (and the tests skip) if absent.
std::optional<std::filesystem::path> corpus_dir();
// Message for a skipped corpus test.
std::string corpus_missing_message();
// corpus_dir(), or nullopt after skip(Needs::Corpus, ...).
std::optional<std::filesystem::path> corpus_or_skip();
// The corpus folder `rel` (e.g. "models/resnet18"), or nullopt after skip(Needs::Corpus, ...) naming it.
std::optional<std::filesystem::path> corpus_case_or_skip(const std::string& rel);
// For a test that iterates over corpus cases: `checked` is how many it really checked; zero calls
// skip(Needs::Corpus, ...) naming `where`, so a run that found no case fails under EFFOPT_REQUIRE_CORPUS.
void skip_if_no_corpus_case(size_t checked, const std::string& where);
// ONNX Runtime (OrtHarness::get()), or nullptr after skip(Needs::Ort, why it is unavailable).
OrtHarness* ort_or_skip();
// Whether ONNX Runtime can run the corpus case `case_name` on this host: the StringNormalizer cases
// (test_strnorm_*) need the en_US.UTF-8 locale (facts.md; tools/install-deps.sh generates it). False after
// skip(Needs::HostFeature, ...).
bool ort_host_can_run_case(const std::string& case_name);

// Corpus cases (by folder name) that ONNX Runtime 1.30 cannot run whatever effopt does, with the reason.
// Each was observed on the original model; a test that meets one requires ORT to refuse the original, so
// the list cannot go stale silently. Any other corpus model ORT refuses is a test failure (opset < 7
// cases, whose old ops ORT may lack kernels for, are converted to opset 13 first by the tests that run them).
const std::map<std::string, std::string>& ort_cannot_run();

// A fresh temporary folder, removed when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};
// Runs the effopt binary with `args` (no shell), stdin from `stdin_file` if given.
RunResult run_effopt(const std::vector<std::string>& args, const std::string& stdin_file = "");
// Same with another binary (e.g. effopt_test_passes).
RunResult run_program(const std::string& binary, const std::vector<std::string>& args,
                      const std::string& stdin_file = "");

// ONNX 1.12's checker and strict shape inference on `m`; "" when the model passes (or when its IR version or
// opset is newer than ONNX 1.12 knows, 8 and 17: such models are not checked), else the checker's message.
std::string onnx_check(const Model& m);

// Parses ONNX text and fails the current test on error.
std::unique_ptr<Model> parse_or_fail(const std::string& text);

// Relative L2 error of output `got` against `want` (absolute L2 when `want` is all zero; infinity when the
// sizes differ).
double rel_l2(const onnx::TensorProto& got, const onnx::TensorProto& want);
// Rows of a [rows, classes] output whose arg-max equals the label in `labels` (REQUIREs the shapes agree).
int64_t top1_correct(const onnx::TensorProto& logits, const onnx::TensorProto& labels);

// The registered pass `name` (REQUIREs that it exists).
const pass::PassInfo& pass_info(const std::string& name);
// "key=value key=value" -> pass `name`'s options (REQUIREs that each is accepted).
pass::PassOptions pass_options(const std::string& name, const std::string& text);

// An executor value holding a copy of the tensor's elements (strings included); fails the current test
// when the tensor cannot be imported.
exec::TensorValue value_from_proto(const onnx::TensorProto& p);

void write_file(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

}  // namespace effopt::test
