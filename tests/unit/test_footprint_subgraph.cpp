// MACs, parameters and shapes inside If / Loop / Scan bodies
// (lib/analysis/footprint.h, lib/analysis/shape_propagation.h), against
// hand-computed values; the corpus cases with control flow validated against
// docs/report.schema.json.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "analysis/footprint.h"
#include "analysis/shape_propagation.h"
#include "exec_ort_compare.h"
#include "onnx/model_io.h"
#include "report/budget.h"
#include "report/footprint_report.h"
#include "util/json_schema.h"
#include "util/test_util.h"

using namespace effopt;
using nlohmann::json;

namespace {

// Names every node "<op>" (the text syntax has no node names), depth first;
// a second node of the same type gets "<op>2".
void name_nodes(Graph& g, std::map<std::string, int>& seen) {
  for (auto& n : g.nodes()) {
    int k = ++seen[n->op_type];
    n->name = k == 1 ? n->op_type : n->op_type + std::to_string(k);
    for (Graph* sg : n->subgraphs()) name_nodes(*sg, seen);
  }
}

// ONNX's text syntax reads a type without dims ("float h") as a scalar; in
// these tests it means "no shape given", as exporters write body signatures:
// the shapes then come from the outer node (the propagation under test).
void unshape_bodies(Graph& g) {
  for (auto& n : g.nodes())
    for (Graph* sg : n->subgraphs()) {
      for (auto* list : {&sg->inputs(), &sg->outputs()})
        for (Value* v : *list)
          if (v->type.shape && v->type.shape->empty()) v->type.shape.reset();
      unshape_bodies(*sg);
    }
}

std::unique_ptr<Model> shaped(const std::string& text, bool unshape_outputs = false) {
  auto m = test::parse_or_fail(text);
  unshape_bodies(*m->graph);
  if (unshape_outputs)
    for (Value* o : m->graph->outputs()) o->type.shape.reset();
  std::map<std::string, int> seen;
  name_nodes(*m->graph, seen);
  REQUIRE(infer_shapes_with_bindings(*m, {}));
  return m;
}

const NodeFootprint& node_fp(const Footprint& f, const std::string& name) {
  for (auto& n : f.nodes)
    if (n.name == name) return n;
  FAIL("no node " << name);
  return f.nodes.front();
}

Graph& body_of(Model& m, const std::string& op, const char* attr = "body") {
  for (auto& n : m.graph->nodes())
    if (n->op_type == op) return *n->attr(attr)->g;
  FAIL("no " << op);
  return *m.graph;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += x + "\n";
  return s;
}

json report_schema() {
  std::ifstream in(std::string(EFFOPT_SOURCE_DIR) + "/docs/report.schema.json");
  REQUIRE(in);
  return json::parse(in);
}

void require_valid(const json& doc) {
  auto errors = validate_json(doc, report_schema());
  INFO(joined(errors));
  REQUIRE(errors.empty());
}

// A recurrent cell over 6 steps: the state h and each step x of X.
const char* kScan = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[6,1,3] X, float[1,4] H0, float[3,4] Wx, float[4,4] Wh) => (float[1,4] H, float[6,1,4] Ys) {
  H, Ys = Scan<num_scan_inputs = 1, body = b (float h, float x) => (float h2, float y) {
    xw = MatMul(x, Wx)
    hw = MatMul(h, Wh)
    h2 = Add(xw, hw)
    y = Identity(h2)
  }>(H0, X)
}
)";

}  // namespace

TEST_CASE("shapes: a Scan body's inputs get the state's shape and the scan input's without its axis",
          "[footprint-subgraph][shape]") {
  auto m = shaped(kScan);
  Graph& b = body_of(*m, "Scan");
  CHECK(b.inputs()[0]->type.to_string() == "float32[1,4]");  // state h: H0's shape, unchanged by an iteration
  CHECK(b.inputs()[1]->type.to_string() == "float32[1,3]");  // x: [6,1,3] without axis 0
  CHECK(b.find_local("xw")->type.to_string() == "float32[1,4]");
  CHECK(b.find_local("hw")->type.to_string() == "float32[1,4]");
}

