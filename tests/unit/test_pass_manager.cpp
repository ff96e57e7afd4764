// The pass manager's guards (lib/pass/manager.h): --verify-each names the pass
// that broke the graph, --check-outputs the pass that changed outputs; the
// check fails clearly when it cannot run; per-pass records.
#include <catch2/catch.hpp>

#include "pass/manager.h"
#include "util/broken_passes.h"
#include "util/test_util.h"

using namespace effopt;
using namespace effopt::pass;

namespace {

const char* kModel = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] X) => (float[2,3] Y) {
  H = Relu(X)
  Y = Sigmoid(H)
}
)";

const char* kSymbolicModel = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,3] X) => (float[N,3] Y) {
  Y = Relu(X)
}
)";

Pipeline parse(const std::string& text) {
  test::register_broken_passes(PassRegistry::global());
  auto p = parse_pipeline(text);
  INFO(text << (p ? "" : ": " + p.error().message));
  REQUIRE(p);
  return std::move(*p);
}

}  // namespace

TEST_CASE("--verify-each names the pass that broke the graph", "[pass-manager]") {
  auto m = test::parse_or_fail(kModel);
  ManagerOptions mo;
  mo.verify_each = true;
  auto r = run_pipeline(parse("fix-shapes,test-break-graph,convert-opset"), *m, mo);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::Internal);
  INFO(r.error().message);
  CHECK(r.error().message.find("pass 'test-break-graph' broke the graph") != std::string::npos);
}

TEST_CASE("without --verify-each the final verification still catches a broken graph", "[pass-manager]") {
  auto m = test::parse_or_fail(kModel);
  auto r = run_pipeline(parse("test-break-graph,fix-shapes"), *m);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::Internal);
  INFO(r.error().message);
  CHECK(r.error().message.find("--verify-each names it") != std::string::npos);
}

TEST_CASE("--check-outputs names the pass that changed outputs", "[pass-manager]") {
  auto m = test::parse_or_fail(kModel);
  ManagerOptions mo;
  mo.check_outputs = true;
  auto r = run_pipeline(parse("fix-shapes,test-add-one"), *m, mo);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::Internal);
  INFO(r.error().message);
  CHECK(r.error().message.find("pass 'test-add-one' changed the outputs") != std::string::npos);
  CHECK(r.error().message.find("relative L2 error") != std::string::npos);
}

TEST_CASE("--check-outputs: a lossy pass is not flagged and becomes the new reference", "[pass-manager]") {
  auto m = test::parse_or_fail(kModel);
  ManagerOptions mo;
  mo.check_outputs = true;
  auto r = run_pipeline(parse("test-lossy-add-one,fix-shapes"), *m, mo);
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  REQUIRE(r->passes.size() == 2);
  CHECK_FALSE(r->passes[0].outputs_checked);
  CHECK(r->passes[1].outputs_checked);
  CHECK(r->passes[1].max_rel_l2 == 0);
  CHECK(r->passes[0].nodes_before == 2);
  CHECK(r->passes[0].nodes_after == 3);
  CHECK(r->passes[0].result.counter("ones-added") == 1);
}

TEST_CASE("--check-outputs: unknown input dims fail naming the input, --shape fixes it", "[pass-manager]") {
  auto m = test::parse_or_fail(kSymbolicModel);
  ManagerOptions mo;
  mo.check_outputs = true;
  auto r = run_pipeline(parse("fix-shapes"), *m, mo);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::Usage);
  INFO(r.error().message);
  CHECK(r.error().message.find("input 'X' dim 0 is symbolic ('N')") != std::string::npos);
  mo.input_shapes = {{"N", {4}}};
  auto ok1 = run_pipeline(parse("fix-shapes"), *m, mo);
  INFO((ok1 ? "" : ok1.error().message));
  CHECK(ok1);
  mo.input_shapes = {{"X", {4, 3}}};
  auto ok2 = run_pipeline(parse("fix-shapes{shapes=X=4,3}"), *m, mo);
  INFO((ok2 ? "" : ok2.error().message));
  CHECK(ok2);
}

