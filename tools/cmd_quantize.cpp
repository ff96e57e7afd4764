// effopt quantize MODEL [-o OUT] [--mode weight|dynamic|static|fp16] [--bits 4] ...: the named pipeline
// @quantize (preparation, then the quantize pass). Every quantize option is a flag of the same name,
// generated from the pass's OptionSpec table (tools/pass_option_flags.h); plus --opset, --shape, the budget
// flags and the pass flags of `run`.
#include "cli.h"
#include "pass/named_pipelines.h"
#include "pass_option_flags.h"
#include "transform.h"

namespace effopt::cli {

std::function<Status()> setup_quantize(CLI::App& sub, GlobalOptions& g) {
  struct Opts : PipelineOpts {
    int64_t opset = 0;
    std::unique_ptr<PassOptionFlags> pass_flags;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "input model (.onnx, or - for standard input)");
  sub.add_option("--opset", o->opset, "convert to this default-domain opset (7..21) first; omitted = keep (the "
                                      "quantize pass still raises it as far as the quantized form needs)")
      ->check(CLI::Range(1, 1000));
  const pass::PassInfo* info = pass::PassRegistry::global().find("quantize");
  o->pass_flags = std::make_unique<PassOptionFlags>(sub, *info);
  add_pass_flags(sub, o->flags);
  add_budget_flags(sub, o->budgets);  // --shape also fixes the input shapes (fix-shapes)
  return [o, &g]() -> Status {
    if (o->opset && (o->opset < 7 || o->opset > 21))
      return usage_error("--opset " + std::to_string(o->opset) + " is out of range: effopt converts to opsets 7..21");
    std::string text = pass::quantize_pipeline_text(o->opset, o->budgets.shapes, o->pass_flags->options_text());
    auto parsed = build_pipeline(text);
    if (!parsed) return std::move(parsed).error();
    return run_or_print(g, *o, "quantize", "quant", std::move(*parsed));
  };
}

}  // namespace effopt::cli
