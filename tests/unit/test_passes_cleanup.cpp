// The cleanup passes (passes/fold-constants.cpp ... eliminate-common-subexpressions.cpp)
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

// Every node runs as written (internal_rewrites off), so a pass is never checked against the executor's own
// rewrite of the same pattern.
std::vector<TensorValue> run_exec(const Model& m, const Inputs& in) {
  exec::RunOptions as_written;
  as_written.internal_rewrites = false;
  auto s = exec::Session::create(m, as_written);
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
  CHECK(old_ir->ir_version == 4);  // IR 3 requires initializers to be inputs
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
  CHECK(r.counter("nodes-folded") == 3);
  // Only the chain's final result is stored: Z and E feed nothing but the chain.
  CHECK(r.counter("tensors-folded") == 1);
  CHECK(r.counter("bytes-folded") == 24);
  CHECK(!m->graph->find("Z"));
  CHECK(!m->graph->find("E"));
  REQUIRE(m->graph->find("N")->initializer);
  auto v = m->graph->find("N")->initializer->as<float>();
  CHECK(std::vector<float>(v.begin(), v.end()) == std::vector<float>{-1.5f, -2.5f, -3.5f, -1.5f, -2.5f, -3.5f});
  CHECK(m->graph->nodes().size() == 1);  // Mul: Constant S and B fed only the folded chain
  CHECK(!m->graph->find("B"));
  CHECK(r.counter("constants-removed") == 2);
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
  // Within max-bytes now, but the 4 MB tensor would grow the model.
  auto r2 = pass::apply_pass(*info, *m, opts);
  REQUIRE(r2);
  CHECK(!r2->changed);
  CHECK(r2->counter("folds-skipped-growth") == 1);
  CHECK(count_op(*m, "ConstantOfShape") == 1);
  REQUIRE(opts.set("max-growth-bytes", "5000000"));
  auto r3 = pass::apply_pass(*info, *m, opts);
  REQUIRE(r3);
  CHECK(r3->counter("tensors-folded") == 1);
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

// ---------------------------------------------------------------- eliminate-noop

TEST_CASE("eliminate-noop: identity Transpose, same-shape Reshape, same-type Cast, x*1, x+0 go", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] X) => (float[2,3] Y) <int64[2] S = {2, 3}, float[1] one = {1}, float[3] zero = {0, 0, 0}, int64[2] Z = {0, -1}> {
  A = Transpose<perm = [0, 1]>(X)
  B = Reshape(A, S)
  C = Cast<to = 1>(B)
  D = Mul(C, one)
  E = Add(zero, D)
  F = Reshape(E, Z)
  P = Relu(F)
  Y = Neg(P)
}
)");
  auto r = apply_checked(*m, "eliminate-noop", {{"X", F({2, 3}, {1, -2, 3, -4, 5, -6})}});
  INFO(notes(r));
  CHECK(r.counter("nodes-removed") == 6);
  CHECK(m->graph->nodes().size() == 2);
  CHECK(m->graph->find("P")->producer()->input(0)->name() == "X");
}

TEST_CASE("eliminate-noop: nothing fires where shapes or dtypes do not prove it", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,3] X, float[2,1] W, int32[2,3] I) => (float[N,3] Y, float[2,3] V, float[2,3] U, float[6] Q, int32[2,3] J) <float[3] one3 = {1, 1, 1}, float[2,3] one23 = {1, 1, 1, 1, 1, 1}, int64[2] S = {2, 3}, int64[2] S3 = {-1, 3}, int64[1] S6 = {6}, float[1] half = {0.5}> {
  A = Mul(X, one3)
  B = Reshape(A, S3)
  Y = Relu(B)
  V = Mul(W, one23)
  U = Expand(W, S)
  Q = Reshape(one23, S6)
  J = Cast<to = 6>(I)
}
)");
  // Mul(X, one3) keeps the shape (3 broadcasts onto [N,3]) and goes; Reshape(A, {-1, 3}) with N
  // symbolic goes too (the -1 is forced: the other dim is known). V's Mul broadcasts [2,1] to [2,3]
  // and U's Expand grows W: both stay; Q's Reshape changes the shape; J's Cast is int32 -> int32: a no-op.
  auto r = apply(*m, "eliminate-noop");
  INFO(notes(r));
  CHECK(r.counter("removed-Mul") == 1);
  CHECK(r.counter("removed-Reshape") == 1);
  CHECK(r.counter("removed-Expand") == 0);
  CHECK(r.counter("removed-Cast") == 0);  // J is a graph output fed by a graph input: kept
  CHECK(count_op(*m, "Mul") == 1);
  CHECK(count_op(*m, "Expand") == 1);
}

