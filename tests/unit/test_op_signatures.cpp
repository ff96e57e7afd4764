// Operator signatures (onnx/op_signatures.h) and their check
// (verify_node_signatures, ir/verifier.h): where a signature comes from at
// each opset, and that the importer and the executor's Session refuse nodes
// that do not match, naming them. The CLI side: tests/cli/test_node_signature_cli.cpp.
#include <catch2/catch.hpp>

#include <onnx/defs/schema.h>

#include <climits>
#include <set>

#include "exec/executor.h"
#include "ir/verifier.h"
#include "onnx/model_io.h"
#include "onnx/op_signatures.h"
#include "onnx/opset_convert.h"
#include "util/test_util.h"

using namespace effopt;

namespace {

using Arity = OpSignature::Arity;

OpSignature sig_or_fail(std::string_view domain, std::string_view op, int64_t opset,
                        NewerOpsets newer = NewerOpsets::Unknown) {
  auto s = onnx_op_signature(domain, op, opset, newer);
  INFO(op << " at opset " << opset);
  REQUIRE(s);
  return *s;
}

}  // namespace

TEST_CASE("signatures of ONNX 1.12's opsets come from its schemas", "[signature]") {
  OpSignature pool = sig_or_fail("", "MaxPool", 13);
  CHECK(pool.label == "MaxPool-12");
  CHECK(pool.min_inputs == 1);
  CHECK(pool.max_inputs == 1);
  CHECK(pool.min_outputs == 1);
  CHECK(pool.max_outputs == 2);
  REQUIRE(pool.outputs.size() == 2);
  CHECK(pool.outputs[1].name == "Indices");
  CHECK(pool.outputs[1].arity == Arity::Optional);
  CHECK(sig_or_fail("ai.onnx", "MaxPool", 13).label == "MaxPool-12");

  OpSignature concat = sig_or_fail("", "Concat", 13);
  CHECK(concat.min_inputs == 1);
  CHECK(concat.max_inputs == INT_MAX);
  REQUIRE(concat.inputs.size() == 1);
  CHECK(concat.inputs[0].arity == Arity::Variadic);

  OpSignature resize = sig_or_fail("", "Resize", 13);
  CHECK(resize.label == "Resize-13");
  CHECK(resize.min_inputs == 1);  // roi and scales optional
  CHECK(resize.max_inputs == 4);

  OpSignature label_encoder = sig_or_fail("ai.onnx.ml", "LabelEncoder", 2);
  CHECK(label_encoder.label == "ai.onnx.ml::LabelEncoder-2");
  CHECK(label_encoder.max_inputs == 1);
}

TEST_CASE("opsets 18..21 use effopt's table or the previous version's parameters", "[signature]") {
  OpSignature r17 = sig_or_fail("", "ReduceMean", 17);
  CHECK(r17.label == "ReduceMean-13");
  CHECK(r17.max_inputs == 1);
  OpSignature r18 = sig_or_fail("", "ReduceMean", 18);
  CHECK(r18.label == "ReduceMean-18");
  CHECK(r18.min_inputs == 1);
  CHECK(r18.max_inputs == 2);
  REQUIRE(r18.inputs.size() == 2);
  CHECK(r18.inputs[1].name == "axes");
  CHECK(r18.inputs[1].arity == Arity::Optional);

  // Pad: axes added at 18, then types only at 19 and 21.
  for (int64_t opset : {18, 19, 20, 21}) {
    OpSignature pad = sig_or_fail("", "Pad", opset);
    CHECK(pad.min_inputs == 2);
    CHECK(pad.max_inputs == 4);
  }
  CHECK(sig_or_fail("", "Pad", 21).label == "Pad-21");
  // Resize-18 and -19 widened attributes only: Resize-13's parameters.
  OpSignature resize = sig_or_fail("", "Resize", 19);
  CHECK(resize.label == "Resize-19");
  CHECK(resize.max_inputs == 4);
  // An op new at 20, and one whose outputs changed.
  CHECK(sig_or_fail("", "Gelu", 20).max_inputs == 1);
  CHECK_FALSE(onnx_op_signature("", "Gelu", 19));  // Gelu-20 does not exist before opset 20
  OpSignature split = sig_or_fail("", "StringSplit", 20);
  CHECK(split.min_outputs == 2);
  CHECK(split.max_outputs == 2);
  OpSignature dft = sig_or_fail("", "DFT", 20);
  CHECK(dft.max_inputs == 3);
  CHECK(sig_or_fail("", "DFT", 17).max_inputs == 2);
}