TEST_CASE("shapes: effopt's own propagation types Scan and Loop bodies without ONNX's inference",
          "[footprint-subgraph][shape]") {
  auto m = test::parse_or_fail(kScan);
  unshape_bodies(*m->graph);
  ShapeInferenceStats st;
  REQUIRE(propagate_shapes(*m, st));
  Graph& b = body_of(*m, "Scan");
  CHECK(b.inputs()[0]->type.to_string() == "float32[1,4]");
  CHECK(b.inputs()[1]->type.to_string() == "float32[1,3]");
  CHECK(b.find_local("h2")->type.to_string() == "float32[1,4]");
  CHECK(m->graph->find_local("Ys")->type.to_string() == "float32[6,1,4]");
  auto l = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,4] X, float[4,4] W) => (float Y) <int64 M = {5}> {
  t = Constant<value = bool {1}>()
  Y = Loop<body = b (int64 i, bool cin, float x) => (bool cout, float y) {
    cout = Identity(cin)
    y = MatMul(x, W)
  }>(M, t, X)
}
)");
  unshape_bodies(*l->graph);
  l->graph->outputs()[0]->type.shape.reset();
  REQUIRE(propagate_shapes(*l, st));
  Graph& lb = body_of(*l, "Loop");
  CHECK(lb.inputs()[0]->type.to_string() == "int64[]");
  CHECK(lb.inputs()[1]->type.to_string() == "bool[]");
  CHECK(lb.inputs()[2]->type.to_string() == "float32[2,4]");
  CHECK(lb.find_local("y")->type.to_string() == "float32[2,4]");
  CHECK(l->graph->outputs()[0]->type.to_string() == "float32[2,4]");
}

namespace {

// Deterministic inputs for every graph input (all dims known): small floats,
// true, 3 for integers.
std::vector<std::pair<std::string, exec::TensorValue>> inputs_for(const Model& m) {
  std::vector<std::pair<std::string, exec::TensorValue>> in;
  for (Value* v : m.graph->inputs()) {
    if (v->initializer) continue;
    std::vector<int64_t> dims;
    for (auto& d : *v->type.shape) dims.push_back(*d.value);
    auto t = exec::TensorValue::allocate(v->type.elem_type, dims);
    const size_t n = t.element_count();
    for (size_t i = 0; i < n; ++i) {
      if (v->type.elem_type == DataType::Float) t.mutable_data<float>()[i] = static_cast<float>(i % 7) * 0.1f - 0.3f;
      else if (v->type.elem_type == DataType::Bool) t.mutable_data<bool>()[i] = true;
      else if (v->type.elem_type == DataType::Int64) t.mutable_data<int64_t>()[i] = 3;
    }
    in.emplace_back(v->name(), std::move(t));
  }
  return in;
}

}  // namespace

TEST_CASE("shapes: propagated body and output shapes agree with execution (effopt's executor and ONNX Runtime)",
          "[footprint-subgraph][shape][ort]") {
  const char* kNested = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[3,2,4] X, float[4,5] W, float[1,2,5,5] I, float[3,2,3,3] K, float[2,5] S0)
  => (float Out, float R) <int64 M = {2}> {
  t = Constant<value = bool {1}>()
  Out, R = Loop<body = b (int64 i, bool cin, float s) => (bool cout, float s2, float r) {
    cout = Identity(cin)
    s2 = Scan<num_scan_inputs = 1, body = sb (float acc, float x) => (float acc2) {
      xw = MatMul(x, W)
      acc2 = Add(acc, xw)
    }>(s, X)
    r = If<then_branch = tb () => (float r1) { r1 = Conv<pads = [1,1,1,1]>(I, K) },
           else_branch = eb () => (float r2) { r2 = Identity(I) }>(c)
  }>(M, t, S0)
}
)";
  for (const char* text : {kScan, kNested}) {
    auto m = test::parse_or_fail(text);
    unshape_bodies(*m->graph);
    for (Value* o : m->graph->outputs()) o->type.shape.reset();  // to be propagated
    REQUIRE(infer_shapes_with_bindings(*m, {}));
    auto in = inputs_for(*m);
    auto out = test::run_exec(*m, in);
    REQUIRE(out.size() == m->graph->outputs().size());
    for (size_t i = 0; i < out.size(); ++i) {
      const Value* o = m->graph->outputs()[i];
      INFO(o->name() << " " << o->type.to_string());
      REQUIRE(o->type.shape);
      // Known dims must be the real ones (R's channel dim stays unknown: the If's branches differ).
      REQUIRE(o->type.shape->size() == out[i].dims().size());
      for (size_t k = 0; k < out[i].dims().size(); ++k)
        if ((*o->type.shape)[k].is_known()) CHECK(*(*o->type.shape)[k].value == out[i].dims()[k]);
    }
    // The model with the propagated types written into its bodies still runs in ONNX Runtime, equally.
    test::matches_ort(*m, in);
  }
}

