// The executor's feed rule for initializers listed among the graph inputs, against ONNX Runtime 1.30: from IR
// version 4 on such an initializer is a default that a feed of the same name overrides (ORT's "overridable
// initializers": its session accepts every graph input, initializers included, as a feed); in IR < 4 models
// it is a constant and feeding it is refused (ORT's session accepts only the inputs that are not
// initializers there). Also: the session's caches and load-time rewrites (constant Identity chains,
// BatchNormalization folding, Conv + Clip bounds, packed convolution weights) never bake in a default a feed
// can replace.
//
// onnxruntime-node, the tests' way to ORT, passes only session.inputNames (the inputs that are not
// initializers) to ORT and silently dropped every other feed (checked with 1.30: the fed value had no effect,
// an unknown name neither); the harness now refuses such feeds. So a fed override is compared with ORT
// running the same graph in which that initializer is a plain graph input given the same value: what ORT's
// session does with an override. Without feeds, ORT runs the model itself.
#include <catch2/catch.hpp>

#include <cstring>

#include "exec/executor.h"
#include "exec_ort_compare.h"
#include "onnx/convert_proto.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;
using exec::TensorValue;

namespace {

using Feeds = std::vector<std::pair<std::string, TensorValue>>;

TensorValue floats(std::vector<int64_t> dims, std::vector<float> v) {
  return TensorValue::from_vector(DataType::Float, std::move(dims), v);
}

// W (3x3 Conv weights: oneDNN's path, which packs constant weights once; then BatchNormalization and Relu)
// and lo (Clip's lower bound after a second Conv) are initializers listed as graph inputs: overridable. K, the
// BN parameters and hi are plain initializers.
const char* kConvModel = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,3,3] x, float[2,2,3,3] W, float lo) => (float[1,2,3,3] y, float[1,2,3,3] z)
  <float[2,2,3,3] W = {-0.524, 0.088, -0.260, 0.208, 0.251, -0.869, -0.974, 0.675, -0.481, -0.531, 0.991, -0.059, 0.673, -0.047, 0.278, -0.699, 0.270, 0.736, 0.046, 0.483, 0.343, -0.872, 0.516, 0.182, -0.397, -0.938, 0.731, -0.055, 0.438, 0.758, 0.428, 0.842, -0.210, 0.602, -0.111, 0.871},
   float[2,2,1,1] K = {1.0, 0.5, -0.5, 1.5},
   float[2] gamma = {1.5, 0.5}, float[2] beta = {0.1, -0.2}, float[2] mean = {0.3, -0.1}, float[2] var = {0.9, 1.2},
   float lo = {0.0}, float hi = {1.0}> {
  c = Conv<pads = [1, 1, 1, 1]>(x, W)
  b = BatchNormalization(c, gamma, beta, mean, var)
  y = Relu(b)
  c2 = Conv(x, K)
  z = Clip(c2, lo, hi)
}
)";

// w is read directly and through an Identity (a constant chain unless w may be fed).
const char* kMulModel = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] x, float[3] w) => (float[2,3] y, float[2,3] z) <float[3] w = {1, 2, 3}> {
  y = Mul(x, w)
  wi = Identity(w)
  z = Add(x, wi)
}
)";

// The same Mul at IR version 3: w is a constant.
const char* kMulModelIr3 = R"(
<ir_version: 3, opset_import: ["" : 8]>
g (float[2,3] x, float[3] w) => (float[2,3] y) <float[3] w = {1, 2, 3}> {
  y = Mul(x, w)
}
)";

const TensorValue kX = floats({1, 2, 3, 3}, {0.1f, -0.4f, 0.9f, 1.3f, -1.2f, 0.05f, 0.7f, -0.3f, 0.2f,
                                             -0.6f, 0.8f, 0.4f, -0.9f, 1.1f, 0.3f, -0.2f, 0.5f, -1.0f});

std::vector<TensorValue> copy_out(const Expected<std::vector<TensorValue>>& r) {
  if (!r) FAIL("run: " << r.error().message);
  std::vector<TensorValue> out;
  for (auto& t : *r) out.push_back(TensorValue::from_bytes(t.dtype(), t.dims(), {t.raw(), t.byte_size()}));
  return out;
}

