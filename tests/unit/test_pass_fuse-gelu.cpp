// fuse-gelu: the erf and tanh forms of GELU, in several multiplication
// orders, become Gelu at opset 20; where they must not; outputs before vs
// after on the executor (its Gelu kernel covers opset 20).
#include "fusion_test_util.h"

using namespace effopt;
using namespace effopt::test::fusion;
using effopt::test::parse_or_fail;

namespace {

std::string model(const std::string& body, int opset = 20, const std::string& outputs = "float[2,16] y") {
  return "<ir_version: 9, opset_import: [\"\" : " + std::to_string(opset) + "]>\n"
         "g (float[2,16] x) => (" + outputs + ") {\n"
         "half = Constant<value = float {0.5}>()\n"
         "one = Constant<value = float {1}>()\n" + body + "}\n";
}

// PyTorch's export: (x * (erf(x / sqrt2) + 1)) * 0.5
const char* kErfTorch = R"(
  s2 = Constant<value = float {1.4142135}>()
  a = Div(x, s2)
  e = Erf(a)
  p = Add(e, one)
  m = Mul(x, p)
  y = Mul(m, half)
)";

const char* kTanh = R"(
  c = Constant<value = float {0.7978846}>()
  k = Constant<value = float {0.044715}>()
  three = Constant<value = float {3}>()
  x3 = Pow(x, three)
  kx3 = Mul(k, x3)
  in = Add(x, kx3)
  t = Mul(in, c)
  th = Tanh(t)
  p = Add(one, th)
  hx = Mul(half, x)
  y = Mul(hx, p)
)";

void check_gelu(const std::string& text, const std::string& approximate) {
  auto before = parse_or_fail(text), m = parse_or_fail(text);
  CHECK(apply("fuse-gelu", *m).counter("fused") == 1);
  REQUIRE(count_ops(*m, "Gelu") == 1);
  const Node* g = m->graph->outputs()[0]->producer();
  REQUIRE(g->op_type == "Gelu");
  CHECK(g->attr_string("approximate", "none") == approximate);
  CHECK(count_ops(*m, "Mul") == 0);
  CHECK(m->graph->outputs()[0]->name() == "y");
  CHECK(exec_rel_l2(*before, *m) <= 1e-5);
  // ONNX Runtime's Gelu as a second, independent reference.
  if (auto e = ort_rel_l2(*before, *m)) CHECK(*e <= 1e-5);
}

}  // namespace

TEST_CASE("fuse-gelu fuses the erf form as PyTorch exports it", "[pass]") { check_gelu(model(kErfTorch), "none"); }

TEST_CASE("fuse-gelu fuses the erf form in another order, with Mul by 1/sqrt(2)", "[pass]") {
  check_gelu(model(R"(
  r2 = Constant<value = float {0.70710677}>()
  a = Mul(r2, x)
  e = Erf(a)
  p = Add(one, e)
  m = Mul(half, p)
  y = Mul(x, m)
)"), "none");
}

TEST_CASE("fuse-gelu fuses the tanh form", "[pass]") { check_gelu(model(kTanh), "tanh"); }

TEST_CASE("fuse-gelu fuses the tanh form with x*x*x", "[pass]") {
  check_gelu(model(R"(
  c = Constant<value = float {0.7978846}>()
  k = Constant<value = float {0.044715}>()
  xx = Mul(x, x)
  x3 = Mul(xx, x)
  kx3 = Mul(x3, k)
  in = Add(kx3, x)
  t = Mul(c, in)
  th = Tanh(t)
  p = Add(th, one)
  m = Mul(x, p)
  y = Mul(m, half)
)"), "tanh");
}

TEST_CASE("fuse-gelu needs opset 20", "[pass]") {
  auto m = parse_or_fail(model(kErfTorch, 19));
  auto r = apply("fuse-gelu", *m);
  CHECK(r.counter("fused") == 0);
  CHECK(count_ops(*m, "Erf") == 1);
  CHECK(m->opset() == 19);
}

TEST_CASE("fuse-gelu rejects constants outside the tolerance", "[pass]") {
  std::string body = kErfTorch;
  body.replace(body.find("1.4142135"), 9, "1.414");
  auto m = parse_or_fail(model(body));
  CHECK(apply("fuse-gelu", *m).counter("fused") == 0);
}

TEST_CASE("fuse-gelu leaves an intermediate that is a graph output", "[pass]") {
  auto m = parse_or_fail(model(kErfTorch, 20, "float[2,16] y, float[2,16] e"));
  CHECK(apply("fuse-gelu", *m).counter("fused") == 0);
}

TEST_CASE("fuse-gelu leaves an intermediate with another consumer", "[pass]") {
  auto m = parse_or_fail(model(std::string(kErfTorch) + "  r = Relu(m)\n", 20, "float[2,16] y, float[2,16] r"));
  CHECK(apply("fuse-gelu", *m).counter("fused") == 0);
}

TEST_CASE("fuse-gelu leaves a different x inside the erf", "[pass]") {
  auto m = parse_or_fail(R"(
<ir_version: 9, opset_import: ["" : 20]>
g (float[2,16] x, float[2,16] w) => (float[2,16] y) {
  half = Constant<value = float {0.5}>()
  one = Constant<value = float {1}>()
  s2 = Constant<value = float {1.4142135}>()
  a = Div(w, s2)
  e = Erf(a)
  p = Add(e, one)
  m = Mul(x, p)
  y = Mul(m, half)
}
)");
  CHECK(apply("fuse-gelu", *m).counter("fused") == 0);
}
