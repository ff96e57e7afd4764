// lib/report: SHA-256, compressed sizes, budgets, the JSON report and its schema.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "report/budget.h"
#include "report/file_stats.h"
#include "report/footprint_report.h"
#include "util/json_schema.h"
#include "util/test_util.h"

using namespace effopt;
using nlohmann::json;

namespace {

std::span<const std::byte> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

json report_schema() {
  std::ifstream in(std::string(EFFOPT_SOURCE_DIR) + "/docs/report.schema.json");
  REQUIRE(in);
  return json::parse(in);
}

void require_valid(const json& doc) {
  auto errors = validate_json(doc, report_schema());
  std::string all;
  for (auto& e : errors) all += e + "\n";
  INFO(all);
  REQUIRE(errors.empty());
}

}  // namespace

TEST_CASE("SHA-256 test vectors", "[report]") {
  CHECK(sha256_hex(bytes_of("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex(bytes_of("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex(bytes_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  CHECK(sha256_hex(bytes_of(million)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("compressed sizes: gzip level 6, zstd independent of the thread count", "[report]") {
  std::string data;
  for (int i = 0; i < 200000; ++i) data += std::to_string(i % 977) + ",";
  uint64_t g = gzip_size(bytes_of(data));
  CHECK(g > 18);
  CHECK(g < data.size() / 2);
  CompressOptions one, three;
  one.threads = 1;
  three.threads = 3;
  auto z1 = zstd_size(bytes_of(data), one);
  auto z3 = zstd_size(bytes_of(data), three);
  REQUIRE(z1);
  REQUIRE(z3);
  CHECK(*z1 == *z3);
  // Larger than zstd's job size at level 3, so several workers really split it.
  std::string big;
  big.reserve(24 << 20);
  uint64_t x = 88172645463325252ull;
  while (big.size() < (24u << 20)) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    big += std::to_string(x % 100000) + (x % 3 ? "," : "\n");
  }
  CompressOptions four;
  four.threads = 4;
  auto b1 = zstd_size(bytes_of(big), one);
  auto b4 = zstd_size(bytes_of(big), four);
  REQUIRE(b1);
  REQUIRE(b4);
  CHECK(*b1 == *b4);
  CompressOptions bad;
  bad.zstd_level = 20;
  CHECK_FALSE(zstd_size(bytes_of(data), bad));
  // Python's gzip.compress(data, 6) on the corpus digits_cnn model gives 561810 bytes.
  auto dir = test::corpus_case_or_skip("models/digits_cnn");
  if (!dir) return;
  auto path = *dir / "model.onnx";
  auto fs = file_stats(path.string());
  REQUIRE(fs);
  CHECK(fs->gzip_bytes == 561810u);
  CHECK(fs->sha256 == "2aeff6ceaad0abf663be08a0813d0c7723c9a8c5cce570eb710cd84880c69100");
}

TEST_CASE("sizes and counts with units", "[report][budget]") {
  CHECK(*parse_size("5MB") == 5000000u);
  CHECK(*parse_size("5MiB") == 5u * 1048576);
  CHECK(*parse_size("1.5kB") == 1500u);
  CHECK(*parse_size("2KiB") == 2048u);
  CHECK(*parse_size("1GB") == 1000000000u);
  CHECK(*parse_size("3GiB") == 3ull << 30);
  CHECK(*parse_size("1234") == 1234u);
  CHECK_FALSE(parse_size("5 parsecs"));
  CHECK_FALSE(parse_size("MB"));
  CHECK(*parse_count("25M") == 25000000u);
  CHECK(*parse_count("1.8G") == 1800000000u);
  CHECK(*parse_count("500K") == 500000u);
  CHECK_FALSE(parse_count("5MB"));
}

TEST_CASE("budgets: exceeded by how much; unknown dims fail", "[report][budget]") {
  Footprint f;
  f.params = 100;
  f.macs = 2000;
  f.peak_activation_bytes = 50;
  ModelFileStats files;
  files.model.bytes = 1000;
  files.model.gzip_bytes = 900;
  files.model.zstd_bytes = 800;
  Budgets b;
  b.max_bytes = 999;
  b.max_params = 100;
  b.max_macs = 1000;
  auto r = check_budgets(b, f, &files);
  REQUIRE(r.size() == 3);
  CHECK_FALSE(r[0].passed);
  CHECK(r[0].message.find("over by 1 ") != std::string::npos);
  CHECK(r[1].passed);
  CHECK_FALSE(r[2].passed);
  auto st = budget_status(r, "m.onnx");
  REQUIRE_FALSE(st);
  CHECK(st.error().kind == ErrorKind::CheckFailed);
  CHECK(st.error().message.find("--max-bytes") != std::string::npos);
  CHECK(st.error().message.find("--max-macs") != std::string::npos);
  // An activation budget on unknown dims fails as "could not be checked", naming the node and the --shape
  // that binds the input.
  f.activation_unknown_nodes = {"conv1 (Conv)"};
  f.unbound_inputs = {UnboundInput{"x", std::vector<Dim>{Dim::symbolic("N"), Dim::known(3)}, "x=1,3"}};
  Budgets b2;
  b2.max_peak_activation_bytes = 1000000;
  auto r2 = check_budgets(b2, f, nullptr);
  REQUIRE(r2.size() == 1);
  CHECK_FALSE(r2[0].passed);
  CHECK(r2[0].unchecked);
  CHECK_FALSE(r2[0].actual);
  CHECK(r2[0].message.find("could not be checked") != std::string::npos);
  CHECK(r2[0].message.find("conv1 (Conv)") != std::string::npos);
  CHECK(r2[0].message.find("--shape x=1,3") != std::string::npos);
  auto st2 = budget_status(r2, "m.onnx");
  REQUIRE_FALSE(st2);
  CHECK(st2.error().kind == ErrorKind::CheckFailed);
  CHECK(st2.error().message.find("1 budget could not be checked") != std::string::npos);
  // What was counted (50 bytes live) is a lower bound: over a smaller limit, the budget is exceeded outright.
  b2.max_peak_activation_bytes = 40;
  auto r3 = check_budgets(b2, f, nullptr);
  REQUIRE(r3.size() == 1);
  CHECK_FALSE(r3[0].passed);
  CHECK_FALSE(r3[0].unchecked);
  CHECK(r3[0].message.find("exceeded: at least 50 ") != std::string::npos);
  CHECK(budget_status(r3, "m.onnx").error().message.find("1 budget failed:") != std::string::npos);
}

TEST_CASE("JSON reports validate against docs/report.schema.json", "[report][schema]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,3,8,8] X) => (float[N,4,8,8] Y) <float[4,3,1,1] W = {1,0,0,0,0,1,0,0,0,0,1,0}> {
  C = Conv(X, W)
  Y = Relu(C)
}
)");
  REQUIRE(infer_shapes_with_bindings(*m, {}));
  Footprint f = compute_footprint(*m);
  ModelFileStats files;
  files.model = FileStats{"m.onnx", 10, 20, 30, std::string(64, 'a')};
  json r = model_report("m.onnx", f, &files, {});
  require_valid(r);
  CHECK(r["params"] == 12);
  CHECK(r["macs_complete"] == false);
  CHECK(r["macs"].is_null());
  CHECK(r["footprint"]["macs"]["unknown_nodes"].size() == 1);
  json d = diff_report(model_section("a.onnx", f, &files), model_section("b.onnx", f, nullptr));
  require_valid(d);
  CHECK(d["delta"]["params"] == 0);
  // The validator catches what the schema forbids.
  r["params"] = -1;
  CHECK_FALSE(validate_json(r, report_schema()).empty());
  r["params"] = 1;
  r["footprint"]["surprise"] = 1;
  CHECK_FALSE(validate_json(r, report_schema()).empty());
}
