// effopt sweep on digits_cnn (corpus): a 5-point --configs sweep whose sweep.json validates and whose
// frontiers are checked pair by pair; plan -> each job -> collect equal to the local sweep; a failing
// config reported while the sweep goes on, a crashing one making it exit 5; --max-error exit 3 with no
// model; the acceptance pick of the full grid (--max-error 0.01 --pick file-bytes: at least 3x smaller,
// top-1 mismatch within 0.01 again measured by compare, accuracy within 1 point on test_data_set_0).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "onnx/model_io.h"
#include "report/sweep.h"
#include "util/json_schema.h"
#include "util/test_util.h"

using namespace effopt;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json read_json(const fs::path& p) {
  std::ifstream in(p);
  INFO(p.string());
  REQUIRE(in);
  return json::parse(in);
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  REQUIRE(out);
  out << text;
}

// Five configs that take a few seconds together: lossless, two quantizers, two prunings.
const char* kFivePoints = R"([
  {"name": "fuse", "pipeline": "@fuse"},
  {"name": "int8", "pipeline": "@fuse,quantize{mode=weight bits=8}"},
  {"name": "fp16", "pipeline": "@fuse,quantize{mode=fp16}"},
  {"name": "prune-90", "pipeline": "prune{granularity=element sparsity=0.9},@fuse,sparse-storage"},
  {"name": "channel-30", "pipeline": "prune{granularity=channel sparsity=0.3},@fuse"}
])";

// Every point on a frontier is undominated and every undominated point is on it (error against `axis`).
void check_frontier(const json& points, const std::string& axis, const std::string& flag) {
  struct P { bool valid; double x, y; };
  std::vector<P> ps;
  for (const json& p : points) {
    const json& x = p.at(axis);
    const json& y = p.at("error");
    bool valid = p.at("status").get<std::string>() == "ok" && x.is_number() && y.is_number();
    ps.push_back({valid, valid ? x.get<double>() : 0, valid ? y.get<double>() : 0});
  }
  for (size_t i = 0; i < ps.size(); ++i) {
    bool dominated = false;
    for (size_t k = 0; k < ps.size(); ++k)
      if (k != i && ps[k].valid && ps[k].x <= ps[i].x && ps[k].y <= ps[i].y && (ps[k].x < ps[i].x || ps[k].y < ps[i].y))
        dominated = true;
    INFO(points[i].dump());
    CHECK(points[i].at(flag).get<bool>() == (ps[i].valid && !dominated));
  }
}

// The points without what differs between runs and places (latency, command lines).
json comparable(json points) {
  for (json& p : points) {
    p.erase("latency_ms");
    p.erase("command");
  }
  return points;
}

}  // namespace