// ONNX Runtime's outputs for `model` fed `in`; fails the test when ORT refuses. Fed initializers are taken out
// of the model's initializer list (they stay graph inputs), so ORT runs on the fed values.
std::vector<onnx::TensorProto> ort_outputs(test::OrtHarness& ort, const Model& model, const Feeds& in) {
  onnx::ModelProto p = to_proto_inline(model);
  std::vector<std::pair<std::string, onnx::TensorProto>> feeds;
  for (auto& [name, t] : in) {
    feeds.emplace_back(name, test::to_proto(t, name));
    auto* inits = p.mutable_graph()->mutable_initializer();
    for (int i = 0; i < inits->size(); ++i)
      if (inits->Get(i).name() == name) {
        inits->DeleteSubrange(i, 1);
        break;
      }
  }
  test::OrtRun r = ort.run_model(p, feeds);
  INFO("ONNX Runtime: " << r.error);
  REQUIRE(r.ok);
  return r->outputs;
}

void check_same(const std::vector<TensorValue>& ours, const std::vector<onnx::TensorProto>& want) {
  REQUIRE(ours.size() == want.size());
  for (size_t k = 0; k < ours.size(); ++k) {
    INFO("output " << k);
    double d = test::max_abs_diff(test::to_proto(ours[k], want[k].name()), want[k]);
    CHECK(d <= 1e-5);
  }
}

bool same_values(const TensorValue& a, const TensorValue& b) {
  return a.byte_size() == b.byte_size() && std::memcmp(a.raw(), b.raw(), a.byte_size()) == 0;
}

}  // namespace

TEST_CASE("exec feed rule: IR >= 4 initializers listed as inputs are defaults a feed overrides, as in ONNX Runtime",
          "[exec][feed-initializer][ort]") {
  auto m = test::parse_or_fail(kConvModel);
  auto s = exec::Session::create(*m);
  REQUIRE(s);
  exec::Session& session = **s;
  CHECK(session.input_names() == std::vector<std::string>{"x"});
  CHECK(session.overridable_initializer_names() == std::vector<std::string>{"W", "lo"});
  auto* ort = test::ort_or_skip();
  if (!ort) return;

  const Feeds defaults = {{"x", kX}};
  std::vector<float> w1(36), w2(36);
  for (size_t i = 0; i < 36; ++i) {
    w1[i] = 0.05f * static_cast<float>(i % 7) - 0.1f;
    w2[i] = 0.5f - 0.03f * static_cast<float>(i);
  }
  const Feeds fed = {{"x", kX}, {"W", floats({2, 2, 3, 3}, w1)}, {"lo", floats({}, {0.25f})}};
  const Feeds fed2 = {{"x", kX}, {"W", floats({2, 2, 3, 3}, w2)}};

  // The same session, several runs: without feeds, with them, without again, with other values. Each must
  // match ONNX Runtime given the same feeds.
  std::vector<TensorValue> first = copy_out(session.run(defaults));
  check_same(first, ort_outputs(*ort, *m, defaults));
  std::vector<TensorValue> overridden = copy_out(session.run(fed));
  check_same(overridden, ort_outputs(*ort, *m, fed));
  CHECK_FALSE(same_values(overridden[0], first[0]));  // the fed W reached the Conv
  CHECK_FALSE(same_values(overridden[1], first[1]));  // the fed lo reached the Clip
  std::vector<TensorValue> again = copy_out(session.run(defaults));
  REQUIRE(again.size() == first.size());
  for (size_t k = 0; k < first.size(); ++k) CHECK(same_values(again[k], first[k]));  // no stale packed weights
  check_same(copy_out(session.run(fed2)), ort_outputs(*ort, *m, fed2));
  // New values in the very buffer fed before (same address): nothing derived from the old ones is reused.
  Feeds reused = {{"x", kX}, {"W", floats({2, 2, 3, 3}, w1)}};
  check_same(copy_out(session.run(reused)), ort_outputs(*ort, *m, reused));
  float* w = reused[1].second.mutable_data<float>();
  for (size_t i = 0; i < 36; ++i) w[i] = w2[i];
  check_same(copy_out(session.run(reused)), ort_outputs(*ort, *m, reused));
  // Without internal rewrites (as `compare` and the pass manager's checks run models) the same holds.
  exec::RunOptions plain;
  plain.internal_rewrites = false;
  auto p = exec::Session::create(*m, plain);
  REQUIRE(p);
  check_same(copy_out((*p)->run(fed)), ort_outputs(*ort, *m, fed));
}

