// fuse-conv-add: a per-channel constant added after a Conv becomes its bias.
#include "fusion_test_util.h"

using namespace effopt;
using namespace effopt::test::fusion;

namespace {

std::string conv_add(const std::string& add, bool bias = true, const std::string& c_type = "float[1,4,1,1]",
                     size_t c_count = 4, const std::string& outputs = "float[1,4,4,4] z", const std::string& extra = "") {
  return "<ir_version: 8, opset_import: [\"\" : 13]>\n"
         "g (float[1,2,6,6] x) => (" + outputs + ") {\n"
         "W = Constant<value = float[4,2,3,3] {" + numbers(72, 1) + "}>()\n" +
         (bias ? "b = Constant<value = float[4] {" + numbers(4, 2) + "}>()\n" : "") +
         "c = Constant<value = " + c_type + " {" + numbers(c_count, 3) + "}>()\n"
         "y = Conv(x, W" + (bias ? ", b" : "") + ")\n" + add + "\n" + extra + "}\n";
}

}  // namespace

TEST_CASE("fuse-conv-add folds a [1, C, 1, 1] constant into the bias", "[pass]") {
  auto m = check_fires("fuse-conv-add", conv_add("z = Add(y, c)"));
  CHECK(count_ops(*m, "Add") == 0);
  CHECK(is_op_output(m->graph->outputs()[0], "Conv"));
}

TEST_CASE("fuse-conv-add folds a [C, 1, 1] constant on the left into a Conv without bias", "[pass]") {
  auto m = check_fires("fuse-conv-add", conv_add("z = Add(c, y)", false, "float[4,1,1]"));
  CHECK(count_ops(*m, "Add") == 0);
}

TEST_CASE("fuse-conv-add folds a scalar", "[pass]") {
  check_fires("fuse-conv-add", conv_add("z = Add(y, c)", true, "float", 1));
}

TEST_CASE("fuse-conv-add leaves a constant that varies spatially", "[pass]") {
  check_no_fire("fuse-conv-add", conv_add("z = Add(y, c)", true, "float[1,1,4,4]", 16));
}

TEST_CASE("fuse-conv-add leaves a constant that would enlarge the output", "[pass]") {
  check_no_fire("fuse-conv-add", conv_add("z = Add(y, c)", true, "float[2,4,1,1]", 8, "float[2,4,4,4] z"));
}

TEST_CASE("fuse-conv-add leaves a Conv output with another consumer", "[pass]") {
  check_no_fire("fuse-conv-add",
                conv_add("z = Add(y, c)", true, "float[1,4,1,1]", 4, "float[1,4,4,4] z, float[1,4,4,4] r", "r = Relu(y)\n"));
}

TEST_CASE("fuse-conv-add leaves a Conv output that is a graph output", "[pass]") {
  check_no_fire("fuse-conv-add", conv_add("z = Add(y, c)", true, "float[1,4,1,1]", 4, "float[1,4,4,4] z, float[1,4,4,4] y"));
}

TEST_CASE("fuse-conv-add leaves a non-constant addend and mismatched dtypes", "[pass]") {
  check_no_fire("fuse-conv-add", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,4,4] x, float[1,2,1,1] c) => (float[1,2,4,4] z) {
  W = Constant<value = float[2,2,1,1] {1, 2, 3, 4}>()
  y = Conv(x, W)
  z = Add(y, c)
}
)");
  check_no_fire("fuse-conv-add", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (double[1,2,4,4] x) => (double[1,2,4,4] z) {
  W = Constant<value = double[2,2,1,1] {1, 2, 3, 4}>()
  c = Constant<value = float[1,2,1,1] {1, 2}>()
  y = Conv(x, W)
  z = Add(y, c)
}
)");
}

TEST_CASE("fuse-conv-add does not reach into an enclosing graph", "[pass]") {
  // The Add in the branch reads the outer Conv's output: the pattern would span
  // two graphs, so it stays, although y has no other consumer.
  check_no_fire("fuse-conv-add", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool cond, float[1,2,4,4] x) => (float[1,2,4,4] z) {
  W = Constant<value = float[2,2,1,1] {1, 2, 3, 4}>()
  y = Conv(x, W)
  z = If(cond) <then_branch = g1 () => (float[1,2,4,4] a) {
    c = Constant<value = float[1,2,1,1] {1, 2}>()
    a = Add(y, c)
  }, else_branch = g2 () => (float[1,2,4,4] b) {
    b = Identity(x)
  }>
}
)");
}
