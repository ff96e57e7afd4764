// effopt prune: flags generated from the prune pass's OptionSpec table, the
// @prune pipeline (preparation, prune, sparse-storage last), default output
// model.pruned.onnx, -o -, standard input, --report's pruning block, and the
// usage errors (sparsity with n:m, a bad n-m) with no output written.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "onnx/model_io.h"
#include "pass/pass.h"
#include "util/cli_util.h"
#include "util/test_util.h"

using namespace effopt;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// x[N,64] @ W[64,64]: 4096 weights, none zero.
std::string model_text() {
  std::string w;
  for (int i = 0; i < 64 * 64; ++i) w += (i ? ", " : "") + std::to_string(((i * 37) % 101 - 50 + (i % 3 ? 0.5 : 0.25)) / 50.0);
  return "<ir_version: 7, opset_import: [\"\" : 13]>\n"
         "g (float[N,64] x) => (float[N,64] y) {\n"
         "W = Constant<value = float[64,64] {" + w + "}>()\n"
         "y = MatMul(x, W)\n}\n";
}

std::string write_model(const test::TempDir& d, const std::string& name = "m.onnx") {
  return test::write_text_model(d, model_text(), name);
}

}  // namespace

TEST_CASE("prune --help has a flag for every prune pass option, from its OptionSpec table", "[cli][prune]") {
  auto h = test::run_effopt({"prune", "--help"});
  REQUIRE(h.exit_code == 0);
  const pass::PassInfo* info = pass::PassRegistry::global().find("prune");
  REQUIRE(info);
  for (const pass::OptionSpec& s : info->options) {
    INFO(s.name);
    CHECK(h.out.find("--" + s.name) != std::string::npos);
  }
  for (const char* f : {"--sparse-storage", "--shape", "--max-bytes", "--print-pipeline"})
    CHECK(h.out.find(f) != std::string::npos);
  auto p = test::run_effopt({"passes", "prune"});
  REQUIRE(p.exit_code == 0);
  CHECK(p.out.find("n-m") != std::string::npos);
}

TEST_CASE("prune: the flags become the pass's options; sparse-storage runs last", "[cli][prune]") {
  auto p = test::run_effopt({"prune", "--print-pipeline", "--granularity", "n:m", "--n-m", "1:4", "--sparse-storage",
                             "off", "--shape", "N=2"});
  INFO(p.err);
  REQUIRE(p.exit_code == 0);
  CHECK(p.out.rfind("fix-shapes{shapes=N=2},repeat{max-iterations=8}(hoist-constants,", 0) == 0);
  CHECK(p.out.find("prune{sparsity=auto granularity=n:m n-m=1:4 ") != std::string::npos);
  CHECK(p.out.find(",sparse-storage{mode=off}") != std::string::npos);
  auto d = test::run_effopt({"prune", "--print-pipeline"});
  REQUIRE(d.exit_code == 0);
  CHECK(d.out.find(",prune{") != std::string::npos);
  CHECK(d.out.find("sparse-storage{mode=auto}") != std::string::npos);
  auto bad = test::run_effopt({"prune", "--print-pipeline", "--granularity", "block"});
  CHECK(bad.exit_code == 1);
}

TEST_CASE("prune: default output model.pruned.onnx, stored sparse at 90%, smaller file", "[cli][prune]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"prune", model, "--sparsity", "0.9"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(fs::exists(d.file("m.pruned.onnx")));
  auto m = test::load_or_fail(d.file("m.pruned.onnx"));
  CHECK(m->graph->sparse_initializers().size() == 1);
  CHECK(m->metadata("effopt.pipeline").find("prune{") != std::string::npos);
  CHECK(r.err.find("sparse storage: 1 tensors") != std::string::npos);
  CHECK(fs::file_size(d.file("m.pruned.onnx")) < fs::file_size(model) / 2);
  // The executor densifies it: compare and --check-outputs run it.
  auto c = test::run_effopt({"compare", model, d.file("m.pruned.onnx"), "--shape", "N=2"});
  INFO(c.err);
  CHECK(c.exit_code == 0);
  auto k = test::run_effopt({"run", d.file("m.pruned.onnx"), "-o", d.file("k.onnx"), "--passes", "eliminate-identity",
                             "--check-outputs", "--shape", "N=2"});
  INFO(k.err);
  CHECK(k.exit_code == 0);
  CHECK(test::run_effopt({"prune", model}).exit_code == 1);  // exists: --force needed
}

TEST_CASE("prune: -o - writes to standard output and - reads standard input", "[cli][prune]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"prune", "-", "-o", "-", "--granularity", "n:m"}, model);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  {
    std::ofstream out(d.file("piped.onnx"), std::ios::binary);
    out << r.out;
  }
  auto m = test::load_or_fail(d.file("piped.onnx"));
  CHECK(m->graph->sparse_initializers().empty());  // 2:4 is 50%: dense is smaller
}

TEST_CASE("prune: sparsity with n:m and a bad n-m are usage errors, no output written", "[cli][prune]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto s = test::run_effopt({"prune", model, "-o", d.file("s.onnx"), "--granularity", "n:m", "--sparsity", "0.5"});
  CHECK(s.exit_code == 1);
  CHECK(s.err.find("N:M fixes the sparsity") != std::string::npos);
  CHECK_FALSE(fs::exists(d.file("s.onnx")));
  auto c = test::run_effopt({"prune", model, "-o", d.file("c.onnx"), "--granularity", "n:m", "--n-m", "4:4"});
  CHECK(c.exit_code == 1);
  CHECK(c.err.find("is not N:M") != std::string::npos);
  CHECK_FALSE(fs::exists(d.file("c.onnx")));
  auto b = test::run_effopt({"prune", model, "-o", d.file("b.onnx"), "--max-bytes", "100"});
  CHECK(b.exit_code == 3);  // budget: the output is still written
  CHECK(fs::exists(d.file("b.onnx")));
}

