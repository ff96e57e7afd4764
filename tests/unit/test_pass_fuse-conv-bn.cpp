// fuse-conv-bn: where it fires (Conv, grouped Conv without bias,
// ConvTranspose with groups, Constant-node weights), where it must not, and
// outputs before vs after (executor; ONNX Runtime for ConvTranspose; the
// ppocr_cls_v2 corpus model).
#include "fusion_test_util.h"

#include "ir/constants.h"
#include "onnx/model_io.h"
#include "passes/pass_util.h"

using namespace effopt;
using namespace effopt::test::fusion;
using effopt::test::parse_or_fail;

namespace {

// Conv(x, W[, b]) -> BN; `extra` goes into the graph body, `bn_attrs` onto the BN.
std::string conv_bn(const std::string& conv_attrs = "", bool bias = true, const std::string& bn_attrs = "",
                    const std::string& outputs = "float[1,4,4,4] z", const std::string& extra = "",
                    int opset = 13) {
  std::string w = "W = Constant<value = float[4,2,3,3] {" + numbers(72, 1) + "}>()\n";
  std::string b = bias ? "b = Constant<value = float[4] {" + numbers(4, 2) + "}>()\n" : "";
  std::string params = "s = Constant<value = float[4] {" + numbers(4, 3, 0.5, 1.5) + "}>()\n" +
                       "t = Constant<value = float[4] {" + numbers(4, 4) + "}>()\n" +
                       "mu = Constant<value = float[4] {" + numbers(4, 5) + "}>()\n" +
                       "var = Constant<value = float[4] {" + numbers(4, 6, 0.1, 2) + "}>()\n";
  return "<ir_version: 8, opset_import: [\"\" : " + std::to_string(opset) + "]>\n"
         "g (float[1,4,6,6] x) => (" + outputs + ") {\n" + w + b + params +
         "y = Conv" + conv_attrs + "(x, W" + (bias ? ", b" : "") + ")\n"
         "z = BatchNormalization" + bn_attrs + "(y, s, t, mu, var)\n" + extra + "}\n";
}

}  // namespace

TEST_CASE("fuse-conv-bn folds BatchNormalization into Conv", "[pass]") {
  std::string text = conv_bn("<group = 2>");
  auto before = parse_or_fail(text), m = parse_or_fail(text);
  auto r = apply("fuse-conv-bn", *m);
  CHECK(r.counter("fused") == 1);
  CHECK(count_ops(*m, "BatchNormalization") == 0);
  CHECK(count_ops(*m, "Conv") == 1);
  // The Conv now produces the BN's output value, under its name.
  REQUIRE(m->graph->outputs()[0]->name() == "z");
  CHECK(is_op_output(m->graph->outputs()[0], "Conv"));
  CHECK(exec_rel_l2(*before, *m) <= 1e-5);
}

TEST_CASE("fuse-conv-bn adds a bias when the Conv has none", "[pass]") {
  std::string text = conv_bn("<group = 2>", false);
  auto before = parse_or_fail(text), m = parse_or_fail(text);
  CHECK(apply("fuse-conv-bn", *m).counter("fused") == 1);
  Node* conv = m->graph->outputs()[0]->producer();
  REQUIRE(conv->inputs().size() == 3);
  CHECK(is_constant(conv->input(2)));
  CHECK(exec_rel_l2(*before, *m) <= 1e-5);
}

TEST_CASE("fuse-conv-bn leaves a Conv whose output has another consumer", "[pass]") {
  auto m = parse_or_fail(conv_bn("<group = 2>", true, "", "float[1,4,4,4] z, float[1,4,4,4] r", "r = Relu(y)\n"));
  CHECK(apply("fuse-conv-bn", *m).counter("fused") == 0);
  CHECK(count_ops(*m, "BatchNormalization") == 1);
}

TEST_CASE("fuse-conv-bn leaves a Conv whose output is a graph output", "[pass]") {
  auto m = parse_or_fail(conv_bn("<group = 2>", true, "", "float[1,4,4,4] z, float[1,4,4,4] y"));
  CHECK(apply("fuse-conv-bn", *m).counter("fused") == 0);
  CHECK(count_ops(*m, "BatchNormalization") == 1);
}

