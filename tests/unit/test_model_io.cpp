// Import/export: lossless round trip, zero-copy views, external data, sorting.
#include <catch2/catch.hpp>
#include <onnx/defs/parser.h>
#include <cstring>
#include <filesystem>

#include "ir/constants.h"
#include "ir/verifier.h"
#include "onnx/convert_proto.h"
#include "onnx/model_io.h"
#include "support/mapped_file.h"
#include "util/test_util.h"

using namespace effopt;
using effopt::test::TempDir;
namespace fs = std::filesystem;

namespace {

const char* kSmallModel = R"(
<ir_version: 8, opset_import: ["" : 13], producer_name: "unit", doc_string: "a model">
agraph (float[N, 4] X) => (float[N, 2] Y)
<float[4, 2] W = {1, 2, 3, 4, 5, 6, 7, 8}, float[2] B = {0.5, -0.5}>
{
  H = MatMul(X, W)
  Y = Add(H, B)
}
)";

// Semantic equality through ONNX's own message comparison: both sides are
// serialized with tensors inline, so float_data vs raw_data differences are
// normalized by going through effopt once.
std::string canonical(const Model& m) {
  onnx::ModelProto p = to_proto_inline(m);
  return p.SerializeAsString();
}

}  // namespace

TEST_CASE("text model imports with types, initializers and use lists", "[import]") {
  auto m = test::parse_or_fail(kSmallModel);
  REQUIRE(m->opset() == 13);
  REQUIRE(m->producer_name == "unit");
  auto& g = *m->graph;
  REQUIRE(g.inputs().size() == 1);
  REQUIRE(g.inputs()[0]->type.to_string() == "float32[N,4]");
  REQUIRE(g.initializers().size() == 2);
  Value* w = g.find("W");
  REQUIRE(w->initializer);
  REQUIRE(w->initializer->dims == std::vector<int64_t>{4, 2});
  REQUIRE(w->initializer->as<float>()[7] == 8.0f);
  REQUIRE(w->uses().size() == 1);
  REQUIRE(w->uses()[0].node->op_type == "MatMul");
  REQUIRE(g.find("H")->producer()->op_type == "MatMul");
  REQUIRE(verify(*m));
}

TEST_CASE("round trip through a file keeps the model's meaning", "[export]") {
  TempDir d;
  auto m = test::parse_or_fail(kSmallModel);
  m->set_metadata("k", "v");
  REQUIRE(save_model(*m, d.file("a.onnx")));
  auto back = load_model(d.file("a.onnx"));
  REQUIRE(back);
  REQUIRE(canonical(**back) == canonical(*m));
  REQUIRE((*back)->metadata("k") == "v");
}

TEST_CASE("writing the same model twice gives identical bytes", "[export]") {
  TempDir d;
  auto m = test::parse_or_fail(kSmallModel);
  REQUIRE(save_model(*m, d.file("a.onnx")));
  REQUIRE(save_model(*m, d.file("b.onnx")));
  REQUIRE(test::read_file(d.file("a.onnx")) == test::read_file(d.file("b.onnx")));
}

TEST_CASE("imported raw_data tensors are views into the mapped file", "[import]") {
  TempDir d;
  auto m = test::parse_or_fail(kSmallModel);
  REQUIRE(save_model(*m, d.file("a.onnx")));
  auto back = load_model(d.file("a.onnx"));
  REQUIRE(back);
  const Tensor& w = *(*back)->graph->find("W")->initializer;
  REQUIRE(w.storage->file() != nullptr);
  const MappedFile& f = *w.storage->file();
  std::string bytes = test::read_file(d.file("a.onnx"));
  // The view points at exactly the tensor's bytes inside the file.
  REQUIRE(std::memcmp(bytes.data() + w.storage->file_offset(), w.storage->data(), w.byte_size()) == 0);
  REQUIRE(w.storage->data() == f.data() + w.storage->file_offset());
}

TEST_CASE("typed data fields are read as raw little-endian bytes", "[import]") {
  onnx::ModelProto p;
  p.set_ir_version(8);
  p.add_opset_import()->set_version(13);
  auto* g = p.mutable_graph();
  auto* t = g->add_initializer();
  t->set_name("C");
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(3);
  for (int64_t v : {1, -2, 3}) t->add_int64_data(v);
  auto* h = g->add_initializer();
  h->set_name("H");
  h->set_data_type(onnx::TensorProto::FLOAT16);
  h->add_dims(2);
  h->add_int32_data(0x3C00);  // 1.0
  h->add_int32_data(0xC000);  // -2.0
  auto* o = g->add_output();
  o->set_name("C");
  std::string s = p.SerializeAsString();
  std::vector<std::byte> b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  auto m = load_model_from_bytes(std::move(b), "mem");
  REQUIRE(m);
  auto c = (*m)->graph->find("C")->initializer;
  REQUIRE(c->as<int64_t>()[1] == -2);
  auto hh = (*m)->graph->find("H")->initializer;
  REQUIRE(hh->byte_size() == 4);
  REQUIRE(hh->as<uint16_t>()[1] == 0xC000);
}

