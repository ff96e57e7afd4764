// effopt passes / run / fuse and convert --opset through the pass manager:
// listings, --print-pipeline, metadata_props, the report's per-pass section
// (validated against docs/report.schema.json), and the guards' exit 5 with no
// output file (effopt_test_passes: the CLI plus deliberately broken passes).
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "exec/tensor_io.h"
#include "onnx/model_io.h"
#include "util/cli_util.h"
#include "util/test_util.h"

using namespace effopt;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* kModel = R"(
<ir_version: 7, opset_import: ["" : 11], producer_name: "pass-cli-test", producer_version: "3.1">
g (float[N,4] X) => (float[N,4] Y) {
  S = Softmax<axis = 1>(X)
  Y = Relu(S)
}
)";

std::string write_model(const test::TempDir& dir, const std::string& name = "m.onnx") {
  return test::write_text_model(dir, kModel, name);
}

bool no_temp_files(const fs::path& dir) {
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".effopt-tmp-") != std::string::npos) return false;
  return true;
}

test::RunResult run_test_passes(const std::vector<std::string>& args) {
  return test::run_program(EFFOPT_TEST_PASSES_BIN, args);
}

std::string sha256sum(const std::string& path) {
  std::string cmd = "sha256sum '" + path + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[65] = {};
  size_t n = std::fread(buf, 1, 64, p);
  ::pclose(p);
  REQUIRE(n == 64);
  return std::string(buf, 64);
}

}  // namespace