TEST_CASE("Scan: body MACs x the scan axis length", "[footprint-subgraph]") {
  auto m = shaped(kScan);
  Footprint f = compute_footprint(*m);
  // Per step: x[1,3] x Wx[3,4] = 1*3*4 = 12, h[1,4] x Wh[4,4] = 1*4*4 = 16: 28; 6 steps: 168.
  const NodeFootprint& scan = node_fp(f, "Scan");
  CHECK(scan.macs == 168u);
  REQUIRE(scan.subgraph_macs);
  CHECK(scan.subgraph_macs->body_macs == 28u);
  CHECK(scan.subgraph_macs->iterations == 6);
  CHECK_FALSE(scan.subgraph_macs->upper_bound);
  CHECK(scan.elementwise_ops == 6u * (4 + 0));  // the Add, 4 elements per step (Identity is not work)
  CHECK(f.macs == 168u);
  CHECK(f.macs_by_op.at("MatMul") == 168u);
  CHECK(f.macs_complete());
  CHECK(f.macs_upper_bound_nodes.empty());
}

TEST_CASE("Scan: an unknown scan axis length is not counted, the node named", "[footprint-subgraph]") {
  auto m = shaped(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[T,1,3] X, float[1,4] H0, float[3,4] Wx) => (float[1,4] H) {
  H = Scan<num_scan_inputs = 1, body = b (float h, float x) => (float h2) {
    xw = MatMul(x, Wx)
    h2 = Add(h, xw)
  }>(H0, X)
}
)");
  Footprint f = compute_footprint(*m);
  CHECK_FALSE(f.macs_complete());
  REQUIRE(f.macs_unknown_nodes.size() == 1);
  CHECK(f.macs_unknown_nodes[0].find("Scan (Scan)") == 0);
  CHECK(f.macs_unknown_nodes[0].find("'X'") != std::string::npos);
  CHECK_FALSE(node_fp(f, "Scan").macs);
  CHECK(node_fp(f, "Scan").subgraph_macs->body_macs == 12u);  // 1*3*4, known per iteration
  // --shape T=5 binds it: 12 x 5.
  auto m2 = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[T,1,3] X, float[1,4] H0, float[3,4] Wx) => (float[1,4] H) {
  H = Scan<num_scan_inputs = 1, body = b (float h, float x) => (float h2) {
    xw = MatMul(x, Wx)
    h2 = Add(h, xw)
  }>(H0, X)
}
)");
  unshape_bodies(*m2->graph);
  auto bind = parse_shape_binding("T=5");
  REQUIRE(bind);
  REQUIRE(infer_shapes_with_bindings(*m2, {*bind}));
  Footprint f2 = compute_footprint(*m2);
  CHECK(f2.macs_complete());
  CHECK(f2.macs == 60u);
}