TEST_CASE("unsorted graphs are sorted by the stable depth-first rule", "[import][sort]") {
  // Original order: D, B, A, C. D needs C and B; C needs A.
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] D) {
  D = Add(C, B)
  B = Relu(X)
  A = Neg(X)
  C = Abs(A)
}
)");
  std::vector<std::string> order;
  for (auto& n : m->graph->nodes()) order.push_back(n->outputs()[0]->name());
  // D pulls in C (which pulls in A) then B, in input order.
  REQUIRE(order == std::vector<std::string>{"A", "C", "B", "D"});
  REQUIRE(verify(*m));
}

TEST_CASE("a sorted graph keeps its order exactly", "[import][sort]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] D) {
  B = Relu(X)
  A = Neg(X)
  C = Abs(A)
  D = Add(C, B)
}
)");
  std::vector<std::string> order;
  for (auto& n : m->graph->nodes()) order.push_back(n->outputs()[0]->name());
  REQUIRE(order == std::vector<std::string>{"B", "A", "C", "D"});
}

TEST_CASE("a cycle is refused with the node named", "[import][sort]") {
  auto m = parse_model_text(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] B) {
  A = Add(X, B)
  B = Relu(A)
}
)");
  REQUIRE(!m);
  REQUIRE(m.error().kind == ErrorKind::InvalidModel);
  REQUIRE_THAT(m.error().message, Catch::Contains("cycle"));
}

TEST_CASE("subgraphs see outer values and keep them across the round trip", "[import][subgraph]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool cond, float[2] X) => (float[2] Y) {
  Z = Neg(X)
  Y = If(cond) <
    then_branch = t () => (float[2] A) { A = Relu(Z) },
    else_branch = e () => (float[2] B) { B = Abs(X) }
  >
}
)");
  Node* iff = m->graph->nodes()[1].get();
  REQUIRE(iff->op_type == "If");
  auto subs = iff->subgraphs();
  REQUIRE(subs.size() == 2);
  Node* relu = subs[0]->nodes()[0].get();
  REQUIRE(relu->input(0) == m->graph->find("Z"));
  REQUIRE(relu->input(0)->graph() == m->graph.get());
  // Outer value Z is used by a node in the subgraph.
  REQUIRE(m->graph->find("Z")->uses().size() == 1);
  REQUIRE(verify(*m));
  TempDir d;
  REQUIRE(save_model(*m, d.file("if.onnx")));
  auto back = load_model(d.file("if.onnx"));
  REQUIRE(back);
  REQUIRE(canonical(**back) == canonical(*m));
}

TEST_CASE("an If whose branch reads a later outer value is sorted after its producer", "[sort][subgraph]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool cond, float[2] X) => (float[2] Y) {
  Y = If(cond) <
    then_branch = t () => (float[2] A) { A = Relu(Z) },
    else_branch = e () => (float[2] B) { B = Abs(X) }
  >
  Z = Neg(X)
}
)");
  REQUIRE(m->graph->nodes()[0]->op_type == "Neg");
  REQUIRE(m->graph->nodes()[1]->op_type == "If");
}

TEST_CASE("constant view covers initializers, Constant nodes and Identity chains", "[constants]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) <float[2] W = {1, 2}> {
  K = Constant<value_floats = [3.0, 4.0]>()
  W2 = Identity(W)
  W3 = Identity(W2)
  A = Add(X, W3)
  Y = Mul(A, K)
}
)");
  auto& g = *m->graph;
  REQUIRE(constant_tensor(g.find("W3")) == g.find("W")->initializer);
  auto k = constant_tensor(g.find("K"));
  REQUIRE(k);
  REQUIRE(k->as<float>()[1] == 4.0f);
  REQUIRE_FALSE(is_constant(g.find("A")));
  int stored = 0;
  for_each_stored_tensor(*m, [&](const Tensor&, ConstantHolder) { ++stored; });
  REQUIRE(stored == 1);  // value_floats is an attribute list, not a stored tensor
}

TEST_CASE("initializers listed as inputs (IR < 4) are weights and can be detached", "[constants]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 3, opset_import: ["" : 9]>
g (float[2] X, float[2] W) => (float[2] Y) <float[2] W = {1, 2}> {
  Y = Add(X, W)
}
)");
  auto& g = *m->graph;
  REQUIRE(g.inputs().size() == 2);
  REQUIRE(is_constant(g.find("W")));
  // The round trip keeps it listed.
  TempDir d;
  REQUIRE(save_model(*m, d.file("a.onnx")));
  auto back = load_model(d.file("a.onnx"));
  REQUIRE(back);
  REQUIRE((*back)->graph->inputs().size() == 2);
  REQUIRE(detach_initializer_inputs(g) == 1);
  REQUIRE(g.inputs().size() == 1);
  REQUIRE(verify(*m));
}

