// Nodes whose inputs or outputs do not match their operator's signature
// (onnx/op_signatures.h): every command that reads a model refuses them with
// exit 2 naming the node, before anything runs on them. Found by fuzzing: a
// MaxPool left with no input made `compare` die with SIGSEGV while convert,
// inspect and report accepted the model.
#include <onnx/defs/parser.h>
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "util/test_util.h"

using effopt::test::run_effopt;
using effopt::test::RunResult;
using effopt::test::TempDir;
using effopt::test::write_file;
namespace fs = std::filesystem;

namespace {

// ONNX text -> serialized ModelProto, with no check beyond the parser's.
std::string model_bytes(const std::string& text) {
  onnx::ModelProto p;
  auto st = onnx::OnnxParser::Parse(p, text.c_str());
  if (!st.IsOK()) FAIL("cannot parse test model: " << st.ErrorMessage());
  return p.SerializeAsString();
}

// A small CNN tail: MaxPool 'pool' between two Relus.
const char* kPoolModel = R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1, 2, 4, 4] X) => (float[1, 2, 2, 2] Y)
{
  A = Relu(X)
  P = MaxPool <kernel_shape = [2, 2], strides = [2, 2], auto_pad = "NOTSET", pads = [0, 0, 0, 0]> (A)
  Y = Relu(P)
}
)";

// kPoolModel with its MaxPool node named and rewired by `edit`.
std::string pool_model(const std::function<void(onnx::NodeProto&)>& edit) {
  onnx::ModelProto p;
  REQUIRE(p.ParseFromString(model_bytes(kPoolModel)));
  onnx::NodeProto* pool = p.mutable_graph()->mutable_node(1);
  REQUIRE(pool->op_type() == "MaxPool");
  pool->set_name("pool");
  edit(*pool);
  return p.SerializeAsString();
}

void check_refused(const RunResult& r, const std::vector<std::string>& words) {
  INFO("exit code " << r.exit_code << "\nstderr:\n" << r.err);
  CHECK(r.exit_code == 2);  // invalid model, not a signal (128 + N)
  CHECK_THAT(r.err, Catch::Contains("effopt: error:"));
  for (const auto& w : words) CHECK_THAT(r.err, Catch::Contains(w));
}

// convert (nothing written), inspect, report, check, compare, run and fuse
// all refuse the model with exit 2 and the same key words.
void check_every_command_refuses(const std::string& bytes, const std::vector<std::string>& words) {
  TempDir d;
  std::string model = d.file("bad.onnx"), out = d.file("out.onnx");
  write_file(model, bytes);
  SECTION("convert") {
    check_refused(run_effopt({"convert", model, "-o", out}), words);
    CHECK_FALSE(fs::exists(out));
  }
  SECTION("inspect") { check_refused(run_effopt({"inspect", model}), words); }
  SECTION("report") { check_refused(run_effopt({"report", model, "--json"}), words); }
  SECTION("check") { check_refused(run_effopt({"check", model, "--max-bytes", "1MB"}), words); }
  SECTION("compare") { check_refused(run_effopt({"compare", model, model, "--random", "1", "--seed", "1"}), words); }
  SECTION("fuse") {
    check_refused(run_effopt({"fuse", model, "-o", out}), words);
    CHECK_FALSE(fs::exists(out));
  }
}

}  // namespace

TEST_CASE("a MaxPool with no input is refused by every command, naming it", "[cli][bad-input][signature]") {
  check_every_command_refuses(pool_model([](onnx::NodeProto& n) { n.clear_input(); }),
                              {"bad.onnx", "'pool'", "MaxPool", "0 inputs", "MaxPool-12 takes 1"});
}

TEST_CASE("a MaxPool whose input name is empty is refused naming the input", "[cli][bad-input][signature]") {
  check_every_command_refuses(pool_model([](onnx::NodeProto& n) { n.set_input(0, ""); }),
                              {"'pool'", "input 0 (X) is empty", "MaxPool-12 requires it"});
}

TEST_CASE("a MaxPool with an extra input or no output is refused", "[cli][bad-input][signature]") {
  SECTION("two inputs") {
    TempDir d;
    write_file(d.file("bad.onnx"), pool_model([](onnx::NodeProto& n) { n.add_input("X"); }));
    check_refused(run_effopt({"inspect", d.file("bad.onnx")}), {"'pool'", "2 inputs", "MaxPool-12 takes 1"});
  }
  SECTION("three outputs") {
    TempDir d;
    write_file(d.file("bad.onnx"), pool_model([](onnx::NodeProto& n) { n.add_output("I"); n.add_output("J"); }));
    check_refused(run_effopt({"inspect", d.file("bad.onnx")}), {"'pool'", "3 outputs", "MaxPool-12 has 1 to 2"});
  }
  SECTION("no output") {
    TempDir d;
    onnx::ModelProto p;
    REQUIRE(p.ParseFromString(model_bytes(kPoolModel)));
    // A dead Relu with no output: the graph stays well formed otherwise.
    onnx::NodeProto* dead = p.mutable_graph()->add_node();
    dead->set_op_type("Relu");
    dead->set_name("dead");
    dead->add_input("X");
    write_file(d.file("bad.onnx"), p.SerializeAsString());
    check_refused(run_effopt({"report", d.file("bad.onnx")}), {"'dead'", "0 outputs", "Relu-13 has 1"});
  }
}