TEST_CASE("eliminate-noop: Reshape with allowzero = 1 and a 0 entry is not a no-op", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 14]>
g (float[2,3] X) => (float[0,3] Y) <int64[2] S = {0, 3}> {
  A = Relu(X)
  Y = Reshape<allowzero = 1>(A, S)
}
)");
  auto r = apply(*m, "eliminate-noop");
  CHECK(!r.changed);
}

TEST_CASE("eliminate-noop: zero Pad, full Slice, single-input Concat go; mismatched dtypes stay", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,4] X) => (float[N,4] Y) <int64[4] P = {0, 0, 0, 0}, int64[2] st = {0, 0}, int64[2] en = {9223372036854775807, 4}, double[1] dz = {0}> {
  A = Pad(X, P)
  B = Slice(A, st, en)
  C = Concat<axis = 1>(B)
  Y = Relu(C)
}
)");
  auto r = apply_checked(*m, "eliminate-noop", {{"X", F({2, 4}, {1, -2, 3, -4, 5, -6, 7, -8})}});
  CHECK(r.counter("nodes-removed") == 3);
  CHECK(m->graph->nodes().size() == 1);
}

// ---------------------------------------------------------------- fold-shapes

TEST_CASE("fold-shapes: a Reshape target built from static dims becomes a constant", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,4,2,2] X) => (float[N,16] Y) <int64 one = {1}, int64[1] zero = {0}, int64[1] m1 = {-1}, int64[1] sq = {4}> {
  s = Shape(X)
  c = Gather<axis = 0>(s, one)
  u = Unsqueeze(c, zero)
  k = Mul(u, sq)
  t = Concat<axis = 0>(m1, k)
  Y = Reshape(X, t)
}
)");
  std::vector<float> x(32);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) - 10;
  auto r = apply_checked(*m, "fold-shapes", {{"X", F({2, 4, 2, 2}, x)}});
  INFO(notes(r));
  CHECK(r.counter("shape-picks-folded") == 1);
  REQUIRE(m->graph->find("t"));
  TensorPtr t = constant_tensor(m->graph->find("t"));
  REQUIRE(t);
  auto v = t->as<int64_t>();
  CHECK(std::vector<int64_t>(v.begin(), v.end()) == std::vector<int64_t>{-1, 16});
  CHECK(count_op(*m, "Shape") == 0);
  CHECK(m->graph->nodes().size() == 1);
}

TEST_CASE("fold-shapes: Shape and Size of static tensors fold, symbolic dims do not", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,3] X, float[2,3] W) => (int64[2] A, int64 B) {
  s = Shape(X)
  A = Identity(s)
  z = Size(W)
  B = Identity(z)
}
)");
  auto r = apply(*m, "fold-shapes");
  CHECK(r.counter("sizes-folded") == 1);
  CHECK(r.counter("shapes-folded") == 0);
  CHECK(count_op(*m, "Shape") == 1);
  TensorPtr z = constant_tensor(m->graph->find("z"));
  REQUIRE(z);
  CHECK(z->as<int64_t>()[0] == 6);
}

// ---------------------------------------------------------------- fuse-reshape-chain

