// fuse-consecutive-transposes: Transpose pairs compose, or vanish when the
// composition is the identity.
#include "fusion_test_util.h"

using namespace effopt;
using namespace effopt::test::fusion;

TEST_CASE("fuse-consecutive-transposes composes the perms", "[pass]") {
  auto m = check_fires("fuse-consecutive-transposes", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3,4] x) => (float[3,2,4] y) {
  t = Transpose<perm = [1, 2, 0]>(x)
  y = Transpose<perm = [0, 2, 1]>(t)
}
)");
  REQUIRE(count_ops(*m, "Transpose") == 1);
  // t has axes (3, 4, 2) = x axes (1, 2, 0); y takes t axes (0, 2, 1) = x axes (1, 0, 2).
  CHECK(m->graph->nodes().back()->attr_ints("perm") == std::vector<int64_t>{1, 0, 2});
}

TEST_CASE("fuse-consecutive-transposes drops an identity composition", "[pass]") {
  auto m = check_fires("fuse-consecutive-transposes", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3,4] x) => (float[2,3,4] z) {
  t = Transpose<perm = [1, 2, 0]>(x)
  y = Transpose<perm = [2, 0, 1]>(t)
  z = Relu(y)
}
)");
  CHECK(count_ops(*m, "Transpose") == 0);
  CHECK(m->graph->nodes().size() == 1);
}

TEST_CASE("fuse-consecutive-transposes keeps a graph output's name with an Identity", "[pass]") {
  auto m = check_fires("fuse-consecutive-transposes", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] x) => (float[2,3] y) {
  t = Transpose(x)
  y = Transpose(t)
}
)");
  CHECK(count_ops(*m, "Transpose") == 0);
  CHECK(count_ops(*m, "Identity") == 1);
}

TEST_CASE("fuse-consecutive-transposes leaves a first Transpose with another consumer", "[pass]") {
  check_no_fire("fuse-consecutive-transposes", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3,4] x) => (float[3,2,4] y, float[3,4,2] r) {
  t = Transpose<perm = [1, 2, 0]>(x)
  y = Transpose<perm = [0, 2, 1]>(t)
  r = Relu(t)
}
)");
}

TEST_CASE("fuse-consecutive-transposes leaves default perms of unknown rank", "[pass]") {
  // u's type is not inferred here, so the rank that spells out the default perms is unknown.
  check_no_fire("fuse-consecutive-transposes", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] x) => (float[2,3] y) {
  u = Relu(x)
  t = Transpose(u)
  y = Transpose(t)
}
)");
}

TEST_CASE("fuse-consecutive-transposes works inside an If branch", "[pass]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[2,3] x) => (float[2,3] y) {
  y = If(c) <then_branch = g1 () => (float[2,3] a) {
    t = Transpose(x)
    a = Transpose(t)
  }, else_branch = g2 () => (float[2,3] b) {
    b = Identity(x)
  }>
}
)");
  auto r = apply("fuse-consecutive-transposes", *m);
  CHECK(r.counter("fused") == 1);
  const Graph* then_branch = m->graph->nodes()[0]->subgraphs()[0];
  REQUIRE(then_branch->nodes().size() == 1);
  CHECK(then_branch->nodes()[0]->op_type == "Identity");  // `a` is the branch's output: its name stays
  CHECK(then_branch->outputs()[0]->name() == "a");
}