TEST_CASE("Loop: a constant trip count and a condition passed on unchanged count exactly", "[footprint-subgraph]") {
  auto m = shaped(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,4] X, float[4,4] W) => (float[2,4] Y, float[5,2,4] S) {
  M = Constant<value = int64 {5}>()
  t = Constant<value = bool {1}>()
  Y, S = Loop<body = b (int64 i, bool cin, float x) => (bool cout, float y, float s) {
    cout = Identity(cin)
    y = MatMul(x, W)
    s = Identity(y)
  }>(M, t, X)
}
)");
  Graph& b = body_of(*m, "Loop");
  CHECK(b.inputs()[0]->type.to_string() == "int64[]");
  CHECK(b.inputs()[2]->type.to_string() == "float32[2,4]");  // the carried x keeps X's shape
  Footprint f = compute_footprint(*m);
  // Per iteration x[2,4] x W[4,4] = 2*4*4 = 32; M = 5: 160.
  const NodeFootprint& loop = node_fp(f, "Loop");
  CHECK(loop.macs == 160u);
  REQUIRE(loop.subgraph_macs);
  CHECK(loop.subgraph_macs->body_macs == 32u);
  CHECK(loop.subgraph_macs->iterations == 5);
  CHECK_FALSE(loop.subgraph_macs->upper_bound);
  CHECK(f.macs == 160u);
  CHECK(f.macs_complete());
  CHECK(f.macs_upper_bound_nodes.empty());
  CHECK(loop.output_shapes[1] == "float32[5,2,4]");  // scan output: M iterations exactly
}

TEST_CASE("Loop: a condition that can end it early makes M x body an upper bound", "[footprint-subgraph]") {
  auto m = shaped(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,4] X, float[4,4] W) => (float[2,4] Y) <int64 M = {5}> {
  t = Constant<value = bool {1}>()
  Y = Loop<body = b (int64 i, bool cin, float x) => (bool cout, float y) {
    y = MatMul(x, W)
    s = ReduceSum<keepdims = 0>(y)
    lim = Constant<value = float {100}>()
    cout = Less(s, lim)
  }>(M, t, X)
}
)");
  Footprint f = compute_footprint(*m);
  const NodeFootprint& loop = node_fp(f, "Loop");
  CHECK(loop.macs == 160u);  // 32 x 5 at most
  REQUIRE(loop.subgraph_macs);
  CHECK(loop.subgraph_macs->upper_bound);
  CHECK(loop.subgraph_macs->derivation.find("upper bound") != std::string::npos);
  CHECK(f.macs_complete());  // an upper bound still proves a maximum
  REQUIRE(f.macs_upper_bound_nodes.size() == 1);
  CHECK(f.macs_upper_bound_nodes[0].find("Loop (Loop)") == 0);
  // Params of the Loop: its constant inputs M and t (1 element each) and the body's Constant lim (1).
  CHECK(loop.params == 3u);
  json r = model_report("m.onnx", f, nullptr, {});
  require_valid(r);
  CHECK(r["macs_upper_bound"] == true);
  CHECK(r["footprint"]["macs"]["upper_bound"] == true);
}

TEST_CASE("Loop: an unknown trip count is not counted, the node named with what would help",
          "[footprint-subgraph]") {
  auto m = shaped(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (int64 n, float[2,4] X, float[4,4] W) => (float[2,4] Y) {
  t = Constant<value = bool {1}>()
  Y = Loop<body = b (int64 i, bool cin, float x) => (bool cout, float y) {
    cout = Identity(cin)
    y = MatMul(x, W)
  }>(n, t, X)
}
)");
  Footprint f = compute_footprint(*m);
  CHECK_FALSE(f.macs_complete());
  CHECK(f.macs == 0u);  // never guessed
  REQUIRE(f.macs_unknown_nodes.size() == 1);
  const std::string& u = f.macs_unknown_nodes[0];
  CHECK(u.find("Loop (Loop)") == 0);
  CHECK(u.find("'n'") != std::string::npos);
  CHECK(u.find("32 MACs per iteration") != std::string::npos);
  CHECK(u.find("--shape") != std::string::npos);
  const NodeFootprint& loop = node_fp(f, "Loop");
  CHECK_FALSE(loop.macs);
  CHECK(loop.macs_unknown);
  CHECK(loop.subgraph_macs->body_macs == 32u);
  CHECK_FALSE(loop.subgraph_macs->iterations);
}