TEST_CASE("fuse-reshape-chain: Shape -> Gather -> Unsqueeze -> Concat -> Reshape becomes {0, -1}", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,C,4] X) => (float[N,?] Y) <int64 i0 = {0}, int64[1] ax = {0}, int64[1] m1 = {-1}> {
  s = Shape(X)
  d = Gather<axis = 0>(s, i0)
  u = Unsqueeze(d, ax)
  t = Concat<axis = 0>(u, m1)
  Y = Reshape(X, t)
}
)");
  std::vector<float> x(24);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  auto r = apply_checked(*m, "fuse-reshape-chain", {{"X", F({2, 3, 4}, x)}});
  CHECK(r.counter("reshapes-fused") == 1);
  CHECK(r.counter("nodes-removed") == 4);
  REQUIRE(m->graph->nodes().size() == 1);
  TensorPtr t = constant_tensor(m->graph->nodes()[0]->input(1));
  REQUIRE(t);
  auto v = t->as<int64_t>();
  CHECK(std::vector<int64_t>(v.begin(), v.end()) == std::vector<int64_t>{0, -1});
}

TEST_CASE("fuse-reshape-chain: PaddleOCR's Shape -> Cast -> Slice -> Cast -> Concat chain", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,C,H,W] X) => (float[N,C,?] Y) <int64[1] st = {0}, int64[1] en = {2}, int64[1] m1 = {-1}> {
  s = Shape(X)
  c = Cast<to = 6>(s)
  sl = Slice(c, st, en)
  c2 = Cast<to = 7>(sl)
  t = Concat<axis = 0>(c2, m1)
  Y = Reshape(X, t)
}
)");
  std::vector<float> x(2 * 3 * 2 * 2);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) * 0.5f;
  auto r = apply_checked(*m, "fuse-reshape-chain", {{"X", F({2, 3, 2, 2}, x)}});
  CHECK(r.counter("reshapes-fused") == 1);
  REQUIRE(m->graph->nodes().size() == 1);
  auto v = constant_tensor(m->graph->nodes()[0]->input(1))->as<int64_t>();
  CHECK(std::vector<int64_t>(v.begin(), v.end()) == std::vector<int64_t>{0, 0, -1});
}

TEST_CASE("fuse-reshape-chain: a dim moved to another position, allowzero = 1, or two unknowns: no fusion", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 14]>
g (float[N,C] X, int64[1] K, int64[1] L) => (float[?,?] Y, float[?,?] Z, float[?,?,?] V) <int64 i0 = {0}, int64[1] ax = {0}, int64[1] m1 = {-1}> {
  s = Shape(X)
  d = Gather<axis = 0>(s, i0)
  u = Unsqueeze(d, ax)
  t = Concat<axis = 0>(m1, u)
  Y = Reshape(X, t)
  t2 = Concat<axis = 0>(u, m1)
  Z = Reshape<allowzero = 1>(X, t2)
  t3 = Concat<axis = 0>(u, K, L)
  V = Reshape(X, t3)
}
)");
  auto r = apply(*m, "fuse-reshape-chain");
  INFO(notes(r));
  CHECK(!r.changed);
  CHECK(notes(r).find("moves to position") != std::string::npos);
  CHECK(notes(r).find("allowzero") != std::string::npos);
  CHECK(notes(r).find("more than one") != std::string::npos);
}

// ---------------------------------------------------------------- dedup-initializers

TEST_CASE("dedup-initializers: identical initializers and Constants merge; graph inputs and other dtypes stay", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X, float[2] G) => (float[2] Y) <float[2] A = {1, 2}, float[2] B = {1, 2}, double[2] D = {1, 2}, float[2] G = {1, 2}, float[1,2] R = {1, 2}> {
  C = Constant<value = float[2] {1, 2}>()
  a = Add(X, A)
  b = Mul(a, B)
  c = Sub(b, C)
  g = Add(c, G)
  r = Add(g, R)
  dd = Cast<to = 1>(D)
  Y = Add(r, dd)
}
)");
  auto r = apply_checked(*m, "dedup-initializers", {{"X", F({2}, {1, -1})}});  // G: its default
  CHECK(r.counter("initializers-merged") == 1);
  CHECK(r.counter("constants-merged") == 1);
  CHECK(!m->graph->find("B"));
  CHECK(m->graph->find("G"));  // a graph input (overridable): kept
  CHECK(m->graph->find("R"));  // other dims
  CHECK(m->graph->find("D"));  // other dtype
  CHECK(count_op(*m, "Constant") == 0);
}

