// exec/batch_norm_fold.h, the one BatchNormalization fold of fuse-conv-bn,
// fuse-matmul-bn and the executor: the folded weights on hand-computed
// examples (Conv, ConvTranspose with groups, Gemm with transB, C and beta), a
// folded Conv against the unfolded graph in ONNX Runtime (float32 and
// float16, ORT's own optimizations off), the executor's load-time fold now
// taking float16, and every refusal.
#include <catch2/catch.hpp>

#include <cmath>

#include "exec/batch_norm_fold.h"
#include "exec/executor.h"
#include "exec/metrics.h"
#include "ir/constants.h"
#include "ir/dtype.h"
#include "ir/verifier.h"
#include "onnx/convert_proto.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;
using exec::TensorValue;

namespace {

Node* first(const Model& m, const std::string& op) {
  for (const auto& n : m.graph->nodes())
    if (n->op_type == op) return n.get();
  return nullptr;
}

Node* producer_op(const Model& m) {
  for (const char* op : {"Conv", "ConvTranspose", "Gemm", "MatMul"})
    if (Node* n = first(m, op)) return n;
  return nullptr;
}

exec::BatchNormFold fold_of(const Model& m) {
  Node* p = producer_op(m);
  Node* bn = first(m, "BatchNormalization");
  REQUIRE(p);
  REQUIRE(bn);
  return exec::fold_batch_norm(*p, *bn, m.opset(""), m);
}

std::vector<double> values(const TensorPtr& t) {
  REQUIRE(t);
  auto v = to_doubles(*t);
  REQUIRE(v);
  return *v;
}

// Every initializer, graph input and output of type float becomes `to`
// (ONNX 1.12's text parser has no float16 or bfloat16 literals).
void retype(Model& m, DataType to) {
  for (Value* v : m.graph->initializers()) {
    auto vals = to_doubles(*v->initializer);
    REQUIRE(vals);
    TensorPtr t = tensor_from_values(to, v->initializer->dims, *vals);
    REQUIRE(t);
    t->name = v->initializer->name;
    v->initializer = t;
    v->type.elem_type = to;
  }
  for (Value* v : m.graph->inputs()) v->type.elem_type = to;
  for (Value* v : m.graph->outputs()) v->type.elem_type = to;
}

// The model with the BN folded by the helper: the producer reads W' and b',
// and the BN becomes an Identity of the producer's output.
void apply_fold(Model& m) {
  Node* p = producer_op(m);
  Node* bn = first(m, "BatchNormalization");
  REQUIRE(p);
  REQUIRE(bn);
  exec::BatchNormFold f = exec::fold_batch_norm(*p, *bn, m.opset(""), m);
  INFO(f.refusal);
  REQUIRE(f);
  f.weight->name = "W_folded";
  f.bias->name = "b_folded";
  Value* w = m.graph->add_initializer(f.weight);
  Value* b = m.graph->add_initializer(f.bias);
  p->set_input(1, w);
  if (p->inputs().size() > 2) p->set_input(2, b);
  else p->add_input(b);
  bn->op_type = "Identity";
  bn->attributes.clear();
  bn->set_inputs({bn->input(0)});
  m.graph->prune_dead_values();
  auto st = verify(m);
  INFO((st ? "" : st.error().message));
  REQUIRE(st);
}

// Conv 3 -> 4 channels, 3x3, with bias, then BN; weights made up (sin), not all small.
const std::string kConvBn = [] {
  std::string w;
  for (int i = 0; i < 4 * 3 * 3 * 3; ++i) w += (i ? ", " : "") + std::to_string(std::sin(i * 0.7) * 0.9);
  return R"(
<ir_version: 8, opset_import: ["" : 15]>
g (float[2,3,6,6] x) => (float[2,4,4,4] z)
  <float[4,3,3,3] W = {)" + w + R"(},
   float[4] b = {0.1, -0.2, 0.3, 0.05},
   float[4] gamma = {1.3, 0.7, 2.1, 0.45}, float[4] beta = {0.2, -0.4, 0.05, 0.9},
   float[4] mean = {0.15, -0.3, 0.6, -0.05}, float[4] var = {0.8, 1.7, 0.25, 3.2}> {
  y = Conv(x, W, b)
  z = BatchNormalization<epsilon = 0.001>(y, gamma, beta, mean, var)
}
)";
}();

