#include "seeds.h"

#include <onnx/defs/parser.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <set>

#include "exec/tensor_io.h"
#include "ir/constants.h"
#include "onnx/model_io.h"
#include "pass/named_pipelines.h"
#include "pass/pipeline.h"

namespace effopt::fuzz {

namespace {

// ---------------------------------------------------------------- models

// Small models in ONNX's text syntax: each op family the importer, the shape
// inference and the footprint treat specially, and the shapes of the tests'
// bad inputs (a cycle, an undefined input, a duplicate name, a node with the
// wrong arity: the parser does not check them).
const std::vector<std::pair<std::string, std::string>>& model_texts() {
  static const std::vector<std::pair<std::string, std::string>> k = {
      {"matmul_add", R"(
<ir_version: 8, opset_import: ["" : 13], producer_name: "fuzz-seed", doc_string: "a doc">
agraph (float[N, 4] X) => (float[N, 2] Y)
<float[4, 2] W = {1, 2, 3, 4, 5, 6, 7, 8}, float[2] B = {0.5, -0.5}>
{
  H = MatMul(X, W)
  Y = Add(H, B)
}
)"},
      {"cnn", R"(
<ir_version: 7, opset_import: ["" : 13]>
cnn (float[1, 1, 8, 8] X) => (float[1, 3] Y)
<float[2, 1, 3, 3] K = {1, 0, -1, 2, 0, -2, 1, 0, -1, 1, 2, 1, 0, 0, 0, -1, -2, -1}, float[2] KB = {0.1, -0.1},
 float[2] s = {1, 1}, float[2] b = {0, 0}, float[2] m = {0, 0}, float[2] v = {1, 1},
 float[3, 8] G = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}, int64[2] shp = {1, 8}>
{
  C = Conv <pads = [1, 1, 1, 1], kernel_shape = [3, 3]> (X, K, KB)
  N = BatchNormalization <epsilon = 0.00001> (C, s, b, m, v)
  R = Clip (N)
  P = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (R)
  A = GlobalAveragePool(P)
  F = Reshape(A, shp)
  Y = Gemm <transB = 1> (F, G)
}
)"},
      {"if_loop_scan", R"(
<ir_version: 8, opset_import: ["" : 16]>
cf (bool c, float[2] X, int64 n, float[3, 2] seq) => (float[2] Y, float[2] L, float[2] S, float[3, 2] SO)
{
  Y = If (c) <
    then_branch = t () => (float[2] A) { A = Relu(X) },
    else_branch = e () => (float[2] B) { B = Neg(X) }
  >
  cond = Constant <value = bool {1}> ()
  L = Loop (n, cond, X) <body = body (int64 i, bool ci, float[2] xi) => (bool co, float[2] xo) {
    co = Identity(ci)
    xo = Add(xi, xi)
  }>
  S, SO = Scan (X, seq) <num_scan_inputs = 1, body = sb (float[2] acc, float[2] e) => (float[2] acc2, float[2] out) {
    acc2 = Add(acc, e)
    out = Identity(acc2)
  }>
}
)"},
      {"function", R"(
<ir_version: 8, opset_import: ["" : 13, "local" : 1]>
agraph (float[2] X) => (float[2] Y)
{
  Y = local.Swish(X)
}
<domain: "local", opset_import: ["" : 13]>
Swish (x) => (y)
{
  s = Sigmoid(x)
  y = Mul(x, s)
}
)"},
      {"ir3_initializer_inputs", R"(
<ir_version: 3, opset_import: ["" : 9]>
agraph (float[1, 4] X, float[4] W) => (float[1, 4] Y)
<float[4] W = {1, 2, 3, 4}>
{
  Y = Mul(X, W)
}
)"},
      {"constant_of_shape", R"(
<ir_version: 4, opset_import: ["" : 9]>
agraph (float[2, 3] X) => (float[2, 3] Y)
<int64[2] __SHAPE = {3, 3}>
{
  W = ConstantOfShape <value = float[1] {0.25}> (__SHAPE)
  Y = MatMul(X, W)
}
)"},
      {"quantized", R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1, 4] X) => (float[1, 4] Y)
<float s = {0.1}, uint8 z = {128}, int8[4, 4] Wq = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}, float ws = {0.05}, int8 wz = {0}>
{
  q = QuantizeLinear(X, s, z)
  d = DequantizeLinear(q, s, z)
  w = DequantizeLinear(Wq, ws, wz)
  Y = MatMul(d, w)
}
)"},
      {"opset18_reduce_pad", R"(
<ir_version: 8, opset_import: ["" : 18]>
agraph (float[2, 3] X) => (float[2, 1] Y, float[4, 5] P)
<int64[1] axes = {1}, int64[4] pads = {1, 1, 1, 1}>
{
  Y = ReduceMean <keepdims = 1> (X, axes)
  P = Pad(X, pads)
}
)"},
      {"opset21_mixed", R"(
<ir_version: 10, opset_import: ["" : 21]>
agraph (float[2, 3] X, int64[2] shp) => (float[3, 2] Y, float[2, 3] G)
{
  T = Transpose <perm = [1, 0]> (X)
  Y = Reshape(T, shp)
  G = Gelu(X)
}
)"},
      {"sequence_optional", R"(
<ir_version: 8, opset_import: ["" : 16]>
agraph (float[2] X) => (float[4] Y)
{
  S = SequenceConstruct(X, X)
  Y = ConcatFromSequence <axis = 0> (S)
}
)"},
      {"strings_and_types", R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (string[2] X, float16[2] H, bfloat16[2] B, double[2] D) => (string[2] Y, float[2] F, double[2] E)
{
  Y = Identity(X)
  h = Cast <to = 1> (H)
  b = Cast <to = 1> (B)
  F = Add(h, b)
  E = Abs(D)
}
)"},
      {"custom_domain", R"(
<ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1]>
agraph (float[2, 4] X) => (float[2, 4] Y)
{
  Y = com.microsoft.FastGelu(X)
}
)"},
      {"bad_cycle", R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[4] X) => (float[4] Y)
{
  A = Add(X, B)
  B = Relu(A)
  Y = Identity(B)
}
)"},
      {"bad_undefined_input", R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[4] X) => (float[4] Y)
{
  Y = Add(X, Ghost)
}
)"},
      {"bad_duplicate_output", R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[4] X) => (float[4] Y)
{
  A = Relu(X)
  A = Sigmoid(X)
  Y = Identity(A)
}
)"},
      {"bad_shadowing", R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[2] X) => (float[2] Y) {
  Z = Neg(X)
  Y = If(c) <
    then_branch = t () => (float[2] Z) { Z = Relu(X) },
    else_branch = e () => (float[2] B) { B = Abs(X) }
  >
}
)"},
      {"bad_arity", R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1, 2, 4, 4] X) => (float[1, 2, 2, 2] Y)
{
  A = Relu(X, X)
  Y = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (A)
}
)"},
  };
  return k;
}

