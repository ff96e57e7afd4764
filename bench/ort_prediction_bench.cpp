// effopt's prediction of ONNX Runtime 1.30's CPU graph optimizer
// (lib/ort/ort_prediction.h) next to what real ORT does. Results and the
// command: docs/benchmarks.md.
//
//   ort_prediction_bench [--level extended|all] [--nchwc-block N] [--details] MODEL_DIR...
//
// Per model (MODEL_DIR/model.onnx) and level: the node count effopt predicts
// and the one in the graph ORT saves (optimizedModelFilePath, one session,
// inputs from test_data_set_0 or seeded random ones), how many op types have
// a different count, and for how many input-model nodes the predicted
// producer of their first output (its fate) matches ORT's. --details lists
// every differing op count and fate.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "analysis/shape_propagation.h"
#include "onnx/model_io.h"
#include "ort/ort_prediction.h"
#include "support/ort_harness.h"

using namespace effopt;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  std::vector<std::string> levels = {"extended", "all"};
  bool details = false;
  int block = OrtPredictionOptions{}.nchwc_block_size;
  std::vector<fs::path> dirs;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--level") && i + 1 < argc) {
      levels = {argv[++i]};
    } else if (!std::strcmp(argv[i], "--nchwc-block") && i + 1 < argc) {
      block = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--details")) {
      details = true;
    } else {
      dirs.emplace_back(argv[i]);
    }
  }
  if (dirs.empty()) {
    std::fprintf(stderr, "usage: ort_prediction_bench [--level extended|all] [--details] MODEL_DIR...\n");
    return 1;
  }
  auto* ort = test::OrtHarness::get();
  if (!ort) {
    std::fprintf(stderr, "ONNX Runtime unavailable: %s\n", test::OrtHarness::unavailable_reason().c_str());
    return 1;
  }
  fs::path tmp = fs::temp_directory_path() / ("ort_prediction_bench." + std::to_string(getpid()));
  fs::create_directories(tmp);
  std::printf("| model | level | nodes before | predicted nodes | ORT nodes | op types differing | fates matching |\n");
  std::printf("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
  for (const fs::path& dir : dirs) {
    fs::path model_path = dir / "model.onnx";
    auto m = load_model(model_path.string());
    if (!m) {
      std::fprintf(stderr, "%s: %s\n", model_path.c_str(), m.error().message.c_str());
      continue;
    }
    if (auto st = infer_shapes_with_bindings(**m, {}); !st) {
      std::fprintf(stderr, "%s: %s\n", model_path.c_str(), st.error().message.c_str());
      continue;
    }
    auto proto = test::load_model(model_path.string());
    std::vector<std::pair<std::string, onnx::TensorProto>> inputs;
    if (fs::exists(dir / "test_data_set_0" / "input_0.pb"))
      inputs = test::bind_inputs(proto, test::load_test_data_set((dir / "test_data_set_0").string()));
    else
      inputs = test::random_inputs(proto, 1);
    for (const std::string& level : levels) {
      OrtPredictionOptions po;
      po.nchwc_block_size = block;
      po.level = level == "all" ? OrtOptLevel::All : level == "basic" ? OrtOptLevel::Basic : OrtOptLevel::Extended;
      OrtPrediction pred = predict_ort_optimization(**m, po);
      test::OrtOptions oo;
      oo.opt_level = level;
      oo.optimized_model_path = (tmp / (dir.filename().string() + "." + level + ".onnx")).string();
      auto r = ort->run(model_path.string(), inputs, oo);
      if (!r.ok) {
        std::fprintf(stderr, "%s (%s): ORT failed: %s\n", dir.c_str(), level.c_str(), r.error.c_str());
        continue;
      }
      auto opt = load_model(oo.optimized_model_path);
      if (!opt) {
        std::fprintf(stderr, "%s: %s\n", oo.optimized_model_path.c_str(), opt.error().message.c_str());
        continue;
      }
      OrtPredictionCheck c = check_prediction(pred, **m, **opt);
      std::printf("| %s | %s | %zu | %llu | %llu | %zu | %llu / %llu |\n", dir.filename().c_str(), level.c_str(),
                  (*m)->graph->nodes().size(), (unsigned long long)c.predicted_nodes,
                  (unsigned long long)c.actual_nodes, c.op_differences.size(),
                  (unsigned long long)c.fates_matching, (unsigned long long)c.fates_compared);
      if (details) {
        for (auto& [op, pa] : c.op_differences)
          std::fprintf(stderr, "  %s %s: %s predicted %llu, ORT %llu\n", dir.filename().c_str(), level.c_str(),
                       op.c_str(), (unsigned long long)pa.first, (unsigned long long)pa.second);
        for (auto& f : c.fate_mismatches)
          std::fprintf(stderr, "  %s %s fate: %s\n", dir.filename().c_str(), level.c_str(), f.c_str());
      }
    }
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return 0;
}
