// effopt compare: two models that differ slightly, limits passing and failing
// (exit 3 naming output, metric and value), --per-node marking the first bad
// value, one model against a data folder (expected outputs, labels.pb),
// digits_cnn's accuracy from the corpus, and every kind of bad input.
// Expected numbers are computed here from the inputs the test writes.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "exec/tensor_io.h"
#include "onnx/model_io.h"
#include "util/cli_util.h"
#include "util/test_util.h"

using namespace effopt;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A: Y = X. B: Y = X + 0.01. C: Y = X + [0, 0, 0, 10] (top-1 becomes class 3).
const char* kIdentity = R"(
<ir_version: 8, opset_import: ["" : 13]>
a (float[N,4] X) => (float[N,4] Y) {
  Y = Identity(X)
}
)";
const char* kPlusSmall = R"(
<ir_version: 8, opset_import: ["" : 13]>
b (float[N,4] X) => (float[N,4] Y) <float c = {0.01}> {
  Y = Add(X, c)
}
)";
const char* kPlusClass3 = R"(
<ir_version: 8, opset_import: ["" : 13]>
c (float[N,4] X) => (float[N,4] Y) <float[4] c = {0, 0, 0, 10}> {
  Y = Add(X, c)
}
)";
const char* kWiderOutput = R"(
<ir_version: 8, opset_import: ["" : 13]>
w (float[N,4] X) => (float[N,8] Y) {
  Y = Concat <axis = 1> (X, X)
}
)";
// Per-node pair: H is the same, G is off by 0.5 in B, Y follows G.
const char* kChainA = R"(
<ir_version: 8, opset_import: ["" : 13]>
pa (float[N,4] X) => (float[N,4] Y) <float two = {2}, float one = {1}> {
  H = Relu(X)
  G = Mul(H, two)
  Y = Add(G, one)
}
)";
const char* kChainB = R"(
<ir_version: 8, opset_import: ["" : 13]>
pb (float[N,4] X) => (float[N,4] Y) <float two = {2}, float one = {1}, float half = {0.5}> {
  H = Relu(X)
  G0 = Mul(H, two)
  G = Add(G0, half)
  Y = Add(G, one)
}
)";
// G is an integer tensor here: not comparable with A's float G.
const char* kChainInt = R"(
<ir_version: 8, opset_import: ["" : 13]>
pc (float[N,4] X) => (float[N,4] Y) {
  H = Relu(X)
  G = Cast <to = 6> (H)
  Y = Cast <to = 1> (G)
}
)";
const char* kTwoInputs = R"(
<ir_version: 8, opset_import: ["" : 13]>
t (float[N,4] X, float[N,4] Z) => (float[N,4] Y, float[N,4] W) {
  Y = Add(X, Z)
  W = Sub(X, Z)
}
)";

// A .npy v1 file written byte by byte (independent of effopt's reader).
std::string npy(const std::string& descr, const std::string& shape, const void* data, size_t bytes,
                bool fortran = false) {
  std::string h = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape +
                  ", }";
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(h.size() & 0xFF);
  out += static_cast<char>(h.size() >> 8);
  out += h;
  out.append(static_cast<const char*>(data), bytes);
  return out;
}

std::string npy_f32(const std::vector<float>& v, const std::string& shape) {
  return npy("<f4", shape, v.data(), v.size() * 4);
}

// 3 rows x 4 classes of inputs; row argmaxes 1, 0, 3.
const std::vector<float> kX = {0.5f, 0.9f, -0.2f, 0.1f, 0.8f, -0.5f, 0.3f, 0.2f, -0.1f, 0.2f, 0.4f, 0.7f};

int argmax_row(const std::vector<float>& v, size_t r) {
  int best = 0;
  for (int c = 1; c < 4; ++c)
    if (v[r * 4 + c] > v[r * 4 + best]) best = c;
  return best;
}

}  // namespace

