// tools/effopt-ci.sh, the CI step of docs/ci.md, run as a CI system would run
// it: on a model the test builds (Conv + BatchNormalization + Relu, which
// `effopt fuse` folds), passing, failing a budget, failing a quality limit,
// and refusing bad usage. The artifacts are checked for what the docs promise.
#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "onnx/model_io.h"
#include "util/test_util.h"

using namespace effopt;
namespace fs = std::filesystem;

namespace {

const char* kModel = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,3,8,8] x) => (float[1,4,8,8] y)
  <float[4,3,3,3] w = {0.11, -0.2, 0.33, 0.4, -0.5, 0.61, 0.7, -0.8, 0.9, 1.0, -1.1, 1.2, 0.13, -0.14, 0.15, 0.16,
                       -0.17, 0.18, 0.21, 0.1, -0.3, 0.5, 0.4, -0.6, 0.8, 0.7, -0.9, 0.11, 0.12, -0.13, 0.14, 0.15,
                       -0.16, 0.17, 0.19, -0.18, -0.1, 0.2, 0.3, -0.4, 0.5, 0.6, -0.7, 0.8, 0.9, -0.12, 0.11, 0.13,
                       -0.13, 0.14, 0.15, -0.16, 0.17, 0.18, 0.3, -0.2, 0.1, 0.4, 0.5, -0.6, 0.7, 0.8, -0.9, 0.1,
                       0.2, 0.3, -0.4, 0.5, 0.6, -0.7, 0.8, 0.9, 0.21, -0.22, 0.23, 0.24, -0.25, 0.26, 0.27, -0.28,
                       0.29, 0.3, -0.31, 0.32, 0.33, -0.34, 0.35, 0.36, -0.37, 0.38, 0.39, -0.4, 0.41, 0.42, -0.43,
                       0.44, 0.45, -0.46, 0.47, 0.48, -0.49, 0.5, 0.51, -0.52, 0.53, 0.54, -0.55, 0.56},
   float[4] gamma = {1.5, 0.7, 1.1, 0.9}, float[4] beta = {0.1, -0.2, 0.3, 0.05},
   float[4] mean = {0.3, -0.1, 0.2, 0.05}, float[4] var = {0.9, 1.3, 0.6, 2.1}> {
  c = Conv <pads = [1, 1, 1, 1]> (x, w)
  b = BatchNormalization <epsilon = 1e-5> (c, gamma, beta, mean, var)
  y = Relu(b)
}
)";

std::string script() { return std::string(EFFOPT_SOURCE_DIR) + "/tools/effopt-ci.sh"; }

test::RunResult run_ci(const std::vector<std::string>& args) {
  std::vector<std::string> all = {script()};
  all.insert(all.end(), args.begin(), args.end());
  all.insert(all.end(), {"--effopt", EFFOPT_BIN});
  return test::run_program("/bin/bash", all);
}

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(test::read_file(path)); }

struct Fixture {
  test::TempDir dir;
  std::string model = dir.file("model.onnx"), out = dir.file("model.small.onnx"), art = dir.file("artifacts");
  Fixture() {
    auto m = test::parse_or_fail(kModel);
    auto st = save_model(*m, model);
    REQUIRE(st);
  }
};

}  // namespace

TEST_CASE("effopt-ci.sh: a model within budget and quality passes, with the reports kept", "[ci-script]") {
  Fixture f;
  auto r = run_ci({f.model, f.out, "--artifacts", f.art, "--max-bytes", "10MB", "--max-error", "1e-5"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("passed every budget and quality limit") != std::string::npos);
  REQUIRE(fs::exists(f.out));
  // fuse folded the BatchNormalization into the Conv.
  auto m = load_model(f.out);
  REQUIRE(m);
  for (const auto& n : (*m)->graph->nodes()) CHECK(n->op_type != "BatchNormalization");
  auto report = read_json(f.art + "/report.json");
  CHECK(report.contains("pipeline"));
  auto fidelity = read_json(f.art + "/fidelity.json");
  CHECK(fidelity.dump().find("rel-l2") != std::string::npos);
  CHECK(fs::file_size(f.art + "/footprint-diff.json") > 0);
}

TEST_CASE("effopt-ci.sh: a broken budget fails with exit 3 and still writes the output and reports", "[ci-script]") {
  Fixture f;
  auto r = run_ci({f.model, f.out, "--artifacts", f.art, "--max-bytes", "100"});
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("--max-bytes") != std::string::npos);
  CHECK(r.err.find("budget exceeded") != std::string::npos);
  CHECK(fs::exists(f.out));
  CHECK(fs::exists(f.art + "/report.json"));
  CHECK(fs::exists(f.art + "/fidelity.json"));  // the quality side is still shown
}

TEST_CASE("effopt-ci.sh: a broken quality limit fails with exit 3", "[ci-script]") {
  // Folding BatchNormalization into the weights rounds differently from running
  // it, so the outputs differ in their last bits: no difference at all is an
  // impossible limit for this model (max-abs must be exactly 0).
  Fixture f;
  auto r = run_ci({f.model, f.out, "--artifacts", f.art, "--max-error", "0", "--metric", "max-abs"});
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("quality check failed") != std::string::npos);
  CHECK(fs::exists(f.art + "/fidelity.json"));
}

TEST_CASE("effopt-ci.sh: bad usage is exit 1, a missing model exit 4, and nothing is written", "[ci-script]") {
  Fixture f;
  auto r = run_ci({f.model, f.out, "--artifacts", f.art, "--max-bites", "5MB"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("unknown option '--max-bites'") != std::string::npos);
  auto r2 = run_ci({f.dir.file("missing.onnx"), f.out, "--artifacts", f.art});
  CHECK(r2.exit_code == 4);
  CHECK(r2.err.find("missing.onnx") != std::string::npos);
  CHECK_FALSE(fs::exists(f.out));
  CHECK_FALSE(fs::exists(f.art));
}
