// The quality guard's search (analysis/quality_guard.h) on a tiny graph whose
// "lossy" levels perturb one weight each by a known amount, and clone_model,
// which every candidate starts from.
#include <catch2/catch.hpp>

#include <cstring>

#include "analysis/quality_guard.h"
#include "exec/executor.h"
#include "onnx/model_io.h"
#include "util/test_util.h"

using namespace effopt;
using exec::TensorValue;

namespace {

// Y = X * A + X * B + X * C: each weight a unit; its lowest level adds `delta` to it.
constexpr const char* kThreeWeights = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] X) => (float[4] Y) <float[4] A = {1, 1, 1, 1}, float[4] B = {1, 1, 1, 1}, float[4] C = {1, 1, 1, 1}> {
  PA = Mul(X, A)
  PB = Mul(X, B)
  PC = Mul(X, C)
  S = Add(PA, PB)
  Y = Add(S, PC)
}
)";

void add_to_initializer(Model& m, const std::string& name, float delta) {
  Value* v = m.graph->find(name);
  REQUIRE(v);
  REQUIRE(v->initializer);
  auto t = std::make_shared<Tensor>(*v->initializer);
  std::vector<std::byte> bytes(t->byte_size());
  std::memcpy(bytes.data(), v->initializer->bytes().data(), bytes.size());
  for (size_t i = 0; i < bytes.size() / 4; ++i) {
    float f;
    std::memcpy(&f, bytes.data() + 4 * i, 4);
    f += delta;
    std::memcpy(bytes.data() + 4 * i, &f, 4);
  }
  t->set_bytes(std::move(bytes));
  v->initializer = t;
}

struct Fixture {
  std::unique_ptr<Model> original = test::parse_or_fail(kThreeWeights);
  // Perturbations: Y = 3X exactly; a unit at its lowest level adds delta * X, so rel-l2 = sum of deltas / 3.
  std::vector<float> deltas = {0.03f, 0.3f, 0.003f};
  std::vector<GuardUnit> units = {{"A", {"int8", "float"}, 100}, {"B", {"int8", "float"}, 100}, {"C", {"int8", "float"}, 100}};
  std::vector<std::vector<size_t>> built;
  CandidateBuilder build = [this](const std::vector<size_t>& levels) -> Expected<std::unique_ptr<Model>> {
    built.push_back(levels);
    EFFOPT_TRY_ASSIGN(std::unique_ptr<Model> m, clone_model(*original));
    const char* names[] = {"A", "B", "C"};
    for (size_t u = 0; u < 3; ++u)
      if (levels[u] == 0) add_to_initializer(*m, names[u], deltas[u]);
    return m;
  };
  std::unique_ptr<SampleSource> samples;
  GuardData data;
  Fixture() {
    exec::RandomInputOptions ro;
    ro.ranges = {{"", 1, 2}};
    auto plan = exec::plan_random_inputs(*original->graph, ro);
    REQUIRE(plan);
    samples = random_samples(*plan, 1, 3);
    data.samples = samples.get();
    data.origin = "evaluation data";
  }
};

}  // namespace

TEST_CASE("clone_model: a deep copy sharing tensor bytes", "[quality-guard]") {
  auto m = test::parse_or_fail(kThreeWeights);
  auto c = clone_model(*m);
  REQUIRE(c);
  REQUIRE((*c)->graph->nodes().size() == 5);
  Value* a = m->graph->find("A");
  Value* ca = (*c)->graph->find("A");
  REQUIRE(ca);
  CHECK(ca != a);
  CHECK(ca->initializer->bytes().data() == a->initializer->bytes().data());  // shared, not copied
  // Changing the copy leaves the original alone.
  add_to_initializer(**c, "A", 1);
  float first;
  std::memcpy(&first, a->initializer->bytes().data(), 4);
  CHECK(first == 1);
  std::memcpy(&first, (*c)->graph->find("A")->initializer->bytes().data(), 4);
  CHECK(first == 2);
}

TEST_CASE("quality guard: ranks units by sensitivity and steps the most sensitive back until the limit holds",
          "[quality-guard]") {
  Fixture f;
  GuardOptions o;
  // All lowered: rel-l2 = 0.333 / 3 = 0.111. B alone 0.1, A alone 0.01, C alone 0.001.
  // Limit 0.02: B back to float gives 0.011 -> passes with A and C lowered.
  o.limits.max_error = 0.02;
  auto r = run_quality_guard(*f.original, f.units, f.build, f.data, o);
  REQUIRE(r);
  CHECK(r->passed);
  CHECK(r->failure.empty());
  CHECK(r->metric == "rel-l2");
  CHECK(r->levels == std::vector<size_t>{0, 1, 0});
  CHECK(r->first_value == Approx(0.333 / 3).epsilon(1e-4));
  REQUIRE(r->units.size() == 3);
  CHECK(r->units[1].rank == 1);
  CHECK(r->units[0].rank == 2);
  CHECK(r->units[2].rank == 3);
  REQUIRE(r->units[1].sensitivity);
  CHECK(*r->units[1].sensitivity == Approx(0.1).epsilon(1e-4));
  CHECK(*r->units[0].sensitivity == Approx(0.01).epsilon(1e-4));
  CHECK(r->units[1].reason.find("stepped back to float") != std::string::npos);
  REQUIRE(r->steps.size() == 1);
  CHECK(r->steps[0].unit == 1);
  CHECK(r->steps[0].passed);
  CHECK(*r->steps[0].value == Approx(0.033 / 3).epsilon(1e-4));
  // 1 first candidate + 3 sensitivity runs + 1 step.
  CHECK(r->evaluations == 5);
  CHECK(f.built.size() == 5);
  CHECK(r->top_fraction == Approx(1.0 / 3));
  REQUIRE(r->model);
  CHECK(r->fidelity.outputs.size() == 1);
  CHECK(r->checks.size() == 1);
  CHECK(r->checks[0].passed);
}