TEST_CASE("Loop: a state whose shape changes across iterations is not given the initial shape",
          "[footprint-subgraph][shape]") {
  auto m = shaped(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,4] X, float[4,4] W) => (float[?,4] Y) <int64 M = {3}> {
  t = Constant<value = bool {1}>()
  Y = Loop<body = b (int64 i, bool cin, float x) => (bool cout, float y) {
    cout = Identity(cin)
    p = MatMul(x, W)
    y = Concat<axis = 0>(x, p)
  }>(M, t, X)
}
)");
  // x doubles its rows each iteration (2, 4, 8): one iteration's MACs differ from the next.
  Graph& b = body_of(*m, "Loop");
  auto xs = b.inputs()[2]->type;
  CHECK_FALSE((xs.shape && !xs.shape->empty() && (*xs.shape)[0].is_known()));
  Footprint f = compute_footprint(*m);
  CHECK_FALSE(f.macs_complete());
  REQUIRE(f.macs_unknown_nodes.size() == 1);
  CHECK(f.macs_unknown_nodes[0].find("Loop (Loop) > body > MatMul (MatMul)") == 0);
}

TEST_CASE("If: the larger branch, an upper bound, with each branch's figure", "[footprint-subgraph]") {
  auto m = shaped(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[2,3] A, float[3,5] B, float[5,5] C) => (float[2,5] Z) {
  Z = If<then_branch = t () => (float z1) { z1 = MatMul(A, B) },
         else_branch = e () => (float z2) {
           p = MatMul(A, B)
           z2 = MatMul(p, C)
         }>(c)
}
)");
  Footprint f = compute_footprint(*m);
  // then: 2*3*5 = 30; else: 30 + 2*5*5 = 80.
  const NodeFootprint& n = node_fp(f, "If");
  CHECK(n.macs == 80u);
  REQUIRE(n.subgraph_macs);
  CHECK(n.subgraph_macs->then_macs == 30u);
  CHECK(n.subgraph_macs->else_macs == 80u);
  CHECK(n.subgraph_macs->upper_bound);
  CHECK(f.macs == 80u);
  CHECK(f.macs_complete());
  REQUIRE(f.macs_upper_bound_nodes.size() == 1);
  CHECK(f.macs_upper_bound_nodes[0].find("If (If)") == 0);
}

TEST_CASE("If: a constant condition picks its branch exactly", "[footprint-subgraph]") {
  auto m = shaped(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] A, float[3,5] B, float[5,5] C) => (float[2,5] Z) {
  c = Constant<value = bool {1}>()
  Z = If<then_branch = t () => (float z1) { z1 = MatMul(A, B) },
         else_branch = e () => (float z2) {
           p = MatMul(A, B)
           z2 = MatMul(p, C)
         }>(c)
}
)");
  Footprint f = compute_footprint(*m);
  const NodeFootprint& n = node_fp(f, "If");
  CHECK(n.macs == 30u);  // then_branch: 2*3*5
  CHECK_FALSE(n.subgraph_macs->upper_bound);
  CHECK(f.macs_upper_bound_nodes.empty());
  CHECK(n.output_shapes[0] == "float32[2,5]");
}

