// fuse-conv-mul: a per-channel constant scale after a Conv goes into its weights and bias.
#include "fusion_test_util.h"

using namespace effopt;
using namespace effopt::test::fusion;

namespace {

std::string conv_mul(const std::string& mul, bool bias = true, const std::string& s_type = "float[1,4,1,1]",
                     size_t s_count = 4, const std::string& outputs = "float[1,4,4,4] z", const std::string& extra = "",
                     const std::string& conv_attrs = "<group = 2>") {
  return "<ir_version: 8, opset_import: [\"\" : 13]>\n"
         "g (float[1,4,6,6] x) => (" + outputs + ") {\n"
         "W = Constant<value = float[4,2,3,3] {" + numbers(72, 1) + "}>()\n" +
         (bias ? "b = Constant<value = float[4] {" + numbers(4, 2) + "}>()\n" : "") +
         "s = Constant<value = " + s_type + " {" + numbers(s_count, 3) + "}>()\n"
         "y = Conv" + conv_attrs + "(x, W" + (bias ? ", b" : "") + ")\n" + mul + "\n" + extra + "}\n";
}

}  // namespace

TEST_CASE("fuse-conv-mul scales the weights and bias of a grouped Conv", "[pass]") {
  auto m = check_fires("fuse-conv-mul", conv_mul("z = Mul(y, s)"));
  CHECK(count_ops(*m, "Mul") == 0);
  CHECK(is_op_output(m->graph->outputs()[0], "Conv"));
}

TEST_CASE("fuse-conv-mul takes a [C, 1, 1] scale on the left, without bias", "[pass]") {
  check_fires("fuse-conv-mul", conv_mul("z = Mul(s, y)", false, "float[4,1,1]"));
}

TEST_CASE("fuse-conv-mul leaves a scale that varies spatially", "[pass]") {
  check_no_fire("fuse-conv-mul", conv_mul("z = Mul(y, s)", true, "float[4,4]", 16));
}

TEST_CASE("fuse-conv-mul leaves a Conv output with another consumer", "[pass]") {
  check_no_fire("fuse-conv-mul",
                conv_mul("z = Mul(y, s)", true, "float[1,4,1,1]", 4, "float[1,4,4,4] z, float[1,4,4,4] r", "r = Relu(y)\n"));
}

TEST_CASE("fuse-conv-mul leaves a non-constant scale", "[pass]") {
  check_no_fire("fuse-conv-mul", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,4,4] x, float[1,2,1,1] s) => (float[1,2,4,4] z) {
  W = Constant<value = float[2,2,1,1] {1, 2, 3, 4}>()
  y = Conv(x, W)
  z = Mul(y, s)
}
)");
}
