// fuse-pad: constant-mode Pad into Conv / AveragePool / MaxPool pads, in
// Pad's attribute (opset < 11), input (11+) and axes (18+) forms, and where
// the pad value or the consumer make it inexact.
#include "fusion_test_util.h"

#include <cmath>

#include "passes/pass_util.h"

using namespace effopt;
using namespace effopt::test::fusion;

namespace {

std::string w_decl() { return "W = Constant<value = float[3,2,3,3] {" + numbers(54, 1) + "}>()\n"; }

}  // namespace

TEST_CASE("fuse-pad folds a Pad (inputs form) into a Conv's pads", "[pass]") {
  auto m = check_fires("fuse-pad", "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                                   "g (float[1,2,5,5] x) => (float[1,3,7,5] y) {\n" + w_decl() +
                                   "p = Constant<value = int64[8] {0, 0, 1, 0, 0, 0, 2, 1}>()\n"
                                   "t = Pad(x, p)\n"
                                   "y = Conv<pads = [1, 0, 0, 0]>(t, W)\n}\n");
  CHECK(count_ops(*m, "Pad") == 0);
  CHECK(m->graph->nodes().back()->attr_ints("pads") == std::vector<int64_t>{2, 0, 2, 1});
}

TEST_CASE("fuse-pad reads Pad's axes input at opset 18", "[pass]") {
  auto m = check_fires("fuse-pad", "<ir_version: 9, opset_import: [\"\" : 18]>\n"
                                   "g (float[1,2,5,5] x) => (float[1,3,5,5] y) {\n" + w_decl() +
                                   "p = Constant<value = int64[4] {1, 1, 1, 1}>()\n"
                                   "v = Constant<value = float {0}>()\n"
                                   "ax = Constant<value = int64[2] {-2, -1}>()\n"
                                   "t = Pad(x, p, v, ax)\n"
                                   "y = Conv(t, W)\n}\n");
  CHECK(m->graph->nodes().back()->attr_ints("pads") == std::vector<int64_t>{1, 1, 1, 1});
}

TEST_CASE("fuse-pad folds a Pad (attribute form) into AveragePool with count_include_pad=1", "[pass]") {
  auto m = check_fires("fuse-pad", R"(
<ir_version: 4, opset_import: ["" : 9]>
g (float[1,2,5,5] x) => (float[1,2,5,5] y) {
  t = Pad<pads = [0, 0, 1, 1, 0, 0, 1, 1]>(x)
  y = AveragePool<kernel_shape = [3, 3], count_include_pad = 1>(t)
}
)");
  CHECK(count_ops(*m, "Pad") == 0);
}

TEST_CASE("fuse-pad folds a zero Pad after Relu into MaxPool", "[pass]") {
  auto m = check_fires("fuse-pad", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,5,5] x) => (float[1,2,5,5] y) {
  r = Relu(x)
  p = Constant<value = int64[8] {0, 0, 1, 1, 0, 0, 1, 1}>()
  t = Pad(r, p)
  y = MaxPool<kernel_shape = [3, 3]>(t)
}
)");
  CHECK(count_ops(*m, "Pad") == 0);
}

TEST_CASE("fuse-pad leaves a zero Pad into MaxPool when the input can be negative", "[pass]") {
  check_no_fire("fuse-pad", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,5,5] x) => (float[1,2,5,5] y) {
  p = Constant<value = int64[8] {0, 0, 1, 1, 0, 0, 1, 1}>()
  t = Pad(x, p)
  y = MaxPool<kernel_shape = [3, 3]>(t)
}
)");
}

TEST_CASE("fuse-pad leaves AveragePool with count_include_pad=0", "[pass]") {
  check_no_fire("fuse-pad", R"(
<ir_version: 4, opset_import: ["" : 9]>
g (float[1,2,5,5] x) => (float[1,2,5,5] y) {
  t = Pad<pads = [0, 0, 1, 1, 0, 0, 1, 1]>(x)
  y = AveragePool<kernel_shape = [3, 3]>(t)
}
)");
}

TEST_CASE("fuse-pad leaves channel pads, negative pads, a non-zero value and reflect mode", "[pass]") {
  auto conv_with = [](const std::string& pads, const std::string& extra, const std::string& pad_call) {
    return "<ir_version: 8, opset_import: [\"\" : 13]>\n"
           "g (float[1,2,5,5] x) => (float y) {\n" + w_decl() +
           "p = Constant<value = int64[8] {" + pads + "}>()\n" + extra + "t = " + pad_call + "\n"
           "y = Conv(t, W)\n}\n";
  };
  check_no_fire("fuse-pad", conv_with("0, 1, 1, 1, 0, 0, 1, 1", "", "Pad(x, p)"));
  check_no_fire("fuse-pad", conv_with("0, 0, -1, 1, 0, 0, 1, 1", "", "Pad(x, p)"));
  check_no_fire("fuse-pad", conv_with("0, 0, 1, 1, 0, 0, 1, 1", "v = Constant<value = float {1}>()\n", "Pad(x, p, v)"));
  check_no_fire("fuse-pad", conv_with("0, 0, 1, 1, 0, 0, 1, 1", "", "Pad<mode = \"reflect\">(x, p)"));
}

TEST_CASE("fuse-pad leaves a Pad output with another consumer and auto_pad convs", "[pass]") {
  check_no_fire("fuse-pad", "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                            "g (float[1,2,5,5] x) => (float y, float r) {\n" + w_decl() +
                            "p = Constant<value = int64[8] {0, 0, 1, 1, 0, 0, 1, 1}>()\n"
                            "t = Pad(x, p)\n"
                            "y = Conv(t, W)\n"
                            "r = Relu(t)\n}\n");
  check_no_fire("fuse-pad", "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                            "g (float[1,2,5,5] x) => (float y) {\n" + w_decl() +
                            "p = Constant<value = int64[8] {0, 0, 1, 1, 0, 0, 1, 1}>()\n"
                            "t = Pad(x, p)\n"
                            "y = Conv<auto_pad = \"SAME_UPPER\">(t, W)\n}\n");
}

TEST_CASE("fuse-pad folds a -inf Pad into MaxPool whatever the input", "[pass]") {
  // ONNX 1.12's text parser has no -inf literal: set the pad value afterwards.
  std::string text = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,5,5] x) => (float[1,2,5,5] y) {
  p = Constant<value = int64[8] {0, 0, 1, 1, 0, 0, 1, 1}>()
  v = Constant<value = float {0}>()
  t = Pad(x, p, v)
  y = MaxPool<kernel_shape = [3, 3]>(t)
}
)";
  auto before = test::parse_or_fail(text), m = test::parse_or_fail(text);
  for (Model* model : {before.get(), m.get()})
    for (const auto& n : model->graph->nodes())
      if (n->output(0)->name() == "v")
        n->attr("value")->t = tensor_from_values(DataType::Float, {}, {-INFINITY});
  CHECK(apply("fuse-pad", *m).counter("fused") == 1);
  CHECK(count_ops(*m, "Pad") == 0);
  CHECK(exec_rel_l2(*before, *m) <= 1e-5);
}
