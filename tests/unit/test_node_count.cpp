// count_work_nodes: the node count the fusion benchmark compares with ONNX
// Runtime (nodes that depend on a graph input, plus their subgraphs' nodes).
#include <catch2/catch.hpp>

#include "analysis/node_count.h"
#include "util/test_util.h"

using namespace effopt;

TEST_CASE("node count: weight-building nodes are not work; input-dependent ones are", "[node-count]") {
  // Counted by hand: ConstantOfShape and the Mul of weights depend on no input
  // (2 nodes); Add, Relu depend on x (2 nodes).
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] x) => (float[2] y)
  <int64[1] shape = {2}, float[2] scale = {3.0, 4.0}> {
  w0 = ConstantOfShape <value = float[1] {0.5}> (shape)
  w = Mul(w0, scale)
  a = Add(x, w)
  y = Relu(a)
}
)");
  NodeCount c = count_work_nodes(*m);
  CHECK(c.all_nodes == 4);
  CHECK(c.work_nodes == 2);
}

TEST_CASE("node count: an initializer listed as a graph input is a weight", "[node-count]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 3, opset_import: ["" : 9]>
g (float[2] x, float[2] w) => (float[2] y) <float[2] w = {1.0, 2.0}> {
  w2 = Neg(w)
  y = Add(x, w2)
}
)");
  NodeCount c = count_work_nodes(*m);
  CHECK(c.all_nodes == 2);
  CHECK(c.work_nodes == 1);
}

TEST_CASE("node count: subgraph nodes of a counted node count, Constant nodes included", "[node-count]") {
  // The If's condition is a constant; it reads x inside its branches only (an
  // outer-scope reference), so it depends on the input: 1 (If) + 2 (then:
  // Constant, Add) + 1 (else: Neg). The condition's Constant is not work.
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] x) => (float[2] y) {
  c = Constant <value = bool {1}> ()
  y = If (c) <
    then_branch = t () => (float[2] ty) {
      one = Constant <value = float[2] {1.0, 1.0}> ()
      ty = Add(x, one)
    },
    else_branch = e () => (float[2] ey) {
      ey = Neg(x)
    }
  >
}
)");
  NodeCount c = count_work_nodes(*m);
  CHECK(c.all_nodes == 5);
  CHECK(c.work_nodes == 4);
}
