// Opset conversion (lib/onnx/opset_convert): one adapter or rule per test
// case, on small ONNX-text graphs. Converted models are checked with effopt's
// verifier and, for targets up to 17, ONNX 1.12's checker and strict shape
// inference; where numbers matter, ONNX Runtime runs them (skipped with a
// warning when the harness is unavailable). Corpus cases skip cleanly when
// ../shared/corpus is absent.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "ir/constants.h"
#include "ir/verifier.h"
#include "onnx/convert_proto.h"
#include "onnx/model_io.h"
#include "onnx/opset_convert.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<Model> convert_ok(const std::string& text, int64_t to, OpsetConvertStats* stats = nullptr) {
  auto m = test::parse_or_fail(text);
  auto st = convert_opset(*m, to, stats);
  if (!st) FAIL("conversion failed: " << st.error().message);
  auto v = verify(*m);
  if (!v) FAIL("converted model does not verify: " << v.error().message);
  std::string err = test::onnx_check(*m);
  if (!err.empty()) FAIL("ONNX checker rejects the converted model: " << err);
  REQUIRE(m->opset("") == to);
  return m;
}

Error convert_err(const std::string& text, int64_t to) {
  auto m = test::parse_or_fail(text);
  auto st = convert_opset(*m, to);
  REQUIRE_FALSE(st);
  return st.error();
}

std::vector<Node*> nodes_of(const Graph& g, const std::string& op) {
  std::vector<Node*> out;
  for (auto& n : g.nodes())
    if (n->op_type == op) out.push_back(n.get());
  return out;
}

Node* only(const Graph& g, const std::string& op) {
  auto v = nodes_of(g, op);
  INFO("op " << op);
  REQUIRE(v.size() == 1);
  return v[0];
}

std::vector<int64_t> ints_of(const Value* v) {
  REQUIRE(v != nullptr);
  TensorPtr t = constant_tensor(v);
  REQUIRE(t);
  REQUIRE(t->data_type == DataType::Int64);
  auto s = t->as<int64_t>();
  return {s.begin(), s.end()};
}

std::vector<float> floats_of(const Value* v) {
  REQUIRE(v != nullptr);
  TensorPtr t = constant_tensor(v);
  REQUIRE(t);
  REQUIRE(t->data_type == DataType::Float);
  if (!t->storage) return {};
  auto s = t->as<float>();
  return {s.begin(), s.end()};
}

std::vector<int64_t> dims_of(const Value* v) {
  TensorPtr t = constant_tensor(v);
  REQUIRE(t);
  return t->dims;
}

// Runs `m` in ONNX Runtime; nullopt (after test::skip) when the harness is unavailable.
using Inputs = std::vector<std::pair<std::string, onnx::TensorProto>>;

std::optional<std::vector<onnx::TensorProto>> run_ort(const Model& m, const Inputs& in) {
  auto* ort = test::ort_or_skip();
  if (!ort) return std::nullopt;
  auto r = ort->run_model(to_proto_inline(m), in);
  if (!r.ok) FAIL("ONNX Runtime failed: " << r.error);
  return r->outputs;
}

std::vector<float> values(const onnx::TensorProto& t) {
  auto d = test::tensor_values(t);
  return {d.begin(), d.end()};
}

onnx::TensorProto iota_tensor(const std::string& name, const std::vector<int64_t>& dims, float scale = 0.1f,
                              float offset = 0.0f) {
  int64_t n = std::accumulate(dims.begin(), dims.end(), int64_t{1}, std::multiplies<>());
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = offset + scale * static_cast<float>((i * 7) % 23);
  return test::make_tensor<float>(name, dims, v);
}

// Runs the original text model and its conversion to `to` in ONNX Runtime on
// the same inputs and checks the outputs agree.
void check_same_in_ort(const std::string& text, int64_t to,
                       const std::vector<std::pair<std::string, onnx::TensorProto>>& in, double tol = 1e-5) {
  auto m = convert_ok(text, to);
  auto original = test::parse_or_fail(text);
  auto want = run_ort(*original, in);
  if (!want) return;
  auto got = run_ort(*m, in);
  REQUIRE(got);
  REQUIRE(want->size() == got->size());
  for (size_t i = 0; i < want->size(); ++i) CHECK(test::max_abs_diff((*want)[i], (*got)[i]) < tol);
}

bool has_change(const OpsetConvertStats& s, const std::string& needle) {
  return std::any_of(s.changes.begin(), s.changes.end(),
                     [&](const std::string& c) { return c.find(needle) != std::string::npos; });
}

}  // namespace

// ------------------------------------------------------------------ rules

TEST_CASE("opset: a target outside 7..21 is a usage error", "[opset]") {
  const char* text = R"(<ir_version: 7, opset_import: ["" : 9]>
    g (float[2] X) => (float[2] Y) { Y = Relu(X) })";
  CHECK(convert_err(text, 6).kind == ErrorKind::Usage);
  CHECK(convert_err(text, 22).kind == ErrorKind::Usage);
}

TEST_CASE("opset: converting to the same opset changes nothing", "[opset]") {
  auto m = test::parse_or_fail(R"(<ir_version: 4, opset_import: ["" : 9]>
    g (float[2,3] X) => (float[2,3] Y) { Y = Softmax<axis=1>(X) })");
  OpsetConvertStats st;
  REQUIRE(convert_opset(*m, 9, &st));
  CHECK(st.changes.empty());
  CHECK(m->ir_version == 4);
  CHECK(m->graph->nodes().size() == 1);
}

TEST_CASE("opset: a plain version bump keeps every node and updates the import", "[opset]") {
  OpsetConvertStats st;
  auto m = convert_ok(R"(<ir_version: 4, opset_import: ["" : 9]>
    g (float[1,3,8,8] X, float[4,3,3,3] W) => (float[1,4,6,6] Y) { C = Conv(X, W)  Y = Relu(C) })", 17, &st);
  CHECK(m->graph->nodes().size() == 2);
  CHECK(m->graph->nodes()[0]->op_type == "Conv");
  CHECK(m->graph->nodes()[1]->op_type == "Relu");
  CHECK(m->graph->initializers().empty());
  CHECK(st.changes.empty());
}

TEST_CASE("opset: ir_version is raised to what the target needs, never lowered", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 4, opset_import: ["" : 9]>
    g (float[2] X) => (float[2] Y) { Y = Relu(X) })", 13);
  CHECK(m->ir_version == 7);
  auto m2 = convert_ok(R"(<ir_version: 8, opset_import: ["" : 9]>
    g (float[2] X) => (float[2] Y) { Y = Relu(X) })", 11);
  CHECK(m2->ir_version == 8);
  CHECK(min_ir_version_for_opset(7) == 3);
  CHECK(min_ir_version_for_opset(9) == 4);
  CHECK(min_ir_version_for_opset(10) == 5);
  CHECK(min_ir_version_for_opset(11) == 6);
  CHECK(min_ir_version_for_opset(14) == 7);
  CHECK(min_ir_version_for_opset(15) == 8);
  CHECK(min_ir_version_for_opset(18) == 8);
  CHECK(min_ir_version_for_opset(19) == 9);
  CHECK(min_ir_version_for_opset(20) == 9);
  CHECK(min_ir_version_for_opset(21) == 10);
}

