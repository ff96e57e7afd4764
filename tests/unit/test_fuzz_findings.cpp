// Bugs the fuzz targets found (tests/fuzz, docs/reliability.md), each checked
// here at the function that was fixed. The inputs that found them are
// replayed by the effopt_fuzz_replay_* ctest tests (tests/fuzz/regressions);
// these tests say what the right answer is.
#include <onnx/defs/parser.h>
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "analysis/footprint.h"
#include "analysis/shape_propagation.h"
#include "exec/tensor_io.h"
#include "ir/tensor.h"
#include "onnx/model_io.h"
#include "util/test_util.h"

using namespace effopt;

namespace {

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// A version-1 .npy file with the given header dict (padded as numpy pads it).
std::string npy_with_header(std::string h, const std::string& data) {
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\0';
  out += static_cast<char>(h.size() & 0xFF);
  out += static_cast<char>((h.size() >> 8) & 0xFF);
  return out + h + data;
}

}  // namespace

TEST_CASE("an empty .npy tensor reads (no memcpy from a null buffer)", "[fuzz-finding][tensor-io]") {
  // regressions/npy/empty-u1-2x0-memcpy-null.npy: UBSan, memcpy(nullptr, nullptr, 0) copying the empty
  // raw_data of the .pb written back.
  auto t = exec::parse_npy(as_bytes(npy_with_header("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 0), }", "")),
                           "e.npy");
  REQUIRE(t);
  CHECK(t->element_count() == 0);
  auto pb = exec::serialize_tensor_proto(*t);
  REQUIRE(pb);
  auto back = exec::parse_tensor_proto(as_bytes(*pb), "e.pb");
  REQUIRE(back);
  CHECK(back->dims() == std::vector<int64_t>{2, 0});
}

TEST_CASE(".npy shape dims must be separated by commas", "[fuzz-finding][tensor-io]") {
  // regressions/npy/shape-without-commas-zero-dim-overflow.npy: "(10008005000 05000 0050,10000 0000)" read as
  // five dims.
  auto t = exec::parse_npy(
      as_bytes(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }", std::string(24, '\0'))),
      "s.npy");
  REQUIRE_FALSE(t);
  CHECK_THAT(t.error().message, Catch::Contains("s.npy: malformed .npy header (shape dims are not separated by commas)"));
  for (const char* shape : {"(2, 3)", "(2,3,)", "( 2 , 3 )"}) {
    INFO(shape);
    auto ok = exec::parse_npy(as_bytes(npy_with_header(std::string("{'descr': '<f4', 'fortran_order': False, 'shape': ") +
                                                           shape + ", }",
                                                       std::string(24, '\0'))),
                              "ok.npy");
    REQUIRE(ok);
    CHECK(ok->dims() == std::vector<int64_t>{2, 3});
  }
}

TEST_CASE("dims whose nonzero product overflows are refused also next to a zero dim", "[fuzz-finding][tensor-io]") {
  // The same regression input: a zero dim made the .npy reader accept dims whose other product overflows, and
  // Tensor::element_count answered by dim order ([big, big, 0] overflowed, [0, big, big] was 0).
  const int64_t big = int64_t{1} << 40;
  Tensor a, b;
  a.dims = {big, big, 0};
  b.dims = {0, big, big};
  CHECK_FALSE(a.element_count());
  CHECK_FALSE(b.element_count());
  Tensor c;
  c.dims = {0, big};
  CHECK(c.element_count() == 0);
  auto t = exec::parse_npy(
      as_bytes(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1099511627776, 1099511627776), }", "")),
      "z.npy");
  REQUIRE_FALSE(t);
  CHECK_THAT(t.error().message, Catch::Contains("is too large"));
}

