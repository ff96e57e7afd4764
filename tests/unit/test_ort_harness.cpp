// Tests of the ONNX Runtime harness (tests/support/ort_harness.*, tests/ort/ort_runner.js). Without node or
// onnxruntime-node they call test::skip with the reason; without ../shared/corpus the corpus case skips.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt::test;
namespace fs = std::filesystem;

#define ORT_OR_SKIP(var)             \
  OrtHarness* var = ort_or_skip();   \
  if (!var) return

// Catch2 v2 builds INFO text when INFO runs, so the explanation is computed before it.
#define CHECK_SAME(a, b)                                      \
  do {                                                        \
    std::string why_;                                         \
    const bool same_ = tensors_bit_identical((a), (b), &why_); \
    INFO(why_);                                               \
    CHECK(same_);                                             \
  } while (0)
#define REQUIRE_OK(run)     \
  do {                      \
    INFO((run).error);      \
    REQUIRE((run).ok);      \
  } while (0)

namespace {

onnx::ValueInfoProto value_info(const std::string& name, int32_t elem_type, const std::vector<std::string>& dims) {
  onnx::ValueInfoProto vi;
  vi.set_name(name);
  auto* tt = vi.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (const auto& d : dims) {
    auto* dim = shape->add_dim();
    if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0]))) {
      dim->set_dim_value(std::stoll(d));
    } else {
      dim->set_dim_param(d);
    }
  }
  return vi;
}

// A one-node model at opset 13.
onnx::ModelProto single_op_model(const std::string& op, const std::vector<onnx::ValueInfoProto>& inputs,
                                 const std::vector<onnx::ValueInfoProto>& outputs) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("effopt-test");
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name(op + "_graph");
  auto* node = g->add_node();
  node->set_op_type(op);
  for (const auto& vi : inputs) {
    node->add_input(vi.name());
    *g->add_input() = vi;
  }
  for (const auto& vi : outputs) {
    node->add_output(vi.name());
    *g->add_output() = vi;
  }
  return m;
}

// A scratch directory for files the test writes itself.
struct ScratchDir {
  fs::path path = fs::temp_directory_path() / ("effopt-ort-test-" + std::to_string(getpid()));
  ScratchDir() { fs::create_directories(path); }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

TEST_CASE("ORT runs a float Add and an int64 Gather", "[ort_harness][ort]") {
  ORT_OR_SKIP(ort);

  SECTION("Add of two float inputs") {
    auto model = single_op_model("Add", {value_info("a", onnx::TensorProto::FLOAT, {"2", "3"}),
                                         value_info("b", onnx::TensorProto::FLOAT, {"2", "3"})},
                                 {value_info("c", onnx::TensorProto::FLOAT, {"2", "3"})});
    std::vector<float> a = {1.5f, -2.0f, 0.25f, 1e30f, -0.0f, 3.0f};
    std::vector<float> b = {0.5f, 2.0f, 0.125f, 1e30f, 0.0f, -7.5f};
    std::vector<float> c(a.size());
    for (size_t i = 0; i < a.size(); ++i) c[i] = a[i] + b[i];

    OrtRun r = ort->run_model(model, {{"a", make_tensor("a", {2, 3}, a)}, {"b", make_tensor("b", {2, 3}, b)}});
    REQUIRE_OK(r);
    CHECK(r.error.empty());
    REQUIRE(r->outputs.size() == 1);
    CHECK(r->output_names == std::vector<std::string>{"c"});
    CHECK(r->outputs[0].name() == "c");
    CHECK_SAME(r->outputs[0], make_tensor("c", {2, 3}, c));
    CHECK(r->latency_ms.size() == 1);
    CHECK(r->load_ms > 0);
  }

  SECTION("Gather with int64 data and indices in typed fields") {
    auto model = single_op_model("Gather", {value_info("data", onnx::TensorProto::INT64, {"5"}),
                                            value_info("idx", onnx::TensorProto::INT64, {"2", "2"})},
                                 {value_info("out", onnx::TensorProto::INT64, {"2", "2"})});
    // data (raw_data) holds values past 2^53, which JS numbers cannot carry.
    const std::vector<int64_t> data = {10, -20, (int64_t{1} << 60) + 1, int64_t{1} << 40, -(int64_t{1} << 50)};
    // idx uses int64_data, the runner's varint path; a negative index is a 10-byte varint.
    onnx::TensorProto idx;
    idx.set_data_type(onnx::TensorProto::INT64);
    idx.add_dims(2);
    idx.add_dims(2);
    for (int64_t i : {4, 0, 2, -3}) idx.add_int64_data(i);  // -3 wraps to index 2

    OrtRun r = ort->run_model(model, {{"data", make_tensor("data", {5}, data)}, {"idx", idx}});
    REQUIRE_OK(r);
    REQUIRE(r->outputs.size() == 1);
    const std::vector<int64_t> expected = {data[4], data[0], data[2], data[2]};
    CHECK_SAME(r->outputs[0], make_tensor("out", {2, 2}, expected));
  }
}

TEST_CASE("ORT round-trips every supported element type through Identity", "[ort_harness][ort]") {
  ORT_OR_SKIP(ort);
  for (int32_t dt : {onnx::TensorProto::FLOAT, onnx::TensorProto::DOUBLE, onnx::TensorProto::FLOAT16,
                     onnx::TensorProto::INT8, onnx::TensorProto::UINT8, onnx::TensorProto::INT16,
                     onnx::TensorProto::UINT16, onnx::TensorProto::INT32, onnx::TensorProto::UINT32,
                     onnx::TensorProto::INT64, onnx::TensorProto::UINT64, onnx::TensorProto::BOOL,
                     onnx::TensorProto::STRING}) {
    INFO("data type " << dt);
    auto model = single_op_model("Identity", {value_info("x", dt, {"3", "N"})}, {value_info("y", dt, {"3", "N"})});
    auto inputs = random_inputs(model, 7, {}, {{"x", {3, 4}}});
    OrtRun r = ort->run_model(model, inputs);
    REQUIRE_OK(r);
    CHECK_SAME(r->outputs[0], inputs[0].second);
  }

  // onnxruntime-node has no bfloat16 tensor type: the run must fail with a message that says so.
  auto bf16 = single_op_model("Identity", {value_info("x", onnx::TensorProto::BFLOAT16, {"2"})},
                              {value_info("y", onnx::TensorProto::BFLOAT16, {"2"})});
  OrtRun r = ort->run_model(bf16, random_inputs(bf16, 1));
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("bfloat16"));
}

