// effopt compare A.onnx [B.onnx] [--data PATH ... | --random N --seed S [--range ...] [--shape ...]]
//   [--max-error E [--metric M]] [--min-sqnr DB] [--min-accuracy A] [--json] [--per-node]
// Two models: both run on the same inputs and every output is compared
// (reference A, candidate B). One model: compared with the expected outputs
// of the --data folders, and scored on their labels.pb. Exit 3 when a limit
// is broken. docs/cli.md ("compare") has the details.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

#include "cli.h"
#include "fidelity_flags.h"
#include "onnx/model_io.h"
#include "report/fidelity_report.h"
#include "report/run_report.h"

namespace effopt::cli {

std::function<Status()> setup_compare(CLI::App& sub, GlobalOptions& g) {
  struct Opts {
    std::vector<std::string> models;
    SampleFlags samples;
    FidelityFlags limits;
    bool json = false;
    bool per_node = false;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("models", o->models, "A.onnx (reference) [B.onnx (candidate)]; one model compares with --data's outputs")
      ->required()
      ->expected(1, 2);
  add_sample_flags(sub, o->samples);
  add_fidelity_flags(sub, o->limits);
  sub.add_flag("--json", o->json, "print the fidelity report as JSON (docs/report.md)");
  sub.add_flag("--per-node", o->per_node, "also compare every intermediate value the two models share, in graph order");
  return [o, &g]() -> Status {
    EFFOPT_TRY_ASSIGN(FidelityLimits limits, parse_fidelity_flags(o->limits));
    const bool two = o->models.size() == 2;
    if (!two && o->samples.data.empty())
      return usage_error("compare with one model needs --data folders holding expected outputs (output_K.pb)");
    if (!two && o->samples.random) return usage_error("--random needs two models (random inputs have no expected outputs)");
    if (!two && o->per_node) return usage_error("--per-node needs two models");
    if (!g.output.empty()) return usage_error("compare writes no model: -o/--output does not apply (use --report FILE)");
    if (o->json && g.report == "-") return usage_error("--json and --report - both print to standard output; use one");
    EFFOPT_TRY_ASSIGN(auto reference, load_model(o->models[0]));
    std::unique_ptr<Model> candidate;
    if (two) {
      EFFOPT_TRY_ASSIGN(candidate, load_model(o->models[1]));
    }
    EFFOPT_TRY_ASSIGN(auto samples, make_samples(o->samples, *reference->graph, two ? 1 : 0));
    FidelityOptions fo;
    fo.threads = executor_threads(g);
    fo.per_node = o->per_node;
    fo.limits = limits;
    spdlog::debug("compare: {} on {} thread(s)", samples->describe(), fo.threads);
    EFFOPT_TRY_ASSIGN(FidelityResult r, two ? compare_models(*reference, *candidate, *samples, fo)
                                            : compare_to_expected(*reference, *samples, fo));
    for (const std::string& w : r.warnings) spdlog::warn("{}", w);
    EFFOPT_TRY_ASSIGN(std::vector<LimitCheck> checks, check_fidelity_limits(r, limits));
    FidelitySubjects who{two ? o->models[0] : "", two ? o->models[1] : o->models[0]};
    if (!g.report.empty()) EFFOPT_TRY(write_text(g.report, json_text(fidelity_report(r, checks, who))));
    std::string text = o->json ? json_text(fidelity_report(r, checks, who))
                               : fidelity_text(r, checks, who, isatty(STDOUT_FILENO) != 0);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return fidelity_limits_status(checks);
  };
}

}  // namespace effopt::cli