TEST_CASE("passes lists every pass with its options; passes NAME shows its docs", "[cli][passes]") {
  auto r = test::run_effopt({"passes"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  for (const char* s : {"fix-shapes", "convert-opset", "shapes=\"\"  string:", "to=0  int (0..21):"})
    CHECK(r.out.find(s) != std::string::npos);
  auto one = test::run_effopt({"passes", "fix-shapes"});
  REQUIRE(one.exit_code == 0);
  CHECK(one.out.find("onnx-simplifier") != std::string::npos);
  CHECK(one.out.find("Before:") != std::string::npos);  // the docs, not only the summary
  CHECK(one.out.find("convert-opset") == std::string::npos);
  auto bad = test::run_effopt({"passes", "fix-shape"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("did you mean 'fix-shapes'") != std::string::npos);
  auto md = test::run_effopt({"passes", "--markdown"});
  REQUIRE(md.exit_code == 0);
  CHECK(md.out == test::read_file(std::string(EFFOPT_SOURCE_DIR) + "/docs/passes.md"));
}

TEST_CASE("run: a bad pipeline is a usage error with a caret; nothing is written", "[cli][run]") {
  test::TempDir d;
  std::string model = write_model(d);
  std::string out = d.file("out.onnx");
  auto r = test::run_effopt({"run", model, "--passes", "fix-shapes,convert-opset{to=13 bogus=1}", "-o", out});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("unknown option 'bogus' (valid options: to)") != std::string::npos);
  CHECK(r.err.find("  fix-shapes,convert-opset{to=13 bogus=1}\n" + std::string(2 + 31, ' ') + "^") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("run: the output records effopt.version and the expanded pipeline, keeping the producer", "[cli][run]") {
  test::TempDir d;
  std::string model = write_model(d);
  std::string out = d.file("out.onnx");
  auto r = test::run_effopt({"run", model, "--passes", "fix-shapes{shapes=N=2}, convert-opset{to=13}", "-o", out});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto m = test::load_or_fail(out);
  CHECK(m->metadata("effopt.version") == EFFOPT_VERSION);
  CHECK(m->metadata("effopt.pipeline") == "fix-shapes{shapes=N=2},convert-opset{to=13}");
  CHECK(m->producer_name == "pass-cli-test");
  CHECK(m->producer_version == "3.1");
  CHECK(m->opset() == 13);
  CHECK(m->graph->inputs()[0]->type.to_string() == "float32[2,4]");
  // One log line per pass at info level.
  CHECK(r.err.find("pass fix-shapes: ") != std::string::npos);
  CHECK(r.err.find("pass convert-opset: ") != std::string::npos);
  // Default output name: model.opt.onnx.
  auto r2 = test::run_effopt({"run", model, "--passes", "fix-shapes"});
  REQUIRE(r2.exit_code == 0);
  CHECK(fs::exists(d.file("m.opt.onnx")));
}

TEST_CASE("--print-pipeline prints the expanded pipeline, which parses back to itself", "[cli][run]") {
  auto r = test::run_effopt({"run", "--passes", "repeat{max-iterations=3}(fix-shapes),convert-opset", "--print-pipeline"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "repeat{max-iterations=3}(fix-shapes{shapes=\"\"}),convert-opset{to=0}\n");
  std::string printed = r.out.substr(0, r.out.size() - 1);
  auto again = test::run_effopt({"run", "--passes", printed, "--print-pipeline"});
  REQUIRE(again.exit_code == 0);
  CHECK(again.out == r.out);
  // With a model it is a usage error (it reads and writes nothing).
  test::TempDir d;
  auto both = test::run_effopt({"run", write_model(d), "--passes", "fix-shapes", "--print-pipeline"});
  CHECK(both.exit_code == 1);
  auto none = test::run_effopt({"run", "--passes", "fix-shapes"});
  CHECK(none.exit_code == 1);
  CHECK(none.err.find("give a MODEL") != std::string::npos);
}

TEST_CASE("fuse: --opset and --shape come first; fuse never raises the opset by itself", "[cli][fuse]") {
  auto p = test::run_effopt({"fuse", "--print-pipeline", "--opset", "17", "--shape", "X=2,4"});
  INFO(p.err);
  REQUIRE(p.exit_code == 0);
  CHECK(p.out.rfind("convert-opset{to=17},fix-shapes{shapes=X=2,4}", 0) == 0);
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"fuse", model, "-o", d.file("f.onnx")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto m = test::load_or_fail(d.file("f.onnx"));
  CHECK(m->opset() == 11);
  CHECK(m->metadata("effopt.version") == EFFOPT_VERSION);
  auto plain = test::run_effopt({"fuse", "--print-pipeline"});
  REQUIRE(plain.exit_code == 0);
  CHECK(m->metadata("effopt.pipeline") + "\n" == plain.out);
  auto r14 = test::run_effopt({"fuse", model, "-o", d.file("f14.onnx"), "--opset", "14", "--shape", "N=3"});
  INFO(r14.err);
  REQUIRE(r14.exit_code == 0);
  auto m14 = test::load_or_fail(d.file("f14.onnx"));
  CHECK(m14->opset() == 14);
  CHECK(m14->graph->inputs()[0]->type.to_string() == "float32[3,4]");
  CHECK(m14->metadata("effopt.pipeline").rfind("convert-opset{to=14},fix-shapes{shapes=N=3}", 0) == 0);
  auto bad = test::run_effopt({"fuse", model, "-o", d.file("bad.onnx"), "--shape", "Q=3"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("no graph input or symbolic dim is named 'Q'") != std::string::npos);
  CHECK_FALSE(fs::exists(d.file("bad.onnx")));
  // Default output name: model.fused.onnx; existing outputs need --force.
  REQUIRE(test::run_effopt({"fuse", model}).exit_code == 0);
  CHECK(fs::exists(d.file("m.fused.onnx")));
  CHECK(test::run_effopt({"fuse", model}).exit_code == 1);
}

TEST_CASE("run: @name uses a named pipeline, recorded expanded; an unknown one lists them", "[cli][run]") {
  auto p = test::run_effopt({"run", "--passes", "convert-opset{to=17},@fuse", "--print-pipeline"});
  INFO(p.err);
  REQUIRE(p.exit_code == 0);
  // The same expanded text as `effopt fuse --opset 17`: every pass with its options, no '@' left.
  auto f = test::run_effopt({"fuse", "--opset", "17", "--print-pipeline"});
  REQUIRE(f.exit_code == 0);
  CHECK(p.out == f.out);
  CHECK(p.out.rfind("convert-opset{to=17},repeat{max-iterations=8}(eliminate-identity,", 0) == 0);
  CHECK(p.out.find("fold-constants{max-bytes=") != std::string::npos);
  CHECK(p.out.find('@') == std::string::npos);
  // Run on a model: the output and the report record the expanded text.
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"run", model, "--passes", "@fuse", "-o", d.file("o.onnx"), "--report", d.file("r.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto plain = test::run_effopt({"fuse", "--print-pipeline"});
  REQUIRE(plain.exit_code == 0);
  CHECK(test::load_or_fail(d.file("o.onnx"))->metadata("effopt.pipeline") + "\n" == plain.out);
  CHECK(test::read_file(d.file("r.json")).find(plain.out.substr(0, plain.out.size() - 1)) != std::string::npos);
  // Unknown named pipeline: a usage error naming it and listing the named pipelines; nothing written.
  auto bad = test::run_effopt({"run", model, "--passes", "fix-shapes,@fusion", "-o", d.file("bad.onnx")});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("unknown named pipeline '@fusion' (named pipelines: @fuse, @quantize, @prune)") != std::string::npos);
  CHECK_FALSE(fs::exists(d.file("bad.onnx")));
  // A bare name is a pass: `fuse` is not the named pipeline.
  auto bare = test::run_effopt({"run", model, "--passes", "fuse", "-o", d.file("bare.onnx")});
  CHECK(bare.exit_code == 1);
  CHECK(bare.err.find("unknown pass 'fuse' ('fuse' is a named pipeline: write '@fuse')") != std::string::npos);
}

TEST_CASE("convert --opset records its pipeline; plain convert records nothing", "[cli][convert]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"convert", model, "--opset", "13", "-o", d.file("c13.onnx")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto m = test::load_or_fail(d.file("c13.onnx"));
  CHECK(m->metadata("effopt.pipeline") == "convert-opset{to=13}");
  CHECK(m->metadata("effopt.version") == EFFOPT_VERSION);
  auto p = test::run_effopt({"convert", model, "-o", d.file("plain.onnx")});
  REQUIRE(p.exit_code == 0);
  CHECK(test::load_or_fail(d.file("plain.onnx"))->metadata_props.empty());
  CHECK(test::read_file(d.file("plain.onnx")) == test::read_file(model));
}

TEST_CASE("--report has a per-pass section and the groups, schema-valid", "[cli][run][report]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"run", model, "--passes", "repeat{max-iterations=4}(fix-shapes{shapes=X=2,4}),convert-opset{to=13}",
                             "-o", d.file("o.onnx"), "--report", d.file("r.json"), "--verify-each", "--check-outputs"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = test::parse_valid_report(test::read_file(d.file("r.json")));
  CHECK(j["command"] == "run");
  CHECK(j["pipeline"] == "repeat{max-iterations=4}(fix-shapes{shapes=X=2,4}),convert-opset{to=13}");
  REQUIRE(j["passes"].size() == 3);  // fix-shapes twice (the second changes nothing), convert-opset
  CHECK(j["passes"][0]["name"] == "fix-shapes");
  CHECK(j["passes"][0]["options"] == "shapes=X=2,4");
  CHECK(j["passes"][0]["group"] == "repeat#1 iteration 1");
  CHECK(j["passes"][0]["changed"] == true);
  CHECK(j["passes"][0]["counters"]["inputs-fixed"] == 1);
  CHECK(j["passes"][1]["changed"] == false);
  CHECK(j["passes"][2]["name"] == "convert-opset");
  CHECK(j["passes"][2]["counters"]["to-opset"] == 13);
  CHECK(j["passes"][2]["nodes_before"] == 2);
  CHECK(j["passes"][2]["outputs_checked"] == true);
  CHECK(j["passes"][2]["max_rel_l2"].get<double>() <= 1e-5);
  CHECK_FALSE(j["passes"][2]["notes"].empty());
  REQUIRE(j["groups"].size() == 1);
  CHECK(j["groups"][0]["iterations"] == 2);
  CHECK(j["groups"][0]["limit_reached"] == false);
  CHECK(j["checks"]["verify_each"] == true);
  CHECK(j["checks"]["check_outputs"] == true);
  CHECK(j["changes"]["opset"]["to"] == 13);
}

TEST_CASE("--check-outputs needs known input dims and names the input", "[cli][run]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"run", model, "--passes", "fix-shapes", "-o", d.file("o.onnx"), "--check-outputs"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("input 'X' dim 0 is symbolic ('N')") != std::string::npos);
  CHECK_FALSE(fs::exists(d.file("o.onnx")));
  auto ok = test::run_effopt({"run", model, "--passes", "fix-shapes", "-o", d.file("o.onnx"), "--check-outputs",
                              "--shape", "N=3"});
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
}

TEST_CASE("a pass that breaks the graph or changes outputs: exit 5 naming it, no output", "[cli][run]") {
  test::TempDir d;
  std::string model = write_model(d);
  std::string out = d.file("out.onnx");
  auto v = run_test_passes({"run", model, "--passes", "fix-shapes,test-break-graph", "-o", out, "--verify-each",
                            "--report", d.file("r.json")});
  CHECK(v.exit_code == 5);
  CHECK(v.err.find("pass 'test-break-graph' broke the graph") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
  CHECK_FALSE(fs::exists(d.file("r.json")));
  auto c = run_test_passes({"run", model, "--passes", "fix-shapes{shapes=N=2},test-add-one", "-o", out,
                            "--check-outputs"});
  CHECK(c.exit_code == 5);
  CHECK(c.err.find("pass 'test-add-one' changed the outputs") != std::string::npos);
  CHECK(c.err.find("output 'Y'") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
  // Declared lossy, the same change passes the check.
  auto l = run_test_passes({"run", model, "--passes", "test-lossy-add-one", "-o", out, "--check-outputs",
                            "--shape", "N=2"});
  INFO(l.err);
  CHECK(l.exit_code == 0);
  CHECK(no_temp_files(d.path()));
}

TEST_CASE("a group that reaches its iteration limit says so in the log and the report", "[cli][run]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = run_test_passes({"run", model, "--passes", "repeat{max-iterations=3}(test-lossy-add-one)", "-o",
                            d.file("o.onnx"), "--report", d.file("r.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("repeat#1: reached its limit of 3 iterations") != std::string::npos);
  json j = test::parse_valid_report(test::read_file(d.file("r.json")));
  CHECK(j["groups"][0]["limit_reached"] == true);
  CHECK(j["groups"][0]["iterations"] == 3);
  CHECK(j["passes"].size() == 3);
}

TEST_CASE("file options are recorded by file name and SHA-256; output bytes do not depend on the folder",
          "[cli][run]") {
  test::TempDir d;
  std::string model = write_model(d);
  std::string outs[2];
  for (int i = 0; i < 2; ++i) {
    fs::create_directories(d.path() / ("dir" + std::to_string(i)));
    std::string file = (d.path() / ("dir" + std::to_string(i)) / "calib.bin").string();
    test::write_file(file, "calibration bytes");
    outs[i] = d.file("out" + std::to_string(i) + ".onnx");
    auto r = run_test_passes({"run", model, "--passes", "test-read-file{file=" + file + "}", "-o", outs[i],
                              "--report", d.file("r.json"), "--force"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    std::string want = "test-read-file{file=calib.bin@sha256:" + sha256sum(file) + "}";
    CHECK(test::load_or_fail(outs[i])->metadata("effopt.pipeline") == want);
    CHECK(json::parse(test::read_file(d.file("r.json")))["pipeline"] == want);
  }
  CHECK(test::read_file(outs[0]) == test::read_file(outs[1]));
  // The recorded form checks the file's hash.
  std::string file = (d.path() / "dir0" / "calib.bin").string();
  auto same = run_test_passes({"run", model, "--passes", "test-read-file{file=" + file + "@sha256:" + sha256sum(file) +
                                                            "}", "-o", d.file("same.onnx")});
  CHECK(same.exit_code == 0);
  auto changed = run_test_passes({"run", model, "--passes", "test-read-file{file=" + file + "@sha256:" +
                                                               std::string(64, '0') + "}", "-o", d.file("chg.onnx")});
  CHECK(changed.exit_code == 1);
  CHECK(changed.err.find("the pipeline records 0000") != std::string::npos);
}

TEST_CASE("run and fuse take the budget flags", "[cli][fuse]") {
  test::TempDir d;
  std::string model = write_model(d);
  auto r = test::run_effopt({"fuse", model, "-o", d.file("f.onnx"), "--max-bytes", "10"});
  CHECK(r.exit_code == 3);
  CHECK(fs::exists(d.file("f.onnx")));  // budgets are checked on the written output
  auto ok = test::run_effopt({"run", model, "--passes", "fix-shapes", "-o", d.file("g.onnx"), "--max-bytes", "10MB"});
  CHECK(ok.exit_code == 0);
}

// ---------------------------------------------------------------- data for passes (--calibration, --data)

namespace {

// X [rows, 4] = row-major 0, 1, 2, ... scaled by `scale`, as a TensorProto file.
void write_batch(const std::string& path, int64_t rows, float scale) {
  std::vector<float> v(static_cast<size_t>(rows * 4));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * scale;
  fs::create_directories(fs::path(path).parent_path());
  REQUIRE(exec::write_tensor_pb(path, exec::TensorValue::from_vector(DataType::Float, {rows, 4}, v), "X"));
}

}  // namespace

TEST_CASE("run --calibration: batches cut into rows, every file recorded as NAME@sha256, reruns checked",
          "[cli][run][calibration]") {
  test::TempDir d;
  std::string model = write_model(d);
  std::string folder = (d.path() / "cal" / "test_data_set_0").string();
  write_batch(folder + "/input_0.pb", 5, 0.1f);
  std::string file = d.file("more.pb");
  write_batch(file, 2, -0.1f);
  auto r = run_test_passes({"run", model, "--passes", "test-calibrate", "--calibration", folder, "--calibration", file,
                            "--calibration-samples", "6", "-o", d.file("o.onnx"), "--report", d.file("r.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string recorded = "test-calibrate{calibration=input_0.pb@sha256:" + sha256sum(folder + "/input_0.pb") +
                               ";more.pb@sha256:" + sha256sum(file) + " calibration-samples=6}";
  CHECK(test::load_or_fail(d.file("o.onnx"))->metadata("effopt.pipeline") == recorded);
  json j = test::parse_valid_report(test::read_file(d.file("r.json")));
  CHECK(j["pipeline"] == recorded);
  // 5 rows of the folder's batch and 1 of the file's.
  CHECK(j["passes"][0]["counters"]["calibration-rows"] == 6);
  REQUIRE(j["passes"][0]["notes"].size() == 1);
  CHECK(j["passes"][0]["notes"][0].get<std::string>().rfind("Y [", 0) == 0);

  // The recorded pipeline with the same files runs again; with another file, or without the files, it does not.
  auto again = run_test_passes({"run", model, "--passes", recorded, "--calibration", folder, "--calibration", file,
                                "-o", d.file("again.onnx")});
  INFO(again.err);
  CHECK(again.exit_code == 0);
  CHECK(test::load_or_fail(d.file("again.onnx"))->metadata("effopt.pipeline") == recorded);
  auto other = run_test_passes({"run", model, "--passes", recorded, "--calibration", folder, "--calibration", folder +
                                "/input_0.pb", "-o", d.file("other.onnx")});
  CHECK(other.exit_code == 1);
  CHECK(other.err.find("not the data the pipeline was run with") != std::string::npos);
  CHECK_FALSE(fs::exists(d.file("other.onnx")));
  auto bare = run_test_passes({"run", model, "--passes", recorded, "-o", d.file("bare.onnx")});
  CHECK(bare.exit_code == 1);
  CHECK(bare.err.find("give those files with --calibration") != std::string::npos);
  auto rows = run_test_passes({"run", model, "--passes", recorded, "--calibration", folder, "--calibration", file,
                               "--calibration-samples", "2", "-o", d.file("rows.onnx")});
  CHECK(rows.exit_code == 1);
  CHECK(rows.err.find("--calibration-samples 2 contradicts") != std::string::npos);
}

TEST_CASE("run --calibration: errors name the file or the flag, no output written", "[cli][run][calibration]") {
  test::TempDir d;
  std::string model = write_model(d);
  SECTION("a path that does not exist") {
    auto r = run_test_passes({"run", model, "--passes", "test-calibrate", "--calibration", d.file("nope.pb"), "-o",
                              d.file("o.onnx")});
    CHECK(r.exit_code == 4);
    CHECK(r.err.find("--calibration " + d.file("nope.pb") + ": no such file or folder") != std::string::npos);
    CHECK_FALSE(fs::exists(d.file("o.onnx")));
  }
  SECTION("a malformed .pb") {
    test::write_file(d.file("bad.pb"), "this is not a tensor");
    auto r = run_test_passes({"run", model, "--passes", "test-calibrate", "--calibration", d.file("bad.pb"), "-o",
                              d.file("o.onnx")});
    CHECK(r.exit_code == 4);  // as compare --data reports it
    CHECK(r.err.find("--calibration: " + d.file("bad.pb") + ": not a serialized onnx.TensorProto") != std::string::npos);
    CHECK_FALSE(fs::exists(d.file("o.onnx")));
  }
  SECTION("no pass reads it") {
    write_batch(d.file("x.pb"), 1, 1);
    auto r = test::run_effopt({"run", model, "--passes", "fix-shapes", "--calibration", d.file("x.pb"), "-o",
                               d.file("o.onnx")});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("--calibration: no pass in the pipeline reads calibration data") != std::string::npos);
    auto data = test::run_effopt({"run", model, "--passes", "fix-shapes", "--data", d.file("x.pb"), "-o",
                                  d.file("o.onnx")});
    CHECK(data.exit_code == 1);
    CHECK(data.err.find("--data: no pass in the pipeline reads quality-guard data") != std::string::npos);
    CHECK_FALSE(fs::exists(d.file("o.onnx")));
  }
}

TEST_CASE("run: a quality guard's search in the report; a failed guard exits 3 with output and report written",
          "[cli][run][quality-guard]") {
  test::TempDir d;
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,4] X) => (float[N,4] Y) <float[4] A = {1, 1, 1, 1}, float[4] B = {2, 2, 2, 2}> {
  P = Mul(X, A)
  Y = Add(P, B)
}
)");
  std::string model = d.file("w.onnx");
  REQUIRE(save_model(*m, model));
  std::string data = d.file("eval.pb");
  write_batch(data, 3, 0.5f);
  // delta 0.001 on A, 0.01 on B: B alone is the larger error; a limit between them keeps B exact.
  auto r = run_test_passes({"run", model, "--passes", "test-guarded-offsets{max-error=0.002}", "--data", data, "-o",
                            d.file("o.onnx"), "--report", d.file("r.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = test::parse_valid_report(test::read_file(d.file("r.json")));
  const json& g = j["passes"][0]["quality_guard"];
  CHECK(g["passed"] == true);
  CHECK(g["data"]["origin"] == "evaluation data");
  CHECK(g["units"][0]["name"] == "A");
  CHECK(g["units"][0]["level"] == "offset");
  CHECK(g["units"][1]["level"] == "exact");
  CHECK(g["units"][1]["rank"] == 1);
  CHECK(j["fidelity"]["passed"] == true);
  CHECK(j["pipeline"].get<std::string>().find("data=eval.pb@sha256:" + sha256sum(data)) != std::string::npos);

  auto fail = run_test_passes({"run", model, "--passes", "test-guarded-offsets{max-error=0}", "--data", data, "-o",
                               d.file("f.onnx"), "--report", d.file("f.json")});
  CHECK(fail.exit_code == 3);
  CHECK(fail.err.find("the quality guard failed") != std::string::npos);
  CHECK(fs::exists(d.file("f.onnx")));
  json f = test::parse_valid_report(test::read_file(d.file("f.json")));
  CHECK(f["passes"][0]["quality_guard"]["passed"] == false);
}
