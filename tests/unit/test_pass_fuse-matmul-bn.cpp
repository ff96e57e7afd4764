// fuse-matmul-bn: BatchNormalization over the feature axis of a Gemm or 2-D
// MatMul goes into the Gemm's weights and C.
#include "fusion_test_util.h"

using namespace effopt;
using namespace effopt::test::fusion;

namespace {

std::string bn_params(const std::string& attrs = "") {
  return "s = Constant<value = float[5] {" + numbers(5, 3, 0.5, 1.5) + "}>()\n"
         "t = Constant<value = float[5] {" + numbers(5, 4) + "}>()\n"
         "mu = Constant<value = float[5] {" + numbers(5, 5) + "}>()\n"
         "var = Constant<value = float[5] {" + numbers(5, 6, 0.1, 2) + "}>()\n"
         "z = BatchNormalization" + attrs + "(y, s, t, mu, var)\n";
}

}  // namespace

TEST_CASE("fuse-matmul-bn folds BN into a Gemm with transB, C and beta", "[pass]") {
  auto m = check_fires("fuse-matmul-bn", "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                                         "g (float[3,4] a) => (float[3,5] z) {\n"
                                         "B = Constant<value = float[5,4] {" + numbers(20, 1) + "}>()\n"
                                         "C = Constant<value = float[1,5] {" + numbers(5, 2) + "}>()\n"
                                         "y = Gemm<transB = 1, alpha = 0.7, beta = 0.5>(a, B, C)\n" + bn_params() + "}\n");
  CHECK(count_ops(*m, "BatchNormalization") == 0);
  CHECK(count_ops(*m, "Gemm") == 1);
}

TEST_CASE("fuse-matmul-bn turns a 2-D MatMul + BN into a Gemm", "[pass]") {
  auto m = check_fires("fuse-matmul-bn", "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                                         "g (float[3,4] a) => (float[3,5] z) {\n"
                                         "B = Constant<value = float[4,5] {" + numbers(20, 1) + "}>()\n"
                                         "y = MatMul(a, B)\n" + bn_params() + "}\n");
  CHECK(count_ops(*m, "MatMul") == 0);
  CHECK(count_ops(*m, "Gemm") == 1);
}

TEST_CASE("fuse-matmul-bn leaves a 3-D MatMul (BN's axis 1 is not the feature axis)", "[pass]") {
  check_no_fire("fuse-matmul-bn", "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                                  "g (float[2,5,4] a) => (float[2,5,5] z) {\n"
                                  "B = Constant<value = float[4,5] {" + numbers(20, 1) + "}>()\n"
                                  "y = MatMul(a, B)\n" + bn_params() + "}\n");
}

TEST_CASE("fuse-matmul-bn leaves BN in training mode and a C that varies along N", "[pass]") {
  check_no_fire("fuse-matmul-bn", "<ir_version: 8, opset_import: [\"\" : 15]>\n"
                                  "g (float[3,4] a) => (float[3,5] z) {\n"
                                  "B = Constant<value = float[4,5] {" + numbers(20, 1) + "}>()\n"
                                  "y = MatMul(a, B)\n" + bn_params("<training_mode = 1>") + "}\n");
  check_no_fire("fuse-matmul-bn", "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                                  "g (float[3,4] a) => (float[3,5] z) {\n"
                                  "B = Constant<value = float[4,5] {" + numbers(20, 1) + "}>()\n"
                                  "C = Constant<value = float[3,5] {" + numbers(15, 2) + "}>()\n"
                                  "y = Gemm(a, B, C)\n" + bn_params() + "}\n");
}
