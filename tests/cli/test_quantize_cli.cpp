// effopt quantize: flags generated from the quantize pass's OptionSpec table,
// the @quantize pipeline with --opset / --shape / the budget flags, default
// output model.quant.onnx, -o -, standard input, --report's quantization
// block, and the usage errors (static mode without calibration data, bits=4
// outside weight mode) with no output written.
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

// x[2,64] @ W[64,32]: W has 2048 elements (over the default min-size).
std::string model_text() {
  std::string w;
  for (int i = 0; i < 64 * 32; ++i) w += (i ? ", " : "") + std::to_string(((i * 37) % 101 - 50) / 50.0);
  return "<ir_version: 7, opset_import: [\"\" : 13]>\n"
         "g (float[N,64] x) => (float[N,32] y) {\n"
         "W = Constant<value = float[64,32] {" + w + "}>()\n"
         "y = MatMul(x, W)\n}\n";
}

std::string write_model(const test::TempDir& d, const std::string& name = "m.onnx") {
  return test::write_text_model(d, model_text(), name);
}

size_t count_op(const Model& m, const std::string& op) {
  size_t n = 0;
  for (const auto& node : m.graph->nodes()) n += node->op_type == op;
  return n;
}

}  // namespace

TEST_CASE("quantize --help has a flag for every quantize pass option, from its OptionSpec table", "[cli][quantize]") {
  auto h = test::run_effopt({"quantize", "--help"});
  REQUIRE(h.exit_code == 0);
  const pass::PassInfo* info = pass::PassRegistry::global().find("quantize");
  REQUIRE(info);
  for (const pass::OptionSpec& s : info->options) {
    INFO(s.name);
    CHECK(h.out.find("--" + s.name) != std::string::npos);
    if (!s.cli_negation.empty()) CHECK(h.out.find("--" + s.cli_negation) != std::string::npos);
  }
  for (const char* f : {"--opset", "--shape", "--max-bytes", "--print-pipeline"}) CHECK(h.out.find(f) != std::string::npos);
}

TEST_CASE("quantize: each flag is the pass option of the same name in the recorded pipeline", "[cli][quantize]") {
  auto p = test::run_effopt({"quantize", "--print-pipeline", "--per-tensor", "--bits", "4", "--min-size", "16",
                             "--opset", "17", "--shape", "N=2"});
  INFO(p.err);
  REQUIRE(p.exit_code == 0);
  CHECK(p.out.rfind("convert-opset{to=17},fix-shapes{shapes=N=2},repeat{max-iterations=8}(hoist-constants,", 0) == 0);
  CHECK(p.out.find("quantize{mode=weight bits=4 block-size=128 per-channel=false ") != std::string::npos);
  CHECK(p.out.find(" min-size=16 ") != std::string::npos);
  CHECK(p.out.find("fuse-matmul-add") == std::string::npos);  // int4 MatMul must stay a MatMul
  auto bad = test::run_effopt({"quantize", "--print-pipeline", "--mode", "int3"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("int3") != std::string::npos);
}

TEST_CASE("quantize: default output model.quant.onnx with int8 weights; the log says size and DQ count",
          "[cli][quantize]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"quantize", model});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(fs::exists(d.file("m.quant.onnx")));
  auto m = test::load_or_fail(d.file("m.quant.onnx"));
  CHECK(count_op(*m, "DequantizeLinear") == 1);
  CHECK(m->metadata("effopt.pipeline").find("quantize{") != std::string::npos);
  CHECK(r.err.find("quantize (mode weight): 1 int8") != std::string::npos);
  CHECK(r.err.find("DequantizeLinear nodes at every inference") != std::string::npos);
  CHECK(fs::file_size(d.file("m.quant.onnx")) < fs::file_size(model));
  CHECK(test::run_effopt({"quantize", model}).exit_code == 1);  // exists: --force needed
}

TEST_CASE("quantize: -o - writes the model to standard output and - reads standard input", "[cli][quantize]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"quantize", "-", "-o", "-", "--mode", "dynamic"}, model);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  {
    std::ofstream out(d.file("piped.onnx"), std::ios::binary);
    out << r.out;
  }
  auto m = test::load_or_fail(d.file("piped.onnx"));
  CHECK(count_op(*m, "MatMulInteger") == 1);
  CHECK(count_op(*m, "DynamicQuantizeLinear") == 1);
}

TEST_CASE("quantize: budget flags fail with exit 3 and still write the output", "[cli][quantize]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"quantize", model, "-o", d.file("q.onnx"), "--max-bytes", "100"});
  CHECK(r.exit_code == 3);
  CHECK(fs::exists(d.file("q.onnx")));
  auto ok = test::run_effopt({"quantize", model, "-o", d.file("q2.onnx"), "--max-bytes", "4000"});
  INFO(ok.err);
  CHECK(ok.exit_code == 0);  // 8 KiB of float weights fit in 4000 bytes only quantized
}

TEST_CASE("quantize: static mode asks for calibration data; bits 4 outside weight mode is a usage error",
          "[cli][quantize]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto s = test::run_effopt({"quantize", model, "-o", d.file("s.onnx"), "--mode", "static"});
  CHECK(s.exit_code == 1);
  CHECK(s.err.find("calibration data") != std::string::npos);
  CHECK_FALSE(fs::exists(d.file("s.onnx")));
  auto b = test::run_effopt({"quantize", model, "-o", d.file("b.onnx"), "--mode", "dynamic", "--bits", "4"});
  CHECK(b.exit_code == 1);
  CHECK(b.err.find("bits=4 is for mode=weight only") != std::string::npos);
  CHECK_FALSE(fs::exists(d.file("b.onnx")));
}

TEST_CASE("quantize --report: the quantization block says the mode, types, sizes and each tensor's reason",
          "[cli][quantize][report]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"quantize", model, "-o", d.file("q.onnx"), "--report", d.file("r.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = test::parse_valid_report(test::read_file(d.file("r.json")));
  REQUIRE(j.contains("quantization"));
  const json& q = j["quantization"];
  CHECK(q["mode"] == "weight");
  CHECK(q["tensors"]["int8"] == 1);
  CHECK(q["quantized_weight_bytes"]["before"] == 64 * 32 * 4);
  CHECK(q["dequantize_nodes_run_per_inference"]["value"] == 1);
  REQUIRE(q["decisions"].size() == 1);
  CHECK(q["decisions"][0].get<std::string>().find("tensor 'W': int8") == 0);
}
