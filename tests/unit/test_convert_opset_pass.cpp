// convert-opset{to=N}: wraps lib/onnx/opset_convert; the converted model
// computes the same outputs on effopt's executor.
#include <catch2/catch.hpp>

#include "exec/executor.h"
#include "pass/pass.h"
#include "util/test_util.h"

using namespace effopt;

namespace {

const char* kModel = R"(
<ir_version: 7, opset_import: ["" : 11]>
g (float[2,3,4] X) => (float[2,3,4] Y) {
  Y = Softmax<axis = 1>(X)
}
)";

Expected<pass::PassResult> convert(Model& m, const std::string& to) {
  const pass::PassInfo* info = pass::PassRegistry::global().find("convert-opset");
  REQUIRE(info);
  pass::PassOptions opts(&info->options);
  REQUIRE(opts.set("to", to));
  return pass::apply_pass(*info, m, opts);
}

std::vector<float> run(const Model& m) {
  std::vector<float> x(24);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7) * 0.5f - 1.0f;
  exec::RunOptions as_written;  // every node as written: no executor rewrite between the two models
  as_written.internal_rewrites = false;
  auto out = exec::run(m, {{"X", exec::TensorValue::from_vector(DataType::Float, {2, 3, 4}, x)}}, as_written);
  REQUIRE(out);
  auto s = (*out)[0].span<float>();
  return {s.begin(), s.end()};
}

}  // namespace

TEST_CASE("convert-opset upgrades and keeps the outputs", "[convert-opset]") {
  auto m = test::parse_or_fail(kModel);
  std::vector<float> before = run(*m);
  auto r = convert(*m, "13");
  REQUIRE(r);
  CHECK(r->changed);
  CHECK(m->opset() == 13);
  CHECK(r->counter("from-opset") == 11);
  CHECK(r->counter("to-opset") == 13);
  CHECK(r->counter("nodes-rewritten") >= 1);  // Softmax's axis semantics changed at 13
  REQUIRE_FALSE(r->notes.empty());
  CHECK(r->notes[0].find("Softmax") != std::string::npos);
  std::vector<float> after = run(*m);
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < after.size(); ++i) CHECK(after[i] == Approx(before[i]).epsilon(1e-6));
}

TEST_CASE("convert-opset: to=0 and the model's own opset change nothing", "[convert-opset]") {
  for (const char* to : {"0", "11"}) {
    auto m = test::parse_or_fail(kModel);
    auto r = convert(*m, to);
    REQUIRE(r);
    CHECK_FALSE(r->changed);
    CHECK(m->opset() == 11);
  }
}

TEST_CASE("convert-opset: below 7 is a usage error, an impossible downgrade an invalid model", "[convert-opset]") {
  auto m = test::parse_or_fail(kModel);
  auto low = convert(*m, "6");
  REQUIRE_FALSE(low);
  CHECK(low.error().kind == ErrorKind::Usage);
  auto m13 = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] X) => (float[2,3] Y) {
  Y = Softmax<axis = 0>(X)
}
)");
  auto down = convert(*m13, "12");
  REQUIRE_FALSE(down);
  CHECK(down.error().kind == ErrorKind::InvalidModel);
  CHECK(down.error().message.find("Softmax") != std::string::npos);
}