TEST_CASE("compare A B: the errors of an Add of 0.01, table on stdout", "[cli][compare]") {
  test::TempDir dir;
  std::string a = test::write_text_model(dir, kIdentity, "a.onnx"), b = test::write_text_model(dir, kPlusSmall, "b.onnx");
  test::write_file(dir.file("X.npy"), npy_f32(kX, "(3, 4)"));
  auto r = test::run_effopt({"compare", a, b, "--data", dir.file("X.npy"), "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = test::parse_valid_report(r.out);
  CHECK(j["command"] == "compare");
  const json& f = j["fidelity"];
  REQUIRE(f["outputs"].size() == 1);
  const json& y = f["outputs"][0];
  // Computed here: b - a = float(x + 0.01f) - x per element.
  double sum_sq_a = 0, sum_sq_d = 0, max_d = 0, sum_d = 0, dot = 0, sum_sq_b = 0;
  for (float x : kX) {
    double d = static_cast<double>(x + 0.01f) - x;
    sum_sq_a += double(x) * x;
    sum_sq_b += double(x + 0.01f) * (x + 0.01f);
    dot += double(x) * (x + 0.01f);
    sum_sq_d += d * d;
    max_d = std::max(max_d, std::fabs(d));
    sum_d += std::fabs(d);
  }
  CHECK(y["name"] == "Y");
  CHECK(y["max_abs_error"].get<double>() == Approx(max_d).epsilon(1e-12));
  CHECK(y["mean_abs_error"].get<double>() == Approx(sum_d / 12).epsilon(1e-12));
  CHECK(y["rel_l2_error"].get<double>() == Approx(std::sqrt(sum_sq_d / sum_sq_a)).epsilon(1e-12));
  CHECK(y["cosine_similarity"].get<double>() == Approx(dot / std::sqrt(sum_sq_a * sum_sq_b)).epsilon(1e-12));
  CHECK(y["sqnr_db"].get<double>() == Approx(10 * std::log10(sum_sq_a / sum_sq_d)).epsilon(1e-12));
  CHECK(y["max_abs_error"].get<double>() == Approx(0.01).epsilon(1e-5));
  CHECK(y["classifier"] == true);
  CHECK(y["rows"] == 3);
  CHECK(y["top1_agreement"] == 1.0);
  CHECK(f["passed"] == true);

  // --report FILE writes the same document.
  auto rep = test::run_effopt({"compare", a, b, "--data", dir.file("X.npy"), "--report", dir.file("r.json")});
  REQUIRE(rep.exit_code == 0);
  CHECK(test::parse_valid_report(test::read_file(dir.file("r.json")))["fidelity"]["outputs"] == f["outputs"]);
  auto t = test::run_effopt({"compare", a, b, "--data", dir.file("X.npy")});
  REQUIRE(t.exit_code == 0);
  CHECK(t.out.find("Y") != std::string::npos);
  CHECK(t.out.find("rel L2") != std::string::npos);
  CHECK(t.out.find("100.00% of 3") != std::string::npos);
  CHECK(t.out.find("\033[") == std::string::npos);  // no colors when stdout is not a terminal
}

TEST_CASE("compare limits: pass (0) or fail (3) naming output, metric and value", "[cli][compare]") {
  test::TempDir dir;
  std::string a = test::write_text_model(dir, kIdentity, "a.onnx"), b = test::write_text_model(dir, kPlusSmall, "b.onnx");
  test::write_file(dir.file("X.npy"), npy_f32(kX, "(3, 4)"));
  std::vector<std::string> base = {"compare", a, b, "--data", dir.file("X.npy")};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run_effopt(args);
  };
  // rel-l2 is about 0.01 * sqrt(12) / ||X|| = 0.01 * sqrt(12 / 2.83) = 0.0206.
  CHECK(with({"--max-error", "0.05"}).exit_code == 0);
  auto f = with({"--max-error", "0.01"});
  CHECK(f.exit_code == 3);
  CHECK(f.err.find("output 'Y': rel-l2 0.020") != std::string::npos);
  CHECK(f.err.find("exceeds --max-error 0.01") != std::string::npos);
  CHECK(with({"--max-error", "0.011", "--metric", "max-abs"}).exit_code == 0);
  auto m = with({"--max-error", "0.005", "--metric", "max-abs"});
  CHECK(m.exit_code == 3);
  CHECK(m.err.find("max-abs 0.01") != std::string::npos);
  CHECK(with({"--max-error", "0.001", "--metric", "cosine-distance"}).exit_code == 0);
  CHECK(with({"--min-sqnr", "30"}).exit_code == 0);
  auto s = with({"--min-sqnr", "40"});
  CHECK(s.exit_code == 3);
  CHECK(s.err.find("sqnr 33.7") != std::string::npos);  // 10 log10(||X||^2 / (12 * 1e-4)) = 10 log10(2.83 / 0.0012) = 33.7
  CHECK(s.err.find("is below --min-sqnr 40") != std::string::npos);
  CHECK(with({"--max-error", "0", "--metric", "top1-mismatch"}).exit_code == 0);
  // JSON still printed when a limit fails, with passed = false.
  auto j = with({"--max-error", "0.01", "--json"});
  CHECK(j.exit_code == 3);
  json doc = test::parse_valid_report(j.out);
  CHECK(doc["fidelity"]["passed"] == false);
  CHECK(doc["fidelity"]["limits"][0]["metric"] == "rel-l2");
  CHECK(doc["fidelity"]["limits"][0]["passed"] == false);
}

TEST_CASE("compare: top1-mismatch counts the rows whose class changed", "[cli][compare]") {
  test::TempDir dir;
  std::string a = test::write_text_model(dir, kIdentity, "a.onnx"), c = test::write_text_model(dir, kPlusClass3, "c.onnx");
  test::write_file(dir.file("X.npy"), npy_f32(kX, "(3, 4)"));
  int changed = 0;
  for (size_t r = 0; r < 3; ++r) changed += argmax_row(kX, r) != 3;  // C always says class 3
  REQUIRE(changed == 2);
  auto r = test::run_effopt({"compare", a, c, "--data", dir.file("X.npy"), "--max-error", "0.5", "--metric",
                             "top1-mismatch", "--json"});
  CHECK(r.exit_code == 3);
  json j = test::parse_valid_report(r.out);
  CHECK(j["fidelity"]["outputs"][0]["top1_agreement"].get<double>() == Approx(1.0 / 3));
  CHECK(r.err.find("top1-mismatch 0.6667") != std::string::npos);
  CHECK(test::run_effopt({"compare", a, c, "--data", dir.file("X.npy"), "--max-error", "0.7", "--metric",
                          "top1-mismatch"}).exit_code == 0);
}

TEST_CASE("compare --per-node: every shared value in graph order, the first over the limit marked", "[cli][compare]") {
  test::TempDir dir;
  std::string a = test::write_text_model(dir, kChainA, "a.onnx"), b = test::write_text_model(dir, kChainB, "b.onnx");
  test::write_file(dir.file("X.npy"), npy_f32(kX, "(3, 4)"));
  auto r = test::run_effopt({"compare", a, b, "--data", dir.file("X.npy"), "--per-node", "--max-error", "0.01", "--json"});
  CHECK(r.exit_code == 3);  // Y is off too
  json j = test::parse_valid_report(r.out);
  const json& pn = j["fidelity"]["per_node"];
  REQUIRE(pn.size() == 3);  // H, G, Y (G0 exists only in B)
  CHECK(pn[0]["value"] == "H");
  CHECK(pn[0]["max_abs_error"] == 0.0);
  CHECK(pn[0]["over_limit"] == false);
  CHECK(pn[1]["value"] == "G");
  CHECK(pn[1]["max_abs_error"] == 0.5);
  CHECK(pn[1]["first_over_limit"] == true);
  CHECK(pn[2]["value"] == "Y");
  CHECK(pn[2]["over_limit"] == true);
  CHECK(pn[2]["first_over_limit"] == false);
  auto t = test::run_effopt({"compare", a, b, "--data", dir.file("X.npy"), "--per-node", "--max-error", "0.01"});
  CHECK(t.exit_code == 3);
  size_t mark = t.out.find("<- first over the limit");
  REQUIRE(mark != std::string::npos);
  size_t line = t.out.rfind('\n', mark);
  CHECK(t.out.substr(line, mark - line).find(" G ") != std::string::npos);
  CHECK(t.out.find("<- first over the limit", mark + 1) == std::string::npos);
  // A shared name with another kind of element type is listed as skipped, not compared.
  std::string c = test::write_text_model(dir, kChainInt, "c.onnx");
  auto k = test::run_effopt({"compare", a, c, "--data", dir.file("X.npy"), "--per-node", "--json"});
  INFO(k.err);
  REQUIRE(k.exit_code == 0);
  json kj = test::parse_valid_report(k.out);
  REQUIRE(kj["fidelity"]["per_node"].size() == 3);
  CHECK(kj["fidelity"]["per_node"][1]["skipped"] == "types differ: float32 vs int32");
  CHECK(kj["fidelity"]["per_node"][1]["first_over_limit"] == false);
}

TEST_CASE("compare MODEL --data: against output_K.pb, missing outputs skipped and listed", "[cli][compare]") {
  test::TempDir dir;
  std::string m = test::write_text_model(dir, kTwoInputs, "t.onnx");
  fs::create_directory(dir.file("set"));
  std::vector<float> x = {1, 2, 3, 4}, z = {0.5f, 0.5f, 0.5f, 0.5f}, expected_y = {1.5f, 2.5f, 3.5f, 4.6f};
  REQUIRE(exec::write_tensor_pb(dir.file("set/input_0.pb"), exec::TensorValue::from_vector(DataType::Float, {1, 4}, x)));
  REQUIRE(exec::write_tensor_pb(dir.file("set/input_1.pb"), exec::TensorValue::from_vector(DataType::Float, {1, 4}, z)));
  REQUIRE(exec::write_tensor_pb(dir.file("set/output_0.pb"),
                                exec::TensorValue::from_vector(DataType::Float, {1, 4}, expected_y)));
  auto r = test::run_effopt({"compare", m, "--data", dir.file("set"), "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = test::parse_valid_report(r.out);
  const json& f = j["fidelity"];
  CHECK(f["reference"]["kind"] == "expected-outputs");
  REQUIRE(f["outputs"].size() == 1);
  CHECK(f["outputs"][0]["name"] == "Y");
  // model gives 4.5 where 4.6 is expected: max abs = 0.1 (in float32).
  CHECK(f["outputs"][0]["max_abs_error"].get<double>() == Approx(double(4.6f) - 4.5).epsilon(1e-9));
  REQUIRE(f["skipped_outputs"].size() == 1);
  CHECK(f["skipped_outputs"][0]["name"] == "W");
  auto t = test::run_effopt({"compare", m, "--data", dir.file("set")});
  CHECK(t.out.find("skipped W") != std::string::npos);
}

TEST_CASE("compare MODEL --data with labels.pb: accuracy and --min-accuracy", "[cli][compare]") {
  test::TempDir dir;
  std::string m = test::write_text_model(dir, kIdentity, "a.onnx");
  fs::create_directory(dir.file("set"));
  REQUIRE(exec::write_tensor_pb(dir.file("set/input_0.pb"), exec::TensorValue::from_vector(DataType::Float, {3, 4}, kX)));
  REQUIRE(exec::write_tensor_pb(dir.file("set/output_0.pb"), exec::TensorValue::from_vector(DataType::Float, {3, 4}, kX)));
  // Rows' classes are 1, 0, 3: two labels right.
  std::vector<int64_t> labels = {1, 0, 2};
  REQUIRE(exec::write_tensor_pb(dir.file("set/labels.pb"), exec::TensorValue::from_vector(DataType::Int64, {3}, labels)));
  auto r = test::run_effopt({"compare", m, "--data", dir.file("set"), "--json", "--min-accuracy", "0.6"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = test::parse_valid_report(r.out);
  const json& acc = j["fidelity"]["accuracy"];
  CHECK(acc["rows"] == 3);
  CHECK(acc["candidate_correct"] == 2);
  CHECK(acc["candidate"].get<double>() == Approx(2.0 / 3));
  CHECK(acc["reference"].get<double>() == Approx(2.0 / 3));
  CHECK(acc["drop"] == 0.0);
  auto f = test::run_effopt({"compare", m, "--data", dir.file("set"), "--min-accuracy", "0.9"});
  CHECK(f.exit_code == 3);
  CHECK(f.err.find("accuracy 0.6667 is below --min-accuracy 0.9") != std::string::npos);
  // Labels that do not match the rows are refused, naming the file.
  REQUIRE(exec::write_tensor_pb(dir.file("set/labels.pb"),
                                exec::TensorValue::from_vector(DataType::Int64, {2}, std::vector<int64_t>{1, 0})));
  auto bad = test::run_effopt({"compare", m, "--data", dir.file("set")});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("labels.pb: 2 labels, but output 'Y' has 3 rows") != std::string::npos);
}

TEST_CASE("compare digits_cnn against its test set reproduces the corpus accuracy 0.994", "[cli][compare][corpus]") {
  auto c = test::corpus_case_or_skip("models/digits_cnn");
  if (!c) return;
  fs::path d = *c;
  auto r = test::run_effopt({"compare", (d / "model.onnx").string(), "--data", (d / "test_data_set_0").string(), "--json",
                             "--min-accuracy", "0.99", "--max-error", "1e-4"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = test::parse_valid_report(r.out);
  const json& acc = j["fidelity"]["accuracy"];
  CHECK(acc["rows"] == 360);
  // The corpus README states test accuracy 0.994 (358 of 360).
  CHECK(acc["candidate"].get<double>() == Approx(0.994).margin(0.0005));
  CHECK(acc["reference"].get<double>() == Approx(0.994).margin(0.0005));
  // The model folder itself (holding test_data_set_0) works too, and so does a model-vs-model run.
  auto m2 = test::run_effopt({"compare", (d / "model.onnx").string(), (d / "model.onnx").string(), "--data", d.string(),
                              "--max-error", "0", "--per-node"});
  CHECK(m2.exit_code == 0);
  CHECK(m2.out.find("accuracy (logits, 360 labels): reference 0.9944 (358), candidate 0.9944 (358)") != std::string::npos);
}

TEST_CASE("compare --random: seeded inputs, symbolic dims need --shape", "[cli][compare]") {
  test::TempDir dir;
  std::string a = test::write_text_model(dir, kIdentity, "a.onnx"), b = test::write_text_model(dir, kPlusSmall, "b.onnx");
  auto r = test::run_effopt({"compare", a, b, "--random", "3", "--seed", "5", "--shape", "N=2", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = test::parse_valid_report(r.out);
  CHECK(j["fidelity"]["inputs"]["samples"] == 3);
  CHECK(j["fidelity"]["outputs"][0]["elements"] == 3 * 2 * 4);
  CHECK(j["fidelity"]["outputs"][0]["max_abs_error"].get<double>() == Approx(0.01).epsilon(1e-4));
  // Same seed, same numbers; the --threads count does not matter.
  auto again = test::run_effopt({"compare", a, b, "--random", "3", "--seed", "5", "--shape", "N=2", "--json", "--threads", "2"});
  CHECK(json::parse(again.out)["fidelity"]["outputs"] == j["fidelity"]["outputs"]);
  auto sym = test::run_effopt({"compare", a, b, "--random", "1"});
  CHECK(sym.exit_code == 1);
  CHECK(sym.err.find("input 'X' dim 0 is symbolic ('N')") != std::string::npos);
  CHECK(sym.err.find("--shape N=") != std::string::npos);
  auto whole = test::run_effopt({"compare", a, b, "--shape", "X=5x4"});
  CHECK(whole.exit_code == 0);
  CHECK(whole.out.find("[5,4]") != std::string::npos);
}

TEST_CASE("compare: bad inputs get a clear message and the documented exit code", "[cli][compare]") {
  test::TempDir dir;
  std::string a = test::write_text_model(dir, kIdentity, "a.onnx"), b = test::write_text_model(dir, kPlusSmall, "b.onnx");
  std::string two = test::write_text_model(dir, kTwoInputs, "t.onnx");
  auto run = [&](std::vector<std::string> args) { return test::run_effopt(args); };

  SECTION("an .npy file named after no input") {
    fs::create_directory(dir.file("d"));
    test::write_file(dir.file("d/X.npy"), npy_f32(kX, "(3, 4)"));
    test::write_file(dir.file("d/Q.npy"), npy_f32(kX, "(3, 4)"));
    auto r = run({"compare", a, b, "--data", dir.file("d")});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("Q.npy: 'Q' is not an input of the model (its inputs: X)") != std::string::npos);
  }
  SECTION("a wrong shape") {
    test::write_file(dir.file("X.npy"), npy_f32(std::vector<float>(15, 0.f), "(3, 5)"));
    auto r = run({"compare", a, b, "--data", dir.file("X.npy")});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("X.npy: input 'X' is float32[N,4], the file holds float32[3,5] (dim 1 differs)") != std::string::npos);
  }
  SECTION("a wrong element type") {
    std::vector<int64_t> v(12, 1);
    test::write_file(dir.file("X.npy"), npy("<i8", "(3, 4)", v.data(), v.size() * 8));
    auto r = run({"compare", a, b, "--data", dir.file("X.npy")});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("the file holds int64[3,4] (wrong element type)") != std::string::npos);
  }
  SECTION("a missing input") {
    fs::create_directory(dir.file("set"));
    REQUIRE(exec::write_tensor_pb(dir.file("set/input_0.pb"), exec::TensorValue::from_vector(DataType::Float, {3, 4}, kX)));
    auto r = run({"compare", two, two, "--data", dir.file("set")});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("no input_1.pb for input 'Z'") != std::string::npos);
    fs::create_directory(dir.file("npys"));
    test::write_file(dir.file("npys/X.npy"), npy_f32(kX, "(3, 4)"));
    test::write_file(dir.file("npys/W.npy"), npy_f32(kX, "(3, 4)"));
    auto n = run({"compare", two, two, "--data", dir.file("npys")});
    CHECK(n.exit_code == 1);
    CHECK(n.err.find("'W' is not an input") != std::string::npos);
  }
  SECTION("NaN and Inf in the inputs propagate, with a warning") {
    std::vector<float> x = kX;
    x[0] = NAN;
    x[5] = INFINITY;
    test::write_file(dir.file("X.npy"), npy_f32(x, "(3, 4)"));
    auto r = run({"compare", a, b, "--data", dir.file("X.npy"), "--json"});
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("holds 1 NaN and 1 Inf values; they propagate") != std::string::npos);
    json j = test::parse_valid_report(r.out);
    // NaN + 0.01 is NaN and inf + 0.01 is inf on both sides: equal, not mismatches.
    CHECK(j["fidelity"]["outputs"][0]["nonfinite_mismatches"] == 0);
    // Against expected outputs that are finite there, they are mismatches and every limit fails.
    fs::create_directory(dir.file("set"));
    REQUIRE(exec::write_tensor_pb(dir.file("set/input_0.pb"), exec::TensorValue::from_vector(DataType::Float, {3, 4}, x)));
    REQUIRE(exec::write_tensor_pb(dir.file("set/output_0.pb"), exec::TensorValue::from_vector(DataType::Float, {3, 4}, kX)));
    auto e = run({"compare", a, "--data", dir.file("set"), "--max-error", "1", "--json"});
    CHECK(e.exit_code == 3);
    json k = test::parse_valid_report(e.out);
    CHECK(k["fidelity"]["outputs"][0]["nonfinite_mismatches"] == 2);
    CHECK(k["fidelity"]["outputs"][0]["rel_l2_error"] == "inf");
    CHECK(e.err.find("rel-l2 inf exceeds") != std::string::npos);
  }
  SECTION("an input too big for memory") {
    auto r = run({"compare", a, b, "--shape", "N=1000000000000"});
    CHECK(r.exit_code == 4);
    CHECK(r.err.find("more than this machine's memory") != std::string::npos);
  }
  SECTION("a malformed or Fortran-order .npy") {
    test::write_file(dir.file("X.npy"), npy_f32(kX, "(3, 4)").substr(0, 100));
    auto t = run({"compare", a, b, "--data", dir.file("X.npy")});
    CHECK(t.exit_code == 4);
    CHECK(t.err.find("truncated") != std::string::npos);
    test::write_file(dir.file("X.npy"), npy("<f4", "(3, 4)", kX.data(), 48, true));
    auto f = run({"compare", a, b, "--data", dir.file("X.npy")});
    CHECK(f.exit_code == 4);
    CHECK(f.err.find("Fortran order") != std::string::npos);
    test::write_file(dir.file("X.pb"), "not a tensor proto \xff\xff\xff");
    auto p = run({"compare", a, b, "--data", dir.file("X.pb")});
    CHECK(p.exit_code == 4);
    CHECK(p.err.find("not a serialized onnx.TensorProto") != std::string::npos);
  }
  SECTION("outputs whose shapes differ between the models") {
    std::string w = test::write_text_model(dir, kWiderOutput, "w.onnx");
    auto r = run({"compare", a, w, "--shape", "N=2"});
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("output 'Y' on random sample 0 has shape [2,4] vs [2,8]") != std::string::npos);
  }
  SECTION("usage errors") {
    CHECK(run({"compare", a}).exit_code == 1);  // one model needs --data
    auto m = run({"compare", a, b, "--metric", "max-abs"});
    CHECK(m.exit_code == 1);
    CHECK(m.err.find("--metric max-abs needs --max-error") != std::string::npos);
    auto u = run({"compare", a, b, "--max-error", "0.1", "--metric", "l7"});
    CHECK(u.exit_code == 1);
    CHECK(u.err.find("unknown metric") != std::string::npos);
    auto nd = run({"compare", a, b, "--data", dir.file("nope")});
    CHECK(nd.exit_code == 4);
    CHECK(nd.err.find("no such file or folder") != std::string::npos);
    auto acc = run({"compare", a, b, "--shape", "N=1", "--max-error", "0.1", "--metric", "accuracy-drop"});
    CHECK(acc.exit_code == 1);
    CHECK(acc.err.find("needs labels.pb") != std::string::npos);
    auto rng = run({"compare", a, b, "--shape", "N=1", "--range", "Q=0:1"});
    CHECK(rng.exit_code == 1);
    CHECK(rng.err.find("--range Q: names no input") != std::string::npos);
  }
}

#include "exec/random_inputs.h"
#include "support/ort_harness.h"

TEST_CASE("compare resnet18 against ONNX Runtime's outputs on effopt's random input files", "[cli][compare][corpus][ort]") {
  auto c = test::corpus_case_or_skip("models/resnet18");
  if (!c) return;
  auto* ort = test::ort_or_skip();
  if (!ort) return;
  std::string model = (*c / "model.onnx").string();
  auto m = load_model(model);
  REQUIRE(m);
  exec::RandomInputOptions ro;
  ro.seed = 11;
  auto plan = exec::plan_random_inputs(*(*m)->graph, ro);
  REQUIRE(plan);
  REQUIRE(plan->size() == 1);
  test::TempDir dir;
  fs::create_directory(dir.file("set"));
  // effopt writes the input; ONNX Runtime reads it and gives the expected output.
  REQUIRE(exec::write_tensor_pb(dir.file("set/input_0.pb"), exec::random_tensor((*plan)[0], 11, 0), (*plan)[0].name));
  auto r = ort->run_files(model, {{(*plan)[0].name, dir.file("set/input_0.pb")}});
  REQUIRE(r.ok);
  REQUIRE(r->outputs.size() == 1);
  test::write_file(dir.file("set/output_0.pb"), r->outputs[0].SerializeAsString());
  auto cmp = test::run_effopt({"compare", model, "--data", dir.file("set"), "--json", "--max-error", "1e-5"});
  INFO(cmp.err);
  REQUIRE(cmp.exit_code == 0);
  json j = test::parse_valid_report(cmp.out);
  const json& y = j["fidelity"]["outputs"][0];
  CHECK(y["shape"] == json::array({1, 1000}));
  CHECK(y["max_abs_error"].get<double>() < 1e-4);
  CHECK(y["cosine_similarity"].get<double>() > 0.999999);
  CHECK(y["top1_agreement"] == 1.0);
}

TEST_CASE("compare feeds only the runtime inputs, never an initializer listed among the graph inputs",
          "[cli][compare][feed-initializer]") {
  // w is an initializer listed as a graph input (IR 8: a default ONNX Runtime lets a feed override). compare,
  // --data and random inputs take the runtime inputs only (X), as ONNX Runtime's input list does: Y = X * w
  // with w's stored values.
  const char* kOverridable = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[3,4] X, float[4] w) => (float[3,4] Y) <float[4] w = {1, 2, 3, 4}> {
  Y = Mul(X, w)
}
)";
  test::TempDir dir;
  std::string a = test::write_text_model(dir, kOverridable, "a.onnx");
  auto rnd = test::run_effopt({"compare", a, a, "--json"});
  INFO(rnd.err);
  REQUIRE(rnd.exit_code == 0);
  CHECK(test::parse_valid_report(rnd.out)["fidelity"]["outputs"][0]["max_abs_error"] == 0.0);
  fs::create_directory(dir.file("npy"));
  test::write_file(dir.file("npy/X.npy"), npy_f32(kX, "(3, 4)"));
  auto data = test::run_effopt({"compare", a, a, "--data", dir.file("npy")});
  INFO(data.err);
  CHECK(data.exit_code == 0);
  // The expected output as ONNX's test data would hold it (X * {1, 2, 3, 4}), in one-model mode.
  fs::create_directory(dir.file("set"));
  std::vector<float> y(kX.size());
  for (size_t i = 0; i < y.size(); ++i) y[i] = kX[i] * static_cast<float>(i % 4 + 1);
  REQUIRE(exec::write_tensor_pb(dir.file("set/input_0.pb"), exec::TensorValue::from_vector(DataType::Float, {3, 4}, kX)));
  REQUIRE(exec::write_tensor_pb(dir.file("set/output_0.pb"), exec::TensorValue::from_vector(DataType::Float, {3, 4}, y)));
  auto one = test::run_effopt({"compare", a, "--data", dir.file("set"), "--max-error", "0", "--metric", "max-abs"});
  INFO(one.err);
  CHECK(one.exit_code == 0);
  // A file for w is refused, naming it and the runtime inputs.
  test::write_file(dir.file("npy/w.npy"), npy_f32({1, 1, 1, 1}, "(4,)"));
  auto w = test::run_effopt({"compare", a, a, "--data", dir.file("npy")});
  CHECK(w.exit_code == 1);
  CHECK(w.err.find("'w' is an initializer of the model (listed among its graph inputs); effopt feeds only the runtime "
                   "inputs (X)") != std::string::npos);
  REQUIRE(exec::write_tensor_pb(dir.file("set/input_1.pb"),
                              exec::TensorValue::from_vector(DataType::Float, {4}, std::vector<float>{1, 1, 1, 1})));
  auto extra = test::run_effopt({"compare", a, "--data", dir.file("set")});
  CHECK(extra.exit_code == 1);
  CHECK(extra.err.find("the model has only 1 input (X)") != std::string::npos);
}
