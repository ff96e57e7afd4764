// effopt convert MODEL [-o OUT] [--opset N] [--external-data]
// A lossless round trip, or a move to another opset (7..21) through the
// convert-opset pass (so the pipeline is recorded like any other).
#include "cli.h"
#include "transform.h"

namespace effopt::cli {

std::function<Status()> setup_convert(CLI::App& sub, GlobalOptions& g) {
  struct Opts { std::string model; int64_t opset = 0; BudgetFlags budgets; };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "input model (.onnx, or - for standard input)")->required();
  sub.add_option("--opset", o->opset, "target opset of the default domain (7..21); omitted = keep")
      ->check(CLI::Range(1, 1000));
  add_budget_flags(sub, o->budgets);
  return [o, &g]() -> Status {
    TransformJob job;
    job.command = "convert";
    job.input = o->model;
    job.suffix = "converted";
    job.budgets = &o->budgets;
    if (o->opset) {
      if (o->opset < 7 || o->opset > 21)
        return usage_error("--opset " + std::to_string(o->opset) + " is out of range: effopt converts to opsets 7..21");
      EFFOPT_TRY_ASSIGN(job.pipeline, build_pipeline("convert-opset{to=" + std::to_string(o->opset) + "}"));
    }
    return run_transform(g, job);
  };
}

}  // namespace effopt::cli
