// fuse-matmul-add: 2-D MatMul with constant weights plus a bias becomes Gemm.
#include "fusion_test_util.h"

using namespace effopt;
using namespace effopt::test::fusion;

namespace {

std::string mm_add(const std::string& a_type, const std::string& bias_decl, const std::string& add,
                   const std::string& out, const std::string& extra_in = "", int opset = 13) {
  return "<ir_version: 8, opset_import: [\"\" : " + std::to_string(opset) + "]>\n"
         "g (" + a_type + " a" + extra_in + ") => (" + out + ") {\n"
         "B = Constant<value = float[4,5] {" + numbers(20, 1) + "}>()\n" + bias_decl +
         "y = MatMul(a, B)\n" + add + "\n}\n";
}

}  // namespace

TEST_CASE("fuse-matmul-add turns MatMul + [N] bias into Gemm", "[pass]") {
  auto m = check_fires("fuse-matmul-add", mm_add("float[3,4]", "c = Constant<value = float[5] {" + numbers(5, 2) + "}>()\n",
                                                 "z = Add(c, y)", "float[3,5] z"));
  CHECK(count_ops(*m, "Gemm") == 1);
  CHECK(count_ops(*m, "MatMul") == 0);
  CHECK(count_ops(*m, "Add") == 0);
}

TEST_CASE("fuse-matmul-add takes an [M, N] bias that is a graph input", "[pass]") {
  auto m = check_fires("fuse-matmul-add", mm_add("float[3,4]", "", "z = Add(y, c)", "float[3,5] z", ", float[3,5] c"));
  CHECK(count_ops(*m, "Gemm") == 1);
}

TEST_CASE("fuse-matmul-add leaves a batched MatMul", "[pass]") {
  check_no_fire("fuse-matmul-add", mm_add("float[2,3,4]", "c = Constant<value = float[5] {" + numbers(5, 2) + "}>()\n",
                                          "z = Add(y, c)", "float[2,3,5] z"));
}

TEST_CASE("fuse-matmul-add leaves a bias that enlarges the result", "[pass]") {
  check_no_fire("fuse-matmul-add", mm_add("float[3,4]", "", "z = Add(y, c)", "float[2,3,5] z", ", float[2,3,5] c"));
}

TEST_CASE("fuse-matmul-add leaves a MatMul output that is a graph output", "[pass]") {
  check_no_fire("fuse-matmul-add", mm_add("float[3,4]", "c = Constant<value = float[5] {" + numbers(5, 2) + "}>()\n",
                                          "z = Add(y, c)", "float[3,5] z, float[3,5] y"));
}

TEST_CASE("fuse-matmul-add leaves non-constant weights and unknown ranks", "[pass]") {
  check_no_fire("fuse-matmul-add", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[3,4] a, float[4,5] b, float[5] c) => (float[3,5] z) {
  y = MatMul(a, b)
  z = Add(y, c)
}
)");
  check_no_fire("fuse-matmul-add", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[3,4] a0, float[5] c) => (float z) {
  B = Constant<value = float[4,5] {1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20}>()
  a = Relu(a0)
  y = MatMul(a, B)
  z = Add(y, c)
}
)");
}