TEST_CASE("prune --report: the pruning block has each layer's target and reached sparsity and where the gain is",
          "[cli][prune][report]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"prune", model, "-o", d.file("p.onnx"), "--sparsity", "0.8", "--report", d.file("r.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = test::parse_valid_report(test::read_file(d.file("r.json")));
  REQUIRE(j.contains("pruning"));
  const json& p = j["pruning"];
  CHECK(p["granularity"] == "element");
  CHECK(p["prunable_elements"] == 4096);
  CHECK(p["pruned_sparsity"].get<double>() == Approx(0.8).margin(1.0 / 4096));
  REQUIRE(p["layers"].size() == 1);
  CHECK(p["layers"][0]["tensor"] == "W");
  CHECK(p["layers"][0]["elements"] == 4096);
  CHECK(p["layers"][0]["target"].get<double>() == Approx(0.8).margin(1e-4));
  CHECK(p["layers"][0]["reached"].get<double>() == Approx(0.8).margin(1e-4));
  CHECK(p["sparse_storage"]["tensors"] == 1);
  CHECK(p["gain"]["where"][0] == "disk");
  // The footprint counts the sparse tensor dense: params and nonzeros as before storage.
  CHECK(j["after"]["params"] == j["before"]["params"]);
  CHECK(j["after"]["params_nonzero"].get<int64_t>() == 4096 - 3277);
  CHECK(j["after"]["weight_bytes"].get<int64_t>() < j["before"]["weight_bytes"].get<int64_t>());
}

TEST_CASE("run --passes 'prune{sparsity=0.95},quantize,sparse-storage': zeros survive int8; the int8 tensor is stored sparse",
          "[cli][prune]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"run", model, "-o", d.file("pq.onnx"), "--passes",
                             "hoist-constants,prune{sparsity=0.95},quantize,sparse-storage", "--report",
                             d.file("r.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto m = test::load_or_fail(d.file("pq.onnx"));
  REQUIRE(m->graph->sparse_initializers().size() == 1);
  const SparseTensor& s = *m->graph->sparse_initializers()[0]->sparse_initializer;
  CHECK(s.values.data_type == DataType::Int8);
  // 5% of 4096 weights kept (205); symmetric int8 keeps every pruned weight at exactly 0 (none kept rounds to 0:
  // the kept ones are the largest, far above half a step).
  CHECK(s.values.dims == std::vector<int64_t>{205});
  std::ifstream in(d.file("r.json"));
  json j = json::parse(in);
  CHECK(j["pruning"]["sparse_storage"]["tensors"] == 1);
  CHECK(j["quantization"]["tensors"]["int8"] == 1);
}

TEST_CASE("prune --granularity channel --report: features removed physically; the pruning block counts channels",
          "[cli][prune][report]") {
  test::TempDir d;
  // x[N,64] @ W1[64,64] -> Relu -> @ W2[64,8]: W1's 64 features can go (W2 loses the matching rows).
  std::string w1, w2;
  for (int i = 0; i < 64 * 64; ++i) w1 += (i ? ", " : "") + std::to_string(((i * 37) % 101 - 50) / 50.0 * (i % 64 + 1));
  for (int i = 0; i < 64 * 8; ++i) w2 += (i ? ", " : "") + std::to_string(((i * 13) % 29 - 14) / 14.0);
  std::string model = test::write_text_model(d, "<ir_version: 7, opset_import: [\"\" : 13]>\n"
                                                "g (float[N,64] x) => (float[N,8] y) {\n"
                                                "W1 = Constant<value = float[64,64] {" + w1 + "}>()\n"
                                                "W2 = Constant<value = float[64,8] {" + w2 + "}>()\n"
                                                "a = MatMul(x, W1)\nr = Relu(a)\ny = MatMul(r, W2)\n}\n");
  auto r = test::run_effopt({"prune", model, "-o", d.file("p.onnx"), "--granularity", "channel",
                             "--sparsity", "0.5", "--report", d.file("r.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = test::parse_valid_report(test::read_file(d.file("r.json")));
  const json& p = j["pruning"];
  CHECK(p["granularity"] == "channel");
  CHECK(p["prunable_channels"] == 64);
  CHECK(p["channels_removed"] == 32);
  CHECK(p["pruned_sparsity"].get<double>() == Approx(0.5));
  REQUIRE(p["layers"].size() == 1);
  CHECK(p["layers"][0]["channels"] == 64);
  CHECK(p["layers"][0]["pattern"] == "channel");
  CHECK(p["gain"]["where"].dump().find("macs") != std::string::npos);
  // Half of W1's columns and W2's rows are gone: params and MACs shrink by the same half.
  CHECK(j["after"]["params"].get<int64_t>() == (64 * 64 + 64 * 8) / 2);
  auto c = test::run_effopt({"compare", d.file("m.onnx"), d.file("p.onnx"), "--random", "2", "--shape", "x=2,64"});
  INFO(c.out << c.err);
  CHECK(c.exit_code == 0);  // the same output shapes: compare runs both
}
