// Totals that are not known read as unknown (lib/analysis/footprint.h Total,
// lib/report/footprint_report.h): never a plain number in text, null with a
// reason in JSON, a lower bound only where one is proven, and the --shape
// flags that bind the graph inputs' unknown dims. Expected figures are
// computed by hand in the comments.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "analysis/footprint.h"
#include "analysis/shape_propagation.h"
#include "report/budget.h"
#include "report/footprint_report.h"
#include "util/json_schema.h"
#include "util/test_util.h"

using namespace effopt;
using nlohmann::json;

namespace {

// x[N,S,4] x W[4,2]: dynamic batch and sequence dims.
const char* kDynamic = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,S,4] x) => (float[N,S,2] y) <float[4,2] W = {1,2,3,4,5,6,7,8}> {
  h = MatMul(x, W)
  y = Relu(h)
}
)";

std::unique_ptr<Model> analyzed(const char* text, const std::vector<std::string>& shapes = {}) {
  auto m = test::parse_or_fail(text);
  std::vector<ShapeBinding> bindings;
  for (const std::string& s : shapes) {
    auto b = parse_shape_binding(s);
    REQUIRE(b);
    bindings.push_back(*b);
  }
  REQUIRE(infer_shapes_with_bindings(*m, bindings));
  return m;
}

// Body values written "float v" in the text syntax parse as scalars; they mean "no shape given" (as exporters
// write body signatures), so the shapes come from the outer node.
void unshape_bodies(Graph& g) {
  for (auto& n : g.nodes())
    for (Graph* sg : n->subgraphs()) {
      for (auto* list : {&sg->inputs(), &sg->outputs()})
        for (Value* v : *list)
          if (v->type.elem_type == DataType::Float) v->type.shape.reset();
      unshape_bodies(*sg);
    }
}

std::unique_ptr<Model> analyzed_with_bodies(const char* text) {
  auto m = test::parse_or_fail(text);
  unshape_bodies(*m->graph);
  REQUIRE(infer_shapes_with_bindings(*m, {}));
  return m;
}

json report_schema() {
  std::ifstream in(std::string(EFFOPT_SOURCE_DIR) + "/docs/report.schema.json");
  REQUIRE(in);
  return json::parse(in);
}

void require_valid(const json& doc) {
  auto errors = validate_json(doc, report_schema());
  std::string all;
  for (auto& e : errors) all += e + "\n";
  INFO(all);
  REQUIRE(errors.empty());
}

const char* kTotals[] = {"macs", "elementwise_ops", "activation_bytes", "peak_activation_bytes", "inference_ram_bytes"};

// Each total is a number without a reason, or null with KEY_unknown_reason.
void check_null_iff_reason(const json& section) {
  for (const char* k : kTotals) {
    INFO(k);
    REQUIRE(section.contains(k));
    const bool has_reason = section.contains(std::string(k) + "_unknown_reason");
    CHECK(section[k].is_null() == has_reason);
    if (has_reason) CHECK_FALSE(section[std::string(k) + "_unknown_reason"].get<std::string>().empty());
  }
}

// The text report's line for `key` ("  MACs                     ...").
std::string line_of(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("  " + key + " ", 0) == 0) return line.substr(2 + 24 + 1);
  FAIL("no line '" << key << "' in:\n" << text);
  return "";
}

}  // namespace