// ---------------------------------------------------------------- eliminate-common-subexpressions

TEST_CASE("eliminate-common-subexpressions: duplicated chains merge", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] X) => (float[2,3] Y) {
  a = Relu(X)
  b = Relu(X)
  c = Softmax<axis = 1>(a)
  d = Softmax<axis = 1>(b)
  e = Softmax<axis = 0>(b)
  f = Add(c, d)
  Y = Add(f, e)
}
)");
  auto r = apply_checked(*m, "eliminate-common-subexpressions", {{"X", F({2, 3}, {1, 2, 3, 4, 5, 6})}});
  CHECK(r.counter("nodes-merged") == 2);
  CHECK(count_op(*m, "Relu") == 1);
  CHECK(count_op(*m, "Softmax") == 2);
}

TEST_CASE("eliminate-common-subexpressions: random ops and graph outputs are never merged", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y, float[2] A, float[2] B) {
  r1 = RandomUniformLike(X)
  r2 = RandomUniformLike(X)
  Y = Add(r1, r2)
  A = Relu(X)
  B = Relu(X)
}
)");
  auto r = apply(*m, "eliminate-common-subexpressions");
  CHECK(!r.changed);
  CHECK(count_op(*m, "RandomUniformLike") == 2);
  CHECK(count_op(*m, "Relu") == 2);
  CHECK(notes(r).find("graph output") != std::string::npos);
}

TEST_CASE("eliminate-common-subexpressions: nodes in different If branches are not merged", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool C, float[2] X) => (float[2] Y) {
  Y = If(C) <then_branch = t () => (float[2] TY) { a = Relu(X) b = Relu(X) TY = Add(a, b) },
             else_branch = e () => (float[2] EY) { EY = Relu(X) }>
}
)");
  auto r = apply(*m, "eliminate-common-subexpressions");
  CHECK(r.counter("nodes-merged") == 1);  // a and b inside then_branch
  CHECK(count_op(*m, "Relu") == 2);
}

// ---------------------------------------------------------------- subgraphs, outputs, determinism

TEST_CASE("fold-constants: a node inside an If branch reading outer constants folds into the main graph", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool C, float[2] X) => (float[2] Y) <float[2] W = {1, 2}, float[2] V = {3, 4}> {
  Y = If(C) <then_branch = t () => (float[2] TY) { N = Neg(W) TY = Add(X, N) },
             else_branch = e () => (float[2] EY) { EY = Mul(X, V) }>
}
)");
  auto r = apply_checked(*m, "fold-constants", {{"C", TensorValue::from_vector(DataType::Bool, {}, std::vector<uint8_t>{1})},
                                                {"X", F({2}, {5, 7})}});
  CHECK(r.counter("tensors-folded") == 1);
  Graph* then_g = m->graph->nodes()[0]->attr("then_branch")->g.get();
  CHECK(!then_g->find_local("N"));
  REQUIRE(m->graph->find_local("N"));  // stored where every branch can read it
  REQUIRE(m->graph->find_local("N")->initializer);
  auto v = m->graph->find_local("N")->initializer->as<float>();
  CHECK(std::vector<float>(v.begin(), v.end()) == std::vector<float>{-1, -2});
  CHECK(!m->graph->find("W"));  // only the folded Neg read it
}