TEST_CASE("opset: op versions come from ONNX 1.12 up to 17 and effopt's table after", "[opset]") {
  CHECK(onnx_op_version("Softmax", 12) == 11);
  CHECK(onnx_op_version("Softmax", 21) == 13);
  CHECK(onnx_op_version("ReduceMean", 17) == 13);
  CHECK(onnx_op_version("ReduceMean", 18) == 18);
  CHECK(onnx_op_version("ReduceMax", 20) == 20);
  CHECK(onnx_op_version("Gelu", 19) == 0);
  CHECK(onnx_op_version("Gelu", 20) == 20);
  CHECK(onnx_op_version("Reshape", 21) == 21);
  CHECK(onnx_op_version("Unsqueeze", 20) == 13);
  CHECK(onnx_op_version("Acos", 6) == 0);
  CHECK_FALSE(opset_adapters().empty());
}

TEST_CASE("opset: downgrade is refused when an op changed in between, naming it", "[opset]") {
  auto m = test::parse_or_fail(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[2,3] X, int64[1] A) => (float[1,2,3] Y) { Y = Unsqueeze(X, A) })");
  auto st = convert_opset(*m, 12);
  REQUIRE_FALSE(st);
  CHECK(st.error().kind == ErrorKind::InvalidModel);
  CHECK(st.error().message.find("Unsqueeze") != std::string::npos);
  CHECK(st.error().message.find("13") != std::string::npos);
}

TEST_CASE("opset: downgrade works when no op present changed", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 7, opset_import: ["" : 12]>
    g (float[1,3,8,8] X, float[4,3,3,3] W, float[1,4,6,6] B) => (float[1,4,6,6] Y) { C = Conv(X, W)  Y = Add(C, B) })",
                      11);
  CHECK(m->graph->nodes().size() == 2);
}

TEST_CASE("opset: an unknown op in the default domain is an error naming it", "[opset]") {
  Error e = convert_err(R"(<ir_version: 7, opset_import: ["" : 9]>
    g (float[2] X) => (float[2] Y) { Y = FancyOp(X) })", 13);
  CHECK(e.kind == ErrorKind::InvalidModel);
  CHECK(e.message.find("FancyOp") != std::string::npos);
}

TEST_CASE("opset: ops of other domains are left alone", "[opset]") {
  auto m = test::parse_or_fail(R"(<ir_version: 7, opset_import: ["" : 9, "com.example" : 1]>
    g (float[2] X) => (float[2] Y) { T = com.example.Custom<axis=1>(X)  Y = Relu(T) })");
  REQUIRE(convert_opset(*m, 13));
  Node* n = only(*m->graph, "Custom");
  CHECK(n->domain == "com.example");
  CHECK(n->attr_int("axis", 0) == 1);
  CHECK(m->opset("com.example") == 1);
}

// ------------------------------------------------------------------ opsets 1..6

TEST_CASE("opset: consumed_inputs of opset-1 ops is dropped at 6", "[opset]") {
  OpsetConvertStats st;
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 1]>
    g (float[2,3] X) => (float[2,3] Y) { Y = Relu<consumed_inputs=[0]>(X) })", 7, &st);
  CHECK(only(*m->graph, "Relu")->attributes.empty());
  CHECK(has_change(st, "consumed_inputs"));
}

TEST_CASE("opset: Cast's string `to` becomes a DataType at 6", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 5]>
    g (float[2] X) => (int32[2] Y) { Y = Cast<to="INT32">(X) })", 7);
  const Attribute* a = only(*m->graph, "Cast")->attr("to");
  REQUIRE(a);
  CHECK(a->type == AttrType::Int);
  CHECK(a->i == 6);
}

TEST_CASE("opset: Concat without axis gets opset 1's default axis=1", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 3]>
    g (float[2,3] A, float[2,4] B) => (float[2,7] Y) { Y = Concat(A, B) })", 7);
  CHECK(only(*m->graph, "Concat")->attr_int("axis", -5) == 1);
}

TEST_CASE("opset: Reshape's shape attribute becomes an input at 5", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 4]>
    g (float[2,3] X) => (float[3,2] Y) { Y = Reshape<shape=[3,2]>(X) })", 9);
  Node* n = only(*m->graph, "Reshape");
  CHECK_FALSE(n->attr("shape"));
  REQUIRE(n->inputs().size() == 2);
  CHECK(ints_of(n->input(1)) == std::vector<int64_t>{3, 2});
}

TEST_CASE("opset: Pad-1 paddings is renamed pads, then pads/value become inputs at 11", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 1]>
    g (float[2,3] X) => (float[4,5] Y) { Y = Pad<paddings=[1,1,1,1], value=2.5>(X) })", 11);
  Node* n = only(*m->graph, "Pad");
  CHECK(n->attributes.empty());
  REQUIRE(n->inputs().size() == 3);
  CHECK(ints_of(n->input(1)) == std::vector<int64_t>{1, 1, 1, 1});
  CHECK(floats_of(n->input(2)) == std::vector<float>{2.5f});
}

TEST_CASE("opset: Pad with a zero value gets no constant_value input", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 2]>
    g (float[2,3] X) => (float[2,5] Y) { Y = Pad<pads=[0,1,0,1], mode="reflect">(X) })", 13);
  Node* n = only(*m->graph, "Pad");
  CHECK(n->inputs().size() == 2);
  CHECK(n->attr_string("mode", "") == "reflect");
}

TEST_CASE("opset: Tile-1's tiles/axis inputs become a repeats input at 6", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 1]>
    g (float[2,3,4] X) => (float[2,9,4] Y) {
      T = Constant<value = float[1] {3.0}>()
      A = Constant<value = float[1] {1.0}>()
      Y = Tile(X, T, A)
    })", 7);
  Node* n = only(*m->graph, "Tile");
  REQUIRE(n->inputs().size() == 2);
  CHECK(ints_of(n->input(1)) == std::vector<int64_t>{1, 3, 1});
}

TEST_CASE("opset: Selu keeps opset 1's default alpha and gamma", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 1]>
    g (float[2] X) => (float[2] Y) { Y = Selu(X) })", 7);
  Node* n = only(*m->graph, "Selu");
  CHECK(n->attr_float("alpha", 0) == Approx(1.6732f));
  CHECK(n->attr_float("gamma", 0) == Approx(1.0507f));
}

TEST_CASE("opset: LpPool/GlobalLpPool p becomes an int at 2", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 1]>
    g (float[1,2,4,4] X) => (float[1,2,1,1] Y) { Y = GlobalLpPool<p=3.0>(X) })", 7);
  const Attribute* a = only(*m->graph, "GlobalLpPool")->attr("p");
  REQUIRE(a);
  CHECK(a->type == AttrType::Int);
  CHECK(a->i == 3);
}

TEST_CASE("opset: Split-1's split input becomes an attribute, then an input at 13", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 1]>
    g (float[5,2] X) => (float[2,2] A, float[3,2] B) {
      S = Constant<value = int64[2] {2, 3}>()
      A, B = Split<axis=0>(X, S)
    })", 13);
  Node* n = only(*m->graph, "Split");
  CHECK_FALSE(n->attr("split"));
  REQUIRE(n->inputs().size() == 2);
  CHECK(ints_of(n->input(1)) == std::vector<int64_t>{2, 3});
}

