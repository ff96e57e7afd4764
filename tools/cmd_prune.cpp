// effopt prune MODEL [-o OUT] [--sparsity S] [--granularity element|channel|n:m] [--n-m N:M] ...: the named
// pipeline @prune (the quantize preparation, the prune pass, then sparse-storage). Every prune option is a flag
// of the same name, generated from the pass's OptionSpec table (tools/pass_option_flags.h); plus
// --sparse-storage, --shape, the budget flags and the pass flags of `run`.
#include "cli.h"
#include "pass/named_pipelines.h"
#include "pass_option_flags.h"
#include "transform.h"

namespace effopt::cli {

std::function<Status()> setup_prune(CLI::App& sub, GlobalOptions& g) {
  struct Opts : PipelineOpts {
    std::string sparse_storage = "auto";
    std::unique_ptr<PassOptionFlags> pass_flags;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "input model (.onnx, or - for standard input)");
  const pass::PassInfo* info = pass::PassRegistry::global().find("prune");
  o->pass_flags = std::make_unique<PassOptionFlags>(sub, *info);
  sub.add_option("--sparse-storage", o->sparse_storage,
                 "store pruned tensors as ONNX sparse initializers: auto (where smaller than dense), on, off "
                 "(the sparse-storage pass, run last)")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->type_name("auto|on|off");
  add_pass_flags(sub, o->flags);
  add_budget_flags(sub, o->budgets);  // --shape also fixes the input shapes (fix-shapes)
  return [o, &g]() -> Status {
    std::string text = pass::prune_pipeline_text(o->budgets.shapes, o->pass_flags->options_text(), o->sparse_storage);
    auto parsed = build_pipeline(text);
    if (!parsed) return std::move(parsed).error();
    return run_or_print(g, *o, "prune", "pruned", std::move(*parsed));
  };
}

}  // namespace effopt::cli
