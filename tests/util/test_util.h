// Small helpers shared by effopt's tests: corpus location, temporary
// folders, running the effopt binary.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "exec/tensor_value.h"
#include "ir/ir.h"
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
// ONNX Runtime (OrtHarness::get()), or nullptr after skip(Needs::Ort, why it is unavailable).
OrtHarness* ort_or_skip();

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

// Parses ONNX text and fails the current test on error.
std::unique_ptr<Model> parse_or_fail(const std::string& text);

// An executor value holding a copy of the tensor's elements (strings included); fails the current test
// when the tensor cannot be imported.
exec::TensorValue value_from_proto(const onnx::TensorProto& p);

void write_file(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

}  // namespace effopt::test
