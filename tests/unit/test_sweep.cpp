// lib/report/sweep.h: the Pareto frontier on hand-made points (ties, duplicates, failed points), the pick
// under an error budget, the configs format, every built-in config parsing as a pipeline, and sweep.json
// against docs/sweep.schema.json.
#include <catch2/catch.hpp>

#include <fstream>

#include "pass/pipeline.h"
#include "report/sweep.h"
#include "util/json_schema.h"

using namespace effopt;
using nlohmann::json;

namespace {

SweepPoint point(const std::string& name, uint64_t bytes, double error, uint64_t macs = 100,
                 const std::string& status = "ok") {
  SweepPoint p;
  p.name = name;
  p.file_bytes = bytes;
  p.gzip_bytes = bytes / 2;
  p.macs = macs;
  p.error = error;
  p.status = status;
  return p;
}

std::vector<std::string> on_frontier(const std::vector<SweepPoint>& pts, bool latency = false) {
  std::vector<std::string> names;
  for (const SweepPoint& p : pts)
    if (latency ? p.pareto_latency : p.pareto) names.push_back(p.name);
  return names;
}

json sweep_schema() {
  std::ifstream in(std::string(EFFOPT_SOURCE_DIR) + "/docs/sweep.schema.json");
  REQUIRE(in);
  return json::parse(in);
}

}  // namespace

TEST_CASE("pareto_frontier: dominated points are off, ties and duplicates on, invalid points ignored", "[sweep]") {
  SECTION("a staircase with one dominated point") {
    // (1, 5) (2, 3) (3, 4) (4, 1): (3, 4) is dominated by (2, 3).
    auto f = pareto_frontier({1, 2, 3, 4}, {5, 3, 4, 1}, {true, true, true, true});
    CHECK(f == std::vector<bool>{true, true, false, true});
  }
  SECTION("duplicates are all on it; a tie in one coordinate is decided by the other") {
    // (2, 2) twice: neither dominates the other. (2, 3) ties on x, loses on y. (3, 2) ties on y, loses on x.
    auto f = pareto_frontier({2, 2, 2, 3}, {2, 2, 3, 2}, {true, true, true, true});
    CHECK(f == std::vector<bool>{true, true, false, false});
  }
  SECTION("an invalid point neither joins nor dominates") {
    // (0, 0) is invalid (a failed point): without it (1, 1) and (5, 0.5) are both undominated.
    auto f = pareto_frontier({0, 1, 5}, {0, 1, 0.5}, {false, true, true});
    CHECK(f == std::vector<bool>{false, true, true});
  }
  SECTION("no points") { CHECK(pareto_frontier({}, {}, {}).empty()); }
}

TEST_CASE("mark_frontiers: failed points and points without an error are off both frontiers", "[sweep]") {
  std::vector<SweepPoint> pts = {point("reference", 1000, 0, 100), point("a", 500, 0.1, 100),
                                 point("b", 500, 0.1, 100),       point("c", 600, 0.05, 50),
                                 point("d", 100, 0, 10, "failed"), point("e", 400, 0.2, 100)};
  pts.push_back(point("f", 50, 0, 10));
  pts.back().error.reset();  // its error could not be measured
  mark_frontiers(pts);
  // Bytes: e (400, 0.2), a = b (500, 0.1), c (600, 0.05), reference (1000, 0).
  CHECK(on_frontier(pts) == std::vector<std::string>{"reference", "a", "b", "c", "e"});
  // MACs (no latency measured): c (50, 0.05) and reference (100, 0) at the same MACs as a, b, e.
  CHECK(on_frontier(pts, true) == std::vector<std::string>{"reference", "c"});
  SECTION("with latency, the second frontier is against latency") {
    pts[1].latency_ms = 1.0;  // only a has a latency: the others lack the number
    mark_frontiers(pts);
    CHECK(on_frontier(pts, true) == std::vector<std::string>{"a"});
  }
}