TEST_CASE("unknown totals: dynamic batch and sequence dims read as unknown, with the --shape that binds them",
          "[footprint][unknown]") {
  auto m = analyzed(kDynamic);
  Footprint f = compute_footprint(*m);
  REQUIRE(f.unbound_inputs.size() == 1);
  CHECK(f.unbound_inputs[0].input == "x");
  CHECK(f.unbound_inputs[0].suggested_binding == "x=1,1,4");
  CHECK(unbound_dims_text(f.unbound_inputs) == "N (x[0]), S (x[1])");
  CHECK(suggested_shape_flags(f.unbound_inputs) == "--shape x=1,1,4");
  CHECK(f.any_total_unknown());

  const Total macs = f.macs_total();
  CHECK_FALSE(macs.known());
  CHECK(macs.lower_bound == 0);
  CHECK(macs.unknown_reason.find("1 node could not be counted") != std::string::npos);
  CHECK(macs.unknown_reason.find("MatMul") != std::string::npos);
  CHECK(macs.unknown_reason.find("--shape x=1,1,4") != std::string::npos);
  CHECK_FALSE(f.elementwise_total().known());  // Relu over [N,S,2]
  CHECK_FALSE(f.activation_total().known());
  CHECK(f.activation_total().lower_bound == 0);
  CHECK_FALSE(f.peak_activation_total().known());
  // Weights (8 floats = 32 bytes) are known: a lower bound of the inference RAM.
  const Total ram = f.inference_ram_total();
  CHECK_FALSE(ram.known());
  CHECK(ram.lower_bound == 32);

  // Text: "?" or ">= ", never a plain number, and one line with the --shape to paste.
  std::string text = model_text("m.onnx", f, nullptr);
  CHECK(line_of(text, "MACs").rfind("?, unknown: 1 node could not be counted", 0) == 0);
  CHECK(line_of(text, "element-wise ops").rfind("?, unknown: 1 node of unknown size", 0) == 0);
  CHECK(line_of(text, "activation bytes").rfind("?, unknown: 2 nodes have outputs of unknown size", 0) == 0);
  CHECK(line_of(text, "peak activation bytes").rfind("?, unknown:", 0) == 0);
  CHECK(line_of(text, "inference RAM (est.)").rfind(">= 32 (>= 32 B), weights + peak activation (the peak is unknown)",
                                                    0) == 0);
  CHECK(text.find("  ? = unknown: the graph inputs have unknown dims N (x[0]), S (x[1]); count them with --shape "
                  "x=1,1,4 (1 stands for each unknown dim") != std::string::npos);

  // JSON: null with the reason; lower bounds in the details; schema-valid.
  json r = model_report("m.onnx", f, nullptr, {});
  require_valid(r);
  CHECK(r["schema_version"] == 2);
  check_null_iff_reason(r);
  for (const char* k : kTotals) CHECK(r[k].is_null());
  CHECK(r["macs_complete"] == false);
  CHECK(r["activations_complete"] == false);
  CHECK(r["unbound_inputs"] == json::parse(R"([{"input": "x", "shape": ["N", "S", 4], "suggested_shape": "x=1,1,4"}])"));
  CHECK(r["footprint"]["macs"]["counted"] == 0);
  CHECK(r["footprint"]["macs"]["lower_bound"] == 0);
  CHECK(r["footprint"]["elementwise_ops"].is_null());
  CHECK(r["footprint"]["activations"]["total_bytes"].is_null());
  CHECK(r["footprint"]["activations"]["peak_bytes"].is_null());
  CHECK(r["footprint"]["activations"]["peak_after_node"].is_null());
  CHECK(r["footprint"]["inference_ram_bytes"].is_null());
  for (const json& n : r["footprint"]["nodes"]) {
    CHECK(n["macs"].is_null());  // MatMul unknown; Relu is not a MAC op
    if (n["op_type"] == "Relu") CHECK(n["elementwise_ops"].is_null());
  }
}

TEST_CASE("unknown totals: the suggested binding makes every total known", "[footprint][unknown]") {
  Footprint unbound = compute_footprint(*analyzed(kDynamic));
  REQUIRE(unbound.unbound_inputs.size() == 1);
  auto m = analyzed(kDynamic, {unbound.unbound_inputs[0].suggested_binding});
  Footprint f = compute_footprint(*m);
  CHECK(f.unbound_inputs.empty());
  CHECK_FALSE(f.any_total_unknown());
  // [1,1,4] x [4,2]: 2 outputs x K 4 = 8 MACs; h and y 8 bytes each, live together at the Relu.
  CHECK(f.macs_total().value == 8u);
  CHECK(f.macs_total().lower_bound == 8u);
  CHECK(f.elementwise_total().value == 2u);
  CHECK(f.peak_activation_total().value == 16u);
  CHECK(f.inference_ram_total().value == 32u + 16u);
  std::string text = model_text("m.onnx", f, nullptr);
  CHECK(line_of(text, "MACs") == "8 (8)");
  CHECK(text.find("?") == std::string::npos);
  json r = model_report("m.onnx", f, nullptr, {"x=1,1,4"});
  require_valid(r);
  check_null_iff_reason(r);
  CHECK(r["macs"] == 8);
  CHECK(r["unbound_inputs"].empty());
  // A batch and sequence of their own: N=2, S=3 gives 6 rows: 6 x 2 x 4 = 48 MACs, peak 2 x 48 bytes.
  Footprint g = compute_footprint(*analyzed(kDynamic, {"N=2", "S=3"}));
  CHECK(g.macs_total().value == 48u);
  CHECK(g.peak_activation_total().value == 96u);
}