TEST_CASE("ORT reproduces digits_cnn's expected outputs", "[ort_harness][ort][corpus]") {
  ORT_OR_SKIP(ort);
  const auto case_dir = corpus_case_or_skip("models/digits_cnn");
  if (!case_dir) return;
  const fs::path dir = *case_dir;
  const std::string model_path = (dir / "model.onnx").string();
  const onnx::ModelProto model = load_model(model_path);
  const auto inputs = bind_inputs(model, load_test_data_set((dir / "test_data_set_0").string()));
  const auto expected = load_test_data_set((dir / "test_data_set_0").string(), "output_");
  REQUIRE(expected.size() == 1);

  ScratchDir scratch;
  OrtOptions opts;
  opts.warmup = 1;
  opts.repeat = 3;
  opts.optimized_model_path = (scratch.path / "ort_optimized.onnx").string();
  OrtRun r = ort->run(model_path, inputs, opts);
  REQUIRE_OK(r);
  REQUIRE(r->outputs.size() == 1);
  CHECK(r->latency_ms.size() == 3);
  CHECK(fs::exists(opts.optimized_model_path));
  CHECK(max_abs_diff(r->outputs[0], expected[0]) <= 1e-4);

  // The logits must also classify: the model's test accuracy is 0.994.
  onnx::TensorProto label_tensor;
  {
    std::ifstream f(dir / "test_data_set_0" / "labels.pb", std::ios::binary);
    REQUIRE(label_tensor.ParseFromIstream(&f));
  }
  const auto y = tensor_values(label_tensor);
  const auto logits = tensor_values(r->outputs[0]);
  REQUIRE(logits.size() == y.size() * 10);
  size_t correct = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    auto row = logits.begin() + static_cast<std::ptrdiff_t>(i * 10);
    correct += static_cast<double>(std::max_element(row, row + 10) - row) == y[i];
  }
  CHECK(static_cast<double>(correct) / static_cast<double>(y.size()) >= 0.99);

  // Unoptimized execution through the same files agrees too.
  std::vector<std::pair<std::string, std::string>> files = {
      {inputs[0].first, (dir / "test_data_set_0" / "input_0.pb").string()}};
  OrtOptions plain;
  plain.opt_level = "disabled";
  OrtRun r2 = ort->run_files(model_path, files, plain);
  REQUIRE_OK(r2);
  CHECK(max_abs_diff(r2->outputs[0], expected[0]) <= 1e-4);
}

