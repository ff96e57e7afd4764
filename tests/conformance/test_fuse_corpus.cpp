// `effopt fuse` on every corpus model: the fused model still runs in ONNX
// Runtime 1.30 and its outputs are within 1e-4 relative L2 of the original's
// (float outputs; others bit-identical). Cases below opset 7, which ONNX
// Runtime refuses, are fused with --opset 13 and compared with their expected
// outputs; the cases ONNX Runtime cannot run at all (test::ort_cannot_run, with
// the reason) must still be refused there, and any other refusal fails. Runs the
// same library path as the CLI (named fuse pipeline, pass manager with the
// verifier at the end). Calls test::skip when the corpus or ONNX Runtime is
// absent.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "onnx/model_io.h"
#include "pass/manager.h"
#include "pass/named_pipelines.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;
namespace fs = std::filesystem;

namespace {

double rel_l2(const onnx::TensorProto& got, const onnx::TensorProto& want) {
  auto a = test::tensor_values(got), b = test::tensor_values(want);
  if (a.size() != b.size()) return INFINITY;
  double d2 = 0, r2 = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    d2 += (a[i] - b[i]) * (a[i] - b[i]);
    r2 += b[i] * b[i];
  }
  return r2 > 0 ? std::sqrt(d2 / r2) : std::sqrt(d2);
}

bool is_float(const onnx::TensorProto& t) {
  return t.data_type() == onnx::TensorProto::FLOAT || t.data_type() == onnx::TensorProto::DOUBLE ||
         t.data_type() == onnx::TensorProto::FLOAT16 || t.data_type() == onnx::TensorProto::BFLOAT16;
}

void check_outputs(const std::vector<onnx::TensorProto>& got, const std::vector<onnx::TensorProto>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("output " << i);
    if (is_float(want[i])) {
      double e = rel_l2(got[i], want[i]);
      INFO("relative L2 " << e);
      CHECK(e <= 1e-4);
    } else {
      std::string why;
      CHECK(test::tensors_bit_identical(got[i], want[i], &why));
      INFO(why);
    }
  }
}

// Returns whether the case's outputs were compared.
bool fuse_case(test::OrtHarness& ort, const fs::path& dir, const fs::path& tmp) {
  INFO("case " << dir.string());
  if (!test::ort_host_can_run_case(dir.filename().string())) return false;
  fs::path model_path = dir / "model.onnx";
  auto proto = test::load_model(model_path.string());
  int64_t opset = 0;
  for (auto& o : proto.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  auto inputs = test::bind_inputs(proto, test::load_test_data_set((dir / "test_data_set_0").string()));
  std::vector<onnx::TensorProto> want;
  if (opset >= 7) {
    auto orig = ort.run(model_path.string(), inputs);
    if (auto it = test::ort_cannot_run().find(dir.filename().string()); it != test::ort_cannot_run().end()) {
      INFO("expected ONNX Runtime to refuse the original: " << it->second);
      CHECK_FALSE(orig.ok);
      return false;
    }
    INFO("ONNX Runtime on the original: " << orig.error);
    REQUIRE(orig.ok);
    want = orig->outputs;
  } else {
    want = test::load_test_data_set((dir / "test_data_set_0").string(), "output_");
  }
  auto m = load_model(model_path.string());
  REQUIRE(m);
  auto pipeline = pass::parse_pipeline(pass::fuse_pipeline_text(opset >= 7 ? 0 : 13, {}));
  INFO((pipeline ? "" : pipeline.error().message));
  REQUIRE(pipeline);
  auto run = pass::run_pipeline(*pipeline, **m);
  INFO((run ? "" : run.error().message));
  REQUIRE(run);
  fs::path out = tmp / (dir.filename().string() + ".fused.onnx");
  REQUIRE(save_model(**m, out.string()));
  auto fused = ort.run(out.string(), inputs);
  INFO(fused.error);
  REQUIRE(fused);
  check_outputs(fused->outputs, want);
  return true;
}

}  // namespace

TEST_CASE("effopt fuse keeps every corpus model running in ONNX Runtime with the same outputs",
          "[conformance][fuse]") {
  auto corpus = test::corpus_or_skip();
  if (!corpus) return;
  auto* ort = test::ort_or_skip();
  if (!ort) return;
  REQUIRE_FALSE(pass::find_named_pipeline("fuse")->text.empty());
  test::TempDir tmp;
  std::vector<fs::path> dirs;
  for (const char* group : {"models", "onnx-backend/light", "onnx-backend/pytorch-converted",
                            "onnx-backend/pytorch-operator", "onnx-backend/simple"}) {
    fs::path root = *corpus / group;
    if (!fs::is_directory(root)) continue;
    for (auto& e : fs::directory_iterator(root))
      if (fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  size_t compared = 0;
  for (const fs::path& d : dirs) compared += fuse_case(*ort, d, tmp.path());
  test::skip_if_no_corpus_case(compared, corpus->string());
}