TEST_CASE("unknown totals: what part of the model could be counted is shown as a lower bound", "[footprint][unknown]") {
  // ya = a[2,4] x W[4,2]: 2*2*4 = 16 MACs, 16 bytes; yb over b[N,4] is unknown.
  auto m = analyzed(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,4] a, float[N,4] b) => (float[2,2] ya, float[N,2] yb) <float[4,2] W = {1,2,3,4,5,6,7,8}> {
  ya = MatMul(a, W)
  yb = MatMul(b, W)
}
)");
  Footprint f = compute_footprint(*m);
  CHECK(f.macs == 16u);
  const Total macs = f.macs_total();
  CHECK_FALSE(macs.known());
  CHECK(macs.lower_bound == 16u);
  CHECK(total_text(macs, false) == ">= 16 (>= 16)");
  CHECK(total_short(macs, false) == ">= 16");
  CHECK(f.peak_activation_total().lower_bound == 16u);
  CHECK(line_of(model_text("m.onnx", f, nullptr), "MACs").rfind(">= 16 (>= 16), unknown: 1 node", 0) == 0);
  // Budgets: a lower bound over the limit proves it exceeded; under it, nothing is proven: both fail.
  Budgets over;
  over.max_macs = 10;
  auto r = check_budgets(over, f, nullptr);
  REQUIRE(r.size() == 1);
  CHECK_FALSE(r[0].passed);
  CHECK_FALSE(r[0].unchecked);
  CHECK(r[0].message.find("exceeded: at least 16 (16), over by at least 6 (6)") != std::string::npos);
  Budgets under;
  under.max_macs = 1000;
  r = check_budgets(under, f, nullptr);
  REQUIRE(r.size() == 1);
  CHECK_FALSE(r[0].passed);
  CHECK(r[0].unchecked);
  CHECK(r[0].message.find("could not be checked, the total is unknown (at least 16 (16))") != std::string::npos);
  CHECK(r[0].message.find("--shape b=1,4") != std::string::npos);
}

TEST_CASE("unknown totals: an If counts its smaller branch in the lower bound", "[footprint][unknown]") {
  // If: then 2*3*5 = 30, else 30 + 2*5*5 = 80 MACs (the counted figure takes the larger); E over D[N,3] unknown.
  auto m = analyzed_with_bodies(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[2,3] A, float[3,5] B, float[5,5] C, float[N,3] D) => (float[2,5] Z, float[N,5] E) {
  Z = If<then_branch = t () => (float z1) { z1 = MatMul(A, B) },
         else_branch = e () => (float z2) {
           p = MatMul(A, B)
           z2 = MatMul(p, C)
         }>(c)
  E = MatMul(D, B)
}
)");
  Footprint f = compute_footprint(*m);
  CHECK(f.macs == 80u);
  CHECK(f.macs_lower_bound == 30u);
  CHECK(f.macs_total().lower_bound == 30u);
  CHECK(total_short(f.macs_total(), false) == ">= 30");
}

TEST_CASE("unknown totals: a Loop whose condition may end it early adds nothing to the lower bound",
          "[footprint][unknown]") {
  // Body x[2,4] x W[4,4] = 32 MACs x M 5 = 160, an upper bound (the body negates the condition); E unknown.
  auto m = analyzed_with_bodies(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,4] X, float[4,4] W, float[N,4] D) => (float[2,4] Y, float[N,4] E) <int64 M = {5}> {
  t = Constant<value = bool {1}>()
  Y = Loop<body = b (int64 i, bool cin, float x) => (bool cout, float y) {
    cout = Not(cin)
    y = MatMul(x, W)
  }>(M, t, X)
  E = MatMul(D, W)
}
)");
  Footprint f = compute_footprint(*m);
  CHECK(f.macs == 160u);
  CHECK_FALSE(f.macs_upper_bound_nodes.empty());
  CHECK(f.macs_lower_bound == 0u);
  CHECK(total_short(f.macs_total(), false) == "?");
}