TEST_CASE("quality guard: rank_per_mac steps back the unit with the most error per MAC, not the most error",
          "[quality-guard]") {
  Fixture f;
  // B alone 0.1 over 100000 MACs, A alone 0.01 over 100, C alone 0.001 over 100 (squared per MAC: A 1e-6,
  // B 1e-7, C 1e-8). All lowered 0.111; limit 0.105: A back alone gives 0.101 and leaves B's MACs lowered.
  f.units[1].macs = 100000;
  GuardOptions o;
  o.limits.max_error = 0.105;
  o.rank_per_mac = true;
  auto r = run_quality_guard(*f.original, f.units, f.build, f.data, o);
  REQUIRE(r);
  CHECK(r->passed);
  CHECK(r->levels == std::vector<size_t>{1, 0, 0});
  REQUIRE(r->units.size() == 3);
  CHECK(r->units[0].rank == 1);
  CHECK(r->units[1].rank == 2);
  CHECK(r->units[2].rank == 3);
  CHECK(r->top_fraction == Approx(100.0 / 100200));
  // By sensitivity alone, B (the most error) goes first and leaves most MACs at the top level.
  o.rank_per_mac = false;
  auto s = run_quality_guard(*f.original, f.units, f.build, f.data, o);
  REQUIRE(s);
  CHECK(s->passed);
  CHECK(s->levels == std::vector<size_t>{0, 1, 0});
  CHECK(s->top_fraction == Approx(100000.0 / 100200));
}

TEST_CASE("quality guard: no search when the first candidate passes", "[quality-guard]") {
  Fixture f;
  GuardOptions o;
  o.limits.max_error = 0.5;
  auto r = run_quality_guard(*f.original, f.units, f.build, f.data, o);
  REQUIRE(r);
  CHECK(r->passed);
  CHECK(r->levels == std::vector<size_t>{0, 0, 0});
  CHECK(r->evaluations == 1);
  CHECK(r->units[0].rank == 0);
  CHECK_FALSE(r->units[0].sensitivity);
}

TEST_CASE("quality guard: fails when the limit holds only with nothing changed, or past the budget",
          "[quality-guard]") {
  SECTION("nothing changed") {
    Fixture f;
    GuardOptions o;
    o.limits.max_error = 0.0005;  // below C alone: every unit must go back
    o.top_name = "float";
    auto r = run_quality_guard(*f.original, f.units, f.build, f.data, o);
    REQUIRE(r);
    CHECK_FALSE(r->passed);
    CHECK(r->levels == std::vector<size_t>{1, 1, 1});
    CHECK(r->failure.find("only with every unit at float") != std::string::npos);
    CHECK(r->steps.size() == 3);
  }
  SECTION("max_top_fraction") {
    Fixture f;
    GuardOptions o;
    o.limits.max_error = 0.005;  // needs B and A back: 2/3 of the MACs
    o.max_top_fraction = 0.5;
    o.top_name = "float";
    auto r = run_quality_guard(*f.original, f.units, f.build, f.data, o);
    REQUIRE(r);
    CHECK_FALSE(r->passed);
    CHECK(r->failure.find("more than the 0.5 allowed") != std::string::npos);
    // The last candidate measured (B back) is the result; the step past the budget is recorded unmeasured.
    CHECK(r->levels == std::vector<size_t>{0, 1, 0});
    REQUIRE(r->steps.size() == 2);
    CHECK_FALSE(r->steps[1].value);
    CHECK(r->top_fraction == Approx(1.0 / 3));
  }
  SECTION("a custom budget") {
    Fixture f;
    GuardOptions o;
    o.limits.max_error = 0.005;
    o.budget = [](const std::vector<size_t>& levels) -> std::optional<std::string> {
      if (levels[0] == 1) return std::string("A must stay lowered");
      return std::nullopt;
    };
    auto r = run_quality_guard(*f.original, f.units, f.build, f.data, o);
    REQUIRE(r);
    CHECK_FALSE(r->passed);
    CHECK(r->failure.find("A must stay lowered") != std::string::npos);
  }
}

