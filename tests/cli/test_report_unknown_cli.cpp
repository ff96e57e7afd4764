// Totals that are not known read as unknown in every human table (report,
// report BEFORE AFTER, the before/after table of convert/run/fuse, check's
// budget lines) and as null with a reason in JSON; the suggested --shape
// pasted back makes them known. Generated models with dynamic batch and
// sequence dims, and the corpus's dynamic models.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "onnx/model_io.h"
#include "util/cli_util.h"
#include "util/test_util.h"

using namespace effopt;
using nlohmann::json;

namespace {

// x[N,S,4] x W[4,2], then Relu. With N = n, S = s: n*s*2 outputs x K 4 = 8*n*s MACs; h and y (8*n*s bytes
// each) live together at the Relu.
const char* kDynamic = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,S,4] x) => (float[N,S,2] y) <float[4,2] W = {1,2,3,4,5,6,7,8}> {
  h = MatMul(x, W)
  y = Relu(h)
}
)";

const char* kTotals[] = {"macs", "elementwise_ops", "activation_bytes", "peak_activation_bytes", "inference_ram_bytes"};

// A model section whose every size-dependent total is unknown: null with a reason naming `shape_flag`.
void check_all_unknown(const json& s, const std::string& shape_flag) {
  for (const char* k : kTotals) {
    INFO(k);
    CHECK(s[k].is_null());
    REQUIRE(s.contains(std::string(k) + "_unknown_reason"));
    CHECK(s[std::string(k) + "_unknown_reason"].get<std::string>().find(shape_flag) != std::string::npos);
  }
}

void check_all_known(const json& s) {
  for (const char* k : kTotals) {
    INFO(k);
    CHECK(s[k].is_number_integer());
    CHECK_FALSE(s.contains(std::string(k) + "_unknown_reason"));
  }
}

// The value column of a text report line ("  MACs                     ...").
std::string value_of(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("  " + key + " ", 0) == 0 && line.size() > 27) return line.substr(27);
  FAIL("no line '" << key << "' in:\n" << text);
  return "";
}

// A row of the before/after table: {before, after, change}.
std::vector<std::string> row_of(const std::string& table, const std::string& name) {
  std::istringstream in(table);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("  " + name + " ", 0) == 0) {
      std::vector<std::string> cols = {line.substr(25, 14), line.substr(40, 14), line.size() > 56 ? line.substr(56) : ""};
      for (auto& c : cols) c.erase(0, c.find_first_not_of(' '));
      return cols;
    }
  FAIL("no row '" << name << "' in:\n" << table);
  return {};
}