TEST_CASE("pick_point: the smallest key within the error budget, ties by error, never the reference", "[sweep]") {
  std::vector<SweepPoint> pts = {point("reference", 1000, 0), point("a", 300, 0.02), point("b", 400, 0.01),
                                 point("c", 400, 0.005), point("d", 100, 0, 100, "failed")};
  auto name = [&](std::optional<size_t> i) { return i ? pts[*i].name : std::string("none"); };
  CHECK(name(pick_point(pts, 0.02, PickKey::FileBytes)) == "a");
  CHECK(name(pick_point(pts, 0.01, PickKey::FileBytes)) == "c");  // b and c tie on bytes: c's error is lower
  CHECK(name(pick_point(pts, 0.001, PickKey::FileBytes)) == "none");
  CHECK(name(pick_point(pts, 1, PickKey::Latency)) == "none");  // no point has a latency
  CHECK(*parse_pick_key("gzip-bytes") == PickKey::GzipBytes);
  CHECK_FALSE(parse_pick_key("size"));
}

TEST_CASE("sweep configs: the built-in grid parses as pipelines; the file format round-trips", "[sweep]") {
  SECTION("every built-in config is a valid pipeline with a unique folder name") {
    auto grid = builtin_sweep_configs(true);
    for (const SweepConfig& c : grid) {
      INFO(c.name << ": " << c.pipeline);
      auto p = pass::parse_pipeline(c.pipeline);
      CHECK(p);
    }
    auto back = parse_sweep_configs(sweep_configs_json(grid).dump(), "grid");
    REQUIRE(back);
    REQUIRE(back->size() == grid.size());
    CHECK(back->front().pipeline == grid.front().pipeline);
  }
  SECTION("static quantization configs only with calibration data") {
    auto has_static = [](const std::vector<SweepConfig>& g) {
      for (const SweepConfig& c : g)
        if (c.pipeline.find("mode=static") != std::string::npos) return true;
      return false;
    };
    CHECK(has_static(builtin_sweep_configs(true)));
    CHECK_FALSE(has_static(builtin_sweep_configs(false)));
  }
  SECTION("malformed files are usage errors naming the entry") {
    for (const char* bad : {"{}", "[]", "not json", R"([{"name": "a"}])", R"([{"name": "a/b", "pipeline": "fuse"}])",
                            R"([{"name": "reference", "pipeline": ""}])",
                            R"([{"name": "a", "pipeline": "x"}, {"name": "a", "pipeline": "y"}])",
                            R"([{"name": "a", "pipeline": "x", "extra": 1}])"}) {
      INFO(bad);
      auto r = parse_sweep_configs(bad, "configs.json");
      REQUIRE_FALSE(r);
      CHECK(r.error().kind == ErrorKind::Usage);
      CHECK(r.error().message.find("configs.json") != std::string::npos);
    }
  }
}

TEST_CASE("sweep.json validates against docs/sweep.schema.json; sweep.csv has its columns", "[sweep][schema]") {
  std::vector<SweepPoint> pts = {point("reference", 1000, 0), point("a", 300, 0.02)};
  pts[1].pipeline = "@fuse,quantize{mode=weight}";
  pts[1].command = "effopt run m.onnx --passes '@fuse,quantize{mode=weight}'";
  pts[1].accuracy = 0.75;
  pts.push_back(point("broken", 0, 0, 0, "failed"));
  pts.back().file_bytes.reset();
  pts.back().error.reset();
  pts.back().reason = "exit 2: no, \"quoted\"";
  mark_frontiers(pts);
  json j = sweep_json({"m.onnx", "rel-l2", "data", false}, pts);
  auto errors = validate_json(j, sweep_schema());
  std::string all;
  for (auto& e : errors) all += e + "\n";
  INFO(all);
  CHECK(errors.empty());
  CHECK(sweep_point_from_json(j["points"][1]).pipeline == pts[1].pipeline);
  CHECK(sweep_point_from_json(j["points"][2]).file_bytes == std::nullopt);
  json broken = j;
  broken["points"][0]["status"] = "maybe";
  CHECK_FALSE(validate_json(broken, sweep_schema()).empty());

  std::string csv = sweep_csv(pts);
  CHECK(csv.rfind("name,pipeline,command,file_bytes,gzip_bytes,params,params_nonzero,macs,", 0) == 0);
  CHECK(csv.find("\"@fuse,quantize{mode=weight}\"") != std::string::npos);  // a comma: quoted
  CHECK(csv.find("\"exit 2: no, \"\"quoted\"\"\"") != std::string::npos);    // quotes doubled
  std::string table = sweep_table(pts, {"m.onnx", "rel-l2", "data", false});
  CHECK(table.find("broken") != std::string::npos);
  CHECK(table.find("*") != std::string::npos);
}