TEST_CASE("unknown totals: element-wise work of a Loop with an unknown trip count is unknown", "[footprint][unknown]") {
  auto m = analyzed_with_bodies(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (int64 n, float[2,4] X) => (float[2,4] Y) {
  t = Constant<value = bool {1}>()
  Y = Loop<body = b (int64 i, bool cin, float x) => (bool cout, float y) {
    cout = Identity(cin)
    y = Relu(x)
  }>(n, t, X)
}
)");
  Footprint f = compute_footprint(*m);
  CHECK(f.macs_complete());  // no MAC op anywhere
  CHECK_FALSE(f.elementwise_complete());
  REQUIRE(f.elementwise_unknown_nodes.size() == 1);
  CHECK(f.elementwise_unknown_nodes[0].find("(Loop): trip count unknown") != std::string::npos);
  CHECK_FALSE(f.elementwise_total().known());
  // Every input dim is known (n is a value): --shape cannot help, and the reason says so.
  CHECK(f.unbound_inputs.empty());
  CHECK(f.elementwise_total().unknown_reason.find("--shape cannot help") != std::string::npos);
}

TEST_CASE("unknown totals: suggested --shape flags are ready to paste", "[footprint][unknown]") {
  auto dims = [](std::vector<Dim> d) { return std::optional<std::vector<Dim>>(std::move(d)); };
  // A name the shell would split is quoted.
  CHECK(suggested_shape_flags({UnboundInput{"my input", dims({Dim::symbolic("N"), Dim::known(3)}), "my input=1,3"}}) ==
        "--shape 'my input=1,3'");
  CHECK(suggested_shape_flags({UnboundInput{"it's", dims({Dim{}}), "it's=1"}}) == "--shape 'it'\\''s=1'");
  // --shape splits at the first '=': such an input is bound through its named dims (each once).
  CHECK(suggested_shape_flags({UnboundInput{"a=b", dims({Dim::symbolic("N"), Dim::symbolic("N"), Dim::known(2)}), ""}}) ==
        "--shape N=1");
  // Rank unknown: a template to fill in.
  CHECK(suggested_shape_flags({UnboundInput{"x", std::nullopt, ""}}) == "--shape x=D0,D1,...");
  CHECK(unbound_dims_text({UnboundInput{"x", std::nullopt, ""}}) == "rank unknown (x)");
  CHECK(unbound_dims_text({UnboundInput{"x", dims({Dim{}, Dim::known(3)}), "x=1,3"}}) == "? (x[0])");
  // One binding per input with unknown dims, from the model's own inputs (known dims kept).
  auto m = analyzed(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[B,3,48,W] img, int64[B,T] ids, float[2] k) => (float[B,3,48,W] y) {
  y = Relu(img)
}
)");
  auto u = unbound_inputs(*m->graph);
  REQUIRE(u.size() == 2);
  CHECK(suggested_shape_flags(u) == "--shape img=1,3,48,1 --shape ids=1,1");
}

TEST_CASE("unknown totals: before/after table and diff", "[footprint][unknown][report]") {
  Footprint unknown = compute_footprint(*analyzed(kDynamic));
  Footprint known = compute_footprint(*analyzed(kDynamic, {"x=1,1,4"}));
  std::string t = compact_table(unknown, unknown, false, nullptr, nullptr, "effopt report a.onnx b.onnx");
  CHECK(t.find("  MACs                                ?              ?  ?\n") != std::string::npos);
  CHECK(t.find("  peak activation                     ?              ?  ?\n") != std::string::npos);
  CHECK(t.find("? = unknown: the graph inputs have unknown dims N (x[0]), S (x[1]); count them with effopt report "
               "a.onnx b.onnx --shape x=1,1,4") != std::string::npos);
  std::string mixed = compact_table(unknown, known, false);
  CHECK(mixed.find("  MACs                                ?              8  ?\n") != std::string::npos);
  std::string both = compact_table(known, known, false);
  CHECK(both.find("?") == std::string::npos);
  // JSON diff: a change involving an unknown total is unknown.
  json d = diff_report(model_section("a.onnx", unknown, nullptr), model_section("b.onnx", known, nullptr));
  require_valid(d);
  CHECK(d["delta"]["macs"].is_null());
  CHECK(d["delta"]["peak_activation_bytes"].is_null());
  CHECK(d["delta"]["params"] == 0);
  check_null_iff_reason(d["before"]);
  check_null_iff_reason(d["after"]);
  CHECK(d["after"]["macs"] == 8);
}
