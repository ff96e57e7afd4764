// effopt report / check / convert --report: exit codes, messages, JSON validated against the schema.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "onnx/model_io.h"
#include "util/cli_util.h"
#include "util/test_util.h"

using namespace effopt;
using nlohmann::json;

namespace {

const char* kConvModel = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,3,8,8] X) => (float[N,4,8,8] Y) <float[4,3,1,1] W = {1,0,0,0,0,1,0,0,0,0,1,0}, float[4] B = {0,0,0,1}> {
  C = Conv(X, W, B)
  Y = Relu(C)
}
)";

}  // namespace

TEST_CASE("report --json: totals at the top level, per-node figures, schema-valid", "[cli][report]") {
  test::TempDir dir;
  std::string model = test::write_text_model(dir, kConvModel, "m.onnx");
  auto r = test::run_effopt({"report", model, "--json", "--shape", "N=2"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = test::parse_valid_report(r.out);
  CHECK(j["command"] == "report");
  CHECK(j["params"] == 16);
  CHECK(j["macs"] == 2 * 4 * 64 * 3);  // output elements x Cin x 1x1
  CHECK(j["macs_complete"] == true);
  CHECK(j["elementwise_ops"] == 2 * 4 * 64 * 2);  // bias add + Relu
  CHECK(j["weight_bytes"] == 64);
  CHECK(j["file_bytes"] == std::filesystem::file_size(model));
  CHECK(j["gzip_bytes"].get<uint64_t>() > 0);
  CHECK(j["zstd_bytes"].get<uint64_t>() > 0);
  CHECK(j["sha256"].get<std::string>().size() == 64);
  CHECK(j["peak_activation_bytes"] == 2 * 2 * 4 * 64 * 4);  // C and Y live together
  CHECK(j["footprint"]["nodes"].size() == 2);
  // Without --shape the MACs are incomplete and say where.
  auto u = test::run_effopt({"report", model, "--json"});
  REQUIRE(u.exit_code == 0);
  json k = test::parse_valid_report(u.out);
  CHECK(k["macs_complete"] == false);
  CHECK(k["footprint"]["macs"]["unknown_nodes"][0].get<std::string>().find("Conv") != std::string::npos);
  // Text form: unknown reads "?", with the --shape that binds the batch dim.
  auto t = test::run_effopt({"report", model});
  REQUIRE(t.exit_code == 0);
  CHECK(t.out.find("  MACs                     ?, unknown: 1 node could not be counted") != std::string::npos);
  CHECK(t.out.find("--shape X=1,3,8,8") != std::string::npos);
  // Bad --shape is a usage error.
  CHECK(test::run_effopt({"report", model, "--shape", "nope=1"}).exit_code == 1);
  CHECK(test::run_effopt({"report", model, "--zstd-level", "20"}).exit_code == 1);
  // --latency on random inputs needs the symbolic batch dim bound.
  auto lat = test::run_effopt({"report", model, "--latency"});
  CHECK(lat.exit_code == 1);
  CHECK(lat.err.find("symbolic ('N')") != std::string::npos);
}

TEST_CASE("report --latency: median and p90 on effopt's executor, labeled as such, in text and JSON", "[cli][report]") {
  test::TempDir dir;
  std::string model = test::write_text_model(dir, kConvModel, "m.onnx");
  auto r = test::run_effopt({"report", model, "--json", "--shape", "N=2", "--latency=7", "--threads", "1"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = test::parse_valid_report(r.out);
  REQUIRE(j.contains("latency"));
  const json& l = j["latency"];
  CHECK(l["runtime"] == "effopt executor");
  CHECK(l["note"].get<std::string>().find("not a prediction for another runtime") != std::string::npos);
  CHECK(l["runs"] == 7);
  CHECK(l["threads"] == 1);
  CHECK(l["min_ms"].get<double>() > 0);
  CHECK(l["min_ms"].get<double>() <= l["median_ms"].get<double>());
  CHECK(l["median_ms"].get<double>() <= l["p90_ms"].get<double>());
  CHECK(l["p90_ms"].get<double>() <= l["max_ms"].get<double>());
  // Text form, default 20 runs, after the models.
  auto t = test::run_effopt({"report", model, "--shape", "N=1", "--threads", "2", "--latency"});
  INFO(t.err);
  REQUIRE(t.exit_code == 0);
  CHECK(t.out.find("latency (effopt's executor on this machine, 2 threads): median ") != std::string::npos);
  CHECK(t.out.find("over 20 runs") != std::string::npos);
}

TEST_CASE("report BEFORE AFTER --latency: both sides measured on the same inputs", "[cli][report]") {
  test::TempDir dir;
  std::string a = test::write_text_model(dir, kConvModel, "a.onnx");
  std::string b = test::write_text_model(dir, kConvModel, "b.onnx");
  auto r = test::run_effopt({"report", a, b, "--json", "--shape", "N=1", "--latency=3", "--seed", "5"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = test::parse_valid_report(r.out);
  CHECK(j["before"]["latency"]["runs"] == 3);
  CHECK(j["after"]["latency"]["runs"] == 3);
  auto t = test::run_effopt({"report", a, b, "--shape", "N=1", "--latency=3"});
  REQUIRE(t.exit_code == 0);
  CHECK(t.out.find("before latency (effopt's executor") != std::string::npos);
  CHECK(t.out.find("after  latency (effopt's executor") != std::string::npos);
}

TEST_CASE("report --latency: bad values, inputs without --latency, models the executor cannot run", "[cli][report]") {
  test::TempDir dir;
  std::string model = test::write_text_model(dir, kConvModel, "m.onnx");
  auto zero = test::run_effopt({"report", model, "--shape", "N=1", "--latency=0"});
  CHECK(zero.exit_code == 1);
  CHECK(zero.err.find("--latency 0") != std::string::npos);
  auto word = test::run_effopt({"report", model, "--shape", "N=1", "--latency=many"});
  CHECK(word.exit_code == 1);
  auto stray = test::run_effopt({"report", model, "--shape", "N=1", "--seed", "3"});
  CHECK(stray.exit_code == 1);
  CHECK(stray.err.find("give --latency too") != std::string::npos);
  std::string odd = test::write_text_model(dir, R"(
<ir_version: 8, opset_import: ["" : 13, "com.example" : 1]>
g (float[2] x) => (float[2] y) {
  y = com.example.Mystery(x)
}
)", "odd.onnx");
  auto unsupported = test::run_effopt({"report", odd, "--latency=2"});
  CHECK(unsupported.exit_code == 2);
  CHECK(unsupported.err.find("Mystery") != std::string::npos);
}

TEST_CASE("report BEFORE AFTER: a diff", "[cli][report]") {
  test::TempDir dir;
  std::string a = test::write_text_model(dir, kConvModel, "a.onnx");
  std::string b = test::write_text_model(dir, R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,3,8,8] X) => (float[N,4,8,8] Y) <float[4,3,1,1] W = {1,0,0,0,0,1,0,0,0,0,1,0}> {
  Y = Conv(X, W)
}
)", "b.onnx");
  auto r = test::run_effopt({"report", a, b, "--json", "--shape", "N=1"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = test::parse_valid_report(r.out);
  CHECK(j["command"] == "report-diff");
  CHECK(j["delta"]["params"] == -4);
  CHECK(j["delta"]["nodes"] == -1);
  CHECK(j["op_count_changes"]["Relu"]["before"] == 1);
  CHECK(j["op_count_changes"]["Relu"]["after"] == 0);
  auto t = test::run_effopt({"report", a, b, "--shape", "N=1"});
  REQUIRE(t.exit_code == 0);
  CHECK(t.out.find("before") != std::string::npos);
}

TEST_CASE("check: budgets pass (0) and fail (3) naming each one", "[cli][budget]") {
  test::TempDir dir;
  std::string model = test::write_text_model(dir, kConvModel, "m.onnx");
  auto ok = test::run_effopt({"check", model, "--max-bytes", "1MB", "--max-params", "1K", "--max-gzip-bytes", "1MiB",
                              "--max-zstd-bytes", "1MiB"});
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  auto bad = test::run_effopt({"check", model, "--max-bytes", "10", "--max-params", "10"});
  CHECK(bad.exit_code == 3);
  CHECK(bad.err.find("--max-bytes") != std::string::npos);
  CHECK(bad.err.find("--max-params 10") != std::string::npos);
  CHECK(bad.err.find("over by 6") != std::string::npos);
  // MAC / activation budgets never pass on unknown dims.
  auto unk = test::run_effopt({"check", model, "--max-macs", "1G"});
  CHECK(unk.exit_code == 3);
  CHECK(unk.err.find("--shape") != std::string::npos);
  CHECK(unk.err.find("Conv") != std::string::npos);
  auto bound = test::run_effopt({"check", model, "--max-macs", "1G", "--max-peak-activation-bytes", "1MB",
                                 "--shape", "X=1,3,8,8"});
  INFO(bound.err);
  CHECK(bound.exit_code == 0);
  CHECK(test::run_effopt({"check", model}).exit_code == 1);  // no budget
  CHECK(test::run_effopt({"check", model, "--max-bytes", "5 parsecs"}).exit_code == 1);
}

TEST_CASE("convert --report: before/after footprint, hashes, schema-valid; table on stderr", "[cli][report]") {
  test::TempDir dir;
  std::string model = test::write_text_model(dir, kConvModel, "m.onnx");
  std::string out = dir.file("out.onnx"), rep = dir.file("r.json");
  auto r = test::run_effopt({"convert", model, "-o", out, "--report", rep});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("parameters") != std::string::npos);
  json j = test::parse_valid_report(test::read_file(rep));
  CHECK(j["command"] == "convert");
  CHECK(j["before"]["params"] == 16);
  CHECK(j["after"]["params"] == 16);
  CHECK(j["delta"]["params"] == 0);
  CHECK(j["input"]["sha256"].get<std::string>().size() == 64);
  CHECK(j["output"]["sha256"] == j["after"]["sha256"]);
  auto q = test::run_effopt({"-q", "convert", model, "-o", dir.file("q.onnx")});
  REQUIRE(q.exit_code == 0);
  CHECK(q.err.empty());
}

TEST_CASE("convert with budgets: exit 3 but the output and report are written", "[cli][budget]") {
  test::TempDir dir;
  std::string model = test::write_text_model(dir, kConvModel, "m.onnx");
  std::string out = dir.file("out.onnx"), rep = dir.file("r.json");
  auto r = test::run_effopt({"convert", model, "-o", out, "--report", rep, "--max-params", "10", "--max-bytes", "1MB"});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("--max-params 10") != std::string::npos);
  CHECK(r.err.find("1 budget failed") != std::string::npos);  // --max-bytes holds
  CHECK(std::filesystem::exists(out));
  CHECK(std::filesystem::exists(rep));
  auto ok = test::run_effopt({"convert", model, "-o", dir.file("ok.onnx"), "--max-params", "1K"});
  CHECK(ok.exit_code == 0);
  auto bad = test::run_effopt({"convert", model, "-o", dir.file("bad.onnx"), "--max-params", "lots"});
  CHECK(bad.exit_code == 1);
  CHECK_FALSE(std::filesystem::exists(dir.file("bad.onnx")));
}

TEST_CASE("report: compressed sizes do not depend on --threads", "[cli][report]") {
  test::TempDir dir;
  std::string model = test::write_text_model(dir, kConvModel, "m.onnx");
  auto a = test::run_effopt({"--threads", "1", "report", model, "--json", "--zstd-level", "19"});
  auto b = test::run_effopt({"--threads", "2", "report", model, "--json", "--zstd-level", "19"});
  REQUIRE(a.exit_code == 0);
  REQUIRE(b.exit_code == 0);
  json ja = json::parse(a.out), jb = json::parse(b.out);
  CHECK(ja["zstd_level"] == 19);
  CHECK(ja["gzip_bytes"] == jb["gzip_bytes"]);
  CHECK(ja["zstd_bytes"] == jb["zstd_bytes"]);
  CHECK(ja["sha256"] == jb["sha256"]);
}

TEST_CASE("report diff: a --shape binding may name one model only, not neither", "[cli][report]") {
  test::TempDir dir;
  std::string a = test::write_text_model(dir, kConvModel, "a.onnx");
  std::string b = test::write_text_model(dir, R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,3,8,8] X) => (float[1,3,8,8] Y) { Y = Relu(X) }
)", "b.onnx");
  auto r = test::run_effopt({"report", a, b, "--json", "--shape", "N=1"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = test::parse_valid_report(r.out);
  CHECK(j["before"]["macs_complete"] == true);
  CHECK(test::run_effopt({"report", a, b, "--shape", "M=1"}).exit_code == 1);
}
