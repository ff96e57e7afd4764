// fuse-layer-norm: the decomposed LayerNorm (and its Reciprocal and
// Mul(d, d) variants) becomes LayerNormalization where the opset, axes and
// constants allow; outputs before vs after on the executor; tiny_bert after
// raising its opset.
#include "fusion_test_util.h"

#include "onnx/model_io.h"
#include "onnx/opset_convert.h"

using namespace effopt;
using namespace effopt::test::fusion;
using effopt::test::parse_or_fail;

namespace {

// The PyTorch-exported LayerNorm over the last axis of x [2, 3, 8]; `square`
// and `divide` choose variants, `axes` the ReduceMean axes attribute.
std::string layer_norm(int opset = 17, const std::string& square = "sq = Pow(d, two)",
                       const std::string& divide = "n = Div(d, sd)", const std::string& axes = "[-1]",
                       const std::string& outputs = "float[2,3,8] z", const std::string& extra = "") {
  return "<ir_version: 9, opset_import: [\"\" : " + std::to_string(opset) + "]>\n"
         "g (float[2,3,8] x) => (" + outputs + ") {\n"
         "two = Constant<value = float {2}>()\n"
         "eps = Constant<value = float {1e-5}>()\n"
         "gamma = Constant<value = float[8] {" + numbers(8, 21, 0.5, 1.5) + "}>()\n"
         "beta = Constant<value = float[8] {" + numbers(8, 22) + "}>()\n"
         "mean = ReduceMean<axes = " + axes + ">(x)\n"
         "d = Sub(x, mean)\n" + square + "\n"
         "var = ReduceMean<axes = " + axes + ">(sq)\n"
         "ve = Add(var, eps)\n"
         "sd = Sqrt(ve)\n" + divide + "\n"
         "y = Mul(n, gamma)\n"
         "z = Add(y, beta)\n" + extra + "}\n";
}

}  // namespace

TEST_CASE("fuse-layer-norm replaces the decomposed LayerNorm", "[pass]") {
  std::string text = layer_norm();
  auto before = parse_or_fail(text), m = parse_or_fail(text);
  CHECK(apply("fuse-layer-norm", *m).counter("fused") == 1);
  CHECK(m->graph->nodes().size() <= 5);  // the LayerNormalization plus unused-or-used Constants
  REQUIRE(count_ops(*m, "LayerNormalization") == 1);
  CHECK(count_ops(*m, "ReduceMean") == 0);
  const Node* ln = m->graph->outputs()[0]->producer();
  REQUIRE(ln->op_type == "LayerNormalization");
  CHECK(ln->attr_int("axis", 0) == -1);
  CHECK(ln->attr_float("epsilon", 0) == 1e-5f);
  CHECK(m->graph->outputs()[0]->name() == "z");
  CHECK(exec_rel_l2(*before, *m) <= 1e-5);
  if (auto e = ort_rel_l2(*before, *m)) CHECK(*e <= 1e-5);  // a second, independent reference
}

TEST_CASE("fuse-layer-norm handles Mul(d, d), Reciprocal and two trailing axes", "[pass]") {
  std::string text = "<ir_version: 9, opset_import: [\"\" : 17]>\n"
                     "g (float[2,3,4] x) => (float[2,3,4] z) {\n"
                     "eps = Constant<value = float {1e-3}>()\n"
                     "gamma = Constant<value = float[3,4] {" + numbers(12, 31, 0.5, 1.5) + "}>()\n"
                     "beta = Constant<value = float[1,3,4] {" + numbers(12, 32) + "}>()\n"
                     "mean = ReduceMean<axes = [1, 2]>(x)\n"
                     "d = Sub(x, mean)\n"
                     "sq = Mul(d, d)\n"
                     "var = ReduceMean<axes = [-2, -1]>(sq)\n"
                     "ve = Add(eps, var)\n"
                     "sd = Sqrt(ve)\n"
                     "r = Reciprocal(sd)\n"
                     "n = Mul(r, d)\n"
                     "y = Mul(gamma, n)\n"
                     "z = Add(beta, y)\n}\n";
  auto before = parse_or_fail(text), m = parse_or_fail(text);
  // [1, 2] and [-2, -1] are the same axes for a rank-3 x, so it fires.
  CHECK(apply("fuse-layer-norm", *m).counter("fused") == 1);
  const Node* ln = m->graph->outputs()[0]->producer();
  REQUIRE(ln->op_type == "LayerNormalization");
  CHECK(ln->attr_int("axis", 0) == -2);
  CHECK(exec_rel_l2(*before, *m) <= 1e-5);
}