TEST_CASE("sweep on digits_cnn: 5-point configs, schema, frontiers, csv, plan -> jobs -> collect", "[cli][sweep]") {
  auto dir = test::corpus_case_or_skip("models/digits_cnn");
  if (!dir) return;
  test::TempDir t;
  const std::string model = (*dir / "model.onnx").string(), data = (*dir / "calibration_set").string();
  write(t.path() / "five.json", kFivePoints);
  auto r = test::run_effopt({"sweep", model, "--data", data, "--metric", "top1-mismatch", "--configs",
                             t.file("five.json"), "--dir", t.file("local"), "-j", "2"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  json sweep = read_json(t.path() / "local" / "sweep.json");
  auto errors = validate_json(sweep, read_json(fs::path(EFFOPT_SOURCE_DIR) / "docs" / "sweep.schema.json"));
  for (const std::string& e : errors) INFO(e);
  CHECK(errors.empty());
  const json& points = sweep["points"];
  REQUIRE(points.size() == 6);
  CHECK(points[0]["name"] == "reference");
  CHECK(points[0]["error"] == 0.0);
  for (const json& p : points) {
    INFO(p.dump());
    CHECK(p["status"] == "ok");
    CHECK(p["file_bytes"].is_number());
    CHECK(p["macs"].is_number());  // the symbolic batch dim bound to 1 by default
    if (p["name"] != "reference") {
      CHECK(fs::exists(t.path() / "local" / "points" / p["name"].get<std::string>() / "model.onnx"));
      CHECK(p["command"].get<std::string>().find("effopt run ") == 0);
      // The point's own report records the same command line and the pipeline.
      json report = read_json(t.path() / "local" / "points" / p["name"].get<std::string>() / "report.json");
      CHECK(report["command_line"] == p["command"]);
      CHECK(report["pipeline"].get<std::string>().size() >= p["pipeline"].get<std::string>().size());
    }
  }
  check_frontier(points, "file_bytes", "pareto");
  check_frontier(points, "macs", "pareto_latency");
  // The table marks the frontier; the csv has a header and one line per point.
  CHECK(r.out.find("* on the frontier") != std::string::npos);
  std::ifstream csv(t.path() / "local" / "sweep.csv");
  size_t lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  CHECK(lines == 7);

  SECTION("a point's recorded command reruns it from the sweep's folder") {
    const json& fuse = points[1];
    REQUIRE(fuse["name"] == "fuse");
    auto rerun = test::run_program("/bin/sh", {"-c", "cd '" + t.file("local") + "' && '" + EFFOPT_BIN + "'" +
                                                         fuse["command"].get<std::string>().substr(6)});
    INFO(rerun.err);
    CHECK(rerun.exit_code == 0);
    CHECK(fs::file_size(t.path() / "local" / "points" / "fuse" / "model.onnx") == fuse["file_bytes"].get<uint64_t>());
  }
  SECTION("plan -> each job -> collect gives the same points and frontiers") {
    auto plan = test::run_effopt({"sweep", model, "--data", data, "--metric", "top1-mismatch", "--configs",
                                  t.file("five.json"), "--dir", t.file("planned"), "--plan"});
    INFO(plan.err);
    REQUIRE(plan.exit_code == 0);
    CHECK_FALSE(fs::exists(t.path() / "planned" / "points" / "fuse" / "model.onnx"));  // nothing ran
    json jobs = read_json(t.path() / "planned" / "plan.json")["jobs"];
    REQUIRE(jobs.size() == 5);
    for (const json& job : jobs) {
      auto argv = job["argv"].get<std::vector<std::string>>();
      REQUIRE(fs::path(argv[0]).is_absolute());
      auto run = test::run_program(argv[0], std::vector<std::string>(argv.begin() + 1, argv.end()));
      INFO(run.err);
      CHECK(run.exit_code == 0);
    }
    auto collect = test::run_effopt({"sweep", "--collect", t.file("planned")});
    INFO(collect.err);
    REQUIRE(collect.exit_code == 0);
    json collected = read_json(t.path() / "planned" / "sweep.json");
    CHECK(comparable(collected["points"]) == comparable(points));
  }
}

TEST_CASE("sweep: failing configs are reported and the sweep goes on; a crash makes it exit 5", "[cli][sweep]") {
  auto dir = test::corpus_case_or_skip("models/digits_cnn");
  if (!dir) return;
  test::TempDir t;
  const std::string model = (*dir / "model.onnx").string(), data = (*dir / "calibration_set").string();
  write(t.path() / "c.json", R"([{"name": "fuse", "pipeline": "@fuse"},
    {"name": "bad", "pipeline": "no-such-pass"},
    {"name": "prune-90", "pipeline": "prune{granularity=element sparsity=0.9},@fuse,sparse-storage"}])");
  SECTION("an unusable config is 'failed' with its reason; --max-error that no point meets exits 3, no model") {
    auto r = test::run_effopt({"sweep", model, "--data", data, "--metric", "top1-mismatch", "--configs", t.file("c.json"),
                               "--dir", t.file("s"), "--max-error", "0", "--pick", "file-bytes", "-o", t.file("picked.onnx")});
    INFO(r.out << r.err);
    // fuse keeps every top-1 (error 0): it meets --max-error 0 and is picked.
    CHECK(r.exit_code == 0);
    json points = read_json(t.path() / "s" / "sweep.json")["points"];
    REQUIRE(points.size() == 4);
    CHECK(points[2]["name"] == "bad");
    CHECK(points[2]["status"] == "failed");
    CHECK(points[2]["reason"].get<std::string>().find("no-such-pass") != std::string::npos);
    CHECK(points[3]["status"] == "ok");
    CHECK(fs::exists(t.path() / "picked.onnx"));

    write(t.path() / "d.json", R"([{"name": "prune-90", "pipeline": "prune{granularity=element sparsity=0.9},@fuse,sparse-storage"}])");
    auto none = test::run_effopt({"sweep", model, "--data", data, "--metric", "top1-mismatch", "--configs",
                                  t.file("d.json"), "--dir", t.file("n"), "--max-error", "0", "-o", t.file("none.onnx")});
    INFO(none.out << none.err);
    CHECK(none.exit_code == 3);
    CHECK(fs::exists(t.path() / "n" / "sweep.json"));
    CHECK_FALSE(fs::exists(t.path() / "none.onnx"));
  }
  SECTION("a point that exits 5 makes the sweep exit 5 after writing its files") {
    write(t.path() / "b.json", R"([{"name": "fuse", "pipeline": "@fuse"}, {"name": "broken", "pipeline": "test-break-graph"}])");
    auto r = test::run_program(EFFOPT_TEST_PASSES_BIN, {"sweep", model, "--data", data, "--configs", t.file("b.json"),
                                                        "--dir", t.file("b")});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 5);
    json points = read_json(t.path() / "b" / "sweep.json")["points"];
    REQUIRE(points.size() == 3);
    CHECK(points[1]["status"] == "ok");
    CHECK(points[2]["status"] == "crashed");
  }
}