TEST_CASE("fuse-conv-bn leaves BatchNormalization in training mode", "[pass]") {
  auto m = parse_or_fail(conv_bn("<group = 2>", true, "<training_mode = 1>", "float[1,4,4,4] z", "", 14));
  auto r = apply("fuse-conv-bn", *m);
  CHECK(r.counter("fused") == 0);
  CHECK(count_ops(*m, "BatchNormalization") == 1);
  CHECK_FALSE(r.notes.empty());
}

TEST_CASE("fuse-conv-bn leaves BatchNormalization whose statistics are not constant", "[pass]") {
  auto m = parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,4,4] x, float[2] var) => (float[1,2,4,4] z) {
  W = Constant<value = float[2,2,1,1] {1, 2, 3, 4}>()
  s = Constant<value = float[2] {1, 2}>()
  t = Constant<value = float[2] {0, 1}>()
  mu = Constant<value = float[2] {0, 1}>()
  y = Conv(x, W)
  z = BatchNormalization(y, s, t, mu, var)
}
)");
  CHECK(apply("fuse-conv-bn", *m).counter("fused") == 0);
}

TEST_CASE("fuse-conv-bn leaves mismatched dtypes", "[pass]") {
  auto m = parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 15]>
g (float[1,2,4,4] x) => (float[1,2,4,4] z) {
  W = Constant<value = float[2,2,1,1] {1, 2, 3, 4}>()
  s = Constant<value = double[2] {1, 2}>()
  t = Constant<value = double[2] {0, 1}>()
  mu = Constant<value = double[2] {0, 1}>()
  var = Constant<value = double[2] {1, 1}>()
  y = Conv(x, W)
  z = BatchNormalization(y, s, t, mu, var)
}
)");
  CHECK(apply("fuse-conv-bn", *m).counter("fused") == 0);
}

