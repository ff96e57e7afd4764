// The cleanup passes (passes/fold_constants.cpp ... eliminate_common_subexpressions.cpp)
// on small ONNX-text graphs: where each must fire and where it must not; the
// verifier after every pass; outputs before == after on the executor.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "exec/executor.h"
#include "ir/constants.h"
#include "ir/verifier.h"
#include "pass/pass.h"
#include "util/test_util.h"

using namespace effopt;
using exec::TensorValue;

namespace {

TensorValue F(std::vector<int64_t> dims, std::vector<float> v) {
  return TensorValue::from_vector(DataType::Float, std::move(dims), v);
}

using Inputs = std::vector<std::pair<std::string, TensorValue>>;

std::vector<TensorValue> run_exec(const Model& m, const Inputs& in) {
  auto s = exec::Session::create(m);
  if (!s) FAIL("executor: " << s.error().message);
  auto r = (*s)->run(in);
  if (!r) FAIL("executor run: " << r.error().message);
  std::vector<TensorValue> out;  // copies: outputs may view the model's constants
  for (auto& t : *r) out.push_back(TensorValue::from_bytes(t.dtype(), t.dims(), {t.raw(), t.byte_size()}));
  return out;
}

pass::PassResult apply(Model& m, const std::string& name) {
  auto r = pass::apply_pass(name, m);
  if (!r) FAIL(name << ": " << r.error().message);
  auto v = verify(m);
  if (!v) FAIL(name << " left an invalid model: " << v.error().message);
  return *r;
}

// Applies `name`, checks the verifier and that outputs stay bit-identical.
pass::PassResult apply_checked(Model& m, const std::string& name, const Inputs& in) {
  auto before = run_exec(m, in);
  auto r = apply(m, name);
  auto after = run_exec(m, in);
  REQUIRE(before.size() == after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    INFO("output " << i);
    REQUIRE(before[i].dtype() == after[i].dtype());
    REQUIRE(before[i].dims() == after[i].dims());
    REQUIRE(before[i].byte_size() == after[i].byte_size());
    CHECK(std::memcmp(before[i].raw(), after[i].raw(), before[i].byte_size()) == 0);
  }
  return r;
}

size_t count_op(const Model& m, const std::string& op) {
  size_t n = 0;
  for_each_graph(*m.graph, [&](Graph& g) {
    for (auto& node : g.nodes()) n += node->op_type == op;
  });
  return n;
}

std::string notes(const pass::PassResult& r) {
  std::string s;
  for (auto& n : r.notes) s += n + "\n";
  return s;
}

}  // namespace

// ---------------------------------------------------------------- hoist-constants

TEST_CASE("hoist-constants: Constant nodes become initializers with the same names", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) {
  W = Constant<value = float[2] {1, 2}>()
  K = Constant<value_float = 3.0>()
  A = Mul(X, W)
  Y = Add(A, K)
}
)");
  auto r = apply_checked(*m, "hoist-constants", {{"X", F({2}, {1, -1})}});
  CHECK(r.changed);
  CHECK(r.counter("constants-hoisted") == 2);
  CHECK(count_op(*m, "Constant") == 0);
  REQUIRE(m->graph->find("W")->initializer);
  CHECK(m->graph->find("K")->initializer->dims.empty());
  CHECK(!apply(*m, "hoist-constants").changed);
}

TEST_CASE("hoist-constants: a Constant inside an If branch becomes that branch's initializer", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool C, float[2] X) => (float[2] Y) {
  Y = If(C) <then_branch = t () => (float[2] TY) { K = Constant<value = float[2] {1, 2}>() TY = Add(X, K) },
             else_branch = e () => (float[2] EY) { EY = Neg(X) }>
}
)");
  auto r = apply(*m, "hoist-constants");
  CHECK(r.counter("constants-hoisted") == 1);
  Graph* then_g = m->graph->nodes()[0]->attr("then_branch")->g.get();
  REQUIRE(then_g->find_local("K"));
  CHECK(then_g->find_local("K")->initializer);
  CHECK(m->graph->initializers().empty());
}

TEST_CASE("hoist-constants: a Constant that is a graph output stays", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y, float[2] W) {
  W = Constant<value = float[2] {1, 2}>()
  Y = Mul(X, W)
}
)");
  auto r = apply(*m, "hoist-constants");
  CHECK(!r.changed);
  CHECK(count_op(*m, "Constant") == 1);
  INFO(notes(r));
  CHECK(notes(r).find("graph output") != std::string::npos);
}

// ---------------------------------------------------------------- eliminate-dead-code

TEST_CASE("eliminate-dead-code: unused chains and initializers go, graph outputs stay", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) <float[2] U = {1, 2}, float[2] V = {3, 4}> {
  A = Relu(X)
  B = Add(A, U)
  Y = Mul(X, V)
}
)");
  auto r = apply_checked(*m, "eliminate-dead-code", {{"X", F({2}, {1, -1})}});
  CHECK(r.counter("nodes-removed") == 2);
  CHECK(r.counter("initializers-removed") == 1);
  CHECK(m->graph->nodes().size() == 1);
  CHECK(!m->graph->find("U"));
  CHECK(m->graph->find("V"));
  CHECK(!apply(*m, "eliminate-dead-code").changed);
}