TEST_CASE("every ai.onnx op version up to opset 21 has a signature", "[signature]") {
  // Ops new at 18..21 (ONNX 1.16's operator_sets.h) plus every op ONNX 1.12 knows.
  std::set<std::string> ops = {"CenterCropPad", "Mish",         "Col2Im",      "BitwiseAnd",     "BitwiseOr",
                                  "BitwiseXor",    "BitwiseNot",   "GroupNormalization", "DeformConv", "AffineGrid",
                                  "Gelu",          "ImageDecoder", "RegexFullMatch", "StringConcat", "StringSplit"};
  for (const auto& s : ONNX_NAMESPACE::OpSchemaRegistry::get_all_schemas())
    if (s.domain().empty()) ops.insert(s.Name());
  size_t checked = 0;
  for (int64_t opset = 1; opset <= 21; ++opset)
    for (const auto& op : ops) {
      if (onnx_op_version(op, opset) == 0) continue;
      INFO(op << " at opset " << opset << " (version " << onnx_op_version(op, opset) << ")");
      auto s = onnx_op_signature("", op, opset);
      REQUIRE(s);
      CHECK(s->label == op + "-" + std::to_string(onnx_op_version(op, opset)));
      CHECK(s->min_inputs <= s->max_inputs);
      ++checked;
    }
  CHECK(checked > 2500);
}

TEST_CASE("unknown domains, versions and ops have no signature", "[signature]") {
  CHECK_FALSE(onnx_op_signature("com.microsoft", "FusedConv", 1));
  CHECK_FALSE(onnx_op_signature("ai.onnx.ml", "LabelEncoder", 4));  // past ONNX 1.12's ai.onnx.ml 3
  CHECK_FALSE(onnx_op_signature("", "NoSuchOp", 13));
  CHECK_FALSE(onnx_op_signature("", "Relu", 0));  // the model does not import the domain
  // Past opset 21: unknown to the importer; the newest known version for the executor.
  CHECK_FALSE(onnx_op_signature("", "Relu", 22));
  CHECK(sig_or_fail("", "Relu", 22, NewerOpsets::NewestKnown).label == "Relu-14");
  CHECK(sig_or_fail("", "ReduceMax", 30, NewerOpsets::NewestKnown).label == "ReduceMax-20");
}

TEST_CASE("verify_node_signatures names each node and where it is", "[signature][verifier]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13, "local" : 1]>
g (bool c, float[2] X) => (float[2] Y, float[2] Z)
{
  Y = If (c) <
    then_branch = t () => (float[2] A) { A = Relu(X) },
    else_branch = e () => (float[2] B) { B = Abs(X) }
  >
  Z = local.Twice(X)
}
<domain: "local", opset_import: ["" : 13]>
Twice (x) => (y)
{
  y = Add(x, x)
}
)");
  REQUIRE(verify_onnx_signatures(*m));
  Graph& then_g = *m->graph->nodes()[0]->subgraphs()[0];
  then_g.nodes()[0]->add_input(m->graph->find("X"));
  Graph& body = *m->functions[0].body;
  body.nodes()[0]->remove_input(1);
  // A call of a local function has no schema: more inputs are not checked.
  m->graph->nodes()[1]->add_input(m->graph->find("X"));
  auto st = verify_onnx_signatures(*m);
  REQUIRE_FALSE(st);
  CHECK(st.error().kind == ErrorKind::InvalidModel);
  const std::string& msg = st.error().message;
  CHECK_THAT(msg, Catch::Contains("main graph > node #0 (If) subgraph 't': node #0 (Relu) has 2 inputs, but "
                                  "Relu-13 takes 1"));
  CHECK_THAT(msg, Catch::Contains("function 'Twice': node #0 (Add) has 1 input, but Add-13 takes 2"));
  CHECK_THAT(msg, !Catch::Contains("Twice)"));
}

TEST_CASE("verify_node_signatures lists ten problems and counts the rest", "[signature][verifier]") {
  std::string text = "<ir_version: 8, opset_import: [\"\" : 13]>\ng (float[2] X) => (float[2] Y)\n{\n";
  for (int i = 0; i < 12; ++i) text += "  A" + std::to_string(i) + " = Relu(X)\n";
  text += "  Y = Identity(X)\n}\n";
  auto m = test::parse_or_fail(text);
  for (int i = 0; i < 12; ++i) m->graph->nodes()[i]->add_input(m->graph->find("X"));
  auto st = verify_onnx_signatures(*m);
  REQUIRE_FALSE(st);
  CHECK_THAT(st.error().message, Catch::Contains("node #9 (Relu) has 2 inputs"));
  CHECK_THAT(st.error().message, !Catch::Contains("node #10 (Relu)"));
  CHECK_THAT(st.error().message, Catch::EndsWith("and 2 more problems"));
}

TEST_CASE("the importer refuses a node that does not match its signature", "[signature][import]") {
  // parse_model_text imports through load_model_from_bytes.
  auto m = parse_model_text(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1, 1, 4, 4] X) => (float[1, 1, 2, 2] Y)
{
  Y = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (X, X)
}
)");
  REQUIRE_FALSE(m);
  CHECK(m.error().kind == ErrorKind::InvalidModel);
  CHECK_THAT(m.error().message, Catch::Contains("node #0 (MaxPool) has 2 inputs, but MaxPool-12 takes 1"));
}