TEST_CASE("fuse-conv-bn folds into a grouped ConvTranspose (checked in ONNX Runtime)", "[pass]") {
  // W is [Cin=4, Cout/group=3, 2, 2] with group 2: Cout = 6.
  std::string text = "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                     "g (float[1,4,5,5] x) => (float[1,6,10,10] z) {\n"
                     "W = Constant<value = float[4,3,2,2] {" + numbers(48, 11) + "}>()\n"
                     "b = Constant<value = float[6] {" + numbers(6, 12) + "}>()\n"
                     "s = Constant<value = float[6] {" + numbers(6, 13, 0.5, 1.5) + "}>()\n"
                     "t = Constant<value = float[6] {" + numbers(6, 14) + "}>()\n"
                     "mu = Constant<value = float[6] {" + numbers(6, 15) + "}>()\n"
                     "var = Constant<value = float[6] {" + numbers(6, 16, 0.1, 2) + "}>()\n"
                     "y = ConvTranspose<group = 2, strides = [2, 2]>(x, W, b)\n"
                     "z = BatchNormalization<epsilon = 0.001>(y, s, t, mu, var)\n}\n";
  auto before = parse_or_fail(text), m = parse_or_fail(text);
  CHECK(apply("fuse-conv-bn", *m).counter("fused") == 1);
  CHECK(count_ops(*m, "BatchNormalization") == 0);
  CHECK(count_ops(*m, "ConvTranspose") == 1);
  if (auto e = ort_rel_l2(*before, *m)) CHECK(*e <= 1e-5);
}

TEST_CASE("fuse-conv-bn never folds an initializer a feed can override (checked in ONNX Runtime)", "[pass][ort]") {
  // IR 8: an initializer also listed among the graph inputs is only a default
  // that a feed of the same name replaces (ONNX Runtime's own fusions refuse
  // such initializers). `overridable` names the one listed as an input.
  auto text = [](const std::string& overridable, const std::string& type) {
    return "<ir_version: 8, opset_import: [\"\" : 13]>\n"
           "g (float[1,2,4,4] x" + (overridable.empty() ? "" : ", " + type + " " + overridable) +
           ") => (float[1,2,4,4] z)\n"
           "  <float[2,2,1,1] W = {1, 2, 3, 4}, float[2] s = {1, 2}, float[2] t = {0, 1}, float[2] mu = {0.5, 1},\n"
           "   float[2] var = {1, 4}> {\n"
           "  y = Conv(x, W)\n"
           "  z = BatchNormalization(y, s, t, mu, var)\n"
           "}\n";
  };
  // The same model with plain initializers is one the pass fuses.
  {
    auto m = parse_or_fail(text("", ""));
    CHECK(apply("fuse-conv-bn", *m).counter("fused") == 1);
    CHECK(count_ops(*m, "BatchNormalization") == 0);
  }
  auto* ort = test::ort_or_skip();
  if (!ort) return;
  struct Case {
    std::string name, type;
    std::vector<int64_t> dims;
    std::vector<float> fed;  // differs from the initializer's default
  };
  for (const Case& c : {Case{"s", "float[2]", {2}, {-3.0f, 0.25f}},
                        Case{"W", "float[2,2,1,1]", {2, 2, 1, 1}, {0.5f, -1.0f, 2.0f, 0.0f}}}) {
    INFO("overridable initializer " << c.name);
    auto before = parse_or_fail(text(c.name, c.type)), m = parse_or_fail(text(c.name, c.type));
    auto r = apply("fuse-conv-bn", *m);
    CHECK(r.counter("fused") == 0);
    CHECK_FALSE(r.changed);
    CHECK(count_ops(*m, "BatchNormalization") == 1);
    CHECK_FALSE(r.notes.empty());  // why it was kept
    onnx::ModelProto pa = to_proto_inline(*before), pb = to_proto_inline(*m);
    auto x = test::random_inputs(pa, 7);
    REQUIRE(x.size() == 1);  // only x: an initializer listed as an input is not a runtime input
    auto fed = x;
    fed.emplace_back(c.name, test::make_tensor<float>(c.name, c.dims, c.fed));
    // onnxruntime-node passes on only the feeds named in session.inputNames,
    // which leaves out overridable initializers. A fed value replaces the
    // default, so each model runs without the default and with the feed:
    // what ONNX Runtime computes when a caller overrides the initializer.
    auto without_default = [&](onnx::ModelProto p) {
      auto* inits = p.mutable_graph()->mutable_initializer();
      for (int i = 0; i < inits->size(); ++i)
        if (inits->Get(i).name() == c.name) {
          inits->DeleteSubrange(i, 1);
          return p;
        }
      FAIL("no initializer " << c.name);
      return p;
    };
    auto orig_default = ort->run_model(pa, x), orig_fed = ort->run_model(without_default(pa), fed),
         opt_fed = ort->run_model(without_default(pb), fed);
    REQUIRE(orig_default);
    REQUIRE(orig_fed);
    REQUIRE(opt_fed);
    auto want = test::tensor_values(orig_fed->outputs[0]);
    // The feed matters: a model with the default folded in would differ.
    CHECK(rel_l2(want, test::tensor_values(orig_default->outputs[0])) > 0.1);
    CHECK(rel_l2(want, test::tensor_values(opt_fed->outputs[0])) <= 1e-6);
  }
}

TEST_CASE("fuse-conv-bn on ppocr_cls_v2 (Constant-node weights)", "[pass][corpus]") {
  auto dir = test::corpus_case_or_skip("models/ppocr_cls_v2");
  if (!dir) return;
  std::string path = (*dir / "model.onnx").string();
  auto before = load_model(path), m = load_model(path);
  REQUIRE(before);
  REQUIRE(m);
  size_t bn_before = count_ops(**m, "BatchNormalization");
  auto r = apply("fuse-conv-bn", **m);
  size_t bn_after = count_ops(**m, "BatchNormalization");
  WARN("ppocr_cls_v2: BatchNormalization " << bn_before << " -> " << bn_after << ", fused " << r.counter("fused"));
  CHECK(bn_before > 0);
  CHECK(bn_after < bn_before);
  CHECK(r.counter("fused") == static_cast<int64_t>(bn_before - bn_after));
  double e = worst_rel_l2(**before, **m, corpus_inputs(**before, dir->string()));
  WARN("ppocr_cls_v2 rel-l2 after fuse-conv-bn: " << e);
  CHECK(e <= 1e-4);
}

TEST_CASE("fuse-conv-bn folds float16 weights, rounding once from double", "[pass]") {
  // 1 + 2^-11 + 2^-40 lies just above the midpoint of float16 neighbours 1 and
  // 1 + 2^-10: one rounding gives 1 + 2^-10 (0x3C01); rounding through float
  // first would land on the midpoint and tie to even, 1 (0x3C00).
  CHECK(double_to_half(1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40)) == 0x3C01);
  CHECK(double_to_half(1.0 + std::ldexp(1.0, -11)) == 0x3C00);  // an exact tie: to even
  // ONNX 1.12's text parser has no float16 literals: parse float, then turn
  // every constant and the signature into float16.
  std::string text = conv_bn("<group = 2>");
  auto to_half = [](Model& model) {
    for (const auto& n : model.graph->nodes())
      if (n->op_type == "Constant") {
        Attribute* a = n->attr("value");
        auto vals = passes::util::constant_doubles(n->output(0));
        REQUIRE(vals);
        a->t = tensor_from_values(DataType::Float16, a->t->dims, *vals);
      }
    model.graph->inputs()[0]->type.elem_type = DataType::Float16;
    model.graph->outputs()[0]->type.elem_type = DataType::Float16;
  };
  auto before = parse_or_fail(text), m = parse_or_fail(text);
  to_half(*before);
  to_half(*m);
  CHECK(apply("fuse-conv-bn", *m).counter("fused") == 1);
  Node* conv = m->graph->outputs()[0]->producer();
  REQUIRE(conv->op_type == "Conv");
  CHECK(constant_tensor(conv->input(1))->data_type == DataType::Float16);
  // float16 outputs: the unfused graph rounds y to float16 before the BN, so
  // the two agree to float16 precision, not float32's.
  double e = exec_rel_l2(*before, *m);
  INFO("float16 rel-l2 " << e);
  CHECK(e <= 2e-3);
  CHECK(e > 0);  // the graphs differ in rounding; a 0 would mean the check ran on nothing
}

