// effopt's prediction of ONNX Runtime 1.30's CPU optimizer
// (ort/ort_prediction.h) against real ORT on every corpus model under
// ../shared/corpus/models and the light zoo models under
// ../shared/corpus/onnx-backend/light, at levels extended and all: the predicted op
// counts must equal those of the graph ORT saves (optimized_model_path), and
// the predicted producer of every node's first output must be ORT's. Where
// the prediction is knowingly wrong for a model, the model is listed below
// with the reason and the test requires the known difference instead, so a
// fix shows up as a failure to update. Skips with a WARN when the corpus or
// ORT is absent.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <string>

#include "analysis/shape_propagation.h"
#include "onnx/model_io.h"
#include "ort/ort_prediction.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;
namespace fs = std::filesystem;

namespace {

// (model/level) pairs whose prediction is known to differ from ORT, and why.
const std::map<std::string, std::string>& known_wrong() {
  static const std::map<std::string, std::string> m = {
      {"densenet121/all",
       "ORT takes 62 BatchNormalization -> Mul pairs into NCHWc convolutions; the prediction keeps the Mul in "
       "NCHW (cause not found)"},
      {"inception_v1/extended", "ORT does not fuse 2 Conv -> Relu pairs the prediction fuses (cause not found)"},
      {"inception_v1/all", "the same 2 Conv -> Relu pairs as at level extended"},
      {"inception_v2/extended",
       "ORT keeps 6 Conv -> BatchNormalization -> Mul -> Add -> Relu chains apart that the prediction folds and "
       "fuses (cause not found)"},
      {"inception_v2/all", "the same 6 chains as at level extended, and their NCHWc reorders"},
      {"shufflenet/all",
       "around the grouped convolutions the prediction rewrites 6 more convolutions to NCHWc than ORT does "
       "(cause not found)"},
  };
  return m;
}

// Checks every model folder under `models_dir` at both levels.
void check_models(const fs::path& models_dir) {
  auto* ort = test::OrtHarness::get();
  if (!ort) { WARN("skipped: " + test::OrtHarness::unavailable_reason()); return; }
  if (!fs::exists(models_dir)) { WARN("skipped: no " << models_dir.string()); return; }
  test::TempDir tmp;
  int models = 0;
  for (const auto& entry : fs::directory_iterator(models_dir)) {
    fs::path dir = entry.path(), model_path = dir / "model.onnx";
    if (!fs::exists(model_path)) continue;
    const std::string name = dir.filename().string();
    ++models;
    auto m = load_model(model_path.string());
    REQUIRE(m);
    REQUIRE(infer_shapes_with_bindings(**m, {}));
    auto proto = test::load_model(model_path.string());
    auto inputs = fs::exists(dir / "test_data_set_0" / "input_0.pb")
                      ? test::bind_inputs(proto, test::load_test_data_set((dir / "test_data_set_0").string()))
                      : test::random_inputs(proto, 1);
    for (OrtOptLevel level : {OrtOptLevel::Extended, OrtOptLevel::All}) {
      const std::string lname = ort_opt_level_name(level);
      if (level == OrtOptLevel::All && !__builtin_cpu_supports("avx512f")) {
        // Level all predicts ORT on an AVX-512 x86 CPU (NCHWc block 16); elsewhere its layout differs.
        WARN(name << ": level all skipped: this CPU has no AVX-512F (the prediction is for NCHWc block 16)");
        continue;
      }
      INFO(name << " at level " << lname);
      OrtPredictionOptions po;
      po.level = level;
      OrtPrediction p = predict_ort_optimization(**m, po);
      test::OrtOptions oo;
      oo.opt_level = lname;
      oo.optimized_model_path = tmp.file(name + "." + lname + ".onnx");
      auto r = ort->run(model_path.string(), inputs, oo);
      INFO(r.error);
      REQUIRE(r.ok);
      auto opt = load_model(oo.optimized_model_path);
      REQUIRE(opt);
      OrtPredictionCheck c = check_prediction(p, **m, **opt);
      std::string diffs;
      for (auto& [op, pa] : c.op_differences)
        diffs += op + ": predicted " + std::to_string(pa.first) + ", ORT " + std::to_string(pa.second) + "; ";
      WARN(name << " (" << lname << "): predicted " << c.predicted_nodes << " nodes, ORT " << c.actual_nodes
                << "; fates matching " << c.fates_matching << " / " << c.fates_compared
                << (diffs.empty() ? "" : "; differences: " + diffs));
      auto kw = known_wrong().find(name + "/" + lname);
      if (kw != known_wrong().end()) {
        // Knowingly wrong: the difference must still be there (a fix shows up here).
        INFO("known to differ: " << kw->second);
        CHECK_FALSE(c.op_counts_equal());
        continue;
      }
      CHECK(diffs.empty());
      CHECK(c.predicted_nodes == c.actual_nodes);
      for (size_t i = 0; i < c.fate_mismatches.size() && i < 10; ++i) UNSCOPED_INFO(c.fate_mismatches[i]);
      CHECK(c.fates_matching == c.fates_compared);
    }
  }
  if (models == 0) WARN("no models under " << models_dir.string());
}

}  // namespace

TEST_CASE("ORT prediction matches real ONNX Runtime on every corpus model", "[conformance][ort-prediction]") {
  auto corpus = test::corpus_dir();
  if (!corpus) { WARN(test::corpus_missing_message()); return; }
  check_models(*corpus / "models");
}

TEST_CASE("ORT prediction against real ONNX Runtime on the light zoo models", "[conformance][ort-prediction]") {
  auto corpus = test::corpus_dir();
  if (!corpus) { WARN(test::corpus_missing_message()); return; }
  check_models(*corpus / "onnx-backend" / "light");
}