TEST_CASE("sweep acceptance on digits_cnn: --max-error 0.01 --pick file-bytes over the built-in grid", "[cli][sweep]") {
  auto dir = test::corpus_case_or_skip("models/digits_cnn");
  if (!dir) return;
  test::TempDir t;
  const std::string model = (*dir / "model.onnx").string(), data = (*dir / "calibration_set").string();
  auto r = test::run_effopt({"sweep", model, "--data", data, "--calibration", data, "--metric", "top1-mismatch",
                             "--dir", t.file("s"), "-j", "2", "--max-error", "0.01", "--pick", "file-bytes", "-o",
                             t.file("picked.onnx")});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  json points = read_json(t.path() / "s" / "sweep.json")["points"];
  CHECK(points.size() == 1 + 22);  // the reference and the grid with the static configs
  check_frontier(points, "file_bytes", "pareto");
  check_frontier(points, "macs", "pareto_latency");
  CHECK(fs::file_size(t.file("picked.onnx")) * 3 <= fs::file_size(model));
  // Measured again by compare: top-1 mismatch on the data, accuracy on the labeled test set.
  auto c = test::run_effopt({"compare", model, t.file("picked.onnx"), "--data", data, "--json"});
  REQUIRE(c.exit_code == 0);
  json f = json::parse(c.out)["fidelity"];
  CHECK(f["outputs"][0]["top1_mismatch"].get<double>() <= 0.01);
  auto a = test::run_effopt({"compare", model, t.file("picked.onnx"), "--data", (*dir / "test_data_set_0").string(), "--json"});
  REQUIRE(a.exit_code == 0);
  json acc = json::parse(a.out)["fidelity"]["accuracy"];
  CHECK(acc["candidate"].get<double>() >= acc["reference"].get<double>() - 0.01);
}