std::string parse_text(const std::string& text) {
  onnx::ModelProto p;
  auto st = onnx::OnnxParser::Parse(p, text.c_str());
  if (!st.IsOK()) return {};
  return p.SerializeAsString();
}

// Variants the text syntax cannot express, built on the protobuf classes: typed data fields, external data,
// tensor bytes that disagree with the dims, dims whose product overflows, a sparse initializer, value_info and
// metadata, a MaxPool with no input.
std::vector<Seed> proto_models() {
  std::vector<Seed> out;
  onnx::ModelProto base;
  if (!base.ParseFromString(parse_text(model_texts()[0].second))) return out;
  auto add = [&](const std::string& name, const onnx::ModelProto& p) { out.push_back({name, p.SerializeAsString()}); };
  auto weight = [](onnx::ModelProto& p) -> onnx::TensorProto* {
    for (auto& t : *p.mutable_graph()->mutable_initializer())
      if (t.name() == "W") return &t;
    return nullptr;
  };
  {
    onnx::ModelProto p = base;
    onnx::TensorProto* w = weight(p);
    w->clear_raw_data();
    w->clear_float_data();
    for (int i = 0; i < 8; ++i) w->add_float_data(static_cast<float>(i) * 0.5f);
    auto* md = p.add_metadata_props();
    md->set_key("k");
    md->set_value("v");
    auto* vi = p.mutable_graph()->add_value_info();
    vi->set_name("H");
    vi->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    vi->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_param("N");
    vi->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(2);
    add("typed_float_data", p);
  }
  {
    onnx::ModelProto p = base;
    onnx::TensorProto* w = weight(p);
    w->clear_raw_data();
    w->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* e = w->add_external_data();
    e->set_key("location");
    e->set_value("weights.bin");
    add("external_data", p);
  }
  {
    onnx::ModelProto p = base;
    weight(p)->mutable_raw_data()->resize(12);
    add("bad_raw_data_size", p);
  }
  {
    onnx::ModelProto p = base;
    onnx::TensorProto* w = weight(p);
    w->clear_dims();
    w->add_dims(int64_t{1} << 40);
    w->add_dims(int64_t{1} << 40);
    add("bad_dims_overflow", p);
  }
  {
    onnx::ModelProto p = base;
    p.set_ir_version(8);
    auto* sp = p.mutable_graph()->add_sparse_initializer();
    sp->add_dims(4);
    sp->mutable_values()->set_name("SP");
    sp->mutable_values()->set_data_type(onnx::TensorProto::FLOAT);
    sp->mutable_values()->add_dims(2);
    sp->mutable_values()->add_float_data(1.5f);
    sp->mutable_values()->add_float_data(-2.5f);
    sp->mutable_indices()->set_data_type(onnx::TensorProto::INT64);
    sp->mutable_indices()->add_dims(2);
    sp->mutable_indices()->add_int64_data(0);
    sp->mutable_indices()->add_int64_data(3);
    add("sparse_initializer", p);
  }
  {
    onnx::ModelProto p;
    if (p.ParseFromString(parse_text(model_texts()[1].second))) {
      for (auto& n : *p.mutable_graph()->mutable_node())
        if (n.op_type() == "MaxPool") n.clear_input();
      add("bad_maxpool_no_input", p);
    }
  }
  return out;
}