TEST_CASE("fold-constants: a branch node whose input stays for other readers is kept (growth)", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool C, float[2] X) => (float[2] Y) <float[2] W = {1, 2}> {
  Y = If(C) <then_branch = t () => (float[2] TY) { N = Neg(W) TY = Add(X, N) },
             else_branch = e () => (float[2] EY) { EY = Mul(X, W) }>
}
)");
  auto r = apply(*m, "fold-constants");
  CHECK(!r.changed);  // N would be stored beside W, which the else branch still reads
  CHECK(r.counter("folds-skipped-growth") == 1);
  CHECK(notes(r).find("would grow the model") != std::string::npos);
  const pass::PassInfo* info = pass::PassRegistry::global().find("fold-constants");
  pass::PassOptions opts(&info->options);
  REQUIRE(opts.set("max-growth-bytes", "100"));
  auto r2 = pass::apply_pass(*info, *m, opts);
  REQUIRE(r2);
  CHECK(r2->counter("tensors-folded") == 1);
  REQUIRE(m->graph->find_local("N"));
  CHECK(m->graph->find("W")->uses().size() == 1);  // the else branch still reads W
}

TEST_CASE("eliminate-identity: an Identity from an outer value to a branch output stays", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool C, float[2] X) => (float[2] Y) {
  A = Relu(X)
  Y = If(C) <then_branch = t () => (float[2] TY) { TY = Identity(A) },
             else_branch = e () => (float[2] EY) { B = Identity(A) EY = Neg(B) }>
}
)");
  auto r = apply(*m, "eliminate-identity");
  CHECK(r.counter("identities-removed") == 1);  // B; TY must keep its producer
  CHECK(count_op(*m, "Identity") == 1);
}

TEST_CASE("eliminate-identity: Dropout opset 7 is an identity, opset 6 with is_test = 0 is not", "[pass]") {
  auto m7 = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 7]>
g (float[2] X) => (float[2] Y) { A = Dropout<ratio = 0.5>(X)  Y = Relu(A) }
)");
  CHECK(apply(*m7, "eliminate-identity").counter("dropouts-removed") == 1);
  auto m6 = test::parse_or_fail(R"(
<ir_version: 3, opset_import: ["" : 6]>
g (float[2] X) => (float[2] Y) { A = Dropout<is_test = 0>(X)  Y = Relu(A) }
)");
  auto r = apply(*m6, "eliminate-identity");
  CHECK(!r.changed);
  CHECK(notes(r).find("is_test = 0") != std::string::npos);
}

TEST_CASE("eliminate-noop: a no-op writing a graph output keeps the output's name", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] X) => (float[2,3] Y) {
  A = Sigmoid(X)
  Y = Transpose<perm = [0, 1]>(A)
}
)");
  auto r = apply_checked(*m, "eliminate-noop", {{"X", F({2, 3}, {1, 2, 3, 4, 5, 6})}});
  CHECK(r.counter("removed-Transpose") == 1);
  REQUIRE(m->graph->nodes().size() == 1);
  CHECK(m->graph->outputs()[0]->name() == "Y");
  CHECK(m->graph->outputs()[0]->producer()->op_type == "Sigmoid");
}

TEST_CASE("eliminate-common-subexpressions: readers inside subgraphs follow the merge", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool C, float[2] X) => (float[2] Y) {
  a = Relu(X)
  b = Relu(X)
  Y = If(C) <then_branch = t () => (float[2] TY) { TY = Neg(a) },
             else_branch = e () => (float[2] EY) { EY = Neg(b) }>
}
)");
  auto r = apply(*m, "eliminate-common-subexpressions");
  CHECK(r.counter("nodes-merged") == 1);
  CHECK(m->graph->find("a")->uses().size() == 2);
}

TEST_CASE("fold-constants: results do not depend on the thread count", "[pass]") {
  const char* text = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[8,8] X) => (float[8,8] Y) <float[8,16] A = {1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16}> {
  T = Transpose(A)
  M = MatMul(A, T)
  S = Softmax(M)
  Y = Add(X, S)
}
)";
  auto m1 = test::parse_or_fail(text), m2 = test::parse_or_fail(text);
  auto* info = pass::PassRegistry::global().find("fold-constants");
  pass::PassOptions opts(&info->options);
  REQUIRE(pass::apply_pass(*info, *m1, opts, 1));
  REQUIRE(pass::apply_pass(*info, *m2, opts, 2));
  TensorPtr a = m1->graph->find("S")->initializer, b = m2->graph->find("S")->initializer;
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(a->byte_size() == b->byte_size());
  CHECK(std::memcmp(a->bytes().data(), b->bytes().data(), a->byte_size()) == 0);
}

