// effopt run MODEL --passes PIPELINE [-o OUT]: any pipeline (docs/passes.md).
// effopt fuse MODEL [-o OUT] [--shape NAME=DIMS ...] [--opset N]: the named
// lossless cleanup-and-fusion pipeline (lib/pass/named_pipelines.cpp).
// Both: --verify-each, --check-outputs, --print-pipeline, budget flags; run
// also the data of calibrating and guarded passes (--calibration,
// --calibration-samples, --data, --random, --seed, --range: pass_data.h).
#include <cstdio>

#include "cli.h"
#include "pass/named_pipelines.h"
#include "transform.h"

namespace effopt::cli {

std::function<Status()> setup_run(CLI::App& sub, GlobalOptions& g) {
  struct Opts : PipelineOpts { std::string passes; };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "input model (.onnx, or - for standard input)");
  sub.add_option("--passes", o->passes, "the pipeline, e.g. 'fix-shapes{shapes=x=1,3,224,224},convert-opset{to=17}'")
      ->required();
  add_pass_flags(sub, o->flags);
  add_budget_flags(sub, o->budgets);
  add_calibration_flags(sub, o->calibration);
  add_sample_flags(sub, o->samples, /*with_shape=*/false);
  o->with_data = true;
  return [o, &g]() -> Status {
    EFFOPT_TRY_ASSIGN(pass::Pipeline p, build_pipeline(o->passes));
    return run_or_print(g, *o, "run", "opt", std::move(p));
  };
}

std::function<Status()> setup_fuse(CLI::App& sub, GlobalOptions& g) {
  struct Opts : PipelineOpts { int64_t opset = 0; };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "input model (.onnx, or - for standard input)");
  sub.add_option("--opset", o->opset, "convert to this default-domain opset (7..21) first; omitted = keep")
      ->check(CLI::Range(1, 1000));
  add_pass_flags(sub, o->flags);
  add_budget_flags(sub, o->budgets);  // --shape also fixes the input shapes (fix-shapes)
  return [o, &g]() -> Status {
    if (o->opset && (o->opset < 7 || o->opset > 21))
      return usage_error("--opset " + std::to_string(o->opset) + " is out of range: effopt converts to opsets 7..21");
    std::string text = pass::fuse_pipeline_text(o->opset, o->budgets.shapes);
    pass::Pipeline p;
    if (!text.empty()) {
      auto parsed = build_pipeline(text);
      if (!parsed) return std::move(parsed).error().context("--shape");
      p = std::move(*parsed);
    }
    return run_or_print(g, *o, "fuse", "fused", std::move(p));
  };
}

}  // namespace effopt::cli