TEST_CASE("nested: a Loop holding a Scan over an outer value and an If; paths name the nodes",
          "[footprint-subgraph]") {
  auto m = shaped(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[3,2,4] X, float[4,5] W, float[1,2,5,5] I, float[3,2,3,3] K, float[2,5] S0)
  => (float[2,5] Out) <int64 M = {2}> {
  t = Constant<value = bool {1}>()
  Out = Loop<body = b (int64 i, bool cin, float s) => (bool cout, float s2) {
    cout = Identity(cin)
    s2 = Scan<num_scan_inputs = 1, body = sb (float acc, float x) => (float acc2) {
      xw = MatMul(x, W)
      acc2 = Add(acc, xw)
    }>(s, X)
    r = If<then_branch = tb () => (float r1) { r1 = Conv<pads = [1,1,1,1]>(I, K) },
           else_branch = eb () => (float r2) { r2 = Identity(I) }>(c)
  }>(M, t, S0)
}
)");
  Footprint f = compute_footprint(*m);
  // Scan: x[2,4] x W[4,5] = 2*4*5 = 40 per step, 3 steps (X's axis 0): 120.
  // If: then Conv, output [1,3,5,5] = 75 elements x Cin 2 x 3*3 = 1350; else 0: at most 1350.
  // Loop body 120 + 1350 = 1470, M = 2: 2940.
  const NodeFootprint& loop = node_fp(f, "Loop");
  CHECK(loop.macs == 2940u);
  CHECK(loop.subgraph_macs->body_macs == 1470u);
  CHECK(f.macs == 2940u);
  CHECK(f.macs_by_op.at("MatMul") == 240u);
  CHECK(f.macs_by_op.at("Conv") == 2700u);
  CHECK(f.macs_complete());
  INFO(joined(f.macs_upper_bound_nodes));
  REQUIRE(f.macs_upper_bound_nodes.size() == 1);
  CHECK(f.macs_upper_bound_nodes[0].find("Loop (Loop) > body > If (If)") == 0);
  // The report names the outer node's derivation and validates.
  json r = model_report("m.onnx", f, nullptr, {});
  require_valid(r);
  json n = r["footprint"]["nodes"][1];  // after the Constant
  CHECK(n["name"] == "Loop");
  CHECK(n["subgraph_macs"]["body"] == 1470);
  CHECK(n["subgraph_macs"]["iterations"] == 2);
}

TEST_CASE("nested: an unknown dim deep inside names the inner node", "[footprint-subgraph]") {
  auto m = shaped(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[2,N] A, float[N,5] B) => (float[2,5] Z) <int64 M = {4}> {
  t = Constant<value = bool {1}>()
  Z = Loop<body = b (int64 i, bool cin) => (bool cout, float z) {
    cout = Identity(cin)
    z = If<then_branch = tb () => (float z1) { z1 = MatMul(A, B) },
           else_branch = eb () => (float z2) { z2 = MatMul(A, B) }>(c)
  }>(M, t)
}
)");
  Footprint f = compute_footprint(*m);
  CHECK_FALSE(f.macs_complete());
  INFO(joined(f.macs_unknown_nodes));
  REQUIRE(f.macs_unknown_nodes.size() == 2);  // both branches
  CHECK(f.macs_unknown_nodes[0].find("Loop (Loop) > body > If (If) > then_branch > MatMul (MatMul)") == 0);
  CHECK(f.macs_unknown_nodes[1].find("Loop (Loop) > body > If (If) > else_branch > MatMul2 (MatMul)") == 0);
  CHECK_FALSE(node_fp(f, "Loop").macs);
}

TEST_CASE("a MAC budget exceeded by an upper bound says it is one", "[footprint-subgraph][budget]") {
  auto m = shaped(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[2,3] A, float[3,5] B, float[5,5] C) => (float[2,5] Z) {
  Z = If<then_branch = t () => (float z1) { z1 = MatMul(A, B) },
         else_branch = e () => (float z2) {
           p = MatMul(A, B)
           z2 = MatMul(p, C)
         }>(c)
}
)");
  Footprint f = compute_footprint(*m);
  Budgets b;
  b.max_macs = 50;  // then 30 would fit, else 80 does not
  auto r = check_budgets(b, f, nullptr);
  REQUIRE(r.size() == 1);
  CHECK_FALSE(r[0].passed);
  CHECK(r[0].message.find("upper bound") != std::string::npos);
  CHECK(r[0].message.find("If (If)") != std::string::npos);
  b.max_macs = 80;  // the upper bound fits: the real count does too
  CHECK(check_budgets(b, f, nullptr)[0].passed);
}

