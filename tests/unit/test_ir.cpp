// IR editing, use/def links and the verifier.
#include <catch2/catch.hpp>

#include "ir/verifier.h"
#include "onnx/model_io.h"
#include "onnx/wire.h"
#include "util/test_util.h"

using namespace effopt;

namespace {
const char* kChain = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) {
  A = Relu(X)
  B = Neg(A)
  Y = Abs(B)
}
)";
}

TEST_CASE("replace_all_uses moves uses and graph outputs", "[ir]") {
  auto m = test::parse_or_fail(kChain);
  auto& g = *m->graph;
  Value* a = g.find("A");
  Value* b = g.find("B");
  g.replace_all_uses(b, a);  // Abs now reads A
  REQUIRE(b->uses().empty());
  REQUIRE(a->uses().size() == 2);
  g.erase_node(b->producer());
  g.prune_dead_values();
  REQUIRE(g.find("B") == nullptr);
  REQUIRE(g.nodes().size() == 2);
  REQUIRE(verify(*m));
}

TEST_CASE("create_node and unique names", "[ir]") {
  auto m = test::parse_or_fail(kChain);
  auto& g = *m->graph;
  std::string n = g.unique_name("A");
  REQUIRE(n == "A_1");
  Node* id = g.create_node("Identity", {g.find("X")}, {n}, "", 0);
  REQUIRE(id->output(0)->producer() == id);
  REQUIRE(g.find("X")->uses().size() == 2);
  REQUIRE(verify(*m));
}

TEST_CASE("unique names avoid names of nested and enclosing graphs", "[ir][subgraph]") {
  // "Z" and "Z_1" exist only inside the then branch, "W" only in the main graph.
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[2] X) => (float[2] Y) {
  W = Neg(X)
  Y = If(c) <
    then_branch = t () => (float[2] T) { Z = Relu(X)  Z_1 = Neg(Z)  T = Abs(Z_1) },
    else_branch = e () => (float[2] E) { E = Abs(W) }
  >
}
)");
  Graph& g = *m->graph;
  CHECK(g.find("Z") == nullptr);  // not visible from the main graph...
  std::string n = g.unique_name("Z");
  CHECK(n == "Z_2");  // ...but taken below it
  Node* neg = g.create_node("Neg", {g.find("X")}, {n}, "", 0);
  CHECK(neg->output(0)->name() == "Z_2");
  CHECK(verify(*m));
  // From inside the else branch: names of the enclosing graph are taken too.
  Graph* else_branch = g.find("Y")->producer()->attr("else_branch")->g.get();
  CHECK(else_branch->unique_name("W") == "W_1");
  CHECK(else_branch->unique_name("fresh") == "fresh");
  Node* relu = else_branch->create_node("Relu", {g.find("X")}, {else_branch->unique_name("Z_2")}, "", 0);
  CHECK(relu->output(0)->name() == "Z_2_1");
  CHECK(verify(*m));
}

TEST_CASE("verifier catches a node placed before its producer", "[verifier]") {
  auto m = test::parse_or_fail(kChain);
  auto& g = *m->graph;
  std::vector<Node*> order;
  for (auto& n : g.nodes()) order.push_back(n.get());
  std::swap(order[0], order[2]);
  g.reorder(order);
  auto st = verify(*m);
  REQUIRE(!st);
  REQUIRE_THAT(st.error().message, Catch::Contains("before it is produced"));
}

TEST_CASE("verifier catches an undefined outer value and a stale use list", "[verifier]") {
  auto m = test::parse_or_fail(kChain);
  auto m2 = test::parse_or_fail(kChain);
  auto& g = *m->graph;
  // An input pointing at a value of another model's graph is out of scope.
  g.nodes()[1]->set_input(0, m2->graph->find("A"));
  auto st = verify(*m);
  REQUIRE(!st);
  REQUIRE_THAT(st.error().message, Catch::Contains("not defined in scope"));
}

TEST_CASE("verifier catches initializer type mismatch", "[verifier]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) <float[2] W = {1, 2}> { Y = Add(X, W) }
)");
  m->graph->find("W")->type.elem_type = DataType::Int64;
  auto st = verify(*m);
  REQUIRE(!st);
  REQUIRE_THAT(st.error().message, Catch::Contains("declared type"));
}

TEST_CASE("verifier catches a subgraph value shadowing an outer one", "[verifier][subgraph]") {
  auto m = parse_model_text(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[2] X) => (float[2] Y) {
  Z = Neg(X)
  Y = If(c) <
    then_branch = t () => (float[2] Z) { Z = Relu(X) },
    else_branch = e () => (float[2] B) { B = Abs(X) }
  >
}
)");
  REQUIRE(m);
  auto st = verify(**m);
  REQUIRE(!st);
  REQUIRE_THAT(st.error().message, Catch::Contains("shadows"));
}

TEST_CASE("wire markers round-trip and reject lookalikes", "[wire]") {
  uint64_t idx = 0;
  REQUIRE(wire::parse_marker(wire::make_marker(123456789), &idx));
  REQUIRE(idx == 123456789);
  REQUIRE_FALSE(wire::parse_marker("short", &idx));
  std::string m = wire::make_marker(1);
  m[0] = 'x';
  REQUIRE_FALSE(wire::parse_marker(m, &idx));
}

TEST_CASE("wire stripping refuses truncated data", "[wire][bad-input]") {
  // Field 7 (graph), length 100, but only 3 bytes follow.
  std::string bytes = "\x3a\x64" "abc";
  std::vector<wire::Span> spans;
  auto r = wire::strip_tensor_data(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size(), &spans, "t.onnx");
  REQUIRE(!r);
  REQUIRE(r.error().kind == ErrorKind::InvalidModel);
  REQUIRE_THAT(r.error().message, Catch::Contains("t.onnx"));
}
