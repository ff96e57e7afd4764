// The quantize pass's quality guard (max-error, min-sqnr, min-accuracy, max-float-fraction; passes/pass_guard.h):
// one behaviour per test on test::sensitive_two_matmul_model() (tests/util/guard_models.h), whose first
// weight W1 is sensitive by construction.
#include <catch2/catch.hpp>

#include <sstream>

#include "analysis/quality_guard.h"
#include "ir/verifier.h"
#include "pass/pass.h"
#include "passes/pass_util.h"
#include "passes/quantize.h"
#include "util/guard_models.h"
#include "util/test_util.h"

using namespace effopt;
namespace util = effopt::passes::util;

namespace {

const pass::PassInfo& quantize_info() { return test::pass_info("quantize"); }
pass::PassOptions options(const std::string& text) { return test::pass_options("quantize", text); }

std::string model_text() { return test::sensitive_two_matmul_model(); }

// Four seeded random samples of the model's input.
std::unique_ptr<SampleSource> samples(const Model& m, uint64_t seed = 5) {
  exec::RandomInputOptions ro;
  ro.seed = seed;
  auto plan = exec::plan_random_inputs(*m.graph, ro);
  REQUIRE(plan);
  return random_samples(std::move(*plan), seed, 4);
}

struct Run {
  std::unique_ptr<Model> model;
  pass::PassResult result;
  const GuardResult* guard() const { return result.quality_guard.get(); }
};

Run quantize(const std::string& opts, bool with_evaluation = true) {
  Run run;
  run.model = test::parse_or_fail(model_text());
  auto eval = samples(*run.model);
  pass::PassSamples ps;
  if (with_evaluation) ps.evaluation = eval.get();
  auto r = pass::apply_pass(quantize_info(), *run.model, options(opts), 1, &ps);
  if (!r) FAIL("quantize{" << opts << "}: " << r.error().message);
  auto st = verify(*run.model);
  if (!st) FAIL("verifier: " << st.error().message);
  run.result = std::move(*r);
  return run;
}

size_t unit_index(const GuardResult& g, const std::string& name) {
  for (size_t i = 0; i < g.units.size(); ++i)
    if (g.units[i].name == name) return i;
  FAIL("no unit " << name);
  return 0;
}

// The weight type of the MatMul whose output is `matmul_output`: "float" when it reads a float constant,
// else the type of the DequantizeLinear's integers.
std::string matmul_weight(const Model& m, const std::string& matmul_output) {
  for (const auto& n : m.graph->nodes()) {
    if (n->op_type != "MatMul" || n->output(0)->name() != matmul_output) continue;
    const Node* dq = util::producer_of(n->input(1), "DequantizeLinear");
    if (!dq) return "float";
    return data_type_name(util::fixed_constant(dq->input(0))->data_type);
  }
  FAIL("no MatMul " << matmul_output);
  return "";
}

}  // namespace

TEST_CASE("quantize guard: off when no limit is given", "[quantize][quality-guard]") {
  Run r = quantize("");
  CHECK(r.guard() == nullptr);
  CHECK(r.result.counter("guard-evaluations") == 0);
  CHECK(matmul_weight(*r.model, "t") == "int8");
  CHECK(matmul_weight(*r.model, "y") == "int8");
}

TEST_CASE("quantize guard: a limit met by the first candidate takes no step", "[quantize][quality-guard]") {
  Run r = quantize("max-error=5");
  REQUIRE(r.guard());
  CHECK(r.guard()->passed);
  CHECK(r.guard()->steps.empty());
  CHECK(r.guard()->evaluations == 1);
  CHECK(r.guard()->units.size() == 2);
  CHECK(matmul_weight(*r.model, "t") == "int8");
  CHECK(matmul_weight(*r.model, "y") == "int8");
}

TEST_CASE("quantize guard: a tight limit steps the most sensitive tensor back first", "[quantize][quality-guard]") {
  Run r = quantize("max-error=0.05");
  const GuardResult* g = r.guard();
  REQUIRE(g);
  INFO(g->failure);
  CHECK(g->passed);
  const size_t w1 = unit_index(*g, "W1"), w2 = unit_index(*g, "W2");
  CHECK(g->units[w1].rank == 1);
  CHECK(g->units[w2].rank == 2);
  REQUIRE(g->steps.size() == 1);
  CHECK(g->steps[0].unit == w1);
  CHECK(g->units[w1].levels[g->units[w1].level] == "float");
  CHECK(g->units[w2].level == 0);
  CHECK(g->units[w1].macs == 2 * 64 * 32);  // the MatMul it feeds
  CHECK(g->top_fraction == Approx(0.5));    // W1's MatMul of the two (equal MACs)
  CHECK(matmul_weight(*r.model, "t") == "float");
  CHECK(matmul_weight(*r.model, "y") == "int8");
  CHECK(g->fidelity.outputs.size() == 1);
  CHECK(g->fidelity.outputs[0].metrics.rel_l2_error <= 0.05);
}