// ------------------------------------------------------------------ legacy broadcast (opset 7)

TEST_CASE("opset: legacy broadcast with a mid axis unsqueezes a non-constant B", "[opset]") {
  const char* text = R"(<ir_version: 3, opset_import: ["" : 6]>
    g (float[2,3,4,5] A, float[3,4] B) => (float[2,3,4,5] C) { C = Add<broadcast=1, axis=1>(A, B) })";
  OpsetConvertStats st;
  auto m = convert_ok(text, 13, &st);
  Node* add = only(*m->graph, "Add");
  CHECK(add->attributes.empty());
  Node* u = only(*m->graph, "Unsqueeze");
  CHECK(add->input(1) == u->output(0));
  CHECK(u->input(0)->name() == "B");
  CHECK(ints_of(u->input(1)) == std::vector<int64_t>{2});
  CHECK(has_change(st, "legacy broadcast"));

  // Opset 9 builds Unsqueeze with its axes attribute.
  auto m9 = convert_ok(text, 9);
  CHECK(only(*m9->graph, "Unsqueeze")->attr_ints("axes") == std::vector<int64_t>{2});

  // Numbers: C[n,c,h,w] = A[n,c,h,w] + B[c,h].
  auto a = iota_tensor("A", {2, 3, 4, 5});
  auto b = iota_tensor("B", {3, 4}, 1.0f, 0.5f);
  auto out = run_ort(*m, {{"A", a}, {"B", b}});
  if (!out) return;
  auto av = values(a), bv = values(b), cv = values((*out)[0]);
  REQUIRE(cv.size() == av.size());
  for (size_t i = 0; i < av.size(); ++i) {
    size_t ch = (i / 5) % 12;  // (c,h) index
    REQUIRE(cv[i] == Approx(av[i] + bv[ch]));
  }
}

TEST_CASE("opset: legacy broadcast reshapes a constant B instead of unsqueezing it", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 6]>
    g (float[2,3,4] A) => (float[2,3,4] C) {
      B = Constant<value = float[3] {1.0, 2.0, 3.0}>()
      C = Mul<broadcast=1, axis=1>(A, B)
    })", 13);
  CHECK(nodes_of(*m->graph, "Unsqueeze").empty());
  Node* mul = only(*m->graph, "Mul");
  CHECK(dims_of(mul->input(1)) == std::vector<int64_t>{3, 1});
  CHECK(floats_of(mul->input(1)) == std::vector<float>{1, 2, 3});
}

TEST_CASE("opset: legacy broadcast already aligned like numpy only loses its attributes", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 6]>
    g (double[2,3] A, double[3] B) => (double[2,3] C) { C = Sub<broadcast=1, axis=1>(A, B) })", 9);
  CHECK(m->graph->nodes().size() == 1);
  CHECK(only(*m->graph, "Sub")->attributes.empty());
}

TEST_CASE("opset: legacy broadcast with an unknown rank is an error naming the node", "[opset]") {
  auto m = test::parse_or_fail(R"(<ir_version: 3, opset_import: ["" : 6, "com.example" : 1]>
    g (float[2,3,4] X, float[3] B) => (float[2,3,4] C) {
      A = com.example.Opaque(X)
      C = Add<broadcast=1, axis=1>(A, B)
    })");
  m->graph->nodes()[1]->name = "add_legacy";
  auto st = convert_opset(*m, 13);
  REQUIRE_FALSE(st);
  CHECK(st.error().kind == ErrorKind::InvalidModel);
  CHECK(st.error().message.find("add_legacy") != std::string::npos);
  CHECK(st.error().message.find("rank") != std::string::npos);
}

TEST_CASE("opset: Gemm's broadcast attribute is dropped at 7", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 6]>
    g (float[2,3] A, float[3,4] B, float[4] C) => (float[2,4] Y) { Y = Gemm<broadcast=1>(A, B, C) })", 11);
  CHECK_FALSE(only(*m->graph, "Gemm")->attr("broadcast"));
}

TEST_CASE("opset: PRelu's per-channel slope is reshaped to [C,1,...] at 7", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 6]>
    g (float[2,3,4,5] X) => (float[2,3,4,5] Y) {
      S = Constant<value = float[3] {0.1, 0.2, 0.3}>()
      Y = PRelu(X, S)
    })", 13);
  Node* p = only(*m->graph, "PRelu");
  CHECK(dims_of(p->input(1)) == std::vector<int64_t>{3, 1, 1});

  auto x = iota_tensor("X", {2, 3, 4, 5}, 0.1f, -1.0f);
  auto out = run_ort(*m, {{"X", x}});
  if (!out) return;
  auto xv = values(x), yv = values((*out)[0]);
  const float slope[3] = {0.1f, 0.2f, 0.3f};
  for (size_t i = 0; i < xv.size(); ++i) {
    float s = slope[(i / 20) % 3];
    REQUIRE(yv[i] == Approx(xv[i] < 0 ? xv[i] * s : xv[i]));
  }
}

TEST_CASE("opset: PRelu with a per-channel slope and unknown input rank is an error", "[opset]") {
  Error e = convert_err(R"(<ir_version: 3, opset_import: ["" : 6, "com.example" : 1]>
    g (float[2,3,4] X, float[3] S) => (float[2,3,4] Y) { A = com.example.Opaque(X)  Y = PRelu(A, S) })", 7);
  CHECK(e.kind == ErrorKind::InvalidModel);
  CHECK(e.message.find("PRelu") != std::string::npos);
}

TEST_CASE("opset: a size-1 PRelu slope needs no change", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 6]>
    g (float[2,3,4] X, float[1] S) => (float[2,3,4] Y) { Y = PRelu(X, S) })", 9);
  CHECK(m->graph->nodes().size() == 1);
  CHECK(only(*m->graph, "PRelu")->input(1)->name() == "S");
}

// ------------------------------------------------------------------ normalization, dropout, RNNs

TEST_CASE("opset: BatchNormalization-1 loses consumed_inputs, is_test and spatial", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 5]>
    g (float[1,2,3,3] X, float[2] s, float[2] b, float[2] mu, float[2] v) => (float[1,2,3,3] Y) {
      Y = BatchNormalization<consumed_inputs=[0,0,0,1,1], is_test=1, spatial=1, epsilon=0.001>(X, s, b, mu, v)
    })", 15);
  Node* n = only(*m->graph, "BatchNormalization");
  CHECK_FALSE(n->attr("consumed_inputs"));
  CHECK_FALSE(n->attr("is_test"));
  CHECK_FALSE(n->attr("spatial"));
  CHECK(n->attr_float("epsilon", 0) == Approx(0.001f));
  CHECK(n->outputs().size() == 1);
}

TEST_CASE("opset: BatchNormalization's unused training outputs are dropped at 14", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 4, opset_import: ["" : 9]>
    g (float[1,2,3,3] X, float[2] s, float[2] b, float[2] mu, float[2] v) => (float[1,2,3,3] Y) {
      Y, M, V, SM, SV = BatchNormalization(X, s, b, mu, v)
    })", 14);
  Node* n = only(*m->graph, "BatchNormalization");
  CHECK(n->outputs().size() == 1);
  CHECK(n->output(0)->name() == "Y");
  CHECK_FALSE(n->attr("training_mode"));
}