TEST_CASE("random_inputs is deterministic and honours ranges and shapes", "[ort_harness][random]") {
  auto model = single_op_model("Concat",
                               {value_info("f", onnx::TensorProto::FLOAT, {"batch", "3"}),
                                value_info("i", onnx::TensorProto::INT64, {"2", "4"}),
                                value_info("b", onnx::TensorProto::BOOL, {"64"}),
                                value_info("h", onnx::TensorProto::FLOAT16, {"5"})},
                               {});
  // An initializer listed among the inputs (IR 3 style) is not a runtime input.
  *model.mutable_graph()->add_input() = value_info("w", onnx::TensorProto::FLOAT, {"1"});
  *model.mutable_graph()->add_initializer() = make_tensor<float>("w", {1}, {1.0f});

  const auto a = random_inputs(model, 42);
  const auto b = random_inputs(model, 42);
  const auto c = random_inputs(model, 43);
  REQUIRE(a.size() == 4);
  REQUIRE(runtime_input_names(model) == std::vector<std::string>{"f", "i", "b", "h"});
  bool any_differs = false;
  for (size_t k = 0; k < a.size(); ++k) {
    CHECK(a[k].first == b[k].first);
    CHECK_SAME(a[k].second, b[k].second);
    any_differs = any_differs || !tensors_bit_identical(a[k].second, c[k].second);
  }
  CHECK(any_differs);

  // Symbolic dims become 1; values fall in the default ranges.
  CHECK(std::vector<int64_t>(a[0].second.dims().begin(), a[0].second.dims().end()) == std::vector<int64_t>{1, 3});
  for (double v : tensor_values(a[0].second)) CHECK((v >= -1.0 && v < 1.0));
  for (double v : tensor_values(a[1].second)) CHECK((v >= 0 && v < 10 && v == std::floor(v)));
  const auto bits = tensor_values(a[2].second);
  const auto ones = std::count(bits.begin(), bits.end(), 1.0);
  CHECK((ones > 0 && ones < 64 && std::count(bits.begin(), bits.end(), 0.0) + ones == 64));
  for (double v : tensor_values(a[3].second)) CHECK((v >= -1.0 && v < 1.0));

  // Fixed PRNG (splitmix64 seeded with seed ^ FNV-1a(name)): these values must not change across compilers,
  // standard libraries or machines. They were cross-checked against an independent Python implementation.
  const auto f = tensor_values(a[0].second);
  REQUIRE(f.size() == 3);
  CHECK(static_cast<float>(f[0]) == 0.709642172f);
  CHECK(static_cast<float>(f[1]) == 0.211837202f);
  CHECK(static_cast<float>(f[2]) == -0.27502194f);
  CHECK(tensor_values(a[1].second) == std::vector<double>{4, 0, 9, 7, 6, 1, 6, 3});
  const auto h = tensor_values(a[3].second);
  CHECK(static_cast<float>(h[0]) == -0.225952148f);
  CHECK(static_cast<float>(h[1]) == 0.886230469f);

  // Overrides.
  const auto d = random_inputs(model, 42, {{"f", {5.0, 6.0}}, {"i", {-3.0, -1.0}}}, {{"f", {4, 3}}});
  CHECK(std::vector<int64_t>(d[0].second.dims().begin(), d[0].second.dims().end()) == std::vector<int64_t>{4, 3});
  for (double v : tensor_values(d[0].second)) CHECK((v >= 5.0 && v < 6.0));
  for (double v : tensor_values(d[1].second)) CHECK((v == -3.0 || v == -2.0));
  // Changing one input's shape leaves the others' values alone.
  CHECK(tensors_bit_identical(d[2].second, a[2].second));
}

