// fuse-transpose-into-gemm: 2-D Transposes feeding Gemm become transA/transB.
#include "fusion_test_util.h"

using namespace effopt;
using namespace effopt::test::fusion;

TEST_CASE("fuse-transpose-into-gemm absorbs Transposes on A and B", "[pass]") {
  auto m = check_fires("fuse-transpose-into-gemm", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4,3] a, float[4,5] b) => (float[3,4] y) {
  ta = Transpose<perm = [1, 0]>(a)
  tb = Transpose(b)
  y = Gemm<transB = 1>(ta, tb)
}
)", 2);
  CHECK(count_ops(*m, "Transpose") == 0);
  const Node* g = m->graph->outputs()[0]->producer();
  CHECK(g->attr_int("transA", 0) == 1);
  CHECK(g->attr_int("transB", 1) == 0);  // toggled back
}

TEST_CASE("fuse-transpose-into-gemm leaves a Transpose with another consumer", "[pass]") {
  check_no_fire("fuse-transpose-into-gemm", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4,3] a, float[4,5] b) => (float[3,5] y, float[3,4] r) {
  ta = Transpose<perm = [1, 0]>(a)
  y = Gemm(ta, b)
  r = Relu(ta)
}
)");
}

TEST_CASE("fuse-transpose-into-gemm leaves a default-perm Transpose of unknown rank", "[pass]") {
  check_no_fire("fuse-transpose-into-gemm", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4,3] a, float[4,5] b) => (float y) {
  u = Relu(a)
  ta = Transpose(u)
  y = Gemm(ta, b)
}
)");
}