TEST_CASE("eliminate-dead-code: a value read only inside an If branch is used", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool C, float[2] X) => (float[2] Y) <float[2] W = {1, 2}> {
  A = Relu(X)
  Y = If(C) <then_branch = t () => (float[2] TY) { TY = Add(A, W) },
             else_branch = e () => (float[2] EY) { EY = Neg(X) }>
}
)");
  auto r = apply(*m, "eliminate-dead-code");
  CHECK(!r.changed);
  CHECK(m->graph->nodes().size() == 2);
  CHECK(m->graph->find("W"));
}

TEST_CASE("eliminate-dead-code: an unused If goes together with its outer-scope reads", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool C, float[2] X) => (float[2] Y) <float[2] W = {1, 2}> {
  A = Relu(X)
  Z = If(C) <then_branch = t () => (float[2] TY) { TY = Add(A, W) },
             else_branch = e () => (float[2] EY) { EY = Neg(X) }>
  Y = Sigmoid(X)
}
)");
  auto r = apply(*m, "eliminate-dead-code");
  CHECK(r.counter("nodes-removed") == 2);  // If, then Relu
  CHECK(r.counter("initializers-removed") == 1);
  CHECK(m->graph->nodes().size() == 1);
  CHECK(m->graph->find("X")->uses().size() == 1);
}

TEST_CASE("eliminate-dead-code: custom-domain nodes are kept", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13, "com.example" : 1]>
g (float[2] X) => (float[2] Y) {
  A = com.example.Log(X)
  Y = Relu(X)
}
)");
  auto r = apply(*m, "eliminate-dead-code");
  CHECK(!r.changed);
  CHECK(m->graph->nodes().size() == 2);
}

TEST_CASE("eliminate-dead-code: IR 3 initializer inputs are detached, IR 4+ ones stay", "[pass]") {
  const char* text = R"(
<ir_version: %d, opset_import: ["" : 9]>
g (float[2] X, float[2] W, float[2] U) => (float[2] Y) <float[2] W = {1, 2}, float[2] U = {5, 6}> {
  Y = Mul(X, W)
}
)";
  char buf[512];
  std::snprintf(buf, sizeof buf, text, 3);
  auto old_ir = test::parse_or_fail(buf);
  auto r = apply_checked(*old_ir, "eliminate-dead-code", {{"X", F({2}, {1, -1})}});
  CHECK(r.counter("initializer-inputs-detached") == 2);
  CHECK(r.counter("initializers-removed") == 1);
  CHECK(old_ir->graph->inputs().size() == 1);
  std::snprintf(buf, sizeof buf, text, 7);
  auto new_ir = test::parse_or_fail(buf);
  auto r2 = apply(*new_ir, "eliminate-dead-code");
  CHECK(!r2.changed);  // overridable defaults: part of the model's interface
  CHECK(new_ir->graph->inputs().size() == 3);
}

// ---------------------------------------------------------------- eliminate-identity

TEST_CASE("eliminate-identity: Identity goes, readers read its input", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) {
  A = Relu(X)
  B = Identity(A)
  Y = Neg(B)
}
)");
  auto r = apply_checked(*m, "eliminate-identity", {{"X", F({2}, {1, -1})}});
  CHECK(r.counter("identities-removed") == 1);
  CHECK(count_op(*m, "Identity") == 0);
  CHECK(m->graph->find("Y")->producer()->input(0)->name() == "A");
}

TEST_CASE("eliminate-identity: an Identity writing a graph output keeps the output's name", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y, float[2] Z) {
  A = Relu(X)
  Y = Identity(A)
  Z = Neg(A)
}
)");
  auto r = apply_checked(*m, "eliminate-identity", {{"X", F({2}, {1, -1})}});
  CHECK(r.changed);
  CHECK(count_op(*m, "Identity") == 0);
  REQUIRE(m->graph->outputs()[0]->name() == "Y");
  REQUIRE(m->graph->find("Y")->producer());
  CHECK(m->graph->find("Y")->producer()->op_type == "Relu");
  CHECK(m->graph->find("Z")->producer()->input(0)->name() == "Y");
}

TEST_CASE("eliminate-identity: Identity from a graph input to a graph output stays", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) { Y = Identity(X) }
)");
  auto r = apply(*m, "eliminate-identity");
  CHECK(!r.changed);
  CHECK(count_op(*m, "Identity") == 1);
  CHECK(!r.notes.empty());
}

TEST_CASE("eliminate-identity: inference Dropout goes, training Dropout and used masks stay", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X, bool T) => (float[2] Y, float[2] Z, bool[2] M, float[2] W) {
  A = Dropout(X)
  Y = Relu(A)
  f = Constant<value = bool {0}>()
  r = Constant<value = float {0.5}>()
  B = Dropout(X, r, f)
  Z = Relu(B)
  C, M = Dropout(X)
  D = Dropout(X, r, T)
  W = Relu(D)
}
)");
  auto r = apply(*m, "eliminate-identity");
  INFO(notes(r));
  CHECK(r.counter("dropouts-removed") == 2);
  CHECK(count_op(*m, "Dropout") == 2);
  CHECK(notes(r).find("mask output is used") != std::string::npos);
  CHECK(notes(r).find("training_mode is not a constant") != std::string::npos);
}

