// fix-shapes: binds input dims like onnx-simplifier's --overwrite-input-shape;
// the written model carries the fixed shape; bad bindings are usage errors.
#include <catch2/catch.hpp>

#include "onnx/model_io.h"
#include "pass/pass.h"
#include "pass/pipeline.h"
#include "util/test_util.h"

using namespace effopt;

namespace {

const char* kModel = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,3,H,W] x, float[N,?] y) => (float[N,3,H,W] z, float[N,?] w) {
  z = Relu(x)
  w = Relu(y)
}
)";

Expected<pass::PassResult> fix(Model& m, const std::string& shapes) {
  const pass::PassInfo* info = pass::PassRegistry::global().find("fix-shapes");
  REQUIRE(info);
  pass::PassOptions opts(&info->options);
  REQUIRE(opts.set("shapes", shapes));
  return pass::apply_pass(*info, m, opts);
}

std::string input_type(const Model& m, size_t i) { return m.graph->inputs()[i]->type.to_string(); }

}  // namespace

TEST_CASE("fix-shapes binds an input's whole shape; the written model carries it", "[fix-shapes]") {
  auto m = test::parse_or_fail(kModel);
  auto r = fix(*m, "x=1,3,224,224");
  REQUIRE(r);
  CHECK(r->changed);
  CHECK(r->counter("inputs-fixed") == 2);  // y shares N with x
  CHECK(input_type(*m, 0) == "float32[1,3,224,224]");
  CHECK(input_type(*m, 1) == "float32[1,?]");
  CHECK(m->graph->outputs()[0]->type.to_string() == "float32[1,3,224,224]");
  test::TempDir d;
  REQUIRE(save_model(*m, d.file("fixed.onnx")));
  auto back = load_model(d.file("fixed.onnx"));
  REQUIRE(back);
  CHECK(input_type(**back, 0) == "float32[1,3,224,224]");
}

TEST_CASE("fix-shapes binds a symbolic dim everywhere and several bindings at once", "[fix-shapes]") {
  auto m = test::parse_or_fail(kModel);
  auto r = fix(*m, "N=2;y=2,5");
  REQUIRE(r);
  CHECK(input_type(*m, 0) == "float32[2,3,H,W]");
  CHECK(input_type(*m, 1) == "float32[2,5]");
  CHECK(m->graph->outputs()[1]->type.to_string() == "float32[2,?]");
}

TEST_CASE("fix-shapes: empty shapes change nothing", "[fix-shapes]") {
  auto m = test::parse_or_fail(kModel);
  auto r = fix(*m, "");
  REQUIRE(r);
  CHECK_FALSE(r->changed);
  CHECK(input_type(*m, 0) == "float32[N,3,H,W]");
}

TEST_CASE("fix-shapes: a wrong name, a rank mismatch or a contradicted dim is a usage error", "[fix-shapes]") {
  struct Bad { const char* shapes; const char* says; };
  for (Bad b : {Bad{"q=1,2", "no graph input is named 'q' (inputs: x, y)"},
                Bad{"M=1", "no graph input or symbolic dim is named 'M'"},
                Bad{"x=1,3,224", "input 'x' has rank 4 ([N,3,H,W]), the binding gives 3 dims"},
                Bad{"x=1,4,8,8", "input 'x' dim 1 is 3, not 4"},
                Bad{"x=1,3,8,8;x=1,3,8,8", "'x' is bound twice"},
                Bad{"x=1,a", "fix-shapes: 'x=1,a'"}}) {
    INFO(b.shapes);
    auto m = test::parse_or_fail(kModel);
    auto r = fix(*m, b.shapes);
    REQUIRE_FALSE(r);
    INFO(r.error().message);
    CHECK(r.error().kind == ErrorKind::Usage);
    CHECK(r.error().message.find(b.says) != std::string::npos);
  }
}
