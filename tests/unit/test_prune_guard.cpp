// The prune pass's quality guard (max-error, ..., min-sparsity; passes/pass_guard.h): one behaviour per test on
// tests/util/guard_models.h's prune models, whose first weight (element, n:m) or first feature group
// (channel) is sensitive by construction and whose second is not.
#include <catch2/catch.hpp>

#include <cmath>

#include "analysis/quality_guard.h"
#include "ir/verifier.h"
#include "pass/pass.h"
#include "passes/pass_util.h"
#include "passes/prune.h"
#include "passes/quantize.h"
#include "util/guard_models.h"
#include "util/test_util.h"

using namespace effopt;
namespace util = effopt::passes::util;
namespace prune = effopt::passes::prune;

namespace {

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

Expected<Run> try_prune(const std::string& model_text, const std::string& opts) {
  Run run;
  run.model = test::parse_or_fail(model_text);
  auto eval = samples(*run.model);
  pass::PassSamples ps;
  ps.evaluation = eval.get();
  auto r = pass::apply_pass(test::pass_info("prune"), *run.model, test::pass_options("prune", opts), 1, &ps);
  if (!r) return std::move(r).error();
  run.result = std::move(*r);
  return run;
}

Run prune_run(const std::string& model_text, const std::string& opts) {
  auto r = try_prune(model_text, opts);
  if (!r) FAIL("prune{" << opts << "}: " << r.error().message);
  auto st = verify(*r->model);
  if (!st) FAIL("verifier: " << st.error().message);
  return std::move(*r);
}

Run element(const std::string& opts) { return prune_run(test::sensitive_prune_model(), "scope=layer " + opts); }

size_t unit_index(const GuardResult& g, const std::string& name) {
  for (size_t i = 0; i < g.units.size(); ++i)
    if (g.units[i].name == name) return i;
  FAIL("no unit " << name);
  return 0;
}

std::vector<float> weight(const Model& m, const std::string& name) {
  for (const auto& n : m.graph->nodes())
    for (size_t i = 0; i < n->inputs().size(); ++i)
      if (n->input(i) && n->input(i)->name() == name) {
        TensorPtr t = util::fixed_constant(n->input(i));
        REQUIRE(t);
        return passes::quant::tensor_floats(*t);
      }
  FAIL("no weight " << name);
  return {};
}

double sparsity(const std::vector<float>& w) {
  return static_cast<double>(std::count(w.begin(), w.end(), 0.0f)) / static_cast<double>(w.size());
}

// The dims of the weight that the MatMul producing `output` reads.
std::vector<int64_t> matmul_weight_dims(const Model& m, const std::string& output) {
  for (const auto& n : m.graph->nodes())
    if (n->op_type == "MatMul" && n->output(0)->name() == output) {
      TensorPtr t = util::fixed_constant(n->input(1));
      REQUIRE(t);
      return t->dims;
    }
  FAIL("no MatMul " << output);
  return {};
}

bool has_note(const pass::PassResult& r, const std::string& part) {
  for (const std::string& n : r.notes)
    if (n.find(part) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("prune guard: off when no limit is given", "[prune][quality-guard]") {
  Run r = element("sparsity=0.5");
  CHECK(r.guard() == nullptr);
  CHECK(sparsity(weight(*r.model, "W1")) == Approx(0.5).margin(1e-3));
  CHECK(sparsity(weight(*r.model, "W2")) == Approx(0.5).margin(1e-3));
}

TEST_CASE("prune guard: a limit met by the first candidate takes no step", "[prune][quality-guard]") {
  Run r = element("sparsity=0.5 max-error=5");
  REQUIRE(r.guard());
  CHECK(r.guard()->passed);
  CHECK(r.guard()->steps.empty());
  CHECK(r.guard()->evaluations == 1);
  REQUIRE(r.guard()->units.size() == 2);
  CHECK(r.guard()->units[0].levels.front() == "0.5");
  CHECK(r.guard()->units[0].levels.back() == "dense");
  CHECK(sparsity(weight(*r.model, "W1")) == Approx(0.5).margin(1e-3));
  CHECK(sparsity(weight(*r.model, "W2")) == Approx(0.5).margin(1e-3));
}

TEST_CASE("prune guard: the sensitive layer steps back until the limit holds; the other keeps its target",
          "[prune][quality-guard]") {
  Run r = element("sparsity=0.5 max-error=0.05");
  const GuardResult* g = r.guard();
  REQUIRE(g);
  INFO(g->failure);
  CHECK(g->passed);
  CHECK(g->metric == "rel-l2");
  const size_t w1 = unit_index(*g, "W1"), w2 = unit_index(*g, "W2");
  CHECK(g->units[w1].rank == 1);
  CHECK(g->units[w2].rank == 2);
  CHECK(g->units[w1].levels[g->units[w1].level] == "dense");
  CHECK(g->units[w2].level == 0);
  CHECK(g->units[w1].macs == 4 * 64 * 64);
  for (const GuardStep& s : g->steps) CHECK(s.unit == w1);  // W2 never steps
  CHECK(sparsity(weight(*r.model, "W1")) == 0);
  CHECK(sparsity(weight(*r.model, "W2")) == Approx(0.5).margin(1e-3));
  REQUIRE(g->fidelity.outputs.size() == 1);
  CHECK(g->fidelity.outputs[0].metrics.rel_l2_error <= 0.05);
  // The notes (and so the report's pruning block) give each layer's planned and reached sparsity.
  CHECK(has_note(r.result, "layer 'W1' (MatMul"));
  CHECK(has_note(r.result, "target 0.0000, reached 0.0000 (quality guard: planned 0.5000)"));
  CHECK(has_note(r.result, "quality guard passed"));
  CHECK(r.result.counter("prunable-zeros-after") == 2048);
}

TEST_CASE("prune guard: under global scope the insensitive layer keeps what the global threshold gave it",
          "[prune][quality-guard]") {
  // Global scope: one threshold; W2's noise goes first, so W1 is pruned less than the target and W2 more.
  Run r = prune_run(test::sensitive_prune_model(), "sparsity=0.7 max-error=0.05");
  const GuardResult* g = r.guard();
  REQUIRE(g);
  INFO(g->failure);
  CHECK(g->passed);
  // W2's target (all its noise, 63 of 64 weights) holds the limit alone; W1 gives way.
  const size_t w2 = unit_index(*g, "W2");
  CHECK(g->units[w2].level == 0);
  CHECK(sparsity(weight(*r.model, "W2")) > 0.9);
  CHECK(g->fidelity.outputs[0].metrics.rel_l2_error <= 0.05);
}

TEST_CASE("prune guard: min-sparsity fails the check when the limit needs less; the last candidate stays",
          "[prune][quality-guard]") {
  Run r = element("sparsity=0.5 max-error=0.05 min-sparsity=0.4");
  const GuardResult* g = r.guard();
  REQUIRE(g);
  CHECK_FALSE(g->passed);
  CHECK(g->failure.find("below min-sparsity 0.4000") != std::string::npos);
  // The step that would break min-sparsity was not measured; the model is the last candidate measured.
  REQUIRE_FALSE(g->steps.empty());
  CHECK_FALSE(g->steps.back().value.has_value());
  const size_t w1 = unit_index(*g, "W1");
  const double w1_sparsity = sparsity(weight(*r.model, "W1"));
  CHECK(w1_sparsity > 0);
  CHECK((w1_sparsity + sparsity(weight(*r.model, "W2"))) / 2 >= 0.4);
  CHECK(g->units[w1].level + 1 < g->units[w1].levels.size());
}

TEST_CASE("prune guard: a limit that holds only with everything dense fails", "[prune][quality-guard]") {
  Run r = element("sparsity=0.5 max-error=0");
  REQUIRE(r.guard());
  CHECK_FALSE(r.guard()->passed);
  CHECK(r.guard()->failure.find("every unit at dense") != std::string::npos);
}

TEST_CASE("prune guard: n:m leaves the sensitive layer dense and keeps N:M on the other", "[prune][quality-guard]") {
  Run r = prune_run(test::sensitive_prune_model(), "granularity=n:m max-error=0.05");
  const GuardResult* g = r.guard();
  REQUIRE(g);
  INFO(g->failure);
  CHECK(g->passed);
  const size_t w1 = unit_index(*g, "W1"), w2 = unit_index(*g, "W2");
  CHECK(g->units[w1].levels == std::vector<std::string>{"2:4", "dense"});
  CHECK(g->units[w1].levels[g->units[w1].level] == "dense");
  CHECK(g->units[w2].level == 0);
  CHECK(sparsity(weight(*r.model, "W1")) == 0);
  // W2 [K=64, N=64]: at most 2 nonzeros in every 4 consecutive weights along K (axis 0).
  std::vector<float> w = weight(*r.model, "W2");
  int worst = 0;
  for (int col = 0; col < 64; ++col)
    for (int k0 = 0; k0 < 64; k0 += 4) {
      int nonzero = 0;
      for (int k = k0; k < k0 + 4; ++k) nonzero += w[static_cast<size_t>(k * 64 + col)] != 0.0f;
      worst = std::max(worst, nonzero);
    }
  CHECK(worst == 2);
  CHECK(has_note(r.result, "layer 'W1' (MatMul"));
  CHECK(has_note(r.result, "dense): target 0.0000"));
}

TEST_CASE("prune guard: channel pruning keeps the sensitive group's features and removes the other's",
          "[prune][quality-guard]") {
  Run r = prune_run(test::sensitive_channel_model(), "granularity=channel sparsity=0.5 max-error=0.05");
  const GuardResult* g = r.guard();
  REQUIRE(g);
  INFO(g->failure);
  CHECK(g->passed);
  REQUIRE(g->units.size() == 2);  // W1's and W2's features; W3's reach the output
  CHECK(g->units[0].rank == 1);   // W1's (its features all matter)
  CHECK(g->units[0].levels[g->units[0].level] == "dense");
  CHECK(g->units[1].level == 0);
  CHECK(matmul_weight_dims(*r.model, "a") == std::vector<int64_t>{32, 64});
  CHECK(matmul_weight_dims(*r.model, "b") == std::vector<int64_t>{64, 32});
  CHECK(matmul_weight_dims(*r.model, "y") == std::vector<int64_t>{32, 16});
  CHECK(g->fidelity.outputs[0].metrics.rel_l2_error <= 0.05);
  CHECK(r.result.counter("channels-removed") == 32);
  CHECK(has_note(r.result, "quality guard: planned 0.5000"));
}

TEST_CASE("prune guard: channel min-sparsity counts the channels removed", "[prune][quality-guard]") {
  Run r = prune_run(test::sensitive_channel_model(), "granularity=channel sparsity=0.5 max-error=0.05 min-sparsity=0.3");
  const GuardResult* g = r.guard();
  REQUIRE(g);
  CHECK_FALSE(g->passed);  // the limit holds at 32 of 128 channels removed: 0.25
  CHECK(g->failure.find("below min-sparsity 0.3000") != std::string::npos);
}

TEST_CASE("prune guard: option errors name the option", "[prune][quality-guard]") {
  auto run = [](const std::string& opts) { return try_prune(test::sensitive_prune_model(), opts); };
  auto alone = run("min-sparsity=0.3");
  REQUIRE_FALSE(alone);
  CHECK(alone.error().kind == ErrorKind::Usage);
  CHECK(alone.error().message.find("min-sparsity") != std::string::npos);
  auto above = run("sparsity=0.5 max-error=0.1 min-sparsity=0.6");
  REQUIRE_FALSE(above);
  CHECK(above.error().message.find("above the target sparsity") != std::string::npos);
  auto nm_above = run("granularity=n:m max-error=0.1 min-sparsity=0.6");
  REQUIRE_FALSE(nm_above);
  CHECK(nm_above.error().message.find("above the target sparsity 0.5000") != std::string::npos);
  auto bad = run("max-error=abc");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("prune: option 'max-error'") != std::string::npos);
}

TEST_CASE("prune guard: the ladder of levels", "[prune][quality-guard]") {
  using prune::Granularity;
  CHECK(prune::guard_ladder(0.5, Granularity::NM) == std::vector<double>{0.5, 0});
  std::vector<double> l = prune::guard_ladder(0.95, Granularity::Element);
  REQUIRE(l.size() >= 10);
  CHECK(l.front() == 0.95);
  CHECK(l.back() == 0);
  for (size_t i = 1; i < l.size(); ++i) {
    CHECK(l[i] < l[i - 1] - 0.02);  // descending, at least 0.025 apart (rounded)
    // The density grows by a quarter, or by the smallest gap.
    if (i + 1 < l.size()) CHECK(((1 - l[i]) <= (1 - l[i - 1]) * 1.25 + 1e-3 || l[i - 1] - l[i] <= 0.026));
  }
  CHECK(prune::guard_ladder(0, Granularity::Element) == std::vector<double>{0});
}
