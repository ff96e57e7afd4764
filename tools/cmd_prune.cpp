// effopt prune MODEL [-o OUT] [--sparsity S] [--granularity element|channel|n:m] [--n-m N:M] ...: the named
// pipeline @prune (the quantize preparation, the prune pass, then sparse-storage). Every prune option is a flag
// of the same name, generated from the pass's OptionSpec table (tools/pass_option_flags.h); plus
// --sparse-storage, --shape, the budget flags and the pass flags of `run`. The quality guard's limits are
// `compare`'s fidelity flags (--max-error, --metric, --min-sqnr, --min-accuracy) and its data `compare`'s
// sample flags (--data, --random, --seed, --range), as quantize has them; they become the pass options of the
// same names (--min-sparsity, the guard's budget, is a prune option).
#include "cli.h"
#include "fidelity_flags.h"
#include "pass/named_pipelines.h"
#include "pass_option_flags.h"
#include "transform.h"

namespace effopt::cli {

std::function<Status()> setup_prune(CLI::App& sub, GlobalOptions& g) {
  struct Opts : PipelineOpts {
    std::string sparse_storage = "auto";
    std::unique_ptr<PassOptionFlags> pass_flags;
    FidelityFlags fidelity;
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
  add_fidelity_flags(sub, o->fidelity);
  add_sample_flags(sub, o->samples, /*with_shape=*/false);
  o->with_data = true;
  add_pass_flags(sub, o->flags);
  add_budget_flags(sub, o->budgets);  // --shape also fixes the input shapes (fix-shapes)
  return [o, &g]() -> Status {
    EFFOPT_TRY_ASSIGN(std::string guard, fidelity_pass_options(o->fidelity));
    std::string options = o->pass_flags->options_text();
    if (!guard.empty()) options += (options.empty() ? "" : " ") + guard;
    std::string text = pass::prune_pipeline_text(o->budgets.shapes, options, o->sparse_storage);
    auto parsed = build_pipeline(text);
    if (!parsed) return std::move(parsed).error();
    return run_or_print(g, *o, "prune", "pruned", std::move(*parsed));
  };
}

}  // namespace effopt::cli