std::vector<Seed> model_seeds() {
  std::vector<Seed> out;
  for (const auto& [name, text] : model_texts()) {
    std::string bytes = parse_text(text);
    if (!bytes.empty()) out.push_back({name + ".onnx", std::move(bytes)});
  }
  for (auto& s : proto_models()) out.push_back({s.name + ".onnx", std::move(s.bytes)});
  // A truncated model (the CLI test's "half a file").
  if (!out.empty()) out.push_back({"bad_truncated.onnx", out[1].bytes.substr(0, out[1].bytes.size() / 2)});
  return out;
}

// ---------------------------------------------------------------- pipelines

std::vector<Seed> pipeline_seeds() {
  std::vector<Seed> out;
  int i = 0;
  auto add = [&](std::string text) { out.push_back({"pipeline_" + std::to_string(i++) + ".txt", std::move(text)}); };
  for (const auto& np : pass::named_pipelines())
    if (!np.text.empty()) add(np.text);
  // Every pass with every option spelled out (the printer's expanded form).
  for (const pass::PassInfo* p : pass::PassRegistry::global().all()) {
    auto parsed = pass::parse_pipeline(p->name);
    add(parsed ? pass::print_pipeline(*parsed) : p->name);
  }
  add("repeat{max-iterations=3}(eliminate-identity,repeat(fold-constants,eliminate-dead-code)),fuse-gelu");
  add("fix-shapes{shapes=\"x=1,3,224,224;y=1,10\"}");
  add("fold-constants{max-bytes=\"1\\\\2\\\"3\"}");
  // The pipeline tests' bad texts: unknown pass, unbalanced braces and parentheses, empty items.
  add("fold-constant,fuse-conv-bn");
  add("fold-constants{max-bytes=1");
  add("repeat(fold-constants");
  add(",,repeat()");
  add("fold-constants{nope=1 max-bytes=}");
  return out;
}