namespace {

// Debian's chromium (tools/install-deps.sh installs it under CI or with EFFOPT_WITH_CHROMIUM=1), or "".
std::string chromium_path() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (fs::exists(p)) return p;
  return "";
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("sweep.html in a real browser: the rendered point and frontier elements match sweep.json", "[cli][sweep][browser]") {
  auto dir = test::corpus_case_or_skip("models/digits_cnn");
  if (!dir) return;
  const std::string chromium = chromium_path();
  if (chromium.empty()) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true")
      FAIL("chromium is missing: CI installs it (tools/install-deps.sh) to load sweep.html headless");
    test::skip(test::Needs::HostFeature,
               "chromium is not installed: sweep.html is not checked in a browser (EFFOPT_WITH_CHROMIUM=1 "
               "tools/install-deps.sh installs it)");
    return;
  }
  test::TempDir t;
  write(t.path() / "five.json", kFivePoints);
  auto r = test::run_effopt({"sweep", (*dir / "model.onnx").string(), "--data", (*dir / "calibration_set").string(),
                             "--configs", t.file("five.json"), "--dir", t.file("s"), "-j", "2"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json points = read_json(t.path() / "s" / "sweep.json")["points"];
  // Both plots show every ok point with its numbers (these have all of them); frontier points per plot.
  size_t plotted = 0, frontier = 0;
  for (const json& p : points) {
    if (p.at("status").get<std::string>() != "ok") continue;
    plotted += 2;
    frontier += p.at("pareto").get<bool>() + p.at("pareto_latency").get<bool>();
  }
  REQUIRE(plotted == 12);
  // The page from disk, no network: --dump-dom prints the DOM the browser built.
  auto dom = test::run_program(chromium, {"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + t.file("profile"),
                                          "--dump-dom", "file://" + t.file("s/sweep.html")});
  INFO(dom.err);
  REQUIRE(dom.exit_code == 0);
  CHECK(count(dom.out, "<circle class=\"point") == plotted);
  CHECK(count(dom.out, "<circle class=\"point frontier\"") == frontier);
  for (const json& p : points) CHECK(count(dom.out, "data-name=\"" + p.at("name").get<std::string>() + "\"") == 2);
  // The page fetches nothing: no script, no external reference.
  std::ifstream in(t.path() / "s" / "sweep.html");
  std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("href=") == std::string::npos);
  CHECK(fs::exists(t.path() / "s" / "frontier-bytes.svg"));
  CHECK(fs::exists(t.path() / "s" / "frontier-speed.svg"));
}

TEST_CASE("docs/sweep.md: the digits_cnn frontier picture and table come from a real sweep", "[cli][sweep][docs]") {
  auto dir = test::corpus_case_or_skip("models/digits_cnn");
  if (!dir) return;
  test::TempDir t;
  const std::string data = (*dir / "calibration_set").string();
  auto r = test::run_effopt({"sweep", (*dir / "model.onnx").string(), "--data", data, "--calibration", data, "--metric",
                             "top1-mismatch", "--dir", t.file("s"), "-j", "2"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<SweepPoint> points;
  const json sweep = read_json(t.path() / "s" / "sweep.json");
  for (const json& p : sweep.at("points")) points.push_back(sweep_point_from_json(p));
  REQUIRE(points.size() == 23);
  // Paths as the docs give them, not this run's temporary ones.
  const SweepInfo info{"digits_cnn/model.onnx", "top1-mismatch", "digits_cnn/calibration_set", false};
  std::string table = "| point | file bytes | gzip bytes | MACs | top-1 mismatch | frontier (bytes / MACs) |\n|---|---|---|---|---|---|\n";
  for (const SweepPoint& p : points) {
    char err[32];
    std::snprintf(err, sizeof err, "%.4f", p.error.value_or(-1));
    table += "| " + p.name + " | " + std::to_string(p.file_bytes.value_or(0)) + " | " + std::to_string(p.gzip_bytes.value_or(0)) +
             " | " + std::to_string(p.macs.value_or(0)) + " | " + err + " | " + (p.pareto ? "yes" : "") + " / " +
             (p.pareto_latency ? "yes" : "") + " |\n";
  }
  const std::string md_path = std::string(EFFOPT_SOURCE_DIR) + "/docs/sweep.md";
  const std::string svg_path = std::string(EFFOPT_SOURCE_DIR) + "/docs/sweep-digits-frontier.svg";
  const std::string begin = "<!-- sweep-digits:begin -->\n", end = "<!-- sweep-digits:end -->";
  std::string md = test::read_file(md_path);
  size_t b = md.find(begin), e = md.find(end);
  REQUIRE(b != std::string::npos);
  REQUIRE(e != std::string::npos);
  std::string want_md = md.substr(0, b + begin.size()) + table + md.substr(e);
  std::string want_svg = sweep_svg(points, info, SweepPlot::FileBytes);
  if (std::getenv("EFFOPT_REGEN_DOCS")) {
    test::write_file(md_path, want_md);
    test::write_file(svg_path, want_svg);
  }
  // Static calibration runs on effopt's executor, whose last bits differ between compilers and ISAs (GCC's vector
  // clones, clang's sanitizer build): a static point's scales, and so its gzip size, may move by a few bytes. The
  // text around the table and every non-number cell must match exactly, every number within 0.1%.
  md = test::read_file(md_path);  // as written, after a regeneration too
  b = md.find(begin);
  e = md.find(end);
  REQUIRE(b != std::string::npos);
  REQUIRE(e != std::string::npos);
  CHECK(md.substr(0, b + begin.size()) == want_md.substr(0, want_md.find(begin) + begin.size()));
  CHECK(md.substr(e) == want_md.substr(want_md.find(end)));
  auto cells = [](const std::string& text) {
    std::vector<std::string> out;
    std::string cell;
    for (char ch : text) {
      if (ch == '|' || ch == '\n') {
        out.push_back(cell);
        cell.clear();
      } else {
        cell += ch;
      }
    }
    return out;
  };
  const std::vector<std::string> have = cells(md.substr(b + begin.size(), e - b - begin.size())), want = cells(table);
  REQUIRE(have.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    char* end_a = nullptr;
    char* end_b = nullptr;
    const double x = std::strtod(have[i].c_str(), &end_a), y = std::strtod(want[i].c_str(), &end_b);
    const bool numbers = end_a != have[i].c_str() && end_b != want[i].c_str() && *end_a == ' ' && *end_b == ' ';
    INFO("table cell " << i << ": docs '" << have[i] << "', this sweep '" << want[i] << "'");
    if (numbers)
      CHECK(std::abs(x - y) <= 1e-3 * std::max(std::abs(x), std::abs(y)));
    else
      CHECK(have[i] == want[i]);
  }
  CHECK(test::read_file(svg_path) == want_svg);
}

TEST_CASE("sweep acceptance on ppocr_cls_v2: the built-in grid finishes with right frontiers", "[cli][sweep]") {
  auto dir = test::corpus_case_or_skip("models/ppocr_cls_v2");
  if (!dir) return;
  test::TempDir t;
  auto r = test::run_effopt({"sweep", (*dir / "model.onnx").string(), "--data", (*dir / "test_data_set_0").string(),
                             "--metric", "top1-mismatch", "--dir", t.file("s"), "-j", "2"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  json points = read_json(t.path() / "s" / "sweep.json")["points"];
  CHECK(points.size() == 1 + 19);  // the reference and the grid without the static configs
  size_t ok = 0;
  for (const json& p : points) ok += p.at("status").get<std::string>() == "ok";
  CHECK(ok == points.size());
  // The labels: the reference gets all 32 word crops right (corpus README).
  CHECK(points[0].at("accuracy").get<double>() == 1.0);
  check_frontier(points, "file_bytes", "pareto");
  check_frontier(points, "macs", "pareto_latency");
}

TEST_CASE("sweep usage errors exit 1 and run nothing", "[cli][sweep]") {
  test::TempDir t;
  auto m = test::parse_or_fail("<ir_version: 7, opset_import: [\"\" : 13]>\ng (float[N,4] x) => (float[N,4] y) {\ny = Relu(x)\n}\n");
  const std::string model = t.file("m.onnx");
  test::write_file(model, "");
  REQUIRE(save_model(*m, model));
  write(t.path() / "bad.json", R"([{"name": "a/b", "pipeline": "@fuse"}])");
  write(t.path() / "ok.json", R"([{"name": "fuse", "pipeline": "@fuse"}])");
  struct Case { std::vector<std::string> args; const char* says; };
  for (const Case& c : std::vector<Case>{
           {{"sweep", model, "--dir", t.file("s")}, "--data"},
           {{"sweep", model, "--data", t.file("x"), "--configs", t.file("bad.json"), "--dir", t.file("s")}, "a/b"},
           {{"sweep", model, "--data", t.file("x"), "--configs", t.file("ok.json"), "--dir", t.file("s"), "--metric", "nope"}, "nope"},
           {{"sweep", model, "--data", t.file("x"), "--dir", t.file("s"), "--max-error", "-1"}, "--max-error"},
           {{"sweep", model, "--data", t.file("x"), "--dir", t.file("s"), "--max-error", "0.1", "--pick", "size"}, "--pick"},
           {{"sweep", model, "--data", t.file("x"), "--dir", t.file("s"), "--max-error", "0.1", "--pick", "latency"}, "--latency"},
           {{"sweep", model, "--data", t.file("x"), "--dir", t.file("s"), "-o", t.file("p.onnx")}, "--max-error"},
           {{"sweep", "--collect", t.file("s"), "--data", t.file("x")}, "plan.json"}}) {
    auto r = test::run_effopt(c.args);
    INFO(c.args[c.args.size() - 1] << ": " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(c.says) != std::string::npos);
  }
  CHECK_FALSE(fs::exists(t.path() / "s" / "points"));
}

TEST_CASE("sweep --latency: every point timed on effopt's executor; the speed frontier is against latency", "[cli][sweep]") {
  auto dir = test::corpus_case_or_skip("models/digits_cnn");
  if (!dir) return;
  test::TempDir t;
  write(t.path() / "five.json", kFivePoints);
  auto r = test::run_effopt({"sweep", (*dir / "model.onnx").string(), "--data", (*dir / "calibration_set").string(),
                             "--configs", t.file("five.json"), "--dir", t.file("s"), "--latency=2", "--max-error", "0.5",
                             "--pick", "latency", "-o", t.file("fast.onnx")});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  json sweep = read_json(t.path() / "s" / "sweep.json");
  CHECK(sweep["latency_runtime"] == "effopt executor on this machine");
  const json& points = sweep["points"];
  for (const json& p : points) {
    INFO(p.dump());
    REQUIRE(p.at("latency_ms").is_number());  // fp16 too: its inputs are converted as compare does
    CHECK(p.at("latency_ms").get<double>() > 0);
  }
  check_frontier(points, "latency_ms", "pareto_latency");
  CHECK(r.out.find("against latency (effopt's executor on this machine)") != std::string::npos);
  CHECK(fs::exists(t.path() / "fast.onnx"));
}
