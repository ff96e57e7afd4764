// effopt's prediction of ONNX Runtime 1.30's CPU optimizer
// (ort/ort_prediction.h) against ONNX Runtime's optimized graphs on
// every corpus model under ../shared/corpus/models and the light zoo models
// under ../shared/corpus/onnx-backend/light, at levels basic, extended and all: the
// predicted op counts must equal those of the graph ORT saves
// (optimized_model_path), and the predicted producer of every node's first
// output must be ORT's. ORT's graphs are kept in
// tests/ort/reference/ort_prediction_corpus.json (from an AVX-512F host, see
// tests/util/ort_reference.h): the prediction is compared with that file on
// every host, and live ORT with the file where this host reproduces it. Where
// the prediction is knowingly wrong for a model, the model is listed below
// with the reason and its exact differences, which the test requires, so a
// fix (or a new difference) shows up as a failure to update. Calls test::skip
// when the corpus is absent.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "ort/ort_prediction.h"
#include "analysis/shape_propagation.h"
#include "onnx/model_io.h"
#include "support/ort_harness.h"
#include "util/ort_reference.h"
#include "util/test_util.h"

using namespace effopt;
namespace fs = std::filesystem;

namespace {

using test::grouped;
using test::KnownDifference;

const std::map<std::string, KnownDifference>& known_differences() {
  static const std::map<std::string, KnownDifference> m = {
      {"onnx-backend/light/densenet121/all",
       {"ORT takes 62 BatchNormalization -> Mul pairs into NCHWc convolutions; the prediction keeps the Mul in "
        "NCHW (cause not found)",
        {{"Mul", {62, 0}}, {"com.microsoft.nchwc.Conv", {183, 245}}},
        {{"BatchNormalization: predicted com.microsoft.nchwc.ReorderOutput, ORT -",
          "n8 n23 n38 n53 n68 n83 n98 n106 n121 n136 n151 n166 n181 n196 n211 n226 n241 n256 n271 n286 n294 "
          "n309 n324 n339 n354 n369 n384 n399 n414 n429 n444 n459 n474 n489 n504 n519 n534 n549 n564 n579 n594 "
          "n609 n624 n639 n654 n662 n677 n692 n707 n722 n737 n752 n767 n782 n797 n812 n827 n842 n857 n872 n887 "
          "n902"},
         {"Mul: predicted Mul, ORT com.microsoft.nchwc.ReorderOutput",
          "n10 n25 n40 n55 n70 n85 n100 n108 n123 n138 n153 n168 n183 n198 n213 n228 n243 n258 n273 n288 n296 "
          "n311 n326 n341 n356 n371 n386 n401 n416 n431 n446 n461 n476 n491 n506 n521 n536 n551 n566 n581 n596 "
          "n611 n626 n641 n656 n664 n679 n694 n709 n724 n739 n754 n769 n784 n799 n814 n829 n844 n859 n874 n889 "
          "n904"}}}},
      {"onnx-backend/light/inception_v2/all",
       {"as in densenet121/all: ORT takes 6 BatchNormalization -> Mul pairs (after the Convs CommonSubexpressionElimination "
        "merged, whose two readers keep ConvBN/ConvMul/ConvAddFusion away) into NCHWc convolutions; the prediction "
        "keeps the Mul in NCHW (cause not found)",
        {{"Mul", {6, 0}}, {"com.microsoft.nchwc.Conv", {66, 72}}},
        {{"BatchNormalization: predicted com.microsoft.nchwc.ReorderOutput, ORT -",
          "n24 n31 n45 n75 n82 n96"},
         {"Mul: predicted Mul, ORT com.microsoft.nchwc.ReorderOutput",
          "n26 n33 n47 n77 n84 n98"}}}},
      {"onnx-backend/light/shufflenet/all",
       {"around the grouped convolutions the prediction rewrites 6 more convolutions to NCHWc than ORT does "
        "(cause not found)",
        {{"Conv", {13, 16}},
         {"com.microsoft.FusedConv", {13, 16}},
         {"com.microsoft.nchwc.Conv", {23, 17}},
         {"com.microsoft.nchwc.ReorderInput", {21, 18}},
         {"com.microsoft.nchwc.ReorderOutput", {22, 19}}},
        {{"BatchNormalization: predicted -, ORT com.microsoft.nchwc.ReorderOutput",
          "n170 n182 n194"},
         {"BatchNormalization: predicted com.microsoft.nchwc.ReorderOutput, ORT Conv",
          "n172 n184 n196"},
         {"Relu: predicted com.microsoft.nchwc.ReorderOutput, ORT com.microsoft.FusedConv",
          "n165 n177 n189"}}}},
  };
  return m;
}

// Checks every model folder under `corpus / group` at both levels.
void check_models(const fs::path& corpus, const std::string& group) {
  const fs::path models_dir = corpus / group;
  std::vector<fs::path> dirs;
  if (fs::is_directory(models_dir))
    for (const auto& entry : fs::directory_iterator(models_dir))
      if (fs::exists(entry.path() / "model.onnx")) dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());
  test::TempDir tmp;
  size_t checked = 0;
  std::set<std::string> known_seen;
  for (const fs::path& dir : dirs) {
    const fs::path model_path = dir / "model.onnx";
    const std::string name = dir.filename().string();
    auto m = load_model(model_path.string());
    REQUIRE(m);
    REQUIRE(infer_shapes_with_bindings(**m, {}));
    const std::string model_digest = test::digest_of(test::read_file(model_path.string()));
    for (OrtOptLevel level : {OrtOptLevel::Basic, OrtOptLevel::Extended, OrtOptLevel::All}) {
      const std::string lname = ort_opt_level_name(level);
      const std::string key = group + "/" + name + "/" + lname;
      INFO(key);
      OrtPredictionOptions po;
      po.level = level;
      OrtPrediction p = predict_ort_optimization(**m, po);
      auto run_ort = [&](test::OrtHarness& ort) -> std::unique_ptr<Model> {
        auto proto = test::load_model(model_path.string());
        auto inputs = fs::exists(dir / "test_data_set_0" / "input_0.pb")
                          ? test::bind_inputs(proto, test::load_test_data_set((dir / "test_data_set_0").string()))
                          : test::random_inputs(proto, 1);
        test::OrtOptions oo;
        oo.opt_level = lname;
        oo.optimized_model_path = tmp.file(name + "." + lname + ".onnx");
        auto r = ort.run(model_path.string(), inputs, oo);
        INFO(r.error);
        REQUIRE(r.ok);
        auto opt = load_model(oo.optimized_model_path);
        REQUIRE(opt);
        return std::move(*opt);
      };
      test::OrtGraphSummary ort = test::ort_reference_summary(
          "ort_prediction_corpus.json", key, test::digest_of(model_digest + lname), level, **m, run_ort);
      test::PredictionDiff d = test::diff_prediction(p, **m, ort);
      ++checked;
      INFO("predicted " << p.node_count << " nodes, ORT " << ort.nodes << "; differences:\n"
                        << test::describe(d, 1000));
      auto kw = known_differences().find(key);
      if (kw != known_differences().end()) {
        // Knowingly wrong: exactly these differences, no more and no fewer (a fix shows up here).
        INFO("known to differ: " << kw->second.reason);
        known_seen.insert(key);
        CHECK(d.op_differences == kw->second.op_differences);
        CHECK(grouped(d.fate_mismatches) == kw->second.fate_mismatches);
        continue;
      }
      CHECK(d.op_differences.empty());
      CHECK(p.node_count == ort.nodes);
      CHECK(d.fate_mismatches.empty());
    }
  }
  test::skip_if_no_corpus_case(checked, models_dir.string());
  if (checked == 0) return;
  for (auto& [key, known] : known_differences()) {
    INFO("listed as a known difference but not met: " << key);
    if (key.rfind(group + "/", 0) == 0) CHECK(known_seen.count(key) == 1);
  }
}

}  // namespace

TEST_CASE("ORT prediction matches real ONNX Runtime on every corpus model", "[conformance][ort-prediction]") {
  auto corpus = test::corpus_or_skip();
  if (!corpus) return;
  check_models(*corpus, "models");
}

TEST_CASE("ORT prediction against real ONNX Runtime on the light zoo models", "[conformance][ort-prediction]") {
  auto corpus = test::corpus_or_skip();
  if (!corpus) return;
  check_models(*corpus, "onnx-backend/light");
}