TEST_CASE("cleanup passes: function bodies stay valid (no initializers are created there)", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13, "local" : 1]>
g (float[2] X) => (float[2] Y) {
  Y = local.f(X)
}
<domain: "local", opset_import: ["" : 13]>
f (x) => (y) {
  k = Constant<value = float[2] {1, 2}>()
  n = Neg(k)
  i = Identity(x)
  unused = Relu(x)
  a = Add(i, n)
  y = Identity(a)
}
)");
  REQUIRE(m->functions.size() == 1);
  for (const char* name : {"hoist-constants", "fold-constants", "fold-shapes", "fuse-reshape-chain", "eliminate-identity",
                           "eliminate-noop", "dedup-initializers", "eliminate-common-subexpressions",
                           "eliminate-dead-code"}) {
    INFO(name);
    apply(*m, name);
    CHECK(m->functions[0].body->initializers().empty());
  }
  Graph& body = *m->functions[0].body;
  CHECK(body.outputs()[0]->name() == "y");
  size_t relus = 0;
  for (auto& n : body.nodes()) relus += n->op_type == "Relu";
  CHECK(relus == 0);  // dead code goes in function bodies too
}

TEST_CASE("fold-constants: a Gather's output size is predicted before it runs", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,2,2] X) => (float[2,2,2] Y) <float[2,2] D = {1, 2, 3, 4}, int64[2,2] I = {0, 1, 1, 0}> {
  G = Gather(D, I)
  Y = Add(X, G)
}
)");
  const pass::PassInfo* info = pass::PassRegistry::global().find("fold-constants");
  pass::PassOptions opts(&info->options);
  REQUIRE(opts.set("max-bytes", "16"));
  auto r = pass::apply_pass(*info, *m, opts);
  REQUIRE(r);
  CHECK(!r->changed);
  REQUIRE(r->notes.size() == 1);
  INFO(r->notes[0]);
  CHECK(r->notes[0].find("would take 32 bytes") != std::string::npos);
  REQUIRE(opts.set("max-bytes", "32"));
  auto r2 = pass::apply_pass(*info, *m, opts);
  REQUIRE(r2);
  CHECK(r2->counter("tensors-folded") == 1);
  REQUIRE(m->graph->find("G")->initializer);
  auto v = m->graph->find("G")->initializer->as<float>();
  CHECK(std::vector<float>(v.begin(), v.end()) == std::vector<float>{1, 2, 3, 4, 3, 4, 1, 2});
}

TEST_CASE("cleanup passes: a value an If branch returns directly is kept", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool C, float[2] X) => (float[2] Y) <float[2] W = {1, 2}, float[2] W2 = {1, 2}> {
  A = Relu(X)
  B = Identity(A)
  D = Relu(X)
  Y = If(C) <then_branch = t () => (float[2] B) { },
             else_branch = e () => (float[2] W2) { }>
  Z = Add(D, W)
}
)");
  REQUIRE(verify(*m));
  for (const char* name : {"eliminate-dead-code", "eliminate-identity", "eliminate-common-subexpressions",
                           "dedup-initializers", "eliminate-dead-code"}) {
    INFO(name);
    apply(*m, name);
  }
  Graph* then_g = m->graph->nodes().back()->attr("then_branch")->g.get();
  Graph* else_g = m->graph->nodes().back()->attr("else_branch")->g.get();
  REQUIRE(then_g->outputs()[0]->name() == "B");
  REQUIRE(then_g->outputs()[0]->producer());
  CHECK(then_g->outputs()[0]->producer()->op_type == "Relu");  // the Identity went, B kept its name
  CHECK(else_g->outputs()[0]->name() == "W2");
  CHECK(m->graph->find("W2"));
  CHECK(m->graph->nodes().size() == 2);  // Relu writing B, If (D and Z were dead)
}
