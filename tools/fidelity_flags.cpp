// Fidelity limit and sample flags (fidelity_flags.h).
#include "fidelity_flags.h"

#include <cmath>
#include <cstdlib>
#include <thread>

#include "analysis/shape_propagation.h"
#include "exec/random_inputs.h"
#include "pass/pipeline.h"

namespace effopt::cli {

void add_fidelity_flags(CLI::App& sub, FidelityFlags& f) {
  sub.add_option("--max-error", f.max_error, "fail (exit 3) when an output's error in --metric exceeds E")
      ->type_name("E");
  sub.add_option("--metric", f.metric, "the --max-error metric: " + metric_names() + " (default rel-l2)")
      ->type_name("M");
  sub.add_option("--min-sqnr", f.min_sqnr, "fail (exit 3) when an output's SQNR is below DB decibels")->type_name("DB");
  sub.add_option("--min-accuracy", f.min_accuracy, "fail (exit 3) when the accuracy on labels.pb is below A (0..1)")
      ->type_name("A");
}

namespace {
Expected<double> parse_number(const char* flag, const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || !std::isfinite(v)) return usage_error(std::string(flag) + " " + text + ": not a number");
  return v;
}
}  // namespace

Expected<FidelityLimits> parse_fidelity_flags(const FidelityFlags& f) {
  FidelityLimits l;
  if (!f.max_error.empty()) {
    EFFOPT_TRY_ASSIGN(double v, parse_number("--max-error", f.max_error));
    if (v < 0) return usage_error("--max-error " + f.max_error + ": an error limit cannot be negative");
    l.max_error = v;
  }
  if (!f.metric.empty()) {
    if (!l.max_error) return usage_error("--metric " + f.metric + " needs --max-error E");
    EFFOPT_TRY_ASSIGN(l.metric, parse_metric(f.metric));
  }
  if (!f.min_sqnr.empty()) {
    EFFOPT_TRY_ASSIGN(double v, parse_number("--min-sqnr", f.min_sqnr));
    l.min_sqnr_db = v;
  }
  if (!f.min_accuracy.empty()) {
    EFFOPT_TRY_ASSIGN(double v, parse_number("--min-accuracy", f.min_accuracy));
    if (v < 0 || v > 1) return usage_error("--min-accuracy " + f.min_accuracy + ": a fraction from 0 to 1 (0.99 = 99%)");
    l.min_accuracy = v;
  }
  return l;
}

Expected<std::string> fidelity_pass_options(const FidelityFlags& f) {
  EFFOPT_TRY(parse_fidelity_flags(f));  // usage errors name the flags
  std::string text;
  for (const auto& [name, value] : {std::pair{"max-error", &f.max_error}, std::pair{"metric", &f.metric},
                                    std::pair{"min-sqnr", &f.min_sqnr}, std::pair{"min-accuracy", &f.min_accuracy}})
    if (!value->empty()) text += (text.empty() ? "" : " ") + std::string(name) + "=" + pass::quote_option_value(*value);
  return text;
}

void add_sample_flags(CLI::App& sub, SampleFlags& f, bool with_shape) {
  sub.add_option("--data", f.data,
                 "inputs: a test_data_set folder (input_K.pb), a folder of NAME.npy files, a folder of test_data_set_* "
                 "folders, or a .npy/.pb file; repeat for more samples")
      ->type_name("PATH");
  sub.add_option("--random", f.random, "inputs: N seeded random samples (floats in [-1,1), integers in [0,10)); default 1 with two models")
      ->type_name("N")
      ->check(CLI::Range(1, 1000000));
  sub.add_option("--seed", f.seed, "seed of --random (default 0)")->type_name("S")->each([&f](const std::string&) { f.seed_given = true; });
  sub.add_option("--range", f.ranges, "range of --random values: NAME=LO:HI, or LO:HI for every input ([LO, HI))")
      ->type_name("NAME=LO:HI");
  if (with_shape)
    sub.add_option("--shape", f.shapes, "shape of --random inputs: NAME=1x3x224x224, or a symbolic dim N=1")
        ->type_name("NAME=DIMS");
}

Expected<std::unique_ptr<SampleSource>> make_samples(const SampleFlags& f, const Graph& graph, size_t default_random) {
  if (!f.data.empty()) {
    if (f.random) return usage_error("--data and --random cannot be used together");
    if (f.seed_given || !f.ranges.empty() || !f.shapes.empty())
      return usage_error("--seed, --range and --shape shape --random inputs; --data files bring their own");
    return data_samples(f.data, graph);
  }
  size_t n = f.random ? f.random : default_random;
  if (n == 0) return usage_error("give the inputs: --data PATH (or --random N with two models)");
  exec::RandomInputOptions ro;
  ro.seed = f.seed;
  for (const std::string& s : f.shapes) {
    EFFOPT_TRY_ASSIGN(ShapeBinding b, parse_shape_binding(s));
    ro.shapes.push_back({b.name, b.dims});
  }
  for (const std::string& s : f.ranges) {
    EFFOPT_TRY_ASSIGN(exec::RangeSpec r, exec::parse_range(s));
    ro.ranges.push_back(r);
  }
  EFFOPT_TRY_ASSIGN(auto plan, exec::plan_random_inputs(graph, ro));
  return random_samples(std::move(plan), f.seed, n);
}

int executor_threads(const GlobalOptions& g) {
  return g.threads > 0 ? g.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace effopt::cli