TEST_CASE("A broken model gives ok=false and the runner keeps serving", "[ort_harness][ort]") {
  ORT_OR_SKIP(ort);
  ScratchDir scratch;
  auto add = single_op_model("Add", {value_info("a", onnx::TensorProto::FLOAT, {"1"}),
                                     value_info("b", onnx::TensorProto::FLOAT, {"1"})},
                             {value_info("c", onnx::TensorProto::FLOAT, {"1"})});
  const std::vector<std::pair<std::string, onnx::TensorProto>> ab = {
      {"a", make_tensor<float>("a", {1}, {2.0f})}, {"b", make_tensor<float>("b", {1}, {3.0f})}};
  auto expect_served = [&] {
    OrtRun ok = ort->run_model(add, ab);
    REQUIRE_OK(ok);
    CHECK(tensor_values(ok->outputs[0]) == std::vector<double>{5.0});
  };

  SECTION("not a protobuf") {
    const fs::path junk = scratch.path / "junk.onnx";
    std::ofstream(junk) << "this is not an onnx model";
    OrtRun r = ort->run(junk.string(), ab);
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.error, Catch::Contains("Protobuf parsing failed"));
  }
  SECTION("missing file") {
    OrtRun r = ort->run((scratch.path / "absent.onnx").string(), ab);
    CHECK_FALSE(r.ok);
    CHECK_FALSE(r.error.empty());
  }
  SECTION("unknown operator") {
    auto bad = single_op_model("NoSuchOp", {value_info("a", onnx::TensorProto::FLOAT, {"1"})},
                               {value_info("c", onnx::TensorProto::FLOAT, {"1"})});
    OrtRun r = ort->run_model(bad, {ab[0]});
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.error, Catch::Contains("NoSuchOp"));
  }
  SECTION("missing and mistyped inputs") {
    OrtRun r = ort->run_model(add, {ab[0]});
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.error, Catch::Contains("'b'"));
    OrtRun r2 = ort->run_model(add, {ab[0], {"b", make_tensor<int64_t>("b", {1}, {3})}});
    CHECK_FALSE(r2.ok);
    CHECK_FALSE(r2.error.empty());
  }
  SECTION("bad options") {
    OrtOptions opts;
    opts.opt_level = "maximal";
    OrtRun r = ort->run_model(add, ab, opts);
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.error, Catch::Contains("maximal"));
  }
  SECTION("a timed-out run kills the runner; the next run starts a new one") {
    OrtOptions opts;
    opts.timeout_s = 0;
    OrtRun r = ort->run_model(add, ab, opts);
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.error, Catch::Contains("no answer"));
  }
  expect_served();
}

TEST_CASE("Tensor comparison helpers", "[ort_harness][tensor]") {
  const auto a = make_tensor<float>("a", {2}, {1.0f, 2.0f});
  onnx::TensorProto typed;  // the same values in float_data instead of raw_data
  typed.set_data_type(onnx::TensorProto::FLOAT);
  typed.add_dims(2);
  typed.add_float_data(1.0f);
  typed.add_float_data(2.0f);
  std::string why;
  CHECK(tensors_bit_identical(a, typed, &why));
  CHECK(max_abs_diff(a, typed) == 0.0);

  const auto b = make_tensor<float>("b", {2}, {1.0f, 2.5f});
  CHECK_FALSE(tensors_bit_identical(a, b, &why));
  CHECK_THAT(why, Catch::Contains("1 of 2 elements differ; first at 1"));
  CHECK(max_abs_diff(a, b) == 0.5);
  CHECK(std::isinf(max_abs_diff(a, make_tensor<float>("c", {1, 2}, {1.0f, 2.0f}))));
  CHECK(std::isinf(max_abs_diff(a, make_tensor<double>("d", {2}, {1.0, 2.0}))));
  CHECK_FALSE(tensors_bit_identical(a, make_tensor<double>("d", {2}, {1.0, 2.0}), &why));
  CHECK_THAT(why, Catch::Contains("data types differ"));

  const float nan = std::nanf("");
  CHECK(max_abs_diff(make_tensor<float>("n", {2}, {nan, 1.0f}), make_tensor<float>("n", {2}, {nan, 1.0f})) == 0.0);
  CHECK(std::isinf(max_abs_diff(make_tensor<float>("n", {1}, {nan}), make_tensor<float>("n", {1}, {0.0f}))));

  // int32_data carries narrow types: int8 -1 stored widened must equal raw byte 0xff.
  onnx::TensorProto i8;
  i8.set_data_type(onnx::TensorProto::INT8);
  i8.add_dims(1);
  i8.add_int32_data(-1);
  CHECK(tensors_bit_identical(i8, make_tensor<int8_t>("x", {1}, {-1}), &why));

  // Half conversions: exact values, rounding to nearest even, overflow and subnormals.
  CHECK(float_to_half(1.0f) == 0x3c00);
  CHECK(float_to_half(65504.0f) == 0x7bff);
  CHECK(float_to_half(65520.0f) == 0x7c00);
  CHECK(float_to_half(std::ldexp(1.0f, -24)) == 0x0001);
  CHECK(float_to_half(std::ldexp(1.0f, -25)) == 0x0000);
  CHECK(float_to_half(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);                       // tie -> even
  CHECK(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);                   // tie -> even
  int round_trip_failures = 0;  // every finite half survives half -> float -> half
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    for (auto u : {static_cast<uint16_t>(h), static_cast<uint16_t>(h | 0x8000)}) {
      round_trip_failures += float_to_half(half_to_float(u)) != u;
    }
  }
  CHECK(round_trip_failures == 0);
  CHECK(float_to_bfloat16(1.0f) == 0x3f80);
  CHECK(bfloat16_to_float(0xc000) == -2.0f);
}