TEST_CASE("fuse-layer-norm reads ReduceMean axes from the input at opset 18", "[pass]") {
  std::string text = R"(
<ir_version: 9, opset_import: ["" : 18]>
g (float[2,8] x) => (float[2,8] n) {
  ax = Constant<value = int64[1] {-1}>()
  two = Constant<value = float {2}>()
  eps = Constant<value = float {1e-5}>()
  mean = ReduceMean(x, ax)
  d = Sub(x, mean)
  sq = Pow(d, two)
  var = ReduceMean(sq, ax)
  ve = Add(var, eps)
  sd = Sqrt(ve)
  n = Div(d, sd)
}
)";
  auto before = parse_or_fail(text), m = parse_or_fail(text);
  // No gamma/beta: a Scale of ones is built from x's static last dim.
  CHECK(apply("fuse-layer-norm", *m).counter("fused") == 1);
  CHECK(count_ops(*m, "LayerNormalization") == 1);
  CHECK(exec_rel_l2(*before, *m) <= 1e-5);
}

TEST_CASE("fuse-layer-norm needs opset 17 and never raises it", "[pass]") {
  auto m = parse_or_fail(layer_norm(16));
  auto r = apply("fuse-layer-norm", *m);
  CHECK(r.counter("fused") == 0);
  CHECK(count_ops(*m, "LayerNormalization") == 0);
  CHECK(m->opset() == 16);
  CHECK_FALSE(r.notes.empty());
}

TEST_CASE("fuse-layer-norm leaves statistics over other axes", "[pass]") {
  auto m = parse_or_fail(layer_norm(17, "sq = Pow(d, two)", "n = Div(d, sd)", "[1]"));
  CHECK(apply("fuse-layer-norm", *m).counter("fused") == 0);
}

TEST_CASE("fuse-layer-norm leaves a chain whose intermediate is a graph output", "[pass]") {
  auto m = parse_or_fail(layer_norm(17, "sq = Pow(d, two)", "n = Div(d, sd)", "[-1]", "float[2,3,8] z, float[2,3,1] var"));
  CHECK(apply("fuse-layer-norm", *m).counter("fused") == 0);
}

TEST_CASE("fuse-layer-norm leaves x - mean with another consumer", "[pass]") {
  auto m = parse_or_fail(
      layer_norm(17, "sq = Pow(d, two)", "n = Div(d, sd)", "[-1]", "float[2,3,8] z, float[2,3,8] r", "r = Relu(d)\n"));
  CHECK(apply("fuse-layer-norm", *m).counter("fused") == 0);
}

TEST_CASE("fuse-layer-norm leaves a square that is not x^2", "[pass]") {
  auto m = parse_or_fail(layer_norm(17, "sq = Pow(d, eps)"));
  CHECK(apply("fuse-layer-norm", *m).counter("fused") == 0);
}

TEST_CASE("fuse-layer-norm and fuse-gelu on tiny_bert raised to opset 20", "[pass][corpus]") {
  auto dir = test::corpus_case_or_skip("models/tiny_bert");
  if (!dir) return;
  std::string case_dir = dir->string();
  auto before = load_model(case_dir + "/model.onnx"), m = load_model(case_dir + "/model.onnx");
  REQUIRE(before);
  REQUIRE(m);
  // At its own opset 14 neither fusion may fire.
  CHECK(apply("fuse-layer-norm", **m).counter("fused") == 0);
  CHECK(apply("fuse-gelu", **m).counter("fused") == 0);
  REQUIRE(convert_opset(**m, 20));
  size_t nodes0 = (*m)->graph->nodes().size(), rm0 = count_ops(**m, "ReduceMean"), erf0 = count_ops(**m, "Erf");
  auto ln = apply("fuse-layer-norm", **m);
  auto gelu = apply("fuse-gelu", **m);
  size_t nodes1 = (*m)->graph->nodes().size();
  WARN("tiny_bert at opset 20: " << ln.counter("fused") << " LayerNorms, " << gelu.counter("fused")
                                 << " GELUs fused; ReduceMean " << rm0 << " -> " << count_ops(**m, "ReduceMean")
                                 << ", Erf " << erf0 << " -> " << count_ops(**m, "Erf") << ", nodes " << nodes0
                                 << " -> " << nodes1);
  CHECK(ln.counter("fused") == static_cast<int64_t>(rm0 / 2));
  CHECK(count_ops(**m, "LayerNormalization") == rm0 / 2);
  CHECK(count_ops(**m, "ReduceMean") == 0);
  CHECK(gelu.counter("fused") == static_cast<int64_t>(erf0));
  CHECK(count_ops(**m, "Gelu") == erf0);
  CHECK(count_ops(**m, "Erf") == 0);
  double e = worst_rel_l2(**before, **m, corpus_inputs(**before, case_dir));
  WARN("tiny_bert rel-l2 after fuse-layer-norm + fuse-gelu: " << e);
  CHECK(e <= 1e-4);
}

TEST_CASE("fuse-layer-norm fires with a dynamic batch dimension", "[pass]") {
  std::string text = layer_norm();
  for (size_t p = text.find("[2,3,8]"); p != std::string::npos; p = text.find("[2,3,8]", p)) text.replace(p, 7, "[N,3,8]");
  auto m = parse_or_fail(text);
  CHECK(apply("fuse-layer-norm", *m).counter("fused") == 1);
  CHECK(count_ops(*m, "LayerNormalization") == 1);
}