TEST_CASE("Scan: scan_input_axes / scan_output_axes pick the axis counted and inserted",
          "[footprint-subgraph][shape]") {
  auto m = shaped(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,6,3] X, float[1,4] H0, float[3,4] Wx) => (float[1,4] H, float Ys) {
  H, Ys = Scan<num_scan_inputs = 1, scan_input_axes = [1], scan_output_axes = [1],
              body = b (float h, float x) => (float h2, float y) {
    xw = MatMul(x, Wx)
    h2 = Add(h, xw)
    y = Identity(h2)
  }>(H0, X)
}
)", /*unshape_outputs=*/true);
  // x = X without axis 1: [1,3]; 6 steps of 1*3*4 = 12: 72. Ys: [1,4] with 6 inserted at axis 1.
  CHECK(body_of(*m, "Scan").inputs()[1]->type.to_string() == "float32[1,3]");
  Footprint f = compute_footprint(*m);
  CHECK(node_fp(f, "Scan").macs == 72u);
  CHECK(node_fp(f, "Scan").output_shapes[1] == "float32[1,6,4]");
}

TEST_CASE("Loop: a constant-false condition runs nothing; no M at all is not counted", "[footprint-subgraph]") {
  const char* text = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,4] X, float[4,4] W) => (float[2,4] Y) <int64 M = {5}> {
  f = Constant<value = bool {0}>()
  Y = Loop<body = b (int64 i, bool cin, float x) => (bool cout, float y) {
    cout = Identity(cin)
    y = MatMul(x, W)
  }>(M, f, X)
}
)";
  auto m = shaped(text);
  Footprint f = compute_footprint(*m);
  CHECK(node_fp(f, "Loop").macs == 0u);  // 32 x 0 iterations
  CHECK(node_fp(f, "Loop").subgraph_macs->iterations == 0);
  CHECK(f.macs_complete());
  // Without M (an absent optional input) and a true condition it runs until the condition is false: unknown.
  std::string with_true = text;
  with_true.replace(with_true.find("bool {0}"), 8, "bool {1}");
  auto m2 = shaped(with_true);
  for (auto& n : m2->graph->nodes())
    if (n->op_type == "Loop") n->set_input(0, nullptr);
  Footprint f2 = compute_footprint(*m2);
  CHECK_FALSE(f2.macs_complete());
  REQUIRE(f2.macs_unknown_nodes.size() == 1);
  CHECK(f2.macs_unknown_nodes[0].find("no trip count M") != std::string::npos);
}

TEST_CASE("Loop: a trip count computed from dims counts once they are known; inexact Div is not guessed",
          "[footprint-subgraph]") {
  // M = N * 3 / 2 with N bound to 4: 6 iterations of x[2,4] x W[4,4] = 32: 192. With N = 5 the
  // division is inexact (15 / 2) and M stays unknown.
  const char* text = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,1] T, float[2,4] X, float[4,4] W) => (float[2,4] Y) {
  s = Shape(T)
  zero = Constant<value = int64 {0}>()
  n = Gather(s, zero)
  three = Constant<value = int64 {3}>()
  two = Constant<value = int64 {2}>()
  n3 = Mul(n, three)
  M = Div(n3, two)
  t = Constant<value = bool {1}>()
  Y = Loop<body = b (int64 i, bool cin, float x) => (bool cout, float y) {
    cout = Identity(cin)
    y = MatMul(x, W)
  }>(M, t, X)
}
)";
  for (int64_t n : {4, 5}) {
    auto m = test::parse_or_fail(text);
    unshape_bodies(*m->graph);
    auto bind = parse_shape_binding("N=" + std::to_string(n));
    REQUIRE(bind);
    REQUIRE(infer_shapes_with_bindings(*m, {*bind}));
    Footprint f = compute_footprint(*m);
    INFO("N = " << n);
    if (n == 4) {
      CHECK(f.macs_complete());
      CHECK(f.macs == 192u);
    } else {
      CHECK_FALSE(f.macs_complete());
      CHECK(f.macs == 0u);
    }
  }
}