TEST_CASE("opset: BatchNormalization with used running stats gets training_mode=1 at 14", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 4, opset_import: ["" : 9]>
    g (float[1,2,3,3] X, float[2] s, float[2] b, float[2] mu, float[2] v) => (float[1,2,3,3] Y, float[2] M) {
      Y, M = BatchNormalization(X, s, b, mu, v)
    })", 14);
  Node* n = only(*m->graph, "BatchNormalization");
  CHECK(n->attr_int("training_mode", 0) == 1);
  CHECK(n->output(1)->name() == "M");
  CHECK(m->graph->outputs()[1] == n->output(1));
}

TEST_CASE("opset: BatchNormalization spatial=0 becomes explicit arithmetic at 9", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 7]>
    g (float[2,3,4] X, float[3,4] s, float[3,4] b, float[3,4] mu, float[3,4] v) => (float[2,3,4] Y) {
      Y = BatchNormalization<spatial=0, epsilon=0.01>(X, s, b, mu, v)
    })", 9);
  CHECK(nodes_of(*m->graph, "BatchNormalization").empty());
  CHECK(nodes_of(*m->graph, "Sqrt").size() == 1);
  CHECK(m->graph->outputs()[0]->producer()->op_type == "Add");
  CHECK(m->graph->outputs()[0]->name() == "Y");

  auto in = [](const char* name, std::vector<int64_t> dims, float scale, float offset) {
    return std::pair<std::string, onnx::TensorProto>(name, iota_tensor(name, dims, scale, offset));
  };
  auto x = iota_tensor("X", {2, 3, 4});
  auto out = run_ort(*m, {{"X", x}, in("s", {3, 4}, 0.1f, 0.5f), in("b", {3, 4}, 0.2f, -1.0f),
                          in("mu", {3, 4}, 0.05f, 0.0f), in("v", {3, 4}, 0.1f, 0.2f)});
  if (!out) return;
  auto xv = values(x), yv = values((*out)[0]);
  auto sv = values(iota_tensor("s", {3, 4}, 0.1f, 0.5f)), bv = values(iota_tensor("b", {3, 4}, 0.2f, -1.0f));
  auto mv = values(iota_tensor("mu", {3, 4}, 0.05f, 0.0f)), vv = values(iota_tensor("v", {3, 4}, 0.1f, 0.2f));
  for (size_t i = 0; i < xv.size(); ++i) {
    size_t k = i % 12;
    CHECK(yv[i] == Approx((xv[i] - mv[k]) / std::sqrt(vv[k] + 0.01f) * sv[k] + bv[k]).margin(1e-5));
  }
}

TEST_CASE("opset: Dropout loses is_test at 7 and its ratio becomes an input at 12", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 6]>
    g (float[2,3] X) => (float[2,3] Y) { Y = Dropout<is_test=1, ratio=0.3>(X) })", 13);
  Node* n = only(*m->graph, "Dropout");
  CHECK(n->attributes.empty());
  REQUIRE(n->inputs().size() == 2);
  CHECK(floats_of(n->input(1)) == std::vector<float>{0.3f});
}

TEST_CASE("opset: Dropout's used mask is cast back to its old type at 10", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 9]>
    g (float[2,3] X) => (float[2,3] Y, float[2,3] M) { Y, M = Dropout(X) })", 11);
  Node* cast = only(*m->graph, "Cast");
  CHECK(cast->output(0)->name() == "M");
  CHECK(cast->attr_int("to", 0) == static_cast<int64_t>(DataType::Float));
  CHECK(cast->input(0)->producer()->op_type == "Dropout");
  check_same_in_ort(R"(<ir_version: 3, opset_import: ["" : 9]>
    g (float[2,3] X) => (float[2,3] Y, float[2,3] M) { Y, M = Dropout(X) })", 11, {{"X", iota_tensor("X", {2, 3})}});
}

TEST_CASE("opset: GRU/LSTM/RNN lose output_sequence at 7", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 1]>
    g (float[2,1,3] X, float[1,12,3] W, float[1,12,4] R) => (float[2,1,1,4] Y) {
      Y, H = LSTM<hidden_size=4, output_sequence=1>(X, W, R)
    })", 7);
  CHECK_FALSE(only(*m->graph, "LSTM")->attr("output_sequence"));
}

// ------------------------------------------------------------------ Softmax family (opset 13)

TEST_CASE("opset: Softmax on the last axis of a known rank keeps a plain Softmax", "[opset]") {
  OpsetConvertStats st;
  auto m = convert_ok(R"(<ir_version: 7, opset_import: ["" : 9]>
    g (float[N,3] X) => (float[N,3] Y) { Y = Softmax<axis=1>(X) })", 13, &st);
  CHECK(m->graph->nodes().size() == 1);
  CHECK(only(*m->graph, "Softmax")->attr_int("axis", 0) == 1);
}

TEST_CASE("opset: Softmax on an inner axis goes through Flatten/Reshape without static shapes", "[opset]") {
  const char* text = R"(<ir_version: 7, opset_import: ["" : 12]>
    g (float[N,3,4] X) => (float[N,3,4] Y) { Y = Softmax<axis=1>(X) })";
  OpsetConvertStats st;
  auto m = convert_ok(text, 13, &st);
  Node* flat = only(*m->graph, "Flatten");
  Node* sm = only(*m->graph, "Softmax");
  Node* shape = only(*m->graph, "Shape");
  Node* rs = only(*m->graph, "Reshape");
  CHECK(flat->attr_int("axis", 0) == 1);
  CHECK(sm->input(0) == flat->output(0));
  CHECK(sm->attr_int("axis", 0) == -1);
  CHECK(rs->input(0) == sm->output(0));
  CHECK(rs->input(1) == shape->output(0));
  CHECK(shape->input(0)->name() == "X");
  CHECK(rs->output(0)->name() == "Y");
  CHECK(m->graph->outputs()[0] == rs->output(0));
  CHECK(has_change(st, "Flatten/Reshape"));

  auto original = test::parse_or_fail(text);
  auto x = iota_tensor("X", {2, 3, 4});
  auto want = run_ort(*original, {{"X", x}});
  if (!want) return;
  auto got = run_ort(*m, {{"X", x}});
  REQUIRE(got);
  CHECK(test::max_abs_diff((*want)[0], (*got)[0]) < 1e-6);
}

TEST_CASE("opset: Softmax with the default axis and unknown rank is converted too", "[opset]") {
  auto m = test::parse_or_fail(R"(<ir_version: 7, opset_import: ["" : 11, "com.example" : 1]>
    g (float[2,3,4] X) => (float[2,3,4] Y) { A = com.example.Opaque(X)  Y = LogSoftmax(A) })");
  REQUIRE(convert_opset(*m, 13));
  REQUIRE(verify(*m));
  CHECK(only(*m->graph, "Flatten")->attr_int("axis", 0) == 1);
  CHECK(only(*m->graph, "LogSoftmax")->attr_int("axis", 0) == -1);
}