std::string pipeline_dictionary() {
  std::set<std::string> words = {"repeat", "max-iterations", "{", "}", "(", ")", ",", "=", "\"", "\\", "@sha256:"};
  for (const pass::PassInfo* p : pass::PassRegistry::global().all()) {
    words.insert(p->name);
    for (const auto& o : p->options) {
      words.insert(o.name);
      words.insert(o.default_value);
      for (const auto& c : o.choices) words.insert(c);
    }
  }
  std::string out;
  for (const auto& w : words) {
    if (w.empty()) continue;
    out += "\"";
    for (char c : w) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += "\"\n";
  }
  return out;
}

// ---------------------------------------------------------------- tensors

template <class T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

std::vector<Seed> tensor_pb_seeds() {
  std::vector<Seed> out;
  auto add_value = [&](const std::string& name, const exec::TensorValue& v) {
    auto s = exec::serialize_tensor_proto(v, name);
    if (s) out.push_back({name + ".pb", std::move(*s)});
  };
  add_value("float_2x3", exec::TensorValue::from_vector<float>(DataType::Float, {2, 3}, {1, 2, 3, 4, 5, 6.5f}));
  add_value("int64_scalar", exec::TensorValue::from_vector<int64_t>(DataType::Int64, {}, {-7}));
  add_value("uint8_empty", exec::TensorValue::from_vector<uint8_t>(DataType::UInt8, {2, 0}, {}));
  add_value("bool", exec::TensorValue::from_vector<uint8_t>(DataType::Bool, {3}, {1, 0, 1}));
  add_value("float16", exec::TensorValue::from_vector<uint16_t>(DataType::Float16, {2}, {0x3C00, 0xC000}));
  add_value("strings", exec::TensorValue::from_strings({2}, {"a", "bc"}));
  // Typed fields, as other writers store them.
  auto add_proto = [&](const std::string& name, const onnx::TensorProto& t) {
    out.push_back({name + ".pb", t.SerializeAsString()});
  };
  {
    onnx::TensorProto t;
    t.set_name("typed_floats");
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(2);
    t.add_float_data(1.5f);
    t.add_float_data(-3);
    add_proto("typed_floats", t);
  }
  {
    onnx::TensorProto t;
    t.set_data_type(onnx::TensorProto::INT32);
    t.add_dims(3);
    for (int v : {1, -2, 3}) t.add_int32_data(v);
    add_proto("typed_int32", t);
  }
  {
    onnx::TensorProto t;
    t.set_data_type(onnx::TensorProto::DOUBLE);
    t.add_double_data(2.5);
    add_proto("typed_double_scalar", t);
  }
  {
    onnx::TensorProto t;
    t.set_data_type(onnx::TensorProto::UINT64);
    t.add_dims(1);
    t.add_uint64_data(uint64_t{1} << 63);
    add_proto("typed_uint64", t);
  }
  {
    onnx::TensorProto t;
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(4);
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    auto* e = t.add_external_data();
    e->set_key("location");
    e->set_value("t.bin");
    add_proto("bad_external", t);
  }
  {
    onnx::TensorProto t;
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(4);
    t.set_raw_data(raw<float>({1, 2, 3}));
    add_proto("bad_short_raw", t);
  }
  return out;
}

// A .npy file of format `major` (1: 2-byte header length; 2, 3: 4-byte), as tests/unit/test_tensor_io.cpp writes.
std::string npy_file(const std::string& descr, const std::string& shape, const std::string& data, int major = 1,
                     bool fortran = false) {
  std::string h = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                  ", 'shape': " + shape + ", }";
  size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  out += static_cast<char>(h.size() & 0xFF);
  out += static_cast<char>((h.size() >> 8) & 0xFF);
  if (major != 1) out += std::string(2, '\0');
  return out + h + data;
}

