// The shape-inference service: ONNX's inference, then registered providers.
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

TEST_CASE("registered providers run after ONNX inference", "[shape]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13, "custom" : 1]>
g (float[2, 5] X) => (float[2, 5] Y) { Y = custom.Thing(X) }
)");
  Value* y = m->graph->find("Y");
  y->type = Type{};  // forget the declared type
  static int calls = 0;
  register_shape_provider("test-custom-thing", [](Model& model, ShapeInferenceStats& st) -> Status {
    for (auto& n : model.graph->nodes())
      if (n->op_type == "Thing" && refine_type(n->output(0)->type, n->input(0)->type)) ++st.values_refined;
    ++calls;
    return ok();
  });
  REQUIRE(infer_shapes(*m));
  REQUIRE(calls >= 1);
  REQUIRE(y->type.to_string() == "float32[2,5]");
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
