// effopt report / check on models with Loop bodies: MACs counted through the
// body, and a MAC budget that fails (exit 3) when a trip count is unknown.
#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "onnx/model_io.h"
#include "util/cli_util.h"
#include "util/test_util.h"

using namespace effopt;
using nlohmann::json;

namespace {

// x[2,4] x W[4,4] per iteration: 2*4*4 = 32 MACs. M is the graph input n
// (unknown until run time) or, with kConstTrip, the initializer M = 5.
const char* kUnknownTrip = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (int64 n, float[2,4] X, float[4,4] W) => (float[2,4] Y) {
  t = Constant<value = bool {1}>()
  Y = Loop<body = b (int64 i, bool cin, float x) => (bool cout, float y) {
    cout = Identity(cin)
    y = MatMul(x, W)
  }>(n, t, X)
}
)";
const char* kConstTrip = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,4] X, float[4,4] W) => (float[2,4] Y) <int64 M = {5}> {
  t = Constant<value = bool {1}>()
  Y = Loop<body = b (int64 i, bool cin, float x) => (bool cout, float y) {
    cout = Identity(cin)
    y = MatMul(x, W)
  }>(M, t, X)
}
)";

// Names the Loop. ONNX's text syntax reads the body's "float x" as a scalar;
// it means "no shape given" here (as exporters write body signatures), so the
// shapes come from the outer node.
std::string write_named(const test::TempDir& dir, const std::string& name, const char* text) {
  auto m = test::parse_or_fail(text);
  for (auto& n : m->graph->nodes())
    if (n->op_type == "Loop") {
      n->name = "decoder_loop";
      Graph& body = *n->attr("body")->g;
      for (auto* list : {&body.inputs(), &body.outputs()})
        for (Value* v : *list)
          if (v->type.elem_type == DataType::Float) v->type.shape.reset();
    }
  std::string path = dir.file(name);
  REQUIRE(save_model(*m, path));
  return path;
}

}  // namespace

TEST_CASE("check --max-macs fails on a Loop whose trip count is unknown, naming it", "[cli][report][footprint-subgraph]") {
  test::TempDir dir;
  std::string model = write_named(dir, "m.onnx", kUnknownTrip);
  auto r = test::run_effopt({"check", model, "--max-macs", "1G"});
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("decoder_loop (Loop)") != std::string::npos);
  CHECK(r.err.find("trip count") != std::string::npos);
  auto rep = test::run_effopt({"report", model, "--json"});
  INFO(rep.err);
  REQUIRE(rep.exit_code == 0);
  json j = test::parse_valid_report(rep.out);
  CHECK(j["macs_complete"] == false);
  // Unknown, never 0: null with the reason, which names the Loop and says --shape cannot help (n is a value).
  CHECK(j["macs"].is_null());
  CHECK(j["footprint"]["macs"]["counted"] == 0);
  std::string why = j["macs_unknown_reason"];
  CHECK(why.find("decoder_loop (Loop)") != std::string::npos);
  CHECK(why.find("--shape cannot help") != std::string::npos);
  auto text = test::run_effopt({"report", model});
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.find("  MACs                     ?, unknown: 1 node could not be counted") != std::string::npos);
}

TEST_CASE("report and check count a constant-trip Loop's body x M", "[cli][report][footprint-subgraph]") {
  test::TempDir dir;
  std::string model = write_named(dir, "m.onnx", kConstTrip);
  auto rep = test::run_effopt({"report", model, "--json"});
  INFO(rep.err);
  REQUIRE(rep.exit_code == 0);
  json j = test::parse_valid_report(rep.out);
  CHECK(j["macs"] == 160);  // 32 x 5
  CHECK(j["macs_complete"] == true);
  bool seen = false;
  for (auto& n : j["footprint"]["nodes"])
    if (n["name"] == "decoder_loop") {
      seen = true;
      CHECK(n["macs"] == 160);
      CHECK(n["subgraph_macs"]["body"] == 32);
      CHECK(n["subgraph_macs"]["iterations"] == 5);
    }
  CHECK(seen);
  CHECK(test::run_effopt({"check", model, "--max-macs", "160"}).exit_code == 0);
  auto over = test::run_effopt({"check", model, "--max-macs", "100"});
  CHECK(over.exit_code == 3);
  CHECK(over.err.find("over by 60") != std::string::npos);
}

TEST_CASE("a trip count computed from a dim counts once --shape binds the dim", "[cli][report][footprint-subgraph]") {
  test::TempDir dir;
  // M = T's first dim N (PyTorch's `range(t.size(0))`): unknown, then 32 x 7 = 224 with --shape N=7.
  std::string model = write_named(dir, "m.onnx", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,1] T, float[2,4] X, float[4,4] W) => (float[2,4] Y) {
  s = Shape(T)
  zero = Constant<value = int64 {0}>()
  M = Gather(s, zero)
  t = Constant<value = bool {1}>()
  Y = Loop<body = b (int64 i, bool cin, float x) => (bool cout, float y) {
    cout = Identity(cin)
    y = MatMul(x, W)
  }>(M, t, X)
}
)");
  auto before = test::run_effopt({"report", model, "--json"});
  REQUIRE(before.exit_code == 0);
  json b = test::parse_valid_report(before.out);
  CHECK(b["macs_complete"] == false);
  std::string unknown = b["footprint"]["macs"]["unknown_nodes"][0];
  CHECK(unknown.find("--shape") != std::string::npos);
  auto bound = test::run_effopt({"report", model, "--json", "--shape", "N=7"});
  INFO(bound.err);
  REQUIRE(bound.exit_code == 0);
  json a = test::parse_valid_report(bound.out);
  CHECK(a["macs_complete"] == true);
  CHECK(a["macs"] == 224);
  CHECK(test::run_effopt({"check", model, "--max-macs", "224", "--shape", "N=7"}).exit_code == 0);
}