TEST_CASE("exec feed rule: a fed initializer reaches readers through Identity too", "[exec][feed-initializer][ort]") {
  auto m = test::parse_or_fail(kMulModel);
  auto* ort = test::ort_or_skip();
  if (!ort) return;
  const TensorValue x = floats({2, 3}, {1, 2, 3, 4, 5, 6});
  const Feeds defaults = {{"x", x}};
  const Feeds fed = {{"x", x}, {"w", floats({3}, {-1, 10, 0.5f})}};
  auto s = exec::Session::create(*m);
  REQUIRE(s);
  std::vector<TensorValue> d = copy_out((*s)->run(defaults));
  check_same(d, ort_outputs(*ort, *m, defaults));
  std::vector<TensorValue> f = copy_out((*s)->run(fed));
  check_same(f, ort_outputs(*ort, *m, fed));
  // y = x * w and z = x + w with the fed w: row 0 is {-1, 20, 1.5} and {0, 12, 3.5}.
  REQUIRE(f[0].element_count() == 6);
  CHECK(f[0].data<float>()[1] == 20.0f);
  CHECK(f[1].data<float>()[1] == 12.0f);
  // The feed is checked like an input: wrong shape or type, or given twice, is refused.
  auto bad = (*s)->run({{"x", x}, {"w", floats({4}, {1, 2, 3, 4})}});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("input 'w' must have shape") != std::string::npos);
  auto twice = (*s)->run({{"x", x}, {"w", floats({3}, {1, 2, 3})}, {"w", floats({3}, {1, 2, 3})}});
  REQUIRE_FALSE(twice);
  CHECK(twice.error().message.find("given twice") != std::string::npos);
  // Positional runs take the runtime inputs only (input_names()).
  CHECK(copy_out((*s)->run(std::vector<TensorValue>{x})).size() == 2);
}

TEST_CASE("exec feed rule: IR < 4 initializers listed as inputs are constants; feeding one is refused, as in ONNX Runtime",
          "[exec][feed-initializer][ort]") {
  auto m = test::parse_or_fail(kMulModelIr3);
  REQUIRE(m->ir_version == 3);
  auto s = exec::Session::create(*m);
  REQUIRE(s);
  CHECK((*s)->input_names() == std::vector<std::string>{"x"});
  CHECK((*s)->overridable_initializer_names().empty());
  const TensorValue x = floats({2, 3}, {1, 2, 3, 4, 5, 6});
  auto fed = (*s)->run({{"x", x}, {"w", floats({3}, {-1, 10, 0.5f})}});
  REQUIRE_FALSE(fed);
  CHECK(fed.error().kind == ErrorKind::Usage);
  CHECK(fed.error().message.find("'w' is an initializer listed among the graph inputs of an IR version 3 model") !=
        std::string::npos);
  auto* ort = test::ort_or_skip();
  if (!ort) return;
  // ONNX Runtime lists only x as an input; its session refuses a feed named w below IR 4 (SaveModelMetadata:
  // valid inputs exclude initializers there). Through onnxruntime-node the harness refuses it first.
  std::vector<std::pair<std::string, onnx::TensorProto>> feeds = {
      {"x", test::to_proto(x, "x")}, {"w", test::to_proto(floats({3}, {-1, 10, 0.5f}), "w")}};
  test::OrtRun r = ort->run_model(to_proto_inline(*m), feeds);
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("input 'w' is not among the session's inputs (x)") != std::string::npos);
  // Without it both use the initializer.
  check_same(copy_out((*s)->run({{"x", x}})), ort_outputs(*ort, *m, {{"x", x}}));
}