TEST_CASE("quantize guard: past max-float-fraction the check fails with the last candidate kept",
          "[quantize][quality-guard]") {
  Run r = quantize("max-error=0.05 max-float-fraction=0.25");
  const GuardResult* g = r.guard();
  REQUIRE(g);
  CHECK_FALSE(g->passed);
  CHECK(g->failure.find("allowed") != std::string::npos);
  // W1's step (0.5 of the MACs float) was refused: both weights stay int8, as measured first.
  CHECK(matmul_weight(*r.model, "t") == "int8");
  CHECK(matmul_weight(*r.model, "y") == "int8");
}

TEST_CASE("quantize guard: a limit that holds only with everything float fails", "[quantize][quality-guard]") {
  Run r = quantize("max-error=0");
  const GuardResult* g = r.guard();
  REQUIRE(g);
  CHECK_FALSE(g->passed);
  CHECK(g->failure.find("every unit at float") != std::string::npos);
}

TEST_CASE("quantize guard: bits=4 steps int4 -> int8 -> float", "[quantize][quality-guard]") {
  Run r = quantize("bits=4 block-size=32 max-error=0.2");
  const GuardResult* g = r.guard();
  REQUIRE(g);
  INFO(g->failure);
  CHECK(g->passed);
  const size_t w1 = unit_index(*g, "W1"), w2 = unit_index(*g, "W2");
  CHECK(g->units[w1].levels == std::vector<std::string>{"int4", "int8", "float"});
  REQUIRE(g->steps.size() == 2);
  CHECK(g->steps[0].unit == w1);
  CHECK(g->units[w1].levels[g->steps[0].level] == "int8");
  CHECK_FALSE(g->steps[0].passed);
  CHECK(g->steps[1].unit == w1);
  CHECK(g->units[w1].levels[g->steps[1].level] == "float");
  CHECK(g->steps[1].passed);
  CHECK(g->units[w2].level == 0);
  CHECK(matmul_weight(*r.model, "t") == "float");
  CHECK(matmul_weight(*r.model, "y") == "int4");
}

TEST_CASE("quantize guard: measures on the evaluation data, else the calibration data, else random inputs",
          "[quantize][quality-guard]") {
  auto base = test::parse_or_fail(model_text());
  auto eval = samples(*base, 5), cal = samples(*base, 6);
  SECTION("evaluation data first") {
    auto m = test::parse_or_fail(model_text());
    pass::PassSamples ps;
    ps.evaluation = eval.get();
    ps.calibration = cal.get();
    auto r = pass::apply_pass(quantize_info(), *m, options("max-error=5"), 1, &ps);
    REQUIRE(r);
    REQUIRE(r->quality_guard);
    CHECK(r->quality_guard->origin == "evaluation data");
    CHECK(r->quality_guard->warnings.empty());
  }
  SECTION("then the calibration data") {
    auto m = test::parse_or_fail(model_text());
    pass::PassSamples ps;
    ps.calibration = cal.get();
    auto r = pass::apply_pass(quantize_info(), *m, options("max-error=5"), 1, &ps);
    REQUIRE(r);
    REQUIRE(r->quality_guard);
    CHECK(r->quality_guard->origin == "calibration data");
    CHECK(r->quality_guard->warnings.empty());
  }
  SECTION("else seeded random inputs, with a warning") {
    auto m = test::parse_or_fail(model_text());
    auto r = pass::apply_pass(quantize_info(), *m, options("max-error=5"), 1, nullptr);
    REQUIRE(r);
    REQUIRE(r->quality_guard);
    CHECK(r->quality_guard->origin == "random inputs");
    REQUIRE(r->quality_guard->warnings.size() >= 1);
    CHECK(r->quality_guard->warnings[0].find("random inputs say little") != std::string::npos);
  }
}

TEST_CASE("quantize guard: option errors name the option", "[quantize][quality-guard]") {
  auto run = [](const std::string& opts) {
    auto m = test::parse_or_fail(model_text());
    return pass::apply_pass(quantize_info(), *m, options(opts), 1, nullptr);
  };
  auto bad_number = run("max-error=abc");
  REQUIRE_FALSE(bad_number);
  CHECK(bad_number.error().message.find("max-error") != std::string::npos);
  auto metric_alone = run("metric=max-abs");
  REQUIRE_FALSE(metric_alone);
  CHECK(metric_alone.error().message.find("give max-error too") != std::string::npos);
  auto fraction_alone = run("max-float-fraction=0.3");
  REQUIRE_FALSE(fraction_alone);
  CHECK(fraction_alone.error().message.find("max-float-fraction") != std::string::npos);
  auto fp16 = run("mode=fp16 max-error=0.1");
  REQUIRE_FALSE(fp16);
  CHECK(fp16.error().kind == ErrorKind::Usage);
}