TEST_CASE("quality guard: sqnr as the metric, and usage errors", "[quality-guard]") {
  Fixture f;
  GuardOptions o;
  // SQNR of all lowered: 20 log10(3 / 0.333) = 19.1 dB; B back: 20 log10(3 / 0.033) = 39.2 dB.
  o.limits.min_sqnr_db = 30;
  auto r = run_quality_guard(*f.original, f.units, f.build, f.data, o);
  REQUIRE(r);
  CHECK(r->metric == "sqnr");
  CHECK_FALSE(r->higher_is_worse);
  CHECK(r->passed);
  CHECK(r->levels == std::vector<size_t>{0, 1, 0});
  GuardOptions none;
  auto u = run_quality_guard(*f.original, f.units, f.build, f.data, none);
  REQUIRE_FALSE(u);
  CHECK(u.error().kind == ErrorKind::Usage);
}

TEST_CASE("quality guard: data falls back to calibration, then to random inputs with a warning", "[quality-guard]") {
  auto m = test::parse_or_fail(kThreeWeights);
  auto plan = exec::plan_random_inputs(*m->graph, {});
  REQUIRE(plan);
  auto a = random_samples(*plan, 1, 2), b = random_samples(*plan, 2, 2);
  auto eval = guard_samples(a.get(), b.get(), {}, *m->graph);
  REQUIRE(eval);
  CHECK(eval->samples == a.get());
  CHECK_FALSE(eval->warning);
  auto cal = guard_samples(nullptr, b.get(), {}, *m->graph);
  REQUIRE(cal);
  CHECK(cal->samples == b.get());
  CHECK(cal->origin == "calibration data");
  auto rnd = guard_samples(nullptr, nullptr, {}, *m->graph);
  REQUIRE(rnd);
  REQUIRE(rnd->samples);
  CHECK(rnd->samples->size() == 4);
  REQUIRE(rnd->warning);
  CHECK(rnd->warning->find("random inputs say little") != std::string::npos);
  auto dynamic = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N] X) => (float[N] Y) {
  Y = Relu(X)
}
)");
  auto no_dims = guard_samples(nullptr, nullptr, {}, *dynamic->graph);
  REQUIRE_FALSE(no_dims);
  CHECK(no_dims.error().message.find("cannot draw random inputs") != std::string::npos);
}

TEST_CASE("quality guard: rerank steps the unit with the largest own error per `kept` a step restores",
          "[quality-guard]") {
  // Y = X * A + X * B + X * C with C never lowered. A and B have three levels: the lowest adds delta, the middle
  // delta / 2, the top nothing. B is more sensitive (0.33 against 0.3) but a hundred times dearer to step back.
  Fixture f;
  f.deltas = {0.3f, 0.33f, 0.0f};
  std::vector<GuardUnit> units = {{"A", {"low", "mid", "float"}, 0}, {"B", {"low", "mid", "float"}, 0}};
  CandidateBuilder build = [&f](const std::vector<size_t>& levels) -> Expected<std::unique_ptr<Model>> {
    EFFOPT_TRY_ASSIGN(std::unique_ptr<Model> m, clone_model(*f.original));
    const char* names[] = {"A", "B"};
    for (size_t u = 0; u < 2; ++u)
      if (levels[u] < 2) add_to_initializer(*m, names[u], f.deltas[u] / (levels[u] == 0 ? 1.0f : 2.0f));
    return m;
  };
  GuardOptions o;
  // All lowered: rel-l2 0.63 / 3 = 0.21; A alone 0.1, B alone 0.11. Limit 0.12: one unit back to float
  // (either gives 0.11 or 0.1), one level is not enough (0.16 or 0.155).
  o.limits.max_error = 0.12;
  SECTION("plain: the most sensitive unit (B) goes to its top") {
    auto r = run_quality_guard(*f.original, units, build, f.data, o);
    REQUIRE(r);
    CHECK(r->passed);
    CHECK(r->levels == std::vector<size_t>{0, 2});
    CHECK(r->evaluations == 5);  // first, two sensitivities, two steps
  }
  SECTION("rerank: A's error per kept is larger, so A steps, is measured again, and steps again") {
    o.rerank = true;
    o.kept = {{0, 1, 2}, {0, 100, 200}};
    auto r = run_quality_guard(*f.original, units, build, f.data, o);
    REQUIRE(r);
    CHECK(r->passed);
    CHECK(r->levels == std::vector<size_t>{2, 0});
    REQUIRE(r->steps.size() == 2);
    CHECK(r->steps[0].unit == 0);
    CHECK(r->steps[1].unit == 0);
    CHECK(r->evaluations == 6);  // first, two sensitivities, two steps, A alone at "mid"
    CHECK(r->units[1].rank == 1);  // the reported ranks stay the sensitivities'
  }
  SECTION("rerank without kept: each step costs 1, so the larger own error (B) goes first") {
    o.rerank = true;
    auto r = run_quality_guard(*f.original, units, build, f.data, o);
    REQUIRE(r);
    CHECK(r->passed);
    REQUIRE_FALSE(r->steps.empty());
    CHECK(r->steps[0].unit == 1);
  }
}
