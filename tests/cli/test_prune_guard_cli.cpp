// effopt prune's quality guard on the command line: `compare`'s fidelity and sample flags become the prune
// pass's options (with --min-sparsity, its budget), a failed guard exits 3 with the output and the report
// written, and the recorded pipeline reruns to the same bytes. The model is tests/util/guard_models.h's
// sensitive_prune_model (W1 sensitive by construction, W2 not).
#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "util/cli_util.h"
#include "util/guard_models.h"
#include "util/test_util.h"

using namespace effopt;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string write_model(const test::TempDir& d) { return test::write_text_model(d, test::sensitive_prune_model()); }

const json& prune_pass(const json& report) {
  for (const json& p : report["passes"])
    if (p["name"] == "prune") return p;
  FAIL("no prune pass in the report");
  return report;
}

const json& layer(const json& report, const std::string& tensor) {
  for (const json& l : report["pruning"]["layers"])
    if (l["tensor"] == tensor) return l;
  FAIL("no layer " << tensor << " in the pruning block");
  return report;
}

}  // namespace

TEST_CASE("prune --max-error: the guard leaves the sensitive weight dense; report and exit 0",
          "[cli][prune][quality-guard]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"prune", model, "--scope", "layer", "--max-error", "0.05", "--random", "4", "--seed",
                             "5", "-o", d.file("p.onnx"), "--report", d.file("r.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("prune: quality guard passed") != std::string::npos);
  json j = test::parse_valid_report(test::read_file(d.file("r.json")));
  const json& g = prune_pass(j)["quality_guard"];
  CHECK(g["passed"] == true);
  CHECK(g["data"]["origin"] == "evaluation data");
  REQUIRE(g["steps"].size() >= 1);
  for (const json& s : g["steps"]) CHECK(s["unit"] == "W1");
  CHECK(j["fidelity"]["passed"] == true);
  CHECK(j["pipeline"].get<std::string>().find("max-error=0.05") != std::string::npos);
  // The pruning block: W1 stepped back to dense from its planned 0.5, W2 at 0.5.
  CHECK(layer(j, "W1")["reached"] == 0.0);
  CHECK(layer(j, "W1")["planned"] == 0.5);
  CHECK(layer(j, "W2")["reached"] == 0.5);
  CHECK_FALSE(layer(j, "W2").contains("planned"));
  CHECK(j["pruning"]["pruned_sparsity"] == 0.25);
}

TEST_CASE("prune: a broken --min-sparsity exits 3 with the output and the report written",
          "[cli][prune][quality-guard]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"prune", model, "--scope", "layer", "--max-error", "0.05", "--min-sparsity", "0.4",
                             "--random", "4", "-o", d.file("p.onnx"), "--report", d.file("r.json")});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("the quality guard failed") != std::string::npos);
  CHECK(r.err.find("below min-sparsity") != std::string::npos);
  CHECK(fs::exists(d.file("p.onnx")));
  REQUIRE(fs::exists(d.file("r.json")));
  json j = test::parse_valid_report(test::read_file(d.file("r.json")));
  CHECK(prune_pass(j)["quality_guard"]["passed"] == false);
  CHECK(j["pruning"]["pruned_sparsity"].get<double>() >= 0.4);  // the last candidate measured
}

TEST_CASE("prune: guard flags' usage errors name the flag; no output written", "[cli][prune][quality-guard]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto min = test::run_effopt({"prune", model, "--min-sparsity", "0.3", "-o", d.file("p.onnx")});
  CHECK(min.exit_code == 1);
  CHECK(min.err.find("min-sparsity") != std::string::npos);
  auto metric = test::run_effopt({"prune", model, "--metric", "max-abs", "-o", d.file("p.onnx")});
  CHECK(metric.exit_code == 1);
  CHECK(metric.err.find("--metric max-abs needs --max-error") != std::string::npos);
  auto data = test::run_effopt({"prune", model, "--random", "3", "-o", d.file("p.onnx")});
  CHECK(data.exit_code == 1);
  CHECK(data.err.find("no quality limit") != std::string::npos);
  auto above = test::run_effopt(
      {"prune", model, "--sparsity", "0.5", "--max-error", "0.1", "--min-sparsity", "0.7", "-o", d.file("p.onnx")});
  CHECK(above.exit_code == 1);
  CHECK(above.err.find("above the target sparsity") != std::string::npos);
  CHECK_FALSE(fs::exists(d.file("p.onnx")));
}

TEST_CASE("prune: the recorded pipeline holds the guard's options and reruns to identical bytes",
          "[cli][prune][quality-guard]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto first = test::run_effopt({"prune", model, "--scope", "layer", "--max-error", "0.05", "--min-sparsity", "0.2",
                                 "--random", "3", "--seed", "9", "-o", d.file("a.onnx"), "--report", d.file("a.json")});
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  std::string pipeline = json::parse(test::read_file(d.file("a.json")))["pipeline"];
  for (const char* part : {"max-error=0.05", "metric=rel-l2", "min-sparsity=0.2", "random=3", "seed=9"}) {
    INFO(part << " in " << pipeline);
    CHECK(pipeline.find(part) != std::string::npos);
  }
  auto again = test::run_effopt({"run", model, "--passes", pipeline, "-o", d.file("b.onnx")});
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(test::read_file(d.file("a.onnx")) == test::read_file(d.file("b.onnx")));
}

TEST_CASE("prune --granularity channel --max-error: the sensitive layer keeps its features; the pruning block "
          "says what was planned",
          "[cli][prune][quality-guard]") {
  test::TempDir d;
  std::string model = test::write_text_model(d, test::sensitive_channel_model());
  auto r = test::run_effopt({"prune", model, "--granularity", "channel", "--sparsity", "0.5", "--max-error", "0.05",
                             "--random", "4", "-o", d.file("p.onnx"), "--report", d.file("r.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = test::parse_valid_report(test::read_file(d.file("r.json")));
  CHECK(prune_pass(j)["quality_guard"]["passed"] == true);
  CHECK(j["pruning"]["channels_removed"] == 32);  // W2's 32 weak features, not W1's
  CHECK(layer(j, "W1")["reached"] == 0.0);
  CHECK(layer(j, "W1")["planned"] == 0.5);
  CHECK(layer(j, "W2")["reached"] == 0.5);
  auto m = test::load_or_fail(d.file("p.onnx"));
  const auto& y = *m->graph->outputs()[0]->type.shape;  // y keeps its shape [4, 16]
  REQUIRE(y.size() == 2);
  CHECK(y[0].value == std::optional<int64_t>(4));
  CHECK(y[1].value == std::optional<int64_t>(16));
}