TEST_CASE("Session::create refuses a node built in memory without its input", "[signature][exec]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1, 1, 4, 4] X) => (float[1, 1, 2, 2] Y)
{
  Y = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (X)
}
)");
  REQUIRE(exec::Session::create(*m));
  Node* pool = m->graph->nodes()[0].get();
  pool->name = "pool";
  pool->remove_input(0);
  auto s = exec::Session::create(*m);
  REQUIRE_FALSE(s);
  CHECK(s.error().kind == ErrorKind::InvalidModel);
  CHECK_THAT(s.error().message, Catch::Contains("node 'pool' (MaxPool) has 0 inputs, but MaxPool-12 takes 1"));
}

TEST_CASE("past opset 21 the importer does not check, the executor uses the newest known signature",
          "[signature][exec]") {
  auto m = parse_model_text(R"(
<ir_version: 10, opset_import: ["" : 23]>
g (float[2] X) => (float[2] Y)
{
  Y = Relu(X, X)
}
)");
  REQUIRE(m);  // Relu-23 could take anything as far as effopt knows
  auto s = exec::Session::create(**m);
  REQUIRE_FALSE(s);
  CHECK_THAT(s.error().message, Catch::Contains("node #0 (Relu) has 2 inputs, but Relu-14 takes 1"));
}

TEST_CASE("signatures carry the schema's attributes, required or not, with their types", "[signature]") {
  OpSignature scan = sig_or_fail("", "Scan", 16);
  auto find = [&](const std::string& name) -> const OpSignature::Attr* {
    for (const auto& a : scan.attributes)
      if (a.name == name) return &a;
    return nullptr;
  };
  const OpSignature::Attr* body = find("body");
  const OpSignature::Attr* count = find("num_scan_inputs");
  const OpSignature::Attr* axes = find("scan_input_axes");
  REQUIRE(body);
  REQUIRE(count);
  REQUIRE(axes);
  CHECK(body->required);
  CHECK(body->type == AttrType::Graph);
  CHECK(count->required);
  CHECK(count->type == AttrType::Int);
  CHECK_FALSE(axes->required);
  CHECK(axes->type == AttrType::Ints);
  // A version effopt knows only by its inputs and outputs: attributes unchecked.
  CHECK(sig_or_fail("", "Resize", 19).attributes.empty());
  CHECK_FALSE(sig_or_fail("", "Resize", 13).attributes.empty());
}

TEST_CASE("a missing required attribute or one of the wrong type is refused", "[signature][verifier][fuzz-finding]") {
  // Found by fuzzing `report`: a Scan whose num_scan_inputs was renamed made
  // ONNX's Scan shape inference dereference a null attribute (SIGSEGV).
  const char* text = R"(
<ir_version: 8, opset_import: ["" : 16]>
g (float[2] init, float[3, 2] seq) => (float[2] last, float[3, 2] outs)
{
  last, outs = Scan <num_scan_inputs = 1, body = b (float[2] acc, float[2] e) => (float[2] acc2, float[2] out) {
    acc2 = Add(acc, e)
    out = Identity(acc2)
  }> (init, seq)
}
)";
  auto m = test::parse_or_fail(text);
  REQUIRE(verify_onnx_signatures(*m));
  Node* scan = m->graph->nodes()[0].get();
  scan->name = "scan";
  SECTION("missing") {
    REQUIRE(scan->remove_attr("num_scan_inputs"));
    auto st = verify_onnx_signatures(*m);
    REQUIRE_FALSE(st);
    CHECK(st.error().kind == ErrorKind::InvalidModel);
    CHECK_THAT(st.error().message,
               Catch::Contains("node 'scan' (Scan) has no attribute 'num_scan_inputs', which Scan-16 requires"));
  }
  SECTION("wrong type") {
    Attribute* count = scan->attr("num_scan_inputs");
    REQUIRE(count);
    count->type = AttrType::Float;
    auto st = verify_onnx_signatures(*m);
    REQUIRE_FALSE(st);
    CHECK_THAT(st.error().message,
               Catch::Contains("node 'scan' (Scan): attribute 'num_scan_inputs' is a float, but Scan-16 takes an int"));
  }
  SECTION("type left undefined, as some old exporters do") {
    Attribute* count = scan->attr("num_scan_inputs");
    REQUIRE(count);
    count->type = AttrType::Undefined;
    CHECK(verify_onnx_signatures(*m));
  }
  SECTION("an attribute the schema does not declare") {
    Attribute extra;
    extra.name = "made_up";
    extra.type = AttrType::Int;
    scan->set_attr(std::move(extra));
    CHECK(verify_onnx_signatures(*m));
  }
  SECTION("the importer refuses it") {
    std::string bad = text;
    bad.replace(bad.find("num_scan_inputs"), 15, "num_scan_inpxts");
    auto r = parse_model_text(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::InvalidModel);
    CHECK_THAT(r.error().message, Catch::Contains("(Scan) has no attribute 'num_scan_inputs'"));
  }
}