TEST_CASE("opset: Hardmax uses the Softmax adapter", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 7, opset_import: ["" : 11]>
    g (float[2,3,4] X) => (float[2,3,4] Y) { Y = Hardmax<axis=0>(X) })", 13);
  CHECK(only(*m->graph, "Flatten")->attr_int("axis", 1) == 0);
  CHECK(only(*m->graph, "Hardmax")->attr_int("axis", 0) == -1);
}

// ------------------------------------------------------------------ attribute -> input moves

TEST_CASE("opset: Slice's starts/ends/axes become inputs at 10", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 9]>
    g (float[4,6] X) => (float[2,3] Y) { Y = Slice<starts=[1,2], ends=[3,5], axes=[0,1]>(X) })", 10);
  Node* n = only(*m->graph, "Slice");
  CHECK(n->attributes.empty());
  REQUIRE(n->inputs().size() == 4);
  CHECK(ints_of(n->input(1)) == std::vector<int64_t>{1, 2});
  CHECK(ints_of(n->input(2)) == std::vector<int64_t>{3, 5});
  CHECK(ints_of(n->input(3)) == std::vector<int64_t>{0, 1});
}

TEST_CASE("opset: TopK's k becomes an input at 10", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 9]>
    g (float[3,5] X) => (float[3,2] V, int64[3,2] I) { V, I = TopK<k=2>(X) })", 11);
  Node* n = only(*m->graph, "TopK");
  CHECK_FALSE(n->attr("k"));
  CHECK(ints_of(n->input(1)) == std::vector<int64_t>{2});
}

TEST_CASE("opset: Clip's min/max become inputs of the input's type at 11", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 9]>
    g (float[3] X) => (float[3] Y) { R = Relu(X)  Y = Clip<min=0.0, max=6.0>(R) })", 11);
  Node* n = only(*m->graph, "Clip");
  CHECK(n->attributes.empty());
  REQUIRE(n->inputs().size() == 3);
  CHECK(floats_of(n->input(1)) == std::vector<float>{0.0f});
  CHECK(floats_of(n->input(2)) == std::vector<float>{6.0f});

  auto h = convert_ok(R"(<ir_version: 3, opset_import: ["" : 9]>
    g (float16[3] X) => (float16[3] Y) { Y = Clip<max=6.0>(X) })", 13);
  Node* c = only(*h->graph, "Clip");
  REQUIRE(c->inputs().size() == 3);
  CHECK(c->input(1) == nullptr);
  CHECK(constant_tensor(c->input(2))->data_type == DataType::Float16);
}

TEST_CASE("opset: Squeeze/Unsqueeze axes become inputs at 13", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 7, opset_import: ["" : 12]>
    g (float[1,3] X) => (float[3,1] Y) { S = Squeeze<axes=[0]>(X)  Y = Unsqueeze<axes=[1]>(S) })", 13);
  CHECK(ints_of(only(*m->graph, "Squeeze")->input(1)) == std::vector<int64_t>{0});
  CHECK(ints_of(only(*m->graph, "Unsqueeze")->input(1)) == std::vector<int64_t>{1});
}

TEST_CASE("opset: ReduceSum moves axes at 13, the other reductions at 18", "[opset]") {
  const char* text = R"(<ir_version: 7, opset_import: ["" : 12]>
    g (float[2,3] X) => (float[2] A, float[2] B) {
      A = ReduceSum<axes=[1], keepdims=0>(X)
      B = ReduceMean<axes=[1], keepdims=0>(X)
    })";
  auto m17 = convert_ok(text, 17);
  CHECK(ints_of(only(*m17->graph, "ReduceSum")->input(1)) == std::vector<int64_t>{1});
  CHECK(only(*m17->graph, "ReduceMean")->attr_ints("axes") == std::vector<int64_t>{1});
  auto m18 = convert_ok(text, 18);
  Node* rm = only(*m18->graph, "ReduceMean");
  CHECK_FALSE(rm->attr("axes"));
  CHECK(ints_of(rm->input(1)) == std::vector<int64_t>{1});
  CHECK(rm->attr_int("keepdims", 1) == 0);
}

TEST_CASE("opset: Split's split attribute becomes an input at 13; num_outputs set at 18", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 7, opset_import: ["" : 11]>
    g (float[5] X) => (float[2] A, float[3] B) { A, B = Split<split=[2,3]>(X) })", 13);
  CHECK(ints_of(only(*m->graph, "Split")->input(1)) == std::vector<int64_t>{2, 3});

  auto e = convert_ok(R"(<ir_version: 7, opset_import: ["" : 11]>
    g (float[6] X) => (float[2] A, float[2] B, float[2] C) { A, B, C = Split(X) })", 18);
  CHECK(only(*e->graph, "Split")->attr_int("num_outputs", 0) == 3);
}

// ------------------------------------------------------------------ Upsample / Resize

TEST_CASE("opset: Upsample-7 becomes Resize with opset-10 semantics kept at 13", "[opset]") {
  OpsetConvertStats st;
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 7]>
    g (float[1,1,2,2] X) => (float[1,1,4,4] Y) { Y = Upsample<scales=[1.0,1.0,2.0,2.0]>(X) })", 13, &st);
  CHECK(nodes_of(*m->graph, "Upsample").empty());
  Node* r = only(*m->graph, "Resize");
  REQUIRE(r->inputs().size() == 3);
  CHECK(r->input(1) == nullptr);  // roi is optional from 13
  CHECK(floats_of(r->input(2)) == std::vector<float>{1, 1, 2, 2});
  CHECK(r->attr_string("coordinate_transformation_mode", "") == "asymmetric");
  CHECK(r->attr_string("nearest_mode", "") == "floor");
  CHECK(has_change(st, "Upsample -> Resize"));
}

TEST_CASE("opset: Upsample-9 becomes Resize-10 with the same inputs", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 4, opset_import: ["" : 9]>
    g (float[1,1,2,2] X, float[4] S) => (float[1,1,4,4] Y) { Y = Upsample<mode="linear">(X, S) })", 10);
  Node* r = only(*m->graph, "Resize");
  REQUIRE(r->inputs().size() == 2);
  CHECK(r->input(1)->name() == "S");
  CHECK(r->attr_string("mode", "") == "linear");
}

TEST_CASE("opset: Upsample-9 gives the same results as Resize in ONNX Runtime", "[opset]") {
  for (const char* mode : {"nearest", "linear"}) {
    INFO("mode " << mode);
    std::string text = std::string(R"(<ir_version: 4, opset_import: ["" : 9]>
      g (float[1,2,3,4] X) => (float[1,2,6,10] Y) {
        S = Constant<value = float[4] {1.0, 1.0, 2.0, 2.5}>()
        Y = Upsample<mode=")") + mode + R"(">(X, S)
      })";
    check_same_in_ort(text, 13, {{"X", iota_tensor("X", {1, 2, 3, 4})}});
  }
}

TEST_CASE("opset: Resize 10->11 adds a roi input (required at 11 and 12)", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 5, opset_import: ["" : 10]>
    g (float[1,1,2,2] X) => (float[1,1,4,4] Y) {
      S = Constant<value = float[4] {1.0, 1.0, 2.0, 2.0}>()
      Y = Resize(X, S)
    })", 12);
  Node* r = only(*m->graph, "Resize");
  REQUIRE(r->inputs().size() == 3);
  REQUIRE(r->input(1) != nullptr);
  CHECK(dims_of(r->input(1)) == std::vector<int64_t>{0});
}

