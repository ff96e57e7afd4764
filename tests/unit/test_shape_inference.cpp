// The shape-inference service: ONNX's inference, then effopt's propagation.
#include <catch2/catch.hpp>

#include "analysis/shape_inference.h"
#include "util/test_util.h"

using namespace effopt;

TEST_CASE("ONNX inference fills intermediate types, through constant-shape Reshape", "[shape]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N, 3, 8, 8] X) => (float[N, 256] Y) <float[4, 3, 3, 3] W = {0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}, int64[2] S = {0, -1}> {
  C = Conv<pads = [1, 1, 1, 1]>(X, W)
  R = Relu(C)
  Y0 = Reshape(R, S)
  Y = Identity(Y0)
}
)");
  ShapeInferenceOptions opts;
  opts.max_inline_tensor_bytes = 16;  // W goes in as a typed input, S stays inline
  ShapeInferenceStats stats;
  REQUIRE(infer_shapes(*m, opts, &stats));
  std::string notes;
  for (auto& n : stats.notes) notes += n + "\n";
  INFO(notes);
  CHECK(stats.notes.empty());
  REQUIRE(m->graph->find("C")->type.to_string() == "float32[N,4,8,8]");
  REQUIRE(m->graph->find("R")->type.to_string() == "float32[N,4,8,8]");
  REQUIRE(m->graph->find("Y0")->type.to_string() == "float32[N,256]");
  REQUIRE(stats.values_refined >= 3);
  // The service does not add value_info to the model.
  REQUIRE(m->graph->value_info().empty());
}

TEST_CASE("infer_shapes runs effopt's propagation itself, with no registration", "[shape]") {
  // A fresh model in a process where nothing registered anything: with ONNX's
  // inference off, every refined type comes from effopt's propagation, which
  // infer_shapes calls directly (use_effopt, on by default).
  const char* text = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1, 3, 8, 8] X) => (float[1, 3, 4, 4] Y) {
  R = Relu(X)
  P = MaxPool<kernel_shape = [2, 2], strides = [2, 2]>(R)
  Y = Identity(P)
}
)";
  SECTION("on by default") {
    auto m = test::parse_or_fail(text);
    ShapeInferenceOptions opts;
    opts.use_onnx = false;
    ShapeInferenceStats stats;
    REQUIRE(infer_shapes(*m, opts, &stats));
    CHECK(m->graph->find("R")->type.to_string() == "float32[1,3,8,8]");
    CHECK(m->graph->find("P")->type.to_string() == "float32[1,3,4,4]");
    CHECK(stats.values_refined >= 2);
  }
  SECTION("off: nothing refines the intermediate types") {
    auto m = test::parse_or_fail(text);
    ShapeInferenceOptions opts;
    opts.use_onnx = false;
    opts.use_effopt = false;
    ShapeInferenceStats stats;
    REQUIRE(infer_shapes(*m, opts, &stats));
    CHECK_FALSE(m->graph->find("R")->type.shape.has_value());
    CHECK_FALSE(m->graph->find("P")->type.shape.has_value());
    CHECK(stats.values_refined == 0);
  }
}

TEST_CASE("refine_type keeps known information and takes more precise dims", "[shape]") {
  Type known = Type::tensor(DataType::Float, std::vector<Dim>{Dim::symbolic("N"), Dim{}});
  Type inferred = Type::tensor(DataType::Float, std::vector<Dim>{Dim::known(4), Dim::known(3)});
  REQUIRE(refine_type(known, inferred));
  REQUIRE(known.to_string() == "float32[4,3]");
  REQUIRE_FALSE(refine_type(known, inferred));
  Type other = Type::tensor(DataType::Int64, std::vector<Dim>{Dim::known(1)});
  REQUIRE_FALSE(refine_type(known, other));  // different rank: ignored
}
