// The cleanup passes on every corpus model: applied in a sensible order to a
// fixed point, the model still verifies after each pass and computes the same
// outputs in ONNX Runtime (relative L2 <= 1e-4). A model ONNX Runtime refuses
// below opset 7 (its kernels for some old ops start at 7) is compared with its
// expected outputs after conversion to opset 13; one it cannot run at all must
// be on test::ort_cannot_run (with the reason) and still be refused; any other
// refusal fails. Calls test::skip when the corpus or ONNX Runtime is absent.
// Prints node counts before/after for models/.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "ir/verifier.h"
#include "onnx/convert_proto.h"
#include "onnx/model_io.h"
#include "onnx/opset_convert.h"
#include "pass/pass.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;
namespace fs = std::filesystem;

namespace {

const char* const kPipeline[] = {
    "hoist-constants", "eliminate-identity", "eliminate-dead-code", "fold-shapes",
    "fold-constants", "fuse-reshape-chain", "eliminate-noop", "dedup-initializers",
    "eliminate-common-subexpressions", "eliminate-dead-code",
};

size_t count_nodes(const Model& m) {
  size_t n = 0;
  for_each_graph(*m.graph, [&](Graph& g) { n += g.nodes().size(); });
  return n;
}

double rel_l2(const onnx::TensorProto& a, const onnx::TensorProto& b) {
  auto x = test::tensor_values(a), y = test::tensor_values(b);
  if (x.size() != y.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    num += (x[i] - y[i]) * (x[i] - y[i]);
    den += x[i] * x[i];
  }
  if (num == 0) return 0;
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

struct CaseResult {
  size_t before = 0, after = 0;
  bool ran = false;
  pass::PassResult totals;  // counters summed over passes and rounds
};

// Runs the pipeline to a fixed point; checks the verifier after each pass and, when `ort` is given, the
// outputs.
CaseResult run_case(const fs::path& dir, test::OrtHarness* ort) {
  CaseResult res;
  INFO(dir.string());
  auto m = load_model((dir / "model.onnx").string());
  if (!m) {
    FAIL_CHECK("cannot load: " << m.error().message);
    return res;
  }
  Model& model = **m;
  res.before = count_nodes(model);
  std::vector<std::pair<std::string, onnx::TensorProto>> inputs;
  std::optional<std::vector<onnx::TensorProto>> ref;
  bool to_opset_13 = false;  // ORT refused the original below opset 7: compare with the expected outputs
  const std::string case_name = dir.filename().string();
  if (ort && test::ort_host_can_run_case(case_name)) {
    REQUIRE(fs::exists(dir / "test_data_set_0"));
    onnx::ModelProto proto = to_proto_inline(model);
    inputs = test::bind_inputs(proto, test::load_test_data_set((dir / "test_data_set_0").string()));
    auto r = ort->run_model(proto, inputs);
    if (auto it = test::ort_cannot_run().find(case_name); it != test::ort_cannot_run().end()) {
      INFO("expected ONNX Runtime to refuse the original: " << it->second);
      CHECK_FALSE(r.ok);  // on the list: only the verifier checks it
    } else if (r.ok) {
      ref = r->outputs;
    } else {
      INFO("ONNX Runtime refuses the original: " << r.error);
      REQUIRE(model.opset("") < 7);
      ref = test::load_test_data_set((dir / "test_data_set_0").string(), "output_");
      to_opset_13 = true;
    }
  }
  for (int round = 0; round < 8; ++round) {
    bool changed = false;
    for (const char* name : kPipeline) {
      auto r = pass::apply_pass(name, model);
      if (!r) {
        FAIL_CHECK(name << " failed: " << r.error().message);
        return res;
      }
      auto v = verify(model);
      if (!v) {
        FAIL_CHECK(name << " left an invalid model: " << v.error().message);
        return res;
      }
      changed = changed || r->changed;
      pass::PassResult named;
      for (auto& [k, v] : r->counters) named.count(std::string(name) + ":" + k, v);
      named.notes = r->notes;
      res.totals.merge(named);
    }
    if (!changed) break;
    if (round == 7) FAIL_CHECK("no fixed point after 8 rounds");
  }
  res.after = count_nodes(model);
  if (!ref) return res;
  if (to_opset_13) {
    auto st = convert_opset(model, 13);
    INFO((st ? "" : st.error().message));
    REQUIRE(st);
  }
  auto r = ort->run_model(to_proto_inline(model), inputs);
  if (!r.ok) {
    FAIL_CHECK("ONNX Runtime rejects the optimized model: " << r.error);
    return res;
  }
  REQUIRE(r->outputs.size() == ref->size());
  for (size_t i = 0; i < ref->size(); ++i) {
    INFO("output " << i);
    int32_t dt = (*ref)[i].data_type();
    bool floating = dt == onnx::TensorProto::FLOAT || dt == onnx::TensorProto::DOUBLE ||
                    dt == onnx::TensorProto::FLOAT16 || dt == onnx::TensorProto::BFLOAT16;
    if (floating) {
      CHECK(rel_l2((*ref)[i], r->outputs[i]) <= 1e-4);
    } else {
      std::string why;
      bool same = test::tensors_bit_identical((*ref)[i], r->outputs[i], &why);
      INFO(why);
      CHECK(same);
    }
  }
  res.ran = true;
  return res;
}

}  // namespace

TEST_CASE("cleanup passes on the corpus models keep outputs (ONNX Runtime)", "[pass][corpus]") {
  auto corpus = test::corpus_or_skip();
  if (!corpus) return;
  auto* ort = test::ort_or_skip();  // without it only the verifier checks the passes
  std::vector<fs::path> dirs;
  for (auto& e : fs::directory_iterator(*corpus / "models"))
    if (fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  size_t checked = 0;
  for (const fs::path& d : dirs) {
    CaseResult r = run_case(d, ort);
    checked += r.ran;
    std::printf("cleanup corpus: %-14s nodes %4zu -> %4zu%s\n", d.filename().c_str(), r.before, r.after,
                r.ran ? "" : " (outputs not checked)");
    if (std::getenv("EFFOPT_TEST_VERBOSE")) {
      for (auto& [k, v] : r.totals.counters) std::printf("    %s = %lld\n", k.c_str(), static_cast<long long>(v));
      for (auto& n : r.totals.notes) std::printf("    note: %s\n", n.c_str());
    }
  }
  if (ort) test::skip_if_no_corpus_case(checked, (*corpus / "models").string());
}

TEST_CASE("cleanup passes on the onnx-backend models keep outputs (ONNX Runtime)", "[pass][corpus]") {
  auto* ort = test::ort_or_skip();  // without it only the verifier checks the passes
  std::vector<fs::path> dirs;
  auto backend = test::corpus_case_or_skip("onnx-backend");
  if (!backend) return;
  for (auto& suite : fs::directory_iterator(*backend))
    if (suite.is_directory())
      for (auto& c : fs::directory_iterator(suite.path()))
        if (fs::exists(c.path() / "model.onnx")) dirs.push_back(c.path());
  std::sort(dirs.begin(), dirs.end());
  size_t checked = 0, before = 0, after = 0;
  for (const fs::path& d : dirs) {
    CaseResult r = run_case(d, ort);
    checked += r.ran;
    before += r.before;
    after += r.after;
  }
  std::printf("cleanup corpus: onnx-backend %zu models (%zu checked in ONNX Runtime), nodes %zu -> %zu\n",
              dirs.size(), checked, before, after);
  if (ort) test::skip_if_no_corpus_case(checked, backend->string());
}