TEST_CASE("--check-outputs: a model the executor cannot run fails the check", "[pass-manager]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13, "com.example" : 1]>
g (float[2] X) => (float[2] Y) {
  Y = com.example.Mystery(X)
}
)");
  ManagerOptions mo;
  mo.check_outputs = true;
  auto r = run_pipeline(parse("fix-shapes"), *m, mo);
  REQUIRE_FALSE(r);
  INFO(r.error().message);
  CHECK(r.error().kind == ErrorKind::InvalidModel);
  CHECK(r.error().message.find("--check-outputs: effopt's executor cannot run the input model") != std::string::npos);
  // Without the check, the same pipeline runs.
  CHECK(run_pipeline(parse("fix-shapes"), *m));
}

TEST_CASE("the manager records each pass: options, time, counters, nodes", "[pass-manager]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 7, opset_import: ["" : 11]>
g (float[N,4] X) => (float[N,4] Y) {
  Y = Softmax<axis = 1>(X)
}
)");
  std::vector<std::string> seen;
  ManagerOptions mo;
  mo.verify_each = true;
  mo.check_outputs = true;
  mo.input_shapes = {{"N", {2}}};
  mo.on_pass = [&](const PassRun& p) { seen.push_back(p.name); };
  auto r = run_pipeline(parse("fix-shapes{shapes=N=2},convert-opset{to=13}"), *m, mo);
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  CHECK(seen == std::vector<std::string>{"fix-shapes", "convert-opset"});
  REQUIRE(r->passes.size() == 2);
  CHECK(r->passes[0].options == "shapes=N=2");
  CHECK(r->passes[1].options == "to=13");
  CHECK(r->passes[1].result.changed);
  CHECK(r->passes[1].result.counter("to-opset") == 13);
  CHECK(r->passes[1].seconds >= 0);
  CHECK(r->passes[1].outputs_checked);
  CHECK(r->passes[1].max_rel_l2 <= 1e-5);
  CHECK(m->opset() == 13);
}

TEST_CASE("--check-outputs: the tolerance is configurable", "[pass-manager]") {
  auto m = test::parse_or_fail(kModel);
  ManagerOptions mo;
  mo.check_outputs = true;
  mo.tolerance = 100;  // adding 1 to outputs in (0, 1) moves them by well under 100x their norm
  auto r = run_pipeline(parse("test-add-one"), *m, mo);
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  CHECK(r->passes[0].outputs_checked);
  CHECK(r->passes[0].max_rel_l2 > 1e-5);
  CHECK(r->passes[0].max_rel_l2 < 100);
}

TEST_CASE("--check-outputs: float16 outputs get the float16 tolerance", "[pass-manager]") {
  // Adding 0.001 to Relu of inputs in [-1, 1) moves the output by about
  // 0.001 / rms(Relu(x)) = 0.001 / sqrt(1/6) = 2.4e-3 relative L2: within
  // 5e-3 (float16), far beyond 1e-5 (float32).
  auto half = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float16[64] X) => (float16[64] Y) {
  Y = Relu(X)
}
)");
  ManagerOptions mo;
  mo.check_outputs = true;
  auto r = run_pipeline(parse("test-add-milli"), *half, mo);
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  CHECK(r->passes[0].max_rel_l2 > 1e-3);
  CHECK(r->passes[0].max_rel_l2 < 5e-3);
  auto single = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[64] X) => (float[64] Y) {
  Y = Relu(X)
}
)");
  auto f = run_pipeline(parse("test-add-milli"), *single, mo);
  REQUIRE_FALSE(f);
  CHECK(f.error().message.find("pass 'test-add-milli' changed the outputs") != std::string::npos);
  mo.half_tolerance = 1e-3;  // configurable too
  auto strict = run_pipeline(parse("test-add-milli"), *test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float16[64] X) => (float16[64] Y) {
  Y = Relu(X)
}
)"), mo);
  CHECK_FALSE(strict);
}