TEST_CASE("activation memory past 2^63 bytes is added without overflow", "[fuzz-finding][footprint]") {
  // regressions/shape_binding/huge-dims-activation-overflow.txt: the live-bytes sweep added in int64 and
  // overflowed (UBSan). Five outputs of 2^61 bytes each, all live at the end: 5 * 2^61 fits in uint64 only.
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[A, B] X) => (float[A, B] Y1, float[A, B] Y2, float[A, B] Y3, float[A, B] Y4, float[A, B] Y5)
{
  Y1 = Relu(X)
  Y2 = Neg(X)
  Y3 = Abs(X)
  Y4 = Sigmoid(X)
  Y5 = Tanh(X)
}
)");
  auto b = parse_shape_binding("X=1073741824,536870912");  // 2^30 x 2^29 float32: 2^61 bytes
  REQUIRE(b);
  REQUIRE(infer_shapes_with_bindings(*m, {*b}));
  Footprint f = compute_footprint(*m);
  const uint64_t each = uint64_t{1} << 61;
  CHECK(f.activations_complete());
  CHECK(f.activation_bytes == 5 * each);
  CHECK(f.peak_activation_bytes == 5 * each);
}

TEST_CASE("shape arithmetic that overflows int64 leaves the dim unknown", "[fuzz-finding][shape]") {
  // regressions/shape_binding/huge-dims-reshape-product-overflow.txt: Reshape's -1 multiplied the input dims
  // in int64 and overflowed (UBSan).
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[A, B, C, D] X) => (float[E] Y, float[F, G] Z)
<int64[1] flat = {-1}>
{
  Y = Reshape(X, flat)
  Z = Flatten <axis = 2> (X)
}
)");
  // effopt's propagation alone: ONNX 1.12's own inference is another library.
  ShapeInferenceStats stats;
  REQUIRE(apply_shape_bindings(*m, {ShapeBinding{"X", {163115166, 16, 163115, 63116616}}}));
  REQUIRE(propagate_shapes(*m, stats));
  const Type& y = m->graph->find("Y")->type;
  REQUIRE(y.shape);
  REQUIRE(y.shape->size() == 1);
  CHECK_FALSE((*y.shape)[0].is_known());
  const Type& z = m->graph->find("Z")->type;
  REQUIRE(z.shape);
  REQUIRE(z.shape->size() == 2);
  CHECK((*z.shape)[0].value == 2609842656);     // 163115166 * 16
  CHECK((*z.shape)[1].value == 10295266818840);  // 163115 * 63116616: each half fits in int64
  // Z's 2.7e22 elements do not fit in the footprint's counts either: unknown, not a wrapped number.
  Footprint f = compute_footprint(*m);
  CHECK(f.activation_unknown_nodes.size() == 2);
}

TEST_CASE("a graph input whose type states nothing keeps its initializer's type", "[fuzz-finding][import]") {
  // regressions/model_roundtrip/empty-input-type-over-initializer.onnx: an IR 3
  // initializer-input whose TypeProto held only unknown fields. The import took
  // that empty type over the initializer's, the export then wrote no type, and
  // importing that export took the initializer's type: the second export was
  // 16 bytes longer than the first.
  onnx::ModelProto p;
  auto parsed = onnx::OnnxParser::Parse(p, R"(
<ir_version: 3, opset_import: ["" : 2]>
g (float[2, 2] X, float[2, 2] W) => (float[2, 2] Y)
<float[2, 2] W = {1, 2, 3, 4}>
{
  Y = Add(X, W)
}
)");
  REQUIRE(parsed.IsOK());
  REQUIRE(p.graph().input_size() == 2);
  onnx::TypeProto* w_type = p.mutable_graph()->mutable_input(1)->mutable_type();
  w_type->Clear();
  w_type->mutable_unknown_fields()->AddVarint(5, 12);  // map_type as a varint: an unknown field, no value set
  std::string bytes = p.SerializeAsString();
  auto m = load_model_from_bytes(std::vector<std::byte>(reinterpret_cast<const std::byte*>(bytes.data()),
                                                        reinterpret_cast<const std::byte*>(bytes.data() + bytes.size())),
                                 "m.onnx");
  REQUIRE(m);
  const Value* w = (*m)->graph->find("W");
  REQUIRE(w);
  CHECK(w->type.kind == Type::Kind::Tensor);
  CHECK(w->type.elem_type == DataType::Float);
  auto first = serialize_model(**m);
  REQUIRE(first);
  auto again = load_model_from_bytes(std::vector<std::byte>(reinterpret_cast<const std::byte*>(first->data()),
                                                            reinterpret_cast<const std::byte*>(first->data() + first->size())),
                                     "again.onnx");
  REQUIRE(again);
  auto second = serialize_model(**again);
  REQUIRE(second);
  CHECK(*first == *second);
}