// rel-l2 of the folded model against the unfolded one in ONNX Runtime, both
// with ORT's graph optimizations off (so ORT does not fold the BN itself).
std::optional<double> ort_fold_error(DataType type) {
  auto* ort = test::ort_or_skip();
  if (!ort) return std::nullopt;
  auto unfolded = test::parse_or_fail(kConvBn), folded = test::parse_or_fail(kConvBn);
  if (type != DataType::Float) {
    retype(*unfolded, type);
    retype(*folded, type);
  }
  apply_fold(*folded);
  CHECK(first(*folded, "BatchNormalization") == nullptr);
  onnx::ModelProto pa = to_proto_inline(*unfolded), pb = to_proto_inline(*folded);
  auto inputs = test::random_inputs(pa, 3);
  test::OrtOptions opts;
  opts.opt_level = "disabled";
  auto ra = ort->run_model(pa, inputs, opts), rb = ort->run_model(pb, inputs, opts);
  INFO(ra.error << rb.error);
  REQUIRE(ra);
  REQUIRE(rb);
  TensorValue a = test::value_from_proto(ra->outputs.at(0)), b = test::value_from_proto(rb->outputs.at(0));
  REQUIRE(a.dtype() == type);
  REQUIRE(b.dtype() == type);
  REQUIRE(a.dims() == b.dims());
  exec::ErrorMetrics e = exec::error_metrics(a, b);
  CHECK_FALSE(e.zero_reference);
  return e.rel_l2_error;
}

}  // namespace

TEST_CASE("batch-norm fold: Conv weights and bias, hand-computed", "[batch-norm-fold]") {
  // s = gamma / sqrt(var + eps): channel 0: 3 / sqrt(3 + 1) = 1.5; channel 1: 2 / sqrt(0 + 1) = 2.
  // W' = W * s per output channel; b' = (b - mean) * s + beta: (1 - 1) * 1.5 + 0.5 = 0.5, (2 + 1) * 2 - 1 = 5.
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,2,2] x) => (float[1,2,2,2] z)
  <float[2,2,1,1] W = {2, 4, -1, 0.5}, float[2] b = {1, 2}, float[2] gamma = {3, 2}, float[2] beta = {0.5, -1},
   float[2] mean = {1, -1}, float[2] var = {3, 0}> {
  y = Conv(x, W, b)
  z = BatchNormalization<epsilon = 1.0>(y, gamma, beta, mean, var)
}
)");
  exec::BatchNormFold f = fold_of(*m);
  REQUIRE(f);
  CHECK(f.weight->data_type == DataType::Float);
  CHECK(f.weight->dims == std::vector<int64_t>{2, 2, 1, 1});
  CHECK(values(f.weight) == std::vector<double>{3, 6, -2, 1});
  CHECK(f.bias->dims == std::vector<int64_t>{2});
  CHECK(values(f.bias) == std::vector<double>{0.5, 5});
}

TEST_CASE("batch-norm fold: grouped ConvTranspose scales axis 1 per group", "[batch-norm-fold]") {
  // W [Cin=2, Cout/group=1, 1, 1], group 2: output channel of input channel i is i.
  // s = gamma / sqrt(var + eps) = {2, 3} (eps 0 via var); W' = {5 * 2, 7 * 3}; b' = -mean * s + beta = {-2 + 1, 0}.
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,2,2] x) => (float[1,2,2,2] z)
  <float[2,1,1,1] W = {5, 7}, float[2] gamma = {2, 3}, float[2] beta = {1, 0}, float[2] mean = {1, 0},
   float[2] var = {1, 1}> {
  y = ConvTranspose<group = 2>(x, W)
  z = BatchNormalization<epsilon = 0.0>(y, gamma, beta, mean, var)
}
)");
  exec::BatchNormFold f = fold_of(*m);
  REQUIRE(f);
  CHECK(values(f.weight) == std::vector<double>{10, 21});
  CHECK(values(f.bias) == std::vector<double>{-1, 0});
}