TEST_CASE("external data: written on request, read back as views", "[external]") {
  TempDir d;
  auto m = test::parse_or_fail(kSmallModel);
  ExportOptions eo;
  eo.external = ExternalData::Always;
  eo.external_threshold = 0;
  ExportStats es;
  REQUIRE(save_model(*m, d.file("e.onnx"), eo, &es));
  REQUIRE(fs::exists(d.file("e.onnx.data")));
  REQUIRE(es.external_bytes > 0);
  ImportStats is;
  auto back = load_model(d.file("e.onnx"), {}, &is);
  REQUIRE(back);
  REQUIRE(is.external_bytes == 32 + 8);
  auto w = (*back)->graph->find("W")->initializer;
  REQUIRE(w->external);
  REQUIRE(w->as<float>()[3] == 4.0f);
  REQUIRE(canonical(**back).size() > 0);
  // Written again (Auto), it keeps using external data.
  REQUIRE(save_model(**back, d.file("f.onnx")));
  REQUIRE(fs::exists(d.file("f.onnx.data")));
  auto again = load_model(d.file("f.onnx"));
  REQUIRE(again);
  REQUIRE((*again)->graph->find("B")->initializer->as<float>()[1] == -0.5f);
}

TEST_CASE("external data that escapes the model folder is refused", "[external][bad-input]") {
  TempDir d;
  auto m = test::parse_or_fail(kSmallModel);
  fs::create_directory(d.path() / "sub");
  ExportOptions eo;
  eo.external = ExternalData::Always;
  eo.external_threshold = 0;
  REQUIRE(save_model(*m, d.file("sub/e.onnx"), eo));
  // Rewrite the location to point outside, three ways.
  std::string model = test::read_file(d.file("sub/e.onnx"));
  auto rewrite = [&](const std::string& loc) {
    std::string s = model;
    std::string from = "e.onnx.data";
    REQUIRE(loc.size() == from.size());
    for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + 1)) s.replace(p, from.size(), loc);
    test::write_file(d.file("sub/bad.onnx"), s);
    return load_model(d.file("sub/bad.onnx"));
  };
  fs::copy_file(d.file("sub/e.onnx.data"), d.file("x.onnx.data"));
  auto rel = rewrite("../x.onnx.d");
  REQUIRE(!rel);
  REQUIRE_THAT(rel.error().message, Catch::Contains("escapes"));
  auto abs = rewrite("/etc/passwd");
  REQUIRE(!abs);
  REQUIRE_THAT(abs.error().message, Catch::Contains("absolute"));
  fs::create_symlink(d.file("x.onnx.data"), d.file("sub/lnk.onnx.da"));
  auto link = rewrite("lnk.onnx.da");
  REQUIRE(!link);
  REQUIRE_THAT(link.error().message, Catch::Contains("outside"));
}

TEST_CASE("attribute lists (strings, tensors, graphs) survive the wire passes", "[wire][export]") {
  // strings=9 must not be taken for a message; tensors=10 and graphs=11 hold
  // tensors whose bytes are spliced.
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13, "x" : 1]>
g (float[2] X) => (float[2] Y) {
  Y = x.Custom(X) <names = ["a", "bcdefghijklmnopq"], w = float[2] {1.5, 2.5}>
}
)");
  Node* n = m->graph->nodes()[0].get();
  auto t2 = std::make_shared<Tensor>();
  t2->name = "t2";
  t2->data_type = DataType::Int64;
  t2->dims = {2};
  t2->set_bytes(std::vector<std::byte>(16, std::byte{7}));
  Attribute ts;
  ts.name = "ts";
  ts.type = AttrType::Tensors;
  ts.tensors = {t2, t2};
  n->attributes.push_back(std::move(ts));
  TempDir d;
  REQUIRE(save_model(*m, d.file("a.onnx")));
  auto back = load_model(d.file("a.onnx"));
  REQUIRE(back);
  const Node& b = *(*back)->graph->nodes()[0];
  REQUIRE(b.attr("names")->strings == std::vector<std::string>{"a", "bcdefghijklmnopq"});
  REQUIRE(b.attr("w")->t->as<float>()[1] == 2.5f);
  REQUIRE(b.attr("ts")->tensors.size() == 2);
  REQUIRE(b.attr("ts")->tensors[1]->as<int64_t>()[1] == 0x0707070707070707);
  REQUIRE(canonical(**back) == canonical(*m));
}

TEST_CASE("a model read from memory without a folder refuses external data", "[import][external]") {
  // What the fuzz targets rely on: bytes from anywhere never make effopt open a file.
  onnx::ModelProto p;
  auto st = onnx::OnnxParser::Parse(p, R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) <float[2] W = {1, 2}> { Y = Add(X, W) }
)");
  REQUIRE(st.IsOK());
  auto* w = p.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* e = w->add_external_data();
  e->set_key("location");
  e->set_value("/etc/passwd");
  std::string s = p.SerializeAsString();
  std::vector<std::byte> b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  auto m = load_model_from_bytes(std::move(b), "mem");
  REQUIRE_FALSE(m);
  CHECK(m.error().kind == ErrorKind::InvalidModel);
  CHECK_THAT(m.error().message, Catch::Contains("mem: tensor 'W' uses external data (/etc/passwd), which is not "
                                                "available for a model read without its folder"));
}