TEST_CASE("opset: Resize 10->11 keeps Resize-10's results in ONNX Runtime", "[opset]") {
  // Upsampling rounds nearest pixels down, downsampling up (ONNX Runtime's
  // opset-10 kernel and ONNX's opset-10 downsample test agree).
  const std::pair<const char*, const char*> cases[] = {{"1.0, 1.0, 2.0, 2.5", "floor"}, {"1.0, 1.0, 0.6, 0.7", "ceil"}};
  for (auto [scales, rounding] : cases) {
    for (const char* mode : {"nearest", "linear"}) {
      std::string text = std::string(R"(<ir_version: 5, opset_import: ["" : 10]>
        g (float[1,2,5,6] X) => (float[1,2,?,?] Y) {
          S = Constant<value = float[4] {)") + scales + R"(}>()
          Y = Resize<mode=")" + mode + R"(">(X, S)
        })";
      for (int64_t to : {11, 13, 21}) {
        INFO("scales " << scales << ", mode " << mode << ", to opset " << to);
        auto m = convert_ok(text, to);
        if (std::string(mode) == "nearest")
          CHECK(only(*m->graph, "Resize")->attr_string("nearest_mode", "") == rounding);
        auto original = test::parse_or_fail(text);
        auto x = iota_tensor("X", {1, 2, 5, 6});
        auto want = run_ort(*original, {{"X", x}});
        if (!want) return;
        auto got = run_ort(*m, {{"X", x}});
        REQUIRE(got);
        CHECK(test::max_abs_diff((*want)[0], (*got)[0]) < 1e-5);
      }
    }
  }
}

TEST_CASE("opset: nearest Resize-10 mixing up- and downsampling is refused", "[opset]") {
  Error e = convert_err(R"(<ir_version: 5, opset_import: ["" : 10]>
    g (float[1,2,5,6] X) => (float[1,2,3,15] Y) {
      S = Constant<value = float[4] {1.0, 1.0, 0.6, 2.5}>()
      Y = Resize(X, S)
    })", 11);
  CHECK(e.kind == ErrorKind::InvalidModel);
  CHECK(e.message.find("nearest_mode") != std::string::npos);
}

TEST_CASE("opset: Resize's tf_half_pixel_for_nn maps to half_pixel at 13", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 6, opset_import: ["" : 11]>
    g (float[1,1,2,2] X) => (float[1,1,4,4] Y) {
      R = Constant<value = float[0] {}>()
      S = Constant<value = float[4] {1.0, 1.0, 2.0, 2.0}>()
      Y = Resize<coordinate_transformation_mode="tf_half_pixel_for_nn", nearest_mode="floor">(X, R, S)
    })", 13);
  Node* r = only(*m->graph, "Resize");
  CHECK(r->attr_string("coordinate_transformation_mode", "") == "half_pixel");
  CHECK(r->attr_string("nearest_mode", "") == "round_prefer_ceil");
}

TEST_CASE("opset: Resize-11 with sizes drops the empty scales at 13", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 6, opset_import: ["" : 11]>
    g (float[1,1,2,2] X) => (float[1,1,4,4] Y) {
      R = Constant<value = float[0] {}>()
      S = Constant<value = float[0] {}>()
      Z = Constant<value = int64[4] {1, 1, 4, 4}>()
      Y = Resize(X, R, S, Z)
    })", 13);
  Node* r = only(*m->graph, "Resize");
  REQUIRE(r->inputs().size() == 4);
  CHECK(r->input(2) == nullptr);
  CHECK(ints_of(r->input(3)) == std::vector<int64_t>{1, 1, 4, 4});
}

// ------------------------------------------------------------------ renamed and changed ops

TEST_CASE("opset: Scatter becomes ScatterElements at 11", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 4, opset_import: ["" : 9]>
    g (float[3,3] D, int64[1,2] I, float[1,2] U) => (float[3,3] Y) { Y = Scatter<axis=1>(D, I, U) })", 13);
  CHECK(nodes_of(*m->graph, "Scatter").empty());
  CHECK(only(*m->graph, "ScatterElements")->attr_int("axis", 0) == 1);
}

TEST_CASE("opset: RoiAlign keeps opset 10's output_half_pixel at 16", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 5, opset_import: ["" : 10]>
    g (float[1,1,4,4] X, float[1,4] R, int64[1] B) => (float[1,1,1,1] Y) { Y = RoiAlign(X, R, B) })", 16);
  CHECK(only(*m->graph, "RoiAlign")->attr_string("coordinate_transformation_mode", "") == "output_half_pixel");
  check_same_in_ort(R"(<ir_version: 5, opset_import: ["" : 10]>
    g (float[1,1,6,6] X, float[2,4] R, int64[2] B) => (float[2,1,2,2] Y) {
      Y = RoiAlign<output_height=2, output_width=2, sampling_ratio=2>(X, R, B)
    })", 16,
                    {{"X", iota_tensor("X", {1, 1, 6, 6})},
                     {"R", test::make_tensor<float>("R", {2, 4}, {0.5f, 0.5f, 4.2f, 3.7f, 1.0f, 2.0f, 5.0f, 5.5f})},
                     {"B", test::make_tensor<int64_t>("B", {2}, {0, 0})}});
}

TEST_CASE("opset: Scan-8 is refused with a clear error", "[opset]") {
  Error e = convert_err(R"(<ir_version: 3, opset_import: ["" : 8]>
    g (int64[1] L, float[1,2] S0, float[1,3,2] X) => (float[1,2] S) {
      S, Y = Scan<num_scan_inputs=1, body = b (float[2] s, float[2] x) => (float[2] so, float[2] y) {
        so = Add(s, x)
        y = Identity(so)
      }>(L, S0, X)
    })", 9);
  CHECK(e.kind == ErrorKind::InvalidModel);
  CHECK(e.message.find("Scan") != std::string::npos);
}

TEST_CASE("opset: DFT's axis attribute becomes an input at 20", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 8, opset_import: ["" : 17]>
    g (float[1,8,1] X) => (float[1,8,2] Y) { Y = DFT(X) })", 20);
  Node* n = only(*m->graph, "DFT");
  CHECK_FALSE(n->attr("axis"));
  REQUIRE(n->inputs().size() == 3);
  CHECK(n->input(1) == nullptr);
  CHECK(ints_of(n->input(2)) == std::vector<int64_t>{1});
  CHECK(dims_of(n->input(2)).empty());
  check_same_in_ort(R"(<ir_version: 8, opset_import: ["" : 17]>
    g (float[2,8,3,1] X) => (float[2,8,3,2] Y) { Y = DFT<axis=1>(X) })", 20, {{"X", iota_tensor("X", {2, 8, 3, 1})}},
                    1e-4);
  check_same_in_ort(R"(<ir_version: 8, opset_import: ["" : 17]>
    g (float[2,8,3,1] X) => (float[2,8,3,2] Y) { Y = DFT<axis=2>(X) })", 20, {{"X", iota_tensor("X", {2, 8, 3, 1})}},
                    1e-4);
}