TEST_CASE("batch-norm fold: Gemm with transB, C and beta; MatMul", "[batch-norm-fold]") {
  // Gemm: B [F=2, K=2] with transB, so row f of B is scaled by s[f] = {2, 0.5}; C' = (beta_attr * C - mean) * s + beta
  // = ((3 * 1 - 1) * 2 + 1, (3 * 2 - 0) * 0.5 - 1) = (5, 2).
  auto gemm = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[3,2] a) => (float[3,2] z)
  <float[2,2] B = {1, 2, 3, 4}, float[2] C = {1, 2}, float[2] gamma = {2, 1}, float[2] beta = {1, -1},
   float[2] mean = {1, 0}, float[2] var = {1, 4}> {
  y = Gemm<transB = 1, beta = 3.0>(a, B, C)
  z = BatchNormalization<epsilon = 0.0>(y, gamma, beta, mean, var)
}
)");
  exec::BatchNormFold f = fold_of(*gemm);
  REQUIRE(f);
  CHECK(values(f.weight) == std::vector<double>{2, 4, 1.5, 2});
  CHECK(values(f.bias) == std::vector<double>{5, 2});
  // MatMul: B [K=2, F=2], column f scaled by s[f]; no C: b' = -mean * s + beta = (-1 * 2 + 1, 0 - 1).
  auto mm = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[3,2] a) => (float[3,2] z)
  <float[2,2] B = {1, 2, 3, 4}, float[2] gamma = {2, 1}, float[2] beta = {1, -1},
   float[2] mean = {1, 0}, float[2] var = {1, 4}> {
  y = MatMul(a, B)
  z = BatchNormalization<epsilon = 0.0>(y, gamma, beta, mean, var)
}
)");
  exec::BatchNormFold g = fold_of(*mm);
  REQUIRE(g);
  CHECK(values(g.weight) == std::vector<double>{2, 1, 6, 2});
  CHECK(values(g.bias) == std::vector<double>{-1, -1});
}

TEST_CASE("batch-norm fold: a folded float32 Conv matches the unfolded graph in ONNX Runtime", "[batch-norm-fold][ort]") {
  auto e = ort_fold_error(DataType::Float);
  if (!e) return;
  INFO("float32 rel-l2 " << *e);
  CHECK(*e <= 1e-5);
}

TEST_CASE("batch-norm fold: a folded float16 Conv matches the unfolded graph in ONNX Runtime", "[batch-norm-fold][ort]") {
  // The unfolded graph rounds the Conv's output to float16 before the BN, the
  // folded one rounds W' and b' once: they agree to float16 precision (2^-11
  // relative per rounding), not float32's.
  auto e = ort_fold_error(DataType::Float16);
  if (!e) return;
  INFO("float16 rel-l2 " << *e);
  CHECK(*e <= 2e-3);
}

TEST_CASE("batch-norm fold: the executor folds float16 Convs at load, and never a feedable parameter", "[batch-norm-fold][exec]") {
  auto nodes_run = [](const Model& m, bool fold, TensorValue* out) {
    exec::RunOptions o;
    o.fold_batch_norm = fold;
    auto s = exec::Session::create(m, o);
    REQUIRE(s);
    auto x = TensorValue::allocate(m.graph->inputs()[0]->type.elem_type, {2, 3, 6, 6});
    std::vector<double> xs(2 * 3 * 6 * 6);
    for (size_t i = 0; i < xs.size(); ++i) xs[i] = std::sin(0.37 * static_cast<double>(i));
    REQUIRE(encode_doubles(x.dtype(), xs, {x.mutable_raw(), static_cast<size_t>(x.byte_size())}));
    auto r = (*s)->run({{"x", x}});
    REQUIRE(r);
    if (out) *out = (*r)[0];
    return (*s)->last_stats().nodes_run;
  };
  auto half = test::parse_or_fail(kConvBn);
  retype(*half, DataType::Float16);
  TensorValue folded, plain;
  CHECK(nodes_run(*half, true, &folded) == 1);
  CHECK(nodes_run(*half, false, &plain) == 2);
  exec::ErrorMetrics e = exec::error_metrics(plain, folded);
  INFO("float16 rel-l2 " << e.rel_l2_error);
  CHECK(e.rel_l2_error <= 2e-3);
  CHECK_FALSE(e.zero_reference);
  // gamma is an initializer also listed as a graph input (IR >= 4): a feed may replace it, so it is not folded.
  std::string feedable = kConvBn;
  feedable.replace(feedable.find("g (float[2,3,6,6] x)"), 20, "g (float[2,3,6,6] x, float[4] gamma)");
  auto m = test::parse_or_fail(feedable);
  REQUIRE(m->graph->find("gamma")->initializer);
  REQUIRE(m->graph->find("gamma")->is_graph_input());
  CHECK(nodes_run(*m, true, nullptr) == 2);
}