TEST_CASE("eliminate-identity: Dropout with training_mode true stays", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) {
  t = Constant<value = bool {1}>()
  r = Constant<value = float {0.5}>()
  A = Dropout(X, r, t)
  Y = Relu(A)
}
)");
  auto r = apply(*m, "eliminate-identity");
  CHECK(!r.changed);
  CHECK(notes(r).find("training_mode is true") != std::string::npos);
}

// ---------------------------------------------------------------- fold-constants

TEST_CASE("fold-constants: a constant chain folds into initializers; numerics unchanged", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] X) => (float[2,3] Y) <float[3] B = {1, 2, 3}> {
  S = Constant<value = int64[2] {2, 3}>()
  Z = ConstantOfShape<value = float[1] {0.5}>(S)
  E = Add(Z, B)
  N = Neg(E)
  Y = Mul(X, N)
}
)");
  auto r = apply_checked(*m, "fold-constants", {{"X", F({2, 3}, {1, 2, 3, 4, 5, 6})}});
  CHECK(r.counter("tensors-folded") == 3);
  CHECK(r.counter("bytes-folded") == 3 * 24);
  REQUIRE(m->graph->find("N")->initializer);
  auto v = m->graph->find("N")->initializer->as<float>();
  CHECK(std::vector<float>(v.begin(), v.end()) == std::vector<float>{-1.5f, -2.5f, -3.5f, -1.5f, -2.5f, -3.5f});
  CHECK(m->graph->nodes().size() == 2);  // Constant S (dead now) and Mul
  CHECK(!apply(*m, "fold-constants").changed);
}

TEST_CASE("fold-constants: outputs over max-bytes are not materialized", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1000,1000] X) => (float[1000,1000] Y) {
  S = Constant<value = int64[2] {1000, 1000}>()
  Z = ConstantOfShape<value = float[1] {1}>(S)
  Y = Mul(X, Z)
}
)");
  auto r = apply(*m, "fold-constants");  // 4 MB > 1 MiB default
  CHECK(!r.changed);
  CHECK(r.counter("folds-skipped-size") == 1);
  CHECK(count_op(*m, "ConstantOfShape") == 1);
  const pass::PassInfo* info = pass::PassRegistry::global().find("fold-constants");
  pass::PassOptions opts(&info->options);
  REQUIRE(opts.set("max-bytes", "4000000"));
  auto r2 = pass::apply_pass(*info, *m, opts);
  REQUIRE(r2);
  CHECK(r2->counter("tensors-folded") == 1);
  CHECK(count_op(*m, "ConstantOfShape") == 0);
}

TEST_CASE("fold-constants: a huge Expand is refused before it is computed", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1] X) => (float[100000,100000] Y) <float[1] C = {1}, int64[2] S = {100000, 100000}> {
  E = Expand(C, S)
  Y = Mul(X, E)
}
)");
  auto r = apply(*m, "fold-constants");
  CHECK(!r.changed);
  CHECK(r.counter("folds-skipped-size") == 1);
}

TEST_CASE("fold-constants: QuantizeLinear and DequantizeLinear are never folded", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) <float[2] W = {1, 2}, float s = {0.1}, uint8 z = {0}> {
  Q = QuantizeLinear(W, s, z)
  D = DequantizeLinear(Q, s, z)
  Y = Mul(X, D)
}
)");
  auto r = apply(*m, "fold-constants");
  CHECK(!r.changed);
  CHECK(count_op(*m, "QuantizeLinear") == 1);
  CHECK(count_op(*m, "DequantizeLinear") == 1);
}

TEST_CASE("fold-constants: overridable initializers (IR >= 4 graph inputs) are not constants", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X, float[2] W) => (float[2] Y) <float[2] W = {1, 2}> {
  N = Neg(W)
  Y = Mul(X, N)
}
)");
  auto r = apply(*m, "fold-constants");
  CHECK(!r.changed);
}

TEST_CASE("fold-constants: ops the executor cannot run are skipped with a note", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13, "com.example" : 1]>
g (float[2] X) => (float[2] Y) <float[2] W = {1, 2}> {
  N = com.example.Mystery(W)
  Y = Mul(X, N)
}
)");
  auto r = apply(*m, "fold-constants");
  CHECK(!r.changed);
  REQUIRE(r.notes.size() == 1);
  CHECK(r.notes[0].find("Mystery") != std::string::npos);
}

TEST_CASE("fold-constants: a node writing a graph output is not folded", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y, float[2] N) <float[2] W = {1, 2}> {
  N = Neg(W)
  Y = Mul(X, N)
}
)");
  auto r = apply(*m, "fold-constants");
  CHECK(!r.changed);
  CHECK(notes(r).find("graph output") != std::string::npos);
}