std::vector<Seed> npy_seeds() {
  return {
      {"f4.npy", npy_file("<f4", "(2, 3)", raw<float>({1, 2, 3, 4, 5, 6.5f}))},
      {"i8.npy", npy_file("<i8", "(3,)", raw<int64_t>({-1, 0, int64_t{1} << 40}))},
      {"b1.npy", npy_file("|b1", "(2,)", raw<uint8_t>({1, 0}))},
      {"f2.npy", npy_file("<f2", "(1,)", raw<uint16_t>({0x3C00}))},
      {"f8_scalar.npy", npy_file("<f8", "()", raw<double>({3.25}))},
      {"u1_empty.npy", npy_file("|u1", "(2, 0)", "")},
      {"i4_v2.npy", npy_file("<i4", "(2,)", raw<int32_t>({7, -7}), 2)},
      {"u2_v3.npy", npy_file("<u2", "(2,)", raw<uint16_t>({7, 9}), 3)},
      {"f4_big_endian.npy", npy_file(">f4", "(1,)", std::string("\x3F\x80\x00\x00", 4))},
      {"c8.npy", npy_file("<c8", "(1,)", raw<float>({1, 2}))},
      {"bad_fortran.npy", npy_file("<f4", "(2, 2)", raw<float>({1, 2, 3, 4}), 1, true)},
      {"bad_truncated.npy", npy_file("<f4", "(2, 2)", raw<float>({1, 2, 3}))},
      {"bad_unicode.npy", npy_file("<U3", "(1,)", std::string(12, 'a'))},
      {"bad_huge.npy", npy_file("<f4", "(100000000, 100000000)", "")},
      {"bad_shape.npy", npy_file("<f4", "(2, x)", "")},
  };
}

std::vector<Seed> shape_seeds() {
  return {
      {"input.txt", "X=1,3,16,16"},
      {"input_x.txt", "X=2x3x8x8"},
      {"dims.txt", "N=1\nH=8\nW=8\nT=3"},
      {"two_inputs.txt", "X=1,3,4,4\nS=1,5"},
      {"zero_dims.txt", "N=0\nT=0"},
      {"bad_rank.txt", "X=1,3"},
      {"bad_text.txt", "X=1,,3"},
      {"bad_name.txt", "nope=1"},
  };
}

std::string model_dictionary() {
  std::set<std::string> words;
  for (const auto& s : ONNX_NAMESPACE::OpSchemaRegistry::get_all_schemas()) {
    words.insert(s.Name());
    for (const auto& [name, attr] : s.attributes()) words.insert(name);
  }
  std::string out;
  for (const auto& w : words) out += "\"" + w + "\"\n";
  return out;
}

}  // namespace

Expected<std::string> slim_model(const std::string& path) {
  EFFOPT_TRY_ASSIGN(auto model, load_model(path));
  Graph& g = *model->graph;
  constexpr uint64_t kKeep = 1024;
  auto type_of = [](const Tensor& t) {
    std::vector<Dim> dims;
    for (int64_t d : t.dims) dims.push_back(Dim{d, "", ""});
    return Type::tensor(t.data_type, std::move(dims));
  };
  std::vector<Value*> inits(g.initializers().begin(), g.initializers().end());
  for (Value* v : inits) {
    if (v->initializer->byte_size() <= kKeep) continue;
    Type t = type_of(*v->initializer);
    bool listed = v->is_graph_input();
    g.remove_initializer(v);
    v->type = t;
    if (!listed) g.add_input(v);
  }
  std::vector<Node*> constants;
  for (auto& n : g.nodes())
    if (n->op_type == "Constant" && n->outputs().size() == 1 && n->output(0) && !n->output(0)->is_graph_output()) {
      TensorPtr t = constant_tensor(n->output(0));
      if (t && t->byte_size() > kKeep) constants.push_back(n.get());
    }
  for (Node* n : constants) {
    Value* out = n->output(0);
    Value* in = g.create_unique_value(out->name() + "_weight");
    in->type = type_of(*constant_tensor(out));
    g.add_input(in);
    g.replace_all_uses(out, in);
    g.erase_node(n);
  }
  g.prune_dead_values();
  return serialize_model(*model);
}

std::vector<Seed> generated_seeds(std::string_view target) {
  if (target == "model_roundtrip" || target == "model_report") return model_seeds();
  if (target == "pipeline") return pipeline_seeds();
  if (target == "tensor_pb") return tensor_pb_seeds();
  if (target == "npy") return npy_seeds();
  if (target == "shape_binding") return shape_seeds();
  return {};
}

std::string dictionary(std::string_view target) {
  if (target == "model_roundtrip" || target == "model_report") return model_dictionary();
  if (target == "pipeline") return pipeline_dictionary();
  return {};
}

}  // namespace effopt::fuzz
