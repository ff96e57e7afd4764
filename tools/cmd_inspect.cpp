// effopt inspect MODEL [--json]: what a model is made of.
#include <cstdio>

#include "analysis/model_summary.h"
#include "cli.h"
#include "onnx/model_io.h"
#include "report/run_report.h"

namespace effopt::cli {

std::function<Status()> setup_inspect(CLI::App& sub, GlobalOptions& g) {
  struct Opts { std::string model; bool json = false; };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "model to inspect (.onnx, or - for standard input)")->required();
  sub.add_flag("--json", o->json, "print JSON instead of a table");
  return [o, &g]() -> Status {
    (void)g;
    EFFOPT_TRY_ASSIGN(auto model, load_model(o->model));
    ModelSummary s = summarize(*model);
    std::string text = o->json ? json_text(to_json(s)) : to_text(s);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return ok();
  };
}

}  // namespace effopt::cli
