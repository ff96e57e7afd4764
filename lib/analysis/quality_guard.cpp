// The quality guard's search (quality_guard.h).
#include "analysis/quality_guard.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

namespace effopt {

namespace {

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

// The sensitivity metric: the first limit given (quality_guard.h).
struct Metric {
  std::string name;
  bool higher_is_worse = true;
};

Metric guard_metric(const FidelityLimits& l) {
  if (l.max_error) return {metric_name(l.metric), true};
  if (l.min_sqnr_db) return {"sqnr", false};
  return {"accuracy", false};
}

// The metric's worst value over the checks that measure it (NaN: the worst possible).
double worst_value(const std::vector<LimitCheck>& checks, const Metric& m) {
  double worst = m.higher_is_worse ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  bool any = false;
  for (const LimitCheck& c : checks) {
    if (c.metric != m.name) continue;
    if (std::isnan(c.value)) return c.value;
    worst = any ? (m.higher_is_worse ? std::max(worst, c.value) : std::min(worst, c.value)) : c.value;
    any = true;
  }
  return any ? worst : 0;
}

// Larger = worse, NaN the worst of all.
double badness(double v, bool higher_is_worse) {
  if (std::isnan(v)) return std::numeric_limits<double>::infinity();
  return higher_is_worse ? v : -v;
}

// The error a metric value stands for, in units that roughly add up across units (GuardOptions::rank_per_mac).
double error_amount(double v, const Metric& m) {
  if (std::isnan(v)) return std::numeric_limits<double>::infinity();
  if (m.name == "sqnr") return std::pow(10.0, -v / 10.0);
  if (m.name == "accuracy") return 1.0 - v;
  return m.higher_is_worse ? v * v : -v;
}

struct Evaluation {
  FidelityResult fidelity;
  std::vector<LimitCheck> checks;
  double value = 0;
  double rel_l2 = 0;  // the worst output's relative L2 error (rerank's tie-break)
  bool passed = false;
  std::shared_ptr<Model> model;
};

}  // namespace

double top_fraction(const std::vector<GuardUnit>& units, const std::vector<size_t>& levels, uint64_t total_macs) {
  uint64_t total = total_macs;
  if (total == 0)
    for (const GuardUnit& u : units) total += u.macs;
  if (total == 0) return 0;
  uint64_t lowered = 0;
  for (size_t i = 0; i < units.size(); ++i)
    if (levels[i] + 1 < units[i].levels.size()) lowered += units[i].macs;
  lowered = std::min(lowered, total);
  return static_cast<double>(total - lowered) / static_cast<double>(total);
}

Expected<GuardData> guard_samples(const SampleSource* evaluation, const SampleSource* calibration,
                                  const exec::RandomInputOptions& random, const Graph& graph, size_t random_count) {
  GuardData d;
  if (evaluation) {
    d.samples = evaluation;
    d.origin = "evaluation data";
    return d;
  }
  if (calibration) {
    d.samples = calibration;
    d.origin = "calibration data";
    return d;
  }
  auto plan = exec::plan_random_inputs(graph, random);
  if (!plan)
    return std::move(plan).error().context(
        "the quality guard has no data (--data, --calibration) and cannot draw random inputs");
  d.owned = random_samples(std::move(*plan), random.seed, random_count);
  d.samples = d.owned.get();
  d.origin = "random inputs";
  d.warning = "the quality guard measures on " + d.owned->describe() +
              ": random inputs say little about how the model behaves on real data (give --data or --calibration)";
  return d;
}

Expected<GuardResult> run_quality_guard(const Model& original, const std::vector<GuardUnit>& units,
                                        const CandidateBuilder& build, const GuardData& data,
                                        const GuardOptions& options) {
  if (!data.samples) return internal_error("quality guard: no samples");
  const SampleSource& samples = *data.samples;
  if (!options.limits.any()) return usage_error("the quality guard needs a limit (--max-error, --min-sqnr or --min-accuracy)");
  if (samples.size() == 0) return usage_error("the quality guard needs at least one sample (" + samples.describe() + ")");
  for (const GuardUnit& u : units)
    if (u.levels.empty()) return internal_error("quality guard: unit '" + u.name + "' has no levels");
  const Metric metric = guard_metric(options.limits);
  GuardResult r;
  r.metric = metric.name;
  r.higher_is_worse = metric.higher_is_worse;
  r.samples = samples.describe();
  r.origin = data.origin;
  if (data.warning) r.warnings.push_back(*data.warning);
  r.max_top_fraction = options.max_top_fraction;

  FidelityOptions fo;
  fo.threads = std::max(1, options.threads);
  EFFOPT_TRY_ASSIGN(ReferenceOutputs reference, reference_outputs(original, samples, fo));

  auto evaluate = [&](const std::vector<size_t>& levels) -> Expected<Evaluation> {
    Evaluation e;
    EFFOPT_TRY_ASSIGN(std::unique_ptr<Model> candidate, build(levels));
    if (!candidate) return internal_error("quality guard: the candidate builder returned no model");
    e.model = std::move(candidate);
    EFFOPT_TRY_ASSIGN(e.fidelity, compare_to_reference(reference, *e.model, fo));
    EFFOPT_TRY_ASSIGN(e.checks, check_fidelity_limits(e.fidelity, options.limits));
    e.passed = std::all_of(e.checks.begin(), e.checks.end(), [](const LimitCheck& c) { return c.passed; });
    e.value = worst_value(e.checks, metric);
    for (const OutputFidelity& o : e.fidelity.outputs)
      e.rel_l2 = std::isnan(o.metrics.rel_l2_error) ? std::numeric_limits<double>::infinity()
                                                     : std::max(e.rel_l2, o.metrics.rel_l2_error);
    ++r.evaluations;
    return e;
  };
  auto top = [&](size_t u) { return units[u].levels.size() - 1; };
  auto budget_broken = [&](const std::vector<size_t>& levels) -> std::optional<std::string> {
    if (options.max_top_fraction) {
      double f = top_fraction(units, levels, options.total_macs);
      if (f > *options.max_top_fraction)
        return fmt(f) + " of the MACs would be left at " + options.top_name + ", more than the " +
               fmt(*options.max_top_fraction) + " allowed";
    }
    if (options.budget) return options.budget(levels);
    return std::nullopt;
  };

  std::vector<size_t> levels(units.size(), 0);
  EFFOPT_TRY_ASSIGN(Evaluation last, evaluate(levels));
  r.first_value = last.value;
  const std::optional<std::string> budget_at_start = budget_broken(levels);
  std::optional<std::string> budget_failure;
  std::vector<std::optional<double>> sensitivity(units.size());
  std::vector<size_t> rank(units.size(), 0);
  std::vector<double> tie(units.size(), 0);
  const size_t movable = static_cast<size_t>(
      std::count_if(units.begin(), units.end(), [](const GuardUnit& u) { return u.levels.size() > 1; }));

  if (!last.passed && !budget_at_start && movable > 0) {
    std::vector<size_t> order;
    for (size_t u = 0; u < units.size(); ++u) {
      if (top(u) == 0) continue;
      std::vector<size_t> alone(units.size());
      for (size_t k = 0; k < units.size(); ++k) alone[k] = top(k);
      alone[u] = 0;
      EFFOPT_TRY_ASSIGN(Evaluation e, evaluate(alone));
      sensitivity[u] = e.value;
      tie[u] = e.rel_l2;
      order.push_back(u);
    }
    uint64_t total = options.total_macs;
    if (total == 0)
      for (const GuardUnit& u : units) total += u.macs;
    if (options.rank_per_mac && total > 0) {
      const double floor_macs = std::max(1.0, static_cast<double>(total) / 1000.0);
      auto key = [&](size_t u) {
        return error_amount(*sensitivity[u], metric) / std::max(floor_macs, static_cast<double>(units[u].macs));
      };
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) > key(b); });
    } else {
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return badness(*sensitivity[a], metric.higher_is_worse) > badness(*sensitivity[b], metric.higher_is_worse);
      });
    }
    for (size_t i = 0; i < order.size(); ++i) rank[order[i]] = i + 1;
    // rerank: each unit's own error at its current level, per unit of `kept` its next step spends.
    std::vector<std::optional<double>> current = sensitivity;
    // Unsquared for higher-is-worse metrics (rel-l2 ...): rerank compares one unit's own error across steps.
    auto error_of = [&](double v) { return metric.higher_is_worse && !std::isnan(v) ? v : error_amount(v, metric); };
    auto step_cost = [&](size_t u) {
      if (u >= options.kept.size() || options.kept[u].size() != units[u].levels.size()) return 1.0;
      const std::vector<double>& kept = options.kept[u];
      return std::max(1e-12, kept[levels[u] + 1] - kept[levels[u]]);
    };
    auto pick = [&]() -> std::optional<size_t> {
      std::optional<size_t> best;
      double best_error = 0, best_tie = 0;
      for (size_t u : order) {  // rank order: the first of equals wins
        if (levels[u] >= top(u)) continue;
        const double cost = step_cost(u), e = error_of(*current[u]) / cost, t = tie[u] / cost;
        if (!best || e > best_error || (e == best_error && t > best_tie)) best = u, best_error = e, best_tie = t;
      }
      return best;
    };
    while (!last.passed) {
      std::optional<size_t> next;
      if (options.rerank) {
        next = pick();
      } else if (auto it = std::find_if(order.begin(), order.end(), [&](size_t u) { return levels[u] < top(u); });
                 it != order.end()) {
        next = *it;
      }
      if (!next) break;  // every unit at its top level
      const size_t u = *next;
      ++levels[u];
      if (auto why = budget_broken(levels)) {
        r.steps.push_back({u, levels[u], std::nullopt, false});
        budget_failure = "stepping '" + units[u].name + "' back to " + units[u].levels[levels[u]] + ": " + *why;
        --levels[u];  // the last candidate measured stays the result
        break;
      }
      EFFOPT_TRY_ASSIGN(last, evaluate(levels));
      r.steps.push_back({u, levels[u], last.value, last.passed});
      if (options.rerank && !last.passed && levels[u] < top(u)) {
        // The unit's own error at its new level places it among the others again.
        std::vector<size_t> alone(units.size());
        for (size_t k = 0; k < units.size(); ++k) alone[k] = top(k);
        alone[u] = levels[u];
        EFFOPT_TRY_ASSIGN(Evaluation e, evaluate(alone));
        current[u] = e.value;
        tie[u] = e.rel_l2;
      }
    }
  }

  bool all_top = true;
  for (size_t u = 0; u < units.size(); ++u) all_top = all_top && levels[u] == top(u);
  if (budget_at_start) {
    r.failure = "the budget is broken with every unit at its lowest level: " + *budget_at_start;
  } else if (budget_failure) {
    r.failure = "the limits need more than the budget allows: " + *budget_failure;
  } else if (!last.passed) {
    r.failure = movable == 0 ? "the limits do not hold, and no unit can be stepped back"
                             : "the limits do not hold even with every unit at " + options.top_name;
  } else if (all_top && movable > 0) {
    r.failure = "the limits hold only with every unit at " + options.top_name + " (nothing changed)";
  }
  r.passed = r.failure.empty();
  r.levels = levels;
  r.top_fraction = top_fraction(units, levels, options.total_macs);
  r.fidelity = std::move(last.fidelity);
  r.checks = std::move(last.checks);
  r.model = std::move(last.model);
  for (const std::string& w : r.fidelity.warnings)
    if (std::find(r.warnings.begin(), r.warnings.end(), w) == r.warnings.end()) r.warnings.push_back(w);

  for (size_t u = 0; u < units.size(); ++u) {
    GuardUnitResult ur;
    ur.name = units[u].name;
    ur.levels = units[u].levels;
    ur.macs = units[u].macs;
    ur.level = levels[u];
    ur.sensitivity = sensitivity[u];
    ur.rank = rank[u];
    const std::string& at = units[u].levels[levels[u]];
    std::string alone = sensitivity[u] ? " (" + metric.name + " " + fmt(*sensitivity[u]) + " with only it at " +
                                             units[u].levels[0] + ")"
                                       : "";
    if (top(u) == 0) {
      ur.reason = "at " + at + ": its only level";
    } else if (levels[u] == 0) {
      ur.reason = "at " + at + ", its lowest level" +
                  (rank[u] ? ": sensitivity rank " + std::to_string(rank[u]) + " of " + std::to_string(movable) + alone
                           : std::string(last.passed ? ": the limits hold" : ""));
    } else {
      ur.reason = "stepped back to " + at + " because the limits did not hold with it lower: sensitivity rank " +
                  std::to_string(rank[u]) + " of " + std::to_string(movable) + alone;
    }
    r.units.push_back(std::move(ur));
  }
  return r;
}

}  // namespace effopt
