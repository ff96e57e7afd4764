// prune and sparse-storage: one behaviour per test on small ONNX-text graphs;
// ONNX Runtime 1.30 (tests/support/ort_harness.h) loads and runs the results.
//
// Expected values are computed here from the weights themselves (which
// elements are smallest, which groups of four), not copied from a run.
#include <catch2/catch.hpp>
#include <onnx/checker.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "fusion_test_util.h"
#include "ir/dtype.h"
#include "ir/sparse_tensor.h"
#include "ir/verifier.h"
#include "onnx/convert_proto.h"
#include "onnx/model_io.h"
#include "pass/pass.h"
#include "passes/pass_util.h"
#include "passes/prune.h"
#include "passes/quantize.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;
using namespace effopt::test::fusion;
namespace util = effopt::passes::util;
namespace quant = effopt::passes::quant;
namespace prune = effopt::passes::prune;

namespace {

const pass::PassInfo& info(const std::string& name) { return test::pass_info(name); }
pass::PassOptions options(const std::string& pass_name, const std::string& text) {
  return test::pass_options(pass_name, text);
}

Expected<pass::PassResult> try_run(const std::string& pass_name, Model& m, const std::string& opts = "") {
  return pass::apply_pass(info(pass_name), m, options(pass_name, opts));
}

pass::PassResult run(const std::string& pass_name, Model& m, const std::string& opts = "") {
  auto r = try_run(pass_name, m, opts);
  if (!r) FAIL(pass_name << "{" << opts << "}: " << r.error().message);
  auto st = verify(m);
  if (!st) FAIL("verifier after " << pass_name << ": " << st.error().message);
  return *r;
}

std::string notes_text(const pass::PassResult& r) {
  std::string s;
  for (const std::string& n : r.notes) s += n + "\n";
  return s;
}

bool has_note(const pass::PassResult& r, const std::string& part) {
  return notes_text(r).find(part) != std::string::npos;
}

std::string header(int opset = 13, int ir = 7) {
  return "<ir_version: " + std::to_string(ir) + ", opset_import: [\"\" : " + std::to_string(opset) + "]>\n";
}

// The float elements of the stored tensor behind value `name` (dense or sparse).
std::vector<float> weights(const Model& m, const std::string& name) {
  Value* v = m.graph->find(name);
  REQUIRE(v);
  TensorPtr t = util::fixed_constant(v);
  if (!t && v->sparse_initializer) {
    std::string why;
    t = densify(*v->sparse_initializer, &why);
    INFO(why);
  }
  REQUIRE(t);
  return quant::tensor_floats(*t);
}

// ONNX 1.12's checker alone (test::onnx_check adds strict shape inference, which types a sparse initializer as a
// sparse tensor that ops reading a dense input refuse, although ONNX Runtime densifies it at load).
std::string onnx_checker(const Model& m) {
  try {
    onnx::ModelProto p = to_proto_inline(m);
    onnx::checker::check_model(p);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

size_t zeros(const std::vector<float>& w) { return static_cast<size_t>(std::count(w.begin(), w.end(), 0.0f)); }

// The largest pruned magnitude (from the original weights) is at most the smallest kept one.
void check_smallest_pruned(const std::vector<float>& orig, const std::vector<float>& pruned) {
  REQUIRE(orig.size() == pruned.size());
  float max_pruned = 0, min_kept = INFINITY;
  for (size_t i = 0; i < orig.size(); ++i) {
    if (pruned[i] == 0) max_pruned = std::max(max_pruned, std::fabs(orig[i]));
    else {
      CHECK(pruned[i] == orig[i]);  // kept weights are untouched
      min_kept = std::min(min_kept, std::fabs(orig[i]));
    }
  }
  CHECK(max_pruned <= min_kept);
}

// Two MatMuls: W1 [64,32] in [-1, 1), W2 [64,32] in [-0.1, 0.1).
std::string two_matmuls() {
  return header() +
         "g (float[2,64] x) => (float[2,64] y) {\n"
         "W1 = Constant<value = float[64,32] {" + numbers(2048, 1) + "}>()\n"
         "W2 = Constant<value = float[64,32] {" + numbers(2048, 2, -0.1, 0.1) + "}>()\n"
         "a = MatMul(x, W1)\n"
         "b = MatMul(x, W2)\n"
         "y = Concat<axis = 1>(a, b)\n}\n";
}

}  // namespace

TEST_CASE("prune: layer scope prunes each weight to the sparsity, its smallest magnitudes", "[prune]") {
  auto before = test::parse_or_fail(two_matmuls()), m = test::parse_or_fail(two_matmuls());
  auto r = run("prune", *m, "sparsity=0.5 scope=layer");
  INFO(notes_text(r));
  CHECK(r.changed);
  for (const char* w : {"W1", "W2"}) {
    INFO(w);
    auto p = weights(*m, w);
    CHECK(zeros(p) == 1024);
    check_smallest_pruned(weights(*before, w), p);
  }
  CHECK(has_note(r, "layer 'W1' (MatMul #2, 2048 elements, element): target 0.5000, reached 0.5000"));
  if (auto e = ort_rel_l2(*before, *m)) CHECK(*e > 0);  // loads and runs in ONNX Runtime
}

TEST_CASE("prune: global scope puts one threshold over every weight", "[prune]") {
  auto before = test::parse_or_fail(two_matmuls()), m = test::parse_or_fail(two_matmuls());
  auto r = run("prune", *m, "sparsity=0.5");
  INFO(notes_text(r));
  CHECK(has_note(r, "scope=auto: global"));
  auto w1 = weights(*before, "W1"), w2 = weights(*before, "W2");
  auto p1 = weights(*m, "W1"), p2 = weights(*m, "W2");
  CHECK(zeros(p1) + zeros(p2) == 2048);
  // Every weight of W2 is below 0.1, so W2 loses far more than W1.
  CHECK(zeros(p2) > 1800);
  std::vector<float> all_o(w1), all_p(p1);
  all_o.insert(all_o.end(), w2.begin(), w2.end());
  all_p.insert(all_p.end(), p2.begin(), p2.end());
  check_smallest_pruned(all_o, all_p);
  CHECK(r.counter("prunable-elements") == 4096);
  CHECK(r.counter("prunable-zeros-after") == 2048);
}

TEST_CASE("prune: 2:4 leaves at most 2 nonzeros in every group of 4 along the reduction axis", "[prune]") {
  // Conv W [16,8,3,3]: groups along axis 1 at each kernel position; Gemm transB=1 W [32,64]: along axis 1 (K).
  std::string text = header() +
                     "g (float[1,8,6,6] x, float[2,64] z) => (float[1,16,4,4] y, float[2,32] u) {\n"
                     "W = Constant<value = float[16,8,3,3] {" + numbers(1152, 3) + "}>()\n"
                     "y = Conv(x, W)\n"
                     "G = Constant<value = float[32,64] {" + numbers(2048, 4) + "}>()\n"
                     "u = Gemm<transB = 1>(z, G)\n}\n";
  auto before = test::parse_or_fail(text), m = test::parse_or_fail(text);
  auto r = run("prune", *m, "granularity=n:m");
  INFO(notes_text(r));
  CHECK(r.counter("layers-pruned") == 2);
  auto check_groups = [](const std::vector<float>& orig, const std::vector<float>& p, size_t outer, size_t len,
                         size_t inner) {
    for (size_t o = 0; o < outer; ++o)
      for (size_t g = 0; g < len; g += 4)
        for (size_t i = 0; i < inner; ++i) {
          std::vector<float> kept, dropped;
          for (size_t j = 0; j < 4; ++j) {
            size_t at = (o * len + g + j) * inner + i;
            (p[at] != 0 ? kept : dropped).push_back(std::fabs(orig[at]));
          }
          CHECK(kept.size() == 2);
          CHECK(*std::min_element(kept.begin(), kept.end()) >= *std::max_element(dropped.begin(), dropped.end()));
        }
  };
  check_groups(weights(*before, "W"), weights(*m, "W"), 16, 8, 9);
  check_groups(weights(*before, "G"), weights(*m, "G"), 32, 64, 1);
  CHECK(has_note(r, "2:4 along axis 1"));
  CHECK(has_note(r, "only on runtimes with N:M sparse kernels"));
  if (auto e = ort_rel_l2(*before, *m)) CHECK(*e > 0);
}

TEST_CASE("prune: n:m skips a weight whose reduction length is not a multiple of M, with a note", "[prune]") {
  std::string text = header() +
                     "g (float[2,66] x) => (float[2,32] y) {\n"
                     "W = Constant<value = float[66,32] {" + numbers(66 * 32, 5) + "}>()\n"
                     "y = MatMul(x, W)\n}\n";
  auto m = test::parse_or_fail(text);
  auto r = run("prune", *m, "granularity=n:m");
  INFO(notes_text(r));
  CHECK_FALSE(r.changed);
  CHECK(zeros(weights(*m, "W")) == 0);
  CHECK(has_note(r, "reduction length 66 (axis 0) is not a multiple of 4"));
}

TEST_CASE("prune: depthwise convolutions, biases and normalization parameters stay dense", "[prune]") {
  std::string text = header() +
                     "g (float[1,128,6,6] x) => (float[1,128,4,4] y) {\n"
                     "D = Constant<value = float[128,1,3,3] {" + numbers(1152, 6) + "}>()\n"
                     "B = Constant<value = float[128] {" + numbers(128, 7) + "}>()\n"
                     "s = Constant<value = float[128] {" + numbers(128, 8, 0.5, 1) + "}>()\n"
                     "c = Conv<group = 128>(x, D, B)\n"
                     "y = BatchNormalization(c, s, B, B, s)\n}\n";
  auto m = test::parse_or_fail(text);
  auto r = run("prune", *m, "sparsity=0.9 min-size=1");
  INFO(notes_text(r));
  CHECK_FALSE(r.changed);
  CHECK(zeros(weights(*m, "D")) == 0);
  CHECK(zeros(weights(*m, "B")) == 0);
  CHECK(zeros(weights(*m, "s")) == 0);
  CHECK(has_note(r, "weight 'D': left dense: read by Conv #3, a depthwise convolution"));
}

TEST_CASE("prune: weights under min-size stay dense", "[prune]") {
  std::string text = header() +
                     "g (float[2,16] x) => (float[2,32] y) {\n"
                     "W = Constant<value = float[16,32] {" + numbers(512, 9) + "}>()\n"
                     "y = MatMul(x, W)\n}\n";
  auto m = test::parse_or_fail(text);
  auto r = run("prune", *m, "sparsity=0.5");
  CHECK_FALSE(r.changed);
  CHECK(has_note(r, "1 prunable weights under min-size (1024 elements) left dense"));
  auto r2 = run("prune", *m, "sparsity=0.5 min-size=512");
  CHECK(zeros(weights(*m, "W")) == 256);
}

TEST_CASE("prune: exclude-node matches the whole node name", "[prune]") {
  std::string text = header() +
                     "g (float[2,64] x) => (float[2,32] y) {\n"
                     "W1 = Constant<value = float[64,32] {" + numbers(2048, 1) + "}>()\n"
                     "W2 = Constant<value = float[32,32] {" + numbers(1024, 2) + "}>()\n"
                     "a = MatMul(x, W1)\n"
                     "y = MatMul(a, W2)\n}\n";
  auto named = [&] {
    auto m = test::parse_or_fail(text);
    m->graph->nodes()[2]->name = "head";
    m->graph->nodes()[3]->name = "body";
    return m;
  };
  {
    auto m = named();
    run("prune", *m, "sparsity=0.5 scope=layer exclude-node=hea");  // a part of the name matches nothing
    CHECK(zeros(weights(*m, "W1")) == 1024);
  }
  {
    auto m = named();
    auto r = run("prune", *m, "sparsity=0.5 scope=layer exclude-node=he.*");
    CHECK(zeros(weights(*m, "W1")) == 0);
    CHECK(zeros(weights(*m, "W2")) == 512);
    CHECK(has_note(r, "which exclude-node matches"));
  }
}

TEST_CASE("prune: weights in Constant nodes behind Identity and inside subgraphs are pruned", "[prune]") {
  std::string text = header() +
                     "g (float[2,64] x, bool c) => (float[2,32] y) {\n"
                     "W = Constant<value = float[64,32] {" + numbers(2048, 1) + "}>()\n"
                     "Wi = Identity(W)\n"
                     "y = If<then_branch = t () => (float[2,32] o) {\n"
                     "  V = Constant<value = float[64,32] {" + numbers(2048, 2) + "}>()\n"
                     "  o = MatMul(x, V)\n"
                     "}, else_branch = e () => (float[2,32] o2) {\n"
                     "  o2 = MatMul(x, Wi)\n"
                     "}>(c)\n}\n";
  auto m = test::parse_or_fail(text);
  auto r = run("prune", *m, "sparsity=0.5 scope=layer");
  INFO(notes_text(r));
  CHECK(r.counter("layers-pruned") == 2);
  CHECK(zeros(weights(*m, "W")) == 1024);
  CHECK(has_note(r, "layer 'V'"));
}

TEST_CASE("prune: usage errors: sparsity with n:m, bad n-m and sparsity", "[prune]") {
  auto m = test::parse_or_fail(two_matmuls());
  auto check_usage = [&](const std::string& opts, const std::string& part) {
    auto r = try_run("prune", *m, opts);
    INFO(opts);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::Usage);
    CHECK(r.error().message.find(part) != std::string::npos);
  };
  check_usage("granularity=n:m sparsity=0.5", "N:M fixes the sparsity");
  check_usage("granularity=n:m n-m=4:4", "is not N:M");
  check_usage("sparsity=1.5", "is not a fraction");
  check_usage("op-types=Add", "not an op prune knows");
  CHECK(zeros(weights(*m, "W1")) == 0);
}

TEST_CASE("prune: prune_candidate builds a fresh copy with a sparsity per layer", "[prune]") {
  auto m = test::parse_or_fail(two_matmuls());
  auto o = prune::parse_options(options("prune", "sparsity=0.5 scope=layer"));
  REQUIRE(o);
  auto plan = prune::make_prune_plan(*m, *o);
  REQUIRE(plan);
  REQUIRE(plan->layers.size() == 2);
  auto c = prune::prune_candidate(*m, *plan, {0.25, 0.0}, *o);
  REQUIRE(c);
  CHECK(zeros(weights(**c, "W1")) == 512);
  CHECK(zeros(weights(**c, "W2")) == 0);
  CHECK(zeros(weights(*m, "W1")) == 0);  // the original is untouched
}

TEST_CASE("sparse-storage: float32 pays above ~67% zeros, stored as INT64 ascending linear indices", "[sparse-storage]") {
  std::string text = header(13, 5) +
                     "g (float[2,64] x) => (float[2,64] y) {\n"
                     "W1 = Constant<value = float[64,64] {" + numbers(4096, 1) + "}>()\n"
                     "W2 = Constant<value = float[64,64] {" + numbers(4096, 2) + "}>()\n"
                     "a = MatMul(x, W1)\n"
                     "y = MatMul(a, W2)\n}\n";
  auto m = test::parse_or_fail(text);
  run("hoist-constants", *m);
  // W1 at 66% (1393 nonzeros x 12 bytes > 16384 dense), W2 at 68% (1311 x 12 < 16384).
  auto o = prune::parse_options(options("prune", "sparsity=0.68 scope=layer"));
  REQUIRE(o);
  auto plan = prune::make_prune_plan(*m, *o);
  REQUIRE(plan);
  REQUIRE(plan->layers.size() == 2);
  std::vector<double> t;
  for (const auto& l : plan->layers) t.push_back(l.name == "W2" ? 0.68 : 0.66);
  REQUIRE(prune::apply_prune_plan(*m, *plan, t, *o, nullptr));
  auto dense = clone_model(*m);
  REQUIRE(dense);
  auto r = run("sparse-storage", *m);
  INFO(notes_text(r));
  CHECK(r.counter("tensors-stored-sparse") == 1);
  Value* w2 = m->graph->find("W2");
  REQUIRE(w2->sparse_initializer);
  CHECK(m->graph->find("W1")->initializer);
  const SparseTensor& s = *w2->sparse_initializer;
  CHECK(s.indices.data_type == DataType::Int64);
  CHECK(s.dims == std::vector<int64_t>{64, 64});
  auto idx = to_ints(s.indices);
  REQUIRE(idx);
  CHECK(idx->size() == 4096 - static_cast<size_t>(std::llround(0.68 * 4096)));
  CHECK(std::is_sorted(idx->begin(), idx->end()));
  CHECK(std::adjacent_find(idx->begin(), idx->end()) == idx->end());
  CHECK(m->ir_version == 6);  // raised from 5
  CHECK(weights(*m, "W2") == weights(**dense, "W2"));
  // The executor densifies at load: the same outputs as the dense model, exactly.
  auto in = random_float_inputs(**dense);
  CHECK(run_exec(**dense, in) == run_exec(*m, in));
  // Export, import: the sparse initializer survives the round trip; ONNX's checker accepts it.
  CHECK(to_proto_inline(*m).graph().sparse_initializer_size() == 1);
  test::TempDir d;
  REQUIRE(save_model(*m, d.file("s.onnx")));
  auto back = load_model(d.file("s.onnx"));
  REQUIRE(back);
  REQUIRE((*back)->graph->find("W2")->sparse_initializer);
  CHECK(weights(**back, "W2") == weights(**dense, "W2"));
  // ONNX's checker accepts it; ONNX 1.12's strict shape inference types a sparse initializer as a sparse tensor,
  // which MatMul refuses as a dense input (ONNX Runtime densifies it at load, below).
  CHECK(onnx_checker(*m) == "");
  CHECK(test::onnx_check(**dense) == "");
  // ONNX Runtime loads it (densified at load) and computes what the dense model does.
  if (auto e = ort_rel_l2(**dense, *m)) CHECK(*e < 1e-6);
}

TEST_CASE("sparse-storage: a weight in a Constant node becomes a sparse initializer; a sparse-poor one stays a node",
          "[sparse-storage]") {
  std::string text = header() +
                     "g (float[2,64] x) => (float[2,64] y) {\n"
                     "W1 = Constant<value = float[64,64] {" + numbers(4096, 1) + "}>()\n"
                     "W2 = Constant<value = float[64,64] {" + numbers(4096, 2) + "}>()\n"
                     "a = MatMul(x, W1)\n"
                     "y = MatMul(a, W2)\n}\n";
  auto m = test::parse_or_fail(text);
  auto o = prune::parse_options(options("prune", "scope=layer"));
  REQUIRE(o);
  auto plan = prune::make_prune_plan(*m, *o);
  REQUIRE(plan);
  std::vector<double> t;
  for (const auto& l : plan->layers) t.push_back(l.name == "W2" ? 0.9 : 0.5);
  REQUIRE(prune::apply_prune_plan(*m, *plan, t, *o, nullptr));
  auto dense = clone_model(*m);
  REQUIRE(dense);
  auto r = run("sparse-storage", *m);
  INFO(notes_text(r));
  CHECK(r.counter("constants-made-initializers") == 1);
  CHECK(r.counter("tensors-stored-sparse") == 1);
  REQUIRE(m->graph->find("W2")->sparse_initializer);
  REQUIRE(m->graph->find("W1")->producer());
  CHECK(m->graph->find("W1")->producer()->op_type == "Constant");
  auto in = random_float_inputs(**dense);
  CHECK(run_exec(**dense, in) == run_exec(*m, in));
  if (auto e = ort_rel_l2(**dense, *m)) CHECK(*e < 1e-6);
}

TEST_CASE("sparse-storage: int8 pays above ~89% zeros; asymmetric (zero point) tensors stay dense",
          "[sparse-storage]") {
  std::string text = header() +
                     "g (float[2,64] x) => (float[2,64] y) {\n"
                     "W1 = Constant<value = float[64,64] {" + numbers(4096, 1) + "}>()\n"
                     "W2 = Constant<value = float[64,64] {" + numbers(4096, 2) + "}>()\n"
                     "a = MatMul(x, W1)\n"
                     "y = MatMul(a, W2)\n}\n";
  SECTION("symmetric int8: 88% dense, 91% sparse") {
    auto m = test::parse_or_fail(text);
    auto o = prune::parse_options(options("prune", "scope=layer"));
    REQUIRE(o);
    auto plan = prune::make_prune_plan(*m, *o);
    REQUIRE(plan);
    std::vector<double> t;
    for (const auto& l : plan->layers) t.push_back(l.name == "W2" ? 0.91 : 0.88);
    REQUIRE(prune::apply_prune_plan(*m, *plan, t, *o, nullptr));
    auto before_q = clone_model(*m);
    REQUIRE(before_q);
    run("quantize", *m);
    auto dense = clone_model(*m);
    REQUIRE(dense);
    auto r = run("sparse-storage", *m);
    INFO(notes_text(r));
    CHECK(r.counter("tensors-stored-sparse") == 1);
    Value* w2q = nullptr;
    for (Value* v : m->graph->sparse_initializers()) w2q = v;
    REQUIRE(w2q);
    CHECK(w2q->sparse_initializer->values.data_type == DataType::Int8);
    // The quantized zeros are exactly the pruned ones (symmetric: 0 maps to 0).
    std::string why;
    TensorPtr qt = densify(*w2q->sparse_initializer, &why);
    INFO(why);
    REQUIRE(qt);
    auto q = to_doubles(*qt);
    REQUIRE(q);
    auto w = weights(**before_q, "W2");
    for (size_t i = 0; i < w.size(); ++i)
      if (w[i] == 0) CHECK((*q)[i] == 0);
    auto in = random_float_inputs(**dense);
    CHECK(run_exec(**dense, in) == run_exec(*m, in));
    CHECK(onnx_checker(*m) == "");
    if (auto e = ort_rel_l2(**dense, *m)) CHECK(*e < 1e-6);
  }
  SECTION("asymmetric uint8 at 95% stays dense") {
    auto m = test::parse_or_fail(text);
    run("prune", *m, "sparsity=0.95 scope=layer");
    run("quantize", *m, "symmetric=false");
    auto r = run("sparse-storage", *m);
    CHECK(r.counter("tensors-stored-sparse") == 0);
    CHECK(m->graph->sparse_initializers().empty());
  }
}

TEST_CASE("prune, quantize, sparse-storage: pruned weights stay exactly zero after int8 and int4 quantization",
          "[prune][quantize][sparse-storage]") {
  std::string text = header() +
                     "g (float[2,256] x) => (float[2,64] y) {\n"
                     "W = Constant<value = float[256,64] {" + numbers(256 * 64, 11) + "}>()\n"
                     "y = MatMul(x, W)\n}\n";
  for (const char* qopts : {"", "bits=4"}) {
    INFO("quantize{" << qopts << "}");
    auto m = test::parse_or_fail(text);
    run("prune", *m, "sparsity=0.5");
    auto pruned = clone_model(*m);
    REQUIRE(pruned);
    run("quantize", *m, qopts);
    Node* dq = nullptr;
    for (const auto& n : m->graph->nodes())
      if (n->op_type == "DequantizeLinear") dq = n.get();
    REQUIRE(dq);
    auto q = to_doubles(*util::fixed_constant(dq->input(0)));
    REQUIRE(q);
    auto w = weights(**pruned, "W");
    size_t checked = 0;
    for (size_t i = 0; i < w.size(); ++i)
      if (w[i] == 0) {
        CHECK((*q)[i] == 0);
        ++checked;
      }
    CHECK(checked == w.size() / 2);
    run("sparse-storage", *m);  // int8 at 50%: no gain; int4: never
    CHECK(m->graph->sparse_initializers().empty());
    if (auto e = ort_rel_l2(**pruned, *m)) CHECK(*e < 0.1);
  }
}

namespace {

// x[2,64] -> MatMul W1 [64,48] -> Relu -> MatMul W2 [48,8] -> y: W1's feature j has its column scaled by (j + 1),
// so the lowest-numbered features have the smallest norms.
std::string feature_chain() {
  std::string w1;
  std::istringstream vals(numbers(64 * 48, 5, 0.5, 1.0));
  std::string v;
  for (int i = 0; i < 64 * 48 && std::getline(vals, v, ','); ++i)
    w1 += (i ? ", " : "") + std::to_string(std::stod(v) * ((i % 48) + 1));
  return header() +
         "g (float[2,64] x) => (float[2,8] y) {\n"
         "W1 = Constant<value = float[64,48] {" + w1 + "}>()\n"
         "W2 = Constant<value = float[48,8] {" + numbers(48 * 8, 6) + "}>()\n"
         "a = MatMul(x, W1)\n"
         "r = Relu(a)\n"
         "y = MatMul(r, W2)\n}\n";
}

}  // namespace

TEST_CASE("prune granularity=channel: the weakest output features go, with the next layer's rows, noted in channels",
          "[prune]") {
  auto before = test::parse_or_fail(feature_chain()), m = test::parse_or_fail(feature_chain());
  auto r = run("prune", *m, "granularity=channel sparsity=0.25");
  INFO(notes_text(r));
  CHECK(r.changed);
  CHECK(has_note(r, "scope=auto: layer"));
  // floor(0.25 * 48) = 12 features removed: W1's columns 0..11 (the smallest norms) and W2's rows 0..11.
  // The pruned weights are new tensors: read them through the MatMuls.
  auto weight_of = [&](const std::string& input) {
    for (const auto& n : m->graph->nodes())
      if (n->op_type == "MatMul" && n->input(0) && n->input(0)->name() == input) return weights(*m, n->input(1)->name());
    FAIL("no MatMul reads " << input);
    return std::vector<float>{};
  };
  auto w1 = weight_of("x"), w2 = weight_of("r");
  auto o1 = weights(*before, "W1"), o2 = weights(*before, "W2");
  REQUIRE(w1.size() == 64 * 36);
  REQUIRE(w2.size() == 36 * 8);
  for (int k = 0; k < 64; ++k)
    for (int j = 0; j < 36; ++j) CHECK(w1[k * 36 + j] == o1[k * 48 + j + 12]);
  for (int j = 0; j < 36; ++j)
    for (int n = 0; n < 8; ++n) CHECK(w2[j * 8 + n] == o2[(j + 12) * 8 + n]);
  CHECK(r.counter("prunable-channels") == 48);
  CHECK(r.counter("channels-removed") == 12);
  CHECK(has_note(r, "48 channels, channel): target 0.2500, reached 0.2500"));
  CHECK(onnx_checker(*m).empty());
  if (auto e = ort_rel_l2(*before, *m)) CHECK(*e > 0);  // runs in ONNX Runtime with the same output shape
}