// The --shape flags of the "? = unknown: ... count them with [COMMAND] --shape A --shape B (1 stands ..." line.
std::vector<std::string> suggested_flags(const std::string& text) {
  size_t at = text.find("? = unknown:");
  REQUIRE(at != std::string::npos);
  size_t from = text.find("--shape ", at), to = text.find(" (1 stands for each unknown dim", at);
  REQUIRE(from != std::string::npos);
  REQUIRE(to != std::string::npos);
  std::istringstream words(text.substr(from, to - from));
  std::vector<std::string> flags;
  for (std::string w; words >> w;) flags.push_back(w);
  return flags;
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE("report: unknown totals read '?', the suggested --shape pasted back counts them", "[cli][report][unknown]") {
  test::TempDir dir;
  std::string model = test::write_text_model(dir, kDynamic, "m.onnx");
  auto t = test::run_effopt({"report", model});
  INFO(t.err);
  REQUIRE(t.exit_code == 0);
  CHECK(value_of(t.out, "MACs").rfind("?, unknown: 1 node could not be counted", 0) == 0);
  CHECK(value_of(t.out, "element-wise ops").rfind("?, unknown:", 0) == 0);
  CHECK(value_of(t.out, "activation bytes").rfind("?, unknown:", 0) == 0);
  CHECK(value_of(t.out, "peak activation bytes").rfind("?, unknown:", 0) == 0);
  CHECK(value_of(t.out, "inference RAM (est.)").rfind(">= 32 (>= 32 B)", 0) == 0);  // the 8 float weights
  CHECK(t.out.find("the graph inputs have unknown dims N (x[0]), S (x[1])") != std::string::npos);
  std::vector<std::string> flags = suggested_flags(t.out);
  CHECK(flags == std::vector<std::string>{"--shape", "x=1,1,4"});

  auto j = test::run_effopt({"report", model, "--json"});
  REQUIRE(j.exit_code == 0);
  json r = test::parse_valid_report(j.out);
  check_all_unknown(r, "--shape x=1,1,4");
  CHECK(r["unbound_inputs"][0]["suggested_shape"] == "x=1,1,4");

  // Pasted back: every total known; 8*1*1 MACs, peak 2 x 8 bytes.
  auto k = test::run_effopt(concat({"report", model, "--json"}, flags));
  INFO(k.err);
  REQUIRE(k.exit_code == 0);
  json rk = test::parse_valid_report(k.out);
  check_all_known(rk);
  CHECK(rk["macs"] == 8);
  CHECK(rk["peak_activation_bytes"] == 16);
  CHECK(rk["unbound_inputs"].empty());
  auto kt = test::run_effopt(concat({"report", model}, flags));
  REQUIRE(kt.exit_code == 0);
  CHECK(value_of(kt.out, "MACs") == "8 (8)");
  CHECK(kt.out.find("? = unknown") == std::string::npos);
  // Binding one dim by name leaves the other unknown, and says which.
  auto half = test::run_effopt({"report", model, "--shape", "N=2"});
  REQUIRE(half.exit_code == 0);
  CHECK(value_of(half.out, "MACs").rfind("?", 0) == 0);
  CHECK(half.out.find("the graph inputs have unknown dims S (x[1]); count them with --shape x=2,1,4") !=
        std::string::npos);
}

TEST_CASE("report BEFORE AFTER: unknown totals read '?', their delta is null", "[cli][report][unknown]") {
  test::TempDir dir;
  std::string a = test::write_text_model(dir, kDynamic, "a.onnx");
  std::string b = test::write_text_model(dir, kDynamic, "b.onnx");
  auto t = test::run_effopt({"report", a, b});
  INFO(t.err);
  REQUIRE(t.exit_code == 0);
  CHECK(row_of(t.out, "MACs") == std::vector<std::string>{"?", "?", "?"});
  CHECK(row_of(t.out, "peak activation") == std::vector<std::string>{"?", "?", "?"});
  CHECK(t.out.find("count them with effopt report " + a + " " + b + " --shape x=1,1,4") != std::string::npos);
  auto j = test::run_effopt({"report", a, b, "--json"});
  REQUIRE(j.exit_code == 0);
  json d = test::parse_valid_report(j.out);
  check_all_unknown(d["before"], "--shape x=1,1,4");
  check_all_unknown(d["after"], "--shape x=1,1,4");
  for (const char* k : kTotals) CHECK(d["delta"][k].is_null());
  CHECK(d["delta"]["params"] == 0);
  // With the binding (N=3, S=5): 8*15 = 120 MACs each side, delta 0.
  auto bound = test::run_effopt({"report", a, b, "--json", "--shape", "x=3,5,4"});
  REQUIRE(bound.exit_code == 0);
  json e = test::parse_valid_report(bound.out);
  CHECK(e["before"]["macs"] == 120);
  CHECK(e["delta"]["macs"] == 0);
}

TEST_CASE("convert/run/fuse: the before/after table reads '?' for unknown totals; --shape applies to it",
          "[cli][report][unknown]") {
  test::TempDir dir;
  std::string model = test::write_text_model(dir, kDynamic, "m.onnx");
  std::vector<std::vector<std::string>> commands = {
      {"convert"}, {"run", "--passes", "eliminate-identity"}, {"fuse"}};
  for (const auto& cmd : commands) {
    INFO(cmd[0]);
    std::string out = dir.file(cmd[0] + ".onnx"), rep = dir.file(cmd[0] + ".json");
    auto r = test::run_effopt(concat(cmd, {model, "-o", out, "--report", rep}));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(row_of(r.err, "MACs") == std::vector<std::string>{"?", "?", "?"});
    CHECK(row_of(r.err, "peak activation") == std::vector<std::string>{"?", "?", "?"});
    CHECK(r.err.find("count them with effopt report " + model + " " + out + " --shape x=1,1,4") != std::string::npos);
    json j = test::parse_valid_report(test::read_file(rep));
    check_all_unknown(j["before"], "--shape x=1,1,4");
    check_all_unknown(j["after"], "--shape x=1,1,4");
    CHECK(j["delta"]["macs"].is_null());
  }
  // run --shape binds the table's dims without changing the model: 8*2*3 = 48 MACs, peak 2 x 48 bytes.
  std::string out = dir.file("bound.onnx"), rep = dir.file("bound.json");
  auto r = test::run_effopt({"run", "--passes", "eliminate-identity", model, "-o", out, "--report", rep, "--shape",
                             "x=2,3,4"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(row_of(r.err, "MACs") == std::vector<std::string>{"48", "48", ""});
  CHECK(row_of(r.err, "peak activation") == std::vector<std::string>{"96 B", "96 B", ""});
  CHECK(r.err.find("? = unknown") == std::string::npos);
  json j = test::parse_valid_report(test::read_file(rep));
  CHECK(j["shape_bindings"] == json::array({"x=2,3,4"}));
  CHECK(j["after"]["macs"] == 48);
  CHECK(j["delta"]["macs"] == 0);
  // fuse --shape fixes the output's input shape (fix-shapes); both sides of the table count it.
  auto f = test::run_effopt({"fuse", model, "-o", dir.file("fixed.onnx"), "--shape", "N=1", "--shape", "S=2"});
  INFO(f.err);
  REQUIRE(f.exit_code == 0);
  CHECK(row_of(f.err, "MACs") == std::vector<std::string>{"16", "16", ""});
}

TEST_CASE("check: a budget on an unknown total fails as 'could not be checked', naming the --shape",
          "[cli][budget][unknown]") {
  test::TempDir dir;
  std::string model = test::write_text_model(dir, kDynamic, "m.onnx");
  auto r = test::run_effopt({"check", model, "--max-macs", "1G", "--max-peak-activation-bytes", "1GB",
                             "--max-params", "1K"});
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("2 budgets could not be checked (a budget on an unknown total fails)") != std::string::npos);
  CHECK(r.err.find("--max-macs 1000000000 (1.000 G): could not be checked, the total is unknown") != std::string::npos);
  CHECK(r.err.find("--max-peak-activation-bytes 1000000000 (1.00 GB): could not be checked") != std::string::npos);
  CHECK(r.err.find("bind them, e.g. --shape x=1,1,4") != std::string::npos);
  CHECK(r.err.find("--max-params 1000 ok (8)") != std::string::npos);  // it holds
  // The same budgets on convert's output: exit 3, the output and report still written.
  std::string out = dir.file("out.onnx");
  auto c = test::run_effopt({"convert", model, "-o", out, "--max-macs", "1G"});
  CHECK(c.exit_code == 3);
  CHECK(c.err.find("could not be checked") != std::string::npos);
  CHECK(std::filesystem::exists(out));
  // Bound, both hold.
  auto ok = test::run_effopt({"check", model, "--max-macs", "1G", "--max-peak-activation-bytes", "1GB", "--shape",
                              "x=1,1,4"});
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
}

TEST_CASE("corpus digits_cnn (dynamic batch): unknown until --shape binds the batch", "[cli][report][unknown][corpus]") {
  auto dir = test::corpus_case_or_skip("models/digits_cnn");
  if (!dir) return;
  const std::string model = (*dir / "model.onnx").string();
  auto t = test::run_effopt({"report", model});
  INFO(t.err);
  REQUIRE(t.exit_code == 0);
  CHECK(value_of(t.out, "MACs").rfind("?, unknown: 4 nodes could not be counted", 0) == 0);
  CHECK(value_of(t.out, "peak activation bytes").rfind("?", 0) == 0);
  std::vector<std::string> flags = suggested_flags(t.out);
  CHECK(flags == std::vector<std::string>{"--shape", "image=1,1,8,8"});
  auto one = test::run_effopt(concat({"report", model, "--json"}, flags));
  REQUIRE(one.exit_code == 0);
  json j1 = test::parse_valid_report(one.out);
  check_all_known(j1);
  // Per image: Conv 32x8x8 x 1x3x3 = 18432, Conv 64x8x8 x 32x3x3 = 1179648, Gemm 1024x128 = 131072,
  // Gemm 128x10 = 1280.
  CHECK(j1["macs"] == 18432 + 1179648 + 131072 + 1280);
  auto four = test::run_effopt({"report", model, "--json", "--shape", "batch=4"});
  REQUIRE(four.exit_code == 0);
  json j4 = test::parse_valid_report(four.out);
  CHECK(j4["macs"].get<uint64_t>() == 4 * j1["macs"].get<uint64_t>());
  CHECK(j4["peak_activation_bytes"].get<uint64_t>() == 4 * j1["peak_activation_bytes"].get<uint64_t>());
  auto unk = test::run_effopt({"report", model, "--json"});
  REQUIRE(unk.exit_code == 0);
  check_all_unknown(test::parse_valid_report(unk.out), "--shape image=1,1,8,8");
  auto budget = test::run_effopt({"check", model, "--max-macs", "10M"});
  CHECK(budget.exit_code == 3);
  CHECK(budget.err.find("could not be checked") != std::string::npos);
  CHECK(test::run_effopt(concat({"check", model, "--max-macs", "10M"}, flags)).exit_code == 0);
  test::TempDir tmp;
  auto fuse = test::run_effopt({"fuse", model, "-o", tmp.file("f.onnx")});
  INFO(fuse.err);
  REQUIRE(fuse.exit_code == 0);
  CHECK(row_of(fuse.err, "MACs") == std::vector<std::string>{"?", "?", "?"});
  CHECK(fuse.err.find("--shape image=1,1,8,8") != std::string::npos);
}

TEST_CASE("corpus ppocr_det_v4 (dynamic batch, H and W): unknown until --shape binds them", "[cli][report][unknown][corpus]") {
  auto dir = test::corpus_case_or_skip("models/ppocr_det_v4");
  if (!dir) return;
  const std::string model = (*dir / "model.onnx").string();
  auto t = test::run_effopt({"report", model});
  INFO(t.err);
  REQUIRE(t.exit_code == 0);
  CHECK(value_of(t.out, "MACs").rfind("?, unknown:", 0) == 0);
  CHECK(value_of(t.out, "peak activation bytes").rfind("?, unknown:", 0) == 0);
  CHECK(t.out.find("p2o.DynamicDimension.1 (x[2]), p2o.DynamicDimension.2 (x[3])") != std::string::npos);
  std::vector<std::string> flags = suggested_flags(t.out);
  CHECK(flags == std::vector<std::string>{"--shape", "x=1,3,1,1"});
  auto j = test::run_effopt({"report", model, "--json"});
  REQUIRE(j.exit_code == 0);
  check_all_unknown(test::parse_valid_report(j.out), "--shape x=1,3,1,1");
  auto k = test::run_effopt(concat({"report", model, "--json"}, flags));
  INFO(k.err);
  REQUIRE(k.exit_code == 0);
  json jk = test::parse_valid_report(k.out);
  check_all_known(jk);
  CHECK(jk["macs"].get<uint64_t>() > 0);
  // A real page size counts too, and costs more than a 1x1 one.
  auto page = test::run_effopt({"report", model, "--json", "--shape", "x=1,3,320,320"});
  REQUIRE(page.exit_code == 0);
  json jp = test::parse_valid_report(page.out);
  check_all_known(jp);
  CHECK(jp["macs"].get<uint64_t>() > jk["macs"].get<uint64_t>());
}

TEST_CASE("effopt-ci.sh: a MAC budget on a dynamic model fails until --shape binds it", "[cli][ci-script][unknown]") {
  test::TempDir dir;
  std::string model = test::write_text_model(dir, kDynamic, "m.onnx"), out = dir.file("m.small.onnx");
  auto ci = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {std::string(EFFOPT_SOURCE_DIR) + "/tools/effopt-ci.sh", model, out,
                                     "--artifacts", dir.file("art"), "--effopt", EFFOPT_BIN, "--max-macs", "1G"};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run_program("/bin/bash", args);
  };
  auto r = ci({"--no-quality"});
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("could not be checked") != std::string::npos);
  CHECK(r.err.find("--shape x=1,1,4") != std::string::npos);
  auto ok = ci({"--shape", "x=2,3,4"});
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  json report = json::parse(test::read_file(dir.file("art") + "/report.json"));
  CHECK(report["after"]["macs"] == 48);  // 8 * 2 * 3
}