TEST_CASE("opset: GridSample's bilinear/bicubic become linear/cubic at 20", "[opset]") {
  const char* text = R"(<ir_version: 8, opset_import: ["" : 16]>
    g (float[1,1,4,4] X, float[1,2,2,2] G) => (float[1,1,2,2] Y) { Y = GridSample<mode="bicubic">(X, G) })";
  auto m = convert_ok(text, 20);
  CHECK(only(*m->graph, "GridSample")->attr_string("mode", "") == "cubic");
  auto grid = test::make_tensor<float>("G", {1, 2, 2, 2}, {-0.9f, -0.5f, 0.3f, -0.2f, 0.1f, 0.7f, 0.8f, 0.95f});
  check_same_in_ort(text, 20, {{"X", iota_tensor("X", {1, 1, 4, 4})}, {"G", grid}});
}

TEST_CASE("opset: GroupNormalization's per-group scale/bias are repeated per channel at 21", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 8, opset_import: ["" : 18]>
    g (float[1,4,2,2] X) => (float[1,4,2,2] Y) {
      S = Constant<value = float[2] {1.0, 2.0}>()
      B = Constant<value = float[2] {0.5, -0.5}>()
      Y = GroupNormalization<num_groups=2>(X, S, B)
    })", 21);
  Node* n = only(*m->graph, "GroupNormalization");
  CHECK(floats_of(n->input(1)) == std::vector<float>{1, 1, 2, 2});
  CHECK(floats_of(n->input(2)) == std::vector<float>{0.5f, 0.5f, -0.5f, -0.5f});
  CHECK_FALSE(n->attr("stash_type"));
}

TEST_CASE("opset: GroupNormalization with unknown channels expands scale/bias in the graph", "[opset]") {
  const char* text = R"(<ir_version: 8, opset_import: ["" : 18]>
    g (float[1,C,2,2] X, float[2] S, float[2] B) => (float[1,C,2,2] Y) {
      Y = GroupNormalization<num_groups=2, epsilon=0.001>(X, S, B)
    })";
  auto m = convert_ok(text, 21);
  CHECK(nodes_of(*m->graph, "Expand").size() == 2);
  Node* n = only(*m->graph, "GroupNormalization");
  CHECK(n->input(1)->producer()->op_type == "Reshape");
  CHECK(n->input(2)->producer()->op_type == "Reshape");

  auto x = iota_tensor("X", {1, 4, 2, 2}, 0.3f);
  auto s = test::make_tensor<float>("S", {2}, {1.0f, 2.0f});
  auto b = test::make_tensor<float>("B", {2}, {0.5f, -0.5f});
  auto got = run_ort(*m, {{"X", x}, {"S", s}, {"B", b}});
  if (!got) return;
  // Reference: normalize over each group of 2 channels x 2 x 2, then per-group scale/bias.
  auto xv = values(x), yv = values((*got)[0]);
  for (int grp = 0; grp < 2; ++grp) {
    double mean = 0, var = 0;
    for (int i = 0; i < 8; ++i) mean += xv[static_cast<size_t>(grp * 8 + i)];
    mean /= 8;
    for (int i = 0; i < 8; ++i) var += std::pow(xv[static_cast<size_t>(grp * 8 + i)] - mean, 2);
    var /= 8;
    for (int i = 0; i < 8; ++i) {
      size_t k = static_cast<size_t>(grp * 8 + i);
      double want = (xv[k] - mean) / std::sqrt(var + 0.001) * (grp ? 2.0 : 1.0) + (grp ? -0.5 : 0.5);
      CHECK(yv[k] == Approx(want).margin(1e-4));
    }
  }
}

// ------------------------------------------------------------------ removed experimental ops

TEST_CASE("opset: ImageScaler expands to Mul and a per-channel Add", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 8]>
    g (float[1,3,2,2] X) => (float[1,3,2,2] Y) { Y = ImageScaler<scale=0.5, bias=[1.0,2.0,3.0]>(X) })", 9);
  CHECK(nodes_of(*m->graph, "ImageScaler").empty());
  Node* mul = only(*m->graph, "Mul");
  Node* add = only(*m->graph, "Add");
  CHECK(floats_of(mul->input(1)) == std::vector<float>{0.5f});
  CHECK(add->input(0) == mul->output(0));
  CHECK(dims_of(add->input(1)) == std::vector<int64_t>{1, 3, 1, 1});
  CHECK(add->output(0)->name() == "Y");

  auto x = iota_tensor("X", {1, 3, 2, 2});
  auto out = run_ort(*m, {{"X", x}});
  if (!out) return;
  auto xv = values(x), yv = values((*out)[0]);
  for (size_t i = 0; i < xv.size(); ++i) CHECK(yv[i] == Approx(xv[i] * 0.5f + static_cast<float>(i / 4 + 1)));
}

TEST_CASE("opset: experimental Crop becomes Slice", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 7]>
    g (float[1,1,6,6] X) => (float[1,1,3,2] Y) { Y = Crop<border=[1,2,3,1]>(X) })", 13);
  Node* s = only(*m->graph, "Slice");
  CHECK(ints_of(s->input(1)) == std::vector<int64_t>{2, 1});
  CHECK(ints_of(s->input(2)) == std::vector<int64_t>{-1, -3});
  CHECK(ints_of(s->input(3)) == std::vector<int64_t>{2, 3});

  std::vector<float> xs(36);
  std::iota(xs.begin(), xs.end(), 0.0f);
  auto out = run_ort(*m, {{"X", test::make_tensor<float>("X", {1, 1, 6, 6}, xs)}});
  if (!out) return;
  // Rows 2..4 (top=2, bottom=1), columns 1..2 (left=1, right=3).
  CHECK(values((*out)[0]) == std::vector<float>{13, 14, 19, 20, 25, 26});
}

TEST_CASE("opset: experimental ThresholdedRelu becomes the opset-10 op", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 3, opset_import: ["" : 8]>
    g (float[4] X) => (float[4] Y) { Y = ThresholdedRelu<alpha=0.5>(X) })", 13);
  CHECK(only(*m->graph, "ThresholdedRelu")->attr_float("alpha", 0) == Approx(0.5f));
  auto m9 = convert_ok(R"(<ir_version: 3, opset_import: ["" : 8]>
    g (float[4] X) => (float[4] Y) { Y = ThresholdedRelu<alpha=0.5>(X) })", 9);
  CHECK(nodes_of(*m9->graph, "ThresholdedRelu").empty());
  CHECK(only(*m9->graph, "Greater"));
  auto out = run_ort(*m9, {{"X", test::make_tensor<float>("X", {4}, {-1.0f, 0.5f, 0.6f, 2.0f})}});
  if (!out) return;
  CHECK(values((*out)[0]) == std::vector<float>{0.0f, 0.0f, 0.6f, 2.0f});
}

TEST_CASE("opset: an experimental op without a standard equivalent is refused", "[opset]") {
  Error e = convert_err(R"(<ir_version: 3, opset_import: ["" : 7]>
    g (float[4] X) => (float[4] Y) { Y = ATen<operator="foo">(X) })", 9);
  CHECK(e.kind == ErrorKind::InvalidModel);
  CHECK(e.message.find("ATen") != std::string::npos);
  CHECK(e.message.find("experimental") != std::string::npos);
}

