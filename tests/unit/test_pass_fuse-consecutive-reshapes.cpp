// fuse-consecutive-reshapes: Reshape chains (with 0 / -1 / allowzero worked
// through), Squeeze/Unsqueeze pairs that cancel or merge, in both axes forms.
#include "fusion_test_util.h"

#include <algorithm>

#include "passes/pass_util.h"

using namespace effopt;
using namespace effopt::test::fusion;
using effopt::passes::util::constant_ints;
using effopt::test::parse_or_fail;

namespace {

std::string reshapes(const std::string& s1, const std::string& s2, const std::string& in = "float[2,3,4] x",
                     const std::string& out = "float[6,4] y", int opset = 13, const std::string& extra = "") {
  return "<ir_version: 8, opset_import: [\"\" : " + std::to_string(opset) + "]>\n"
         "g (" + in + ") => (" + out + ") {\n"
         "s1 = Constant<value = int64[" + std::to_string(std::count(s1.begin(), s1.end(), ',') + 1) + "] {" + s1 + "}>()\n"
         "s2 = Constant<value = int64[" + std::to_string(std::count(s2.begin(), s2.end(), ',') + 1) + "] {" + s2 + "}>()\n"
         "t = Reshape(x, s1)\n"
         "y = Reshape(t, s2)\n" + extra + "}\n";
}

}  // namespace

TEST_CASE("fuse-consecutive-reshapes collapses Reshape -> Reshape with -1", "[pass]") {
  auto m = check_fires("fuse-consecutive-reshapes", reshapes("24", "6, -1"));
  CHECK(count_ops(*m, "Reshape") == 1);
}

TEST_CASE("fuse-consecutive-reshapes resolves a 0 through the first shape's literal", "[pass]") {
  // t = [2, 12]; y = [0, 3, 4] copies t's dim 0 = 2, so y reads x with [2, 3, 4].
  auto m = check_fires("fuse-consecutive-reshapes", reshapes("2, 12", "0, 3, 4", "float[2,3,4] x", "float[2,3,4] y"));
  CHECK(count_ops(*m, "Reshape") == 1);
  auto shape = constant_ints(m->graph->nodes().back()->input(1));
  REQUIRE(shape);
  CHECK(*shape == std::vector<int64_t>{2, 3, 4});
}

TEST_CASE("fuse-consecutive-reshapes keeps a 0 that copies x's dim through a 0", "[pass]") {
  // t = [0, 12] = [N, 12]; y = [0, 3, 4] copies t's dim 0 = x's dim 0 (dynamic N).
  auto m = check_fires("fuse-consecutive-reshapes", reshapes("0, 12", "0, 3, 4", "float[N,3,4] x", "float[N,3,4] y"));
  CHECK(count_ops(*m, "Reshape") == 1);
}

TEST_CASE("fuse-consecutive-reshapes leaves a 0 that copies a -1-inferred dynamic dim", "[pass]") {
  // t = [-1, 12]: its dim 0 is N, which the second Reshape's 0 copies; read
  // from x directly, a 0 would copy x's dim 0 only by luck of the layout.
  check_no_fire("fuse-consecutive-reshapes", reshapes("-1, 3, 4", "0, 12", "float[N,12] x", "float[N,12] y"));
}

TEST_CASE("fuse-consecutive-reshapes leaves a first Reshape with another consumer", "[pass]") {
  check_no_fire("fuse-consecutive-reshapes",
                reshapes("24", "6, -1", "float[2,3,4] x", "float[6,4] y, float[24] r", 13, "r = Relu(t)\n"));
}

TEST_CASE("fuse-consecutive-reshapes leaves a non-constant target shape", "[pass]") {
  check_no_fire("fuse-consecutive-reshapes", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3,4] x, int64[2] s2) => (float y) {
  s1 = Constant<value = int64[1] {24}>()
  t = Reshape(x, s1)
  y = Reshape(t, s2)
}
)");
}

TEST_CASE("fuse-consecutive-reshapes reads through Flatten and Unsqueeze", "[pass]") {
  auto m = check_fires("fuse-consecutive-reshapes", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3,4] x) => (float[4,6] y) {
  t = Flatten<axis = 1>(x)
  s = Constant<value = int64[2] {4, -1}>()
  y = Reshape(t, s)
}
)");
  CHECK(count_ops(*m, "Flatten") == 0);
}

TEST_CASE("fuse-consecutive-reshapes cancels Squeeze -> Unsqueeze (axes inputs, opset 13)", "[pass]") {
  auto m = check_fires("fuse-consecutive-reshapes", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,1,4] x) => (float[2,1,4] z) {
  a = Constant<value = int64[1] {1}>()
  b = Constant<value = int64[1] {-2}>()
  t = Squeeze(x, a)
  y = Unsqueeze(t, b)
  z = Relu(y)
}
)");
  CHECK(m->graph->nodes().size() == 1);
}

TEST_CASE("fuse-consecutive-reshapes cancels Unsqueeze -> Squeeze (axes attributes, opset 11)", "[pass]") {
  auto m = check_fires("fuse-consecutive-reshapes", R"(
<ir_version: 7, opset_import: ["" : 11]>
g (float[2,4] x) => (float[2,4] y) {
  t = Unsqueeze<axes = [0, 3]>(x)
  y = Squeeze<axes = [3, 0]>(t)
}
)");
  CHECK(count_ops(*m, "Squeeze") == 0);
  CHECK(count_ops(*m, "Unsqueeze") == 0);
  CHECK(count_ops(*m, "Identity") == 1);  // y is a graph output: its name stays
}

TEST_CASE("fuse-consecutive-reshapes merges Unsqueeze -> Unsqueeze", "[pass]") {
  auto m = check_fires("fuse-consecutive-reshapes", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[3,4] x) => (float[1,3,4,1] y) {
  a = Constant<value = int64[1] {0}>()
  b = Constant<value = int64[1] {3}>()
  t = Unsqueeze(x, a)
  y = Unsqueeze(t, b)
}
)");
  REQUIRE(count_ops(*m, "Unsqueeze") == 1);
  CHECK(*constant_ints(m->graph->nodes().back()->input(1)) == std::vector<int64_t>{0, 3});
}

TEST_CASE("fuse-consecutive-reshapes merges Squeeze -> Squeeze (attributes)", "[pass]") {
  auto m = check_fires("fuse-consecutive-reshapes", R"(
<ir_version: 7, opset_import: ["" : 11]>
g (float[1,3,1,4,1] x) => (float[3,4] y) {
  t = Squeeze<axes = [0]>(x)
  y = Squeeze<axes = [1, 3]>(t)
}
)");
  REQUIRE(count_ops(*m, "Squeeze") == 1);
  CHECK(m->graph->nodes().back()->attr_ints("axes") == std::vector<int64_t>{0, 2, 4});
}

TEST_CASE("fuse-consecutive-reshapes leaves Squeeze -> Unsqueeze on other axes", "[pass]") {
  check_no_fire("fuse-consecutive-reshapes", R"(
<ir_version: 7, opset_import: ["" : 11]>
g (float[2,1,4] x) => (float[2,4,1] y) {
  t = Squeeze<axes = [1]>(x)
  y = Unsqueeze<axes = [2]>(t)
}
)");
}