TEST_CASE("batch-norm fold: refusals name the node and the reason", "[batch-norm-fold]") {
  struct Refusal {
    const char* what;
    std::string text;
    const char* refused_op;
    const char* reason;
  };
  // Conv(x, W, b) -> BN with 2 channels: `conv` and `bn` the two nodes, `sig` extra graph inputs, `tail` more
  // nodes, `outputs` the graph outputs, `params` the BN parameters.
  auto model = [](const std::string& conv, const std::string& bn, int opset = 13, const std::string& sig = "",
                  const std::string& tail = "", const std::string& outputs = "float[1,2,2,2] z",
                  const std::string& params = "float[2] gamma = {1, 2}, float[2] beta = {0, 1}, "
                                              "float[2] mean = {0, 1}, float[2] var = {1, 1}",
                  int ir = 8) {
    return "<ir_version: " + std::to_string(ir) + ", opset_import: [\"\" : " + std::to_string(opset) + "]>\n" +
           "g (float[1,2,2,2] x" + sig + ") => (" + outputs + ")\n" +
           "  <float[2,2,1,1] W = {1, 2, 3, 4}, float[2] b = {1, 1}, " + params + "> {\n" + conv + "\n" + bn + "\n" +
           tail + "}\n";
  };
  const std::string conv = "  y = Conv(x, W, b)", bn = "  z = BatchNormalization(y, gamma, beta, mean, var)";
  const std::vector<Refusal> refusals = {
      {"training mode", model(conv, "  z = BatchNormalization<training_mode = 1>(y, gamma, beta, mean, var)", 15),
       "BatchNormalization", "training mode"},
      {"is_test 0 before opset 7", model(conv, "  z = BatchNormalization<is_test = 0>(y, gamma, beta, mean, var)", 6),
       "BatchNormalization", "is_test=0"},
      {"spatial 0 before opset 9", model(conv, "  z = BatchNormalization<spatial = 0>(y, gamma, beta, mean, var)", 8),
       "BatchNormalization", "spatial=0"},
      {"running mean used",
       model(conv, "  z, rm, rv = BatchNormalization(y, gamma, beta, mean, var)", 13, "", "",
             "float[1,2,2,2] z, float[2] rm"),
       "BatchNormalization", "running mean/var outputs are used"},
      {"Conv output read twice", model(conv, bn, 13, "", "  r = Relu(y)\n", "float[1,2,2,2] z, float[1,2,2,2] r"),
       "Conv", "other consumers"},
      {"Conv output is a graph output", model(conv, bn, 13, "", "", "float[1,2,2,2] z, float[1,2,2,2] y"), "Conv",
       "graph output"},
      {"weights not constant", model("  y = Conv(x, V, b)", bn, 13, ", float[2,2,1,1] V"), "Conv",
       "weights are not constant"},
      {"weights a feedable initializer", model(conv, bn, 13, ", float[2,2,1,1] W"), "Conv",
       "a graph input of the same name can override"},
      {"parameters not constant", model(conv, "  z = BatchNormalization(y, gamma, beta, mean, v)", 13, ", float[2] v"),
       "BatchNormalization", "parameters are not constant"},
      {"parameter type differs",
       model(conv, bn, 13, "", "", "float[1,2,2,2] z",
             "double[2] gamma = {1, 2}, float[2] beta = {0, 1}, float[2] mean = {0, 1}, float[2] var = {1, 1}"),
       "BatchNormalization", "parameter types differ"},
      {"parameters per channel",
       model(conv, bn, 13, "", "", "float[1,2,2,2] z",
             "float[3] gamma = {1, 2, 3}, float[2] beta = {0, 1}, float[2] mean = {0, 1}, float[2] var = {1, 1}"),
       "BatchNormalization", "do not match the output channels"},
  };
  for (const Refusal& r : refusals) {
    INFO(r.what << "\n" << r.text);
    auto m = test::parse_or_fail(r.text);
    exec::BatchNormFold f = fold_of(*m);
    CHECK_FALSE(f);
    REQUIRE(f.refused);
    CHECK(f.refused->op_type == r.refused_op);
    CHECK(f.refusal.find(r.reason) != std::string::npos);
    CHECK_FALSE(f.weight);
  }
}