TEST_CASE("an empty name in a variadic input list is refused", "[cli][bad-input][signature]") {
  TempDir d;
  onnx::ModelProto p;
  REQUIRE(p.ParseFromString(model_bytes(R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[2] X) => (float[6] Y)
{
  Y = Concat <axis = 0> (X, X, X)
}
)")));
  p.mutable_graph()->mutable_node(0)->set_input(1, "");
  write_file(d.file("bad.onnx"), p.SerializeAsString());
  check_refused(run_effopt({"compare", d.file("bad.onnx"), d.file("bad.onnx"), "--random", "1"}),
                {"node #0 (Concat)", "input 1 (inputs) is empty", "Concat-13 requires it"});
}

TEST_CASE("a node inside an If branch is checked and located", "[cli][bad-input][signature]") {
  TempDir d;
  onnx::ModelProto p;
  REQUIRE(p.ParseFromString(model_bytes(R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (bool c, float[2] X) => (float[2] Y)
{
  Y = If (c) <
    then_branch = t () => (float[2] A) { A = Relu(X) },
    else_branch = e () => (float[2] B) { B = Abs(X) }
  >
}
)")));
  onnx::NodeProto* relu = p.mutable_graph()->mutable_node(0)->mutable_attribute(0)->mutable_g()->mutable_node(0);
  REQUIRE(relu->op_type() == "Relu");
  relu->add_input("X");
  write_file(d.file("bad.onnx"), p.SerializeAsString());
  check_refused(run_effopt({"inspect", d.file("bad.onnx")}),
                {"main graph > node #0 (If) subgraph 't'", "node #0 (Relu) has 2 inputs", "Relu-13 takes 1"});
}

TEST_CASE("opset 18+ nodes are checked against the newer versions' signatures", "[cli][signature]") {
  TempDir d;
  // ReduceMean-18 takes its axes as an optional second input (ONNX 1.12 knows only ReduceMean-13's one input).
  const char* text = R"(
<ir_version: 8, opset_import: ["" : 18]>
agraph (float[2, 3] X) => (float[2, 1] Y)
<int64[1] axes = {1}>
{
  Y = ReduceMean <keepdims = 1> (X, axes)
}
)";
  write_file(d.file("good.onnx"), model_bytes(text));
  auto r = run_effopt({"convert", d.file("good.onnx"), "-o", d.file("out.onnx")});
  INFO(r.err);
  CHECK(r.exit_code == 0);

  onnx::ModelProto p;
  REQUIRE(p.ParseFromString(model_bytes(text)));
  p.mutable_graph()->mutable_node(0)->add_input("axes");
  write_file(d.file("bad.onnx"), p.SerializeAsString());
  check_refused(run_effopt({"convert", d.file("bad.onnx"), "-o", d.file("out2.onnx")}),
                {"node #0 (ReduceMean) has 3 inputs", "ReduceMean-18 takes 1 to 2"});
}

TEST_CASE("nodes of domains without a known schema are not checked", "[cli][signature]") {
  TempDir d;
  write_file(d.file("custom.onnx"), model_bytes(R"(
<ir_version: 8, opset_import: ["" : 13, "com.example" : 1]>
agraph (float[2] X) => (float[2] Y)
{
  Y = com.example.Anything (X, X, X)
}
)"));
  auto r = run_effopt({"convert", d.file("custom.onnx"), "-o", d.file("out.onnx")});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(d.file("out.onnx")));
}

TEST_CASE("a Scan without its required num_scan_inputs is refused by every command", "[cli][bad-input][signature]") {
  // Found by fuzzing `report` (tests/fuzz/regressions/model_report/scan-without-num-scan-inputs-null-attribute.onnx):
  // ONNX's Scan shape inference read the missing attribute through a null pointer (SIGSEGV).
  onnx::ModelProto p;
  REQUIRE(p.ParseFromString(model_bytes(R"(
<ir_version: 8, opset_import: ["" : 16]>
agraph (float[2] init, float[3, 2] seq) => (float[2] last, float[3, 2] outs)
{
  last, outs = Scan <num_scan_inputs = 1, body = b (float[2] acc, float[2] e) => (float[2] acc2, float[2] out) {
    acc2 = Add(acc, e)
    out = Identity(acc2)
  }> (init, seq)
}
)")));
  onnx::NodeProto* scan = p.mutable_graph()->mutable_node(0);
  scan->set_name("scan");
  for (auto& a : *scan->mutable_attribute())
    if (a.name() == "num_scan_inputs") a.set_name("num_sca$_inputs");
  check_every_command_refuses(p.SerializeAsString(),
                              {"bad.onnx", "'scan'", "no attribute 'num_scan_inputs'", "Scan-16 requires"});
}