// ------------------------------------------------------------------ scopes

TEST_CASE("opset: If branches are converted with the main graph", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 7, opset_import: ["" : 11]>
    g (bool c, float[2,3,4] A) => (float[2,3,4] C) {
      C = If(c) <then_branch = g1 () => (float[2,3,4] y) { y = Softmax<axis=1>(A) },
                 else_branch = g2 () => (float[2,3,4] z) { z = Identity(A) }>
    })", 13);
  Node* iff = only(*m->graph, "If");
  Graph* then_g = iff->attr("then_branch")->g.get();
  REQUIRE(then_g);
  CHECK(only(*then_g, "Flatten"));
  CHECK(only(*then_g, "Softmax")->attr_int("axis", 0) == -1);
  CHECK(then_g->outputs()[0]->name() == "y");
}

TEST_CASE("opset: model-local functions are converted with Constant nodes", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 8, opset_import: ["" : 11, "local" : 1]>
    g (float[2,3] A) => (float[1,2,3] C) { C = local.Unsq(A) }
    <domain: "local", opset_import: ["" : 11]>
    Unsq (x) => (y) { y = Unsqueeze<axes=[0]>(x) })", 13);
  REQUIRE(m->functions.size() == 1);
  const Function& f = m->functions[0];
  int64_t fv = 0;
  for (auto& o : f.opset_imports)
    if (is_onnx_domain(o.domain)) fv = o.version;
  CHECK(fv == 13);
  Node* u = only(*f.body, "Unsqueeze");
  REQUIRE(u->inputs().size() == 2);
  CHECK(u->input(1)->producer()->op_type == "Constant");
  CHECK(f.body->initializers().empty());
  CHECK(ints_of(u->input(1)) == std::vector<int64_t>{0});
}

TEST_CASE("opset: new names never collide with existing ones", "[opset]") {
  auto m = convert_ok(R"(<ir_version: 7, opset_import: ["" : 12]>
    g (float[1,3] X) => (float[3] Y, float[3] s_axes) { s_axes = Identity(Y)  Y = Squeeze<axes=[0]>(X) })", 13);
  Node* n = only(*m->graph, "Squeeze");
  CHECK(n->input(1)->name() != "s_axes");
  CHECK(verify(*m));
}

// ------------------------------------------------------------------ corpus

namespace {

bool close_enough(const onnx::TensorProto& want, const onnx::TensorProto& got, std::string* why) {
  switch (want.data_type()) {
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::FLOAT16: {
      double d = test::max_abs_diff(want, got);
      double scale = 1;
      for (double v : test::tensor_values(want)) scale = std::max(scale, std::abs(v));
      if (d <= 1e-4 * scale) return true;
      *why = "max abs diff " + std::to_string(d);
      return false;
    }
    default:
      return test::tensors_bit_identical(want, got, why);
  }
}

// Converts a corpus model and, if ONNX Runtime is there, checks its outputs
// against the case's expected outputs.
void convert_corpus_case(const fs::path& dir, int64_t to, bool run) {
  INFO(dir.string() << " -> opset " << to);
  auto m = load_model((dir / "model.onnx").string());
  if (!m) {
    FAIL_CHECK("cannot load the model (importer): " << m.error().message);
    return;
  }
  OpsetConvertStats st;
  auto s = convert_opset(**m, to, &st);
  if (!s) {
    FAIL_CHECK("conversion failed: " << s.error().message);
    return;
  }
  auto v = verify(**m);
  if (!v) {
    FAIL_CHECK("does not verify: " << v.error().message);
    return;
  }
  std::string err = test::onnx_check(**m);
  if (!err.empty()) {
    FAIL_CHECK("ONNX checker: " << err);
    return;
  }
  if (!run) return;
  REQUIRE(fs::exists(dir / "test_data_set_0"));
  auto* ort = test::ort_or_skip();
  if (!ort) return;
  onnx::ModelProto proto = to_proto_inline(**m);
  auto inputs = test::bind_inputs(proto, test::load_test_data_set((dir / "test_data_set_0").string()));
  auto want = test::load_test_data_set((dir / "test_data_set_0").string(), "output_");
  auto r = ort->run_model(proto, inputs);
  if ((*m)->opset("ai.onnx.preview.training") != 0) {
    INFO("ONNX Runtime's CPU build has no ai.onnx.preview.training Gradient op: it must refuse the model");
    CHECK_FALSE(r.ok);
    return;
  }
  if (!r.ok) {
    FAIL_CHECK("ONNX Runtime rejects the converted model: " << r.error);
    return;
  }
  CHECK(r->outputs.size() == want.size());
  for (size_t i = 0; i < std::min(want.size(), r->outputs.size()); ++i) {
    std::string why;
    bool same = close_enough(want[i], r->outputs[i], &why);
    INFO("output " << i << ": " << why);
    CHECK(same);
  }
}

}  // namespace

TEST_CASE("opset: the PaddleOCR models convert to 13, 17 and 21 and still compute the same", "[opset][corpus]") {
  for (const char* name : {"ppocr_cls_v2", "ppocr_det_v4"}) {
    auto dir = test::corpus_case_or_skip(std::string("models/") + name);
    if (!dir) continue;
    for (int64_t to : {13, 17, 21}) convert_corpus_case(*dir, to, true);
  }
}

TEST_CASE("opset: the opset-13/14 corpus models move to 17 and 21 unchanged in meaning", "[opset][corpus]") {
  for (const char* name : {"digits_cnn", "mobilenet_v2", "resnet18", "tiny_bert"}) {
    auto dir = test::corpus_case_or_skip(std::string("models/") + name);
    if (!dir) continue;
    for (int64_t to : {17, 21}) convert_corpus_case(*dir, to, true);
  }
}

TEST_CASE("opset: the cls model's Softmax (opset 9) converts without static shapes", "[opset][corpus]") {
  auto dir = test::corpus_case_or_skip("models/ppocr_cls_v2");
  if (!dir) return;
  auto m = load_model((*dir / "model.onnx").string());
  REQUIRE(m);
  OpsetConvertStats st;
  REQUIRE(convert_opset(**m, 13, &st));
  CHECK(has_change(st, "Softmax"));
  CHECK(has_change(st, "Clip"));
  CHECK((*m)->ir_version >= 7);
}

TEST_CASE("opset: every onnx-backend model converts to 13 (and runs like before in ONNX Runtime)",
          "[opset][corpus]") {
  auto backend = test::corpus_case_or_skip("onnx-backend");
  if (!backend) return;
  size_t count = 0;
  std::vector<fs::path> cases;
  for (auto& suite : fs::directory_iterator(*backend))
    if (suite.is_directory())
      for (auto& c : fs::directory_iterator(suite.path()))
        if (fs::exists(c.path() / "model.onnx")) cases.push_back(c.path());
  std::sort(cases.begin(), cases.end());
  for (auto& dir : cases) {
    bool run = test::ort_host_can_run_case(dir.filename().string());
    convert_corpus_case(dir, 13, run);
    ++count;
  }
  test::skip_if_no_corpus_case(count, backend->string());
  if (count) CHECK(count >= 140);
}