TEST_CASE("batch-norm fold: refusals of types, shapes and producers", "[batch-norm-fold]") {
  auto refusal_of = [](Model& m) {
    exec::BatchNormFold f = fold_of(m);
    CHECK_FALSE(f);
    return f.refused ? f.refused->op_type + ": " + f.refusal : std::string();
  };
  // bfloat16 weights: the fold keeps to IEEE float types.
  auto bf = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,2,2] x) => (float[1,2,2,2] z)
  <float[2,2,1,1] W = {1, 2, 3, 4}, float[2] gamma = {1, 2}, float[2] beta = {0, 1}, float[2] mean = {0, 1},
   float[2] var = {1, 1}> {
  y = Conv(x, W)
  z = BatchNormalization(y, gamma, beta, mean, var)
}
)");
  retype(*bf, DataType::BFloat16);
  CHECK(refusal_of(*bf) == "Conv: weights are not float, double or float16");
  // A bias of the wrong length.
  auto bias = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,2,2] x) => (float[1,2,2,2] z)
  <float[2,2,1,1] W = {1, 2, 3, 4}, float[3] b = {1, 1, 1}, float[2] gamma = {1, 2}, float[2] beta = {0, 1},
   float[2] mean = {0, 1}, float[2] var = {1, 1}> {
  y = Conv(x, W, b)
  z = BatchNormalization(y, gamma, beta, mean, var)
}
)");
  CHECK(refusal_of(*bias) == "Conv: bias does not match the output channels");
  // ConvTranspose whose group does not divide the input channels.
  auto ct = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,3,2,2] x) => (float[1,2,2,2] z)
  <float[3,1,1,1] W = {1, 2, 3}, float[2] gamma = {1, 2}, float[2] beta = {0, 1}, float[2] mean = {0, 1},
   float[2] var = {1, 1}> {
  y = ConvTranspose<group = 2>(x, W)
  z = BatchNormalization(y, gamma, beta, mean, var)
}
)");
  CHECK(refusal_of(*ct) == "ConvTranspose: group does not divide the weights' input channels");
  // MatMul of a 3-D A: BN's axis 1 is not the feature axis.
  auto mm3 = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4,2,2] a) => (float[4,2,2] z)
  <float[2,2] B = {1, 2, 3, 4}, float[2] gamma = {1, 2}, float[2] beta = {0, 1}, float[2] mean = {0, 1},
   float[2] var = {1, 1}> {
  y = MatMul(a, B)
  z = BatchNormalization(y, gamma, beta, mean, var)
}
)");
  CHECK(refusal_of(*mm3).find("MatMul: input A is not known to be 2-D") == 0);
  // Gemm whose C varies along N.
  auto gemm_c = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[3,2] a) => (float[3,2] z)
  <float[2,2] B = {1, 2, 3, 4}, float[3,2] C = {1, 2, 3, 4, 5, 6}, float[2] gamma = {1, 2}, float[2] beta = {0, 1},
   float[2] mean = {0, 1}, float[2] var = {1, 1}> {
  y = Gemm(a, B, C)
  z = BatchNormalization(y, gamma, beta, mean, var)
}
)");
  CHECK(refusal_of(*gemm_c) == "Gemm: C varies along N");
  // Gemm before opset 7 (where C is required): a [F] bias would need the legacy broadcast attribute.
  auto gemm6 = test::parse_or_fail(R"(
<ir_version: 3, opset_import: ["" : 6]>
g (float[3,2] a) => (float[3,2] z)
  <float[2,2] B = {1, 2, 3, 4}, float[3,2] C = {0, 0, 0, 0, 0, 0}, float[2] gamma = {1, 2}, float[2] beta = {0, 1},
   float[2] mean = {0, 1}, float[2] var = {1, 1}> {
  y = Gemm(a, B, C)
  z = BatchNormalization<is_test = 1>(y, gamma, beta, mean, var)
}
)");
  CHECK(refusal_of(*gemm6).find("BatchNormalization: opset < 7") == 0);
}

TEST_CASE("batch-norm fold: IR < 4 initializers listed as inputs are constants", "[batch-norm-fold]") {
  // Before IR 4 every initializer is listed among the graph inputs and is no default a feed replaces.
  const char* text = R"(
<ir_version: 3, opset_import: ["" : 8]>
g (float[1,2,2,2] x, float[2,2,1,1] W, float[2] gamma) => (float[1,2,2,2] z)
  <float[2,2,1,1] W = {1, 2, 3, 4}, float[2] gamma = {1, 2}, float[2] beta = {0, 1}, float[2] mean = {0, 1},
   float[2] var = {1, 1}> {
  y = Conv(x, W)
  z = BatchNormalization(y, gamma, beta, mean, var)
}
)";
  auto m = test::parse_or_fail(text);
  REQUIRE(m->graph->find("W")->is_graph_input());
  exec::BatchNormFold f = fold_of(*m);
  INFO(f.refusal);
  CHECK(f);
  std::string ir8 = text;
  ir8.replace(ir8.find("ir_version: 3"), 13, "ir_version: 8");
  auto m8 = test::parse_or_fail(ir8);
  CHECK_FALSE(fold_of(*m8));
}
