// effopt quantize's quality guard on the command line: `compare`'s fidelity and sample flags become the
// quantize pass's options, a failed guard exits 3 with the output and the report written, and the recorded
// pipeline reruns to the same bytes. The model is tests/util/guard_models.h's (W1 sensitive by construction).
#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "onnx/model_io.h"
#include "util/guard_models.h"
#include "util/json_schema.h"
#include "util/test_util.h"

using namespace effopt;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string write_model(const test::TempDir& d) {
  auto m = test::parse_or_fail(test::sensitive_two_matmul_model());
  std::string path = d.file("m.onnx");
  REQUIRE(save_model(*m, path));
  return path;
}

json parse_valid(const std::string& text) {
  json schema = json::parse(test::read_file(std::string(EFFOPT_SOURCE_DIR) + "/docs/report.schema.json"));
  json j = json::parse(text);
  auto errors = validate_json(j, schema);
  std::string all;
  for (auto& e : errors) all += e + "\n";
  INFO(all);
  CHECK(errors.empty());
  return j;
}

const json& quantize_pass(const json& report) {
  for (const json& p : report["passes"])
    if (p["name"] == "quantize") return p;
  FAIL("no quantize pass in the report");
  return report;
}

}  // namespace

TEST_CASE("quantize --max-error: the guard keeps the sensitive weight float; report and exit 0",
          "[cli][quantize][quality-guard]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"quantize", model, "--max-error", "0.05", "--random", "4", "--seed", "5", "-o",
                             d.file("q.onnx"), "--report", d.file("r.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = parse_valid(test::read_file(d.file("r.json")));
  const json& g = quantize_pass(j)["quality_guard"];
  CHECK(g["passed"] == true);
  CHECK(g["data"]["origin"] == "evaluation data");
  REQUIRE(g["steps"].size() == 1);
  CHECK(g["steps"][0]["unit"] == "W1");
  CHECK(j["fidelity"]["passed"] == true);
  CHECK(j["pipeline"].get<std::string>().find("max-error=0.05") != std::string::npos);
}

TEST_CASE("quantize: a broken --max-float-fraction exits 3 with the output and the report written",
          "[cli][quantize][quality-guard]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"quantize", model, "--max-error", "0.05", "--max-float-fraction", "0.25", "--random",
                             "4", "-o", d.file("q.onnx"), "--report", d.file("r.json")});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("the quality guard failed") != std::string::npos);
  CHECK(fs::exists(d.file("q.onnx")));
  REQUIRE(fs::exists(d.file("r.json")));
  json j = parse_valid(test::read_file(d.file("r.json")));
  CHECK(quantize_pass(j)["quality_guard"]["passed"] == false);
  CHECK(quantize_pass(j)["quality_guard"]["max_top_fraction"] == 0.25);
}

TEST_CASE("quantize: a limit that holds only with nothing quantized exits 3", "[cli][quantize][quality-guard]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"quantize", model, "--max-error", "0", "--random", "2", "-o", d.file("q.onnx")});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("every unit at float") != std::string::npos);
  CHECK(fs::exists(d.file("q.onnx")));
}

TEST_CASE("quantize: guard flags' usage errors name the flag; no output written", "[cli][quantize][quality-guard]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto metric = test::run_effopt({"quantize", model, "--metric", "max-abs", "-o", d.file("q.onnx")});
  CHECK(metric.exit_code == 1);
  CHECK(metric.err.find("--metric max-abs needs --max-error") != std::string::npos);
  auto fraction = test::run_effopt({"quantize", model, "--max-float-fraction", "2", "-o", d.file("q.onnx")});
  CHECK(fraction.exit_code == 1);
  CHECK(fraction.err.find("max-float-fraction") != std::string::npos);
  auto data = test::run_effopt({"quantize", model, "--random", "3", "-o", d.file("q.onnx")});
  CHECK(data.exit_code == 1);
  CHECK(data.err.find("no quality limit") != std::string::npos);
  CHECK_FALSE(fs::exists(d.file("q.onnx")));
}

TEST_CASE("quantize: the recorded pipeline holds the guard's options and reruns to identical bytes",
          "[cli][quantize][quality-guard]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto first = test::run_effopt({"quantize", model, "--max-error", "0.05", "--random", "3", "--seed", "9", "-o",
                                 d.file("a.onnx"), "--report", d.file("a.json")});
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  std::string pipeline = json::parse(test::read_file(d.file("a.json")))["pipeline"];
  for (const char* part : {"max-error=0.05", "metric=rel-l2", "max-float-fraction=1", "random=3", "seed=9"}) {
    INFO(part << " in " << pipeline);
    CHECK(pipeline.find(part) != std::string::npos);
  }
  auto again = test::run_effopt({"run", model, "--passes", pipeline, "-o", d.file("b.onnx")});
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(test::read_file(d.file("a.onnx")) == test::read_file(d.file("b.onnx")));
}