TEST_CASE("fuse-conv-bn in a model-local function uses Constant nodes", "[pass]") {
  auto m = parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13, "local" : 1]>
g (float[1,2,4,4] x) => (float[1,2,4,4] z) {
  z = local.ConvBn(x)
}
<domain: "local", opset_import: ["" : 13]>
ConvBn (x) => (z) {
  W = Constant<value = float[2,2,1,1] {1, 2, 3, 4}>()
  s = Constant<value = float[2] {1, 2}>()
  t = Constant<value = float[2] {0, 1}>()
  mu = Constant<value = float[2] {0.5, 1}>()
  var = Constant<value = float[2] {1, 4}>()
  y = Conv(x, W)
  z = BatchNormalization(y, s, t, mu, var)
}
)");
  REQUIRE(m->functions.size() == 1);
  CHECK(apply("fuse-conv-bn", *m).counter("fused") == 1);
  const Graph& body = *m->functions[0].body;
  CHECK(body.initializers().empty());
  size_t convs = 0, bns = 0;
  for (const auto& n : body.nodes()) {
    convs += n->op_type == "Conv";
    bns += n->op_type == "BatchNormalization";
    if (n->op_type == "Conv") {
      CHECK(is_op_output(n->input(1), "Constant"));
      CHECK(is_op_output(n->input(2), "Constant"));
    }
  }
  CHECK(convs == 1);
  CHECK(bns == 0);
  CHECK(body.outputs()[0]->name() == "z");
}
