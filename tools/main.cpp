// effopt: the command line. The only place that ends the process; lib/
// returns errors as values and they become exit codes here (docs/cli.md):
// 0 ok, 1 usage, 2 invalid model, 3 check failed, 4 I/O, 5 internal error.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <iostream>

#include "cli.h"
#include "support/atomic_file.h"
#include "support/progress.h"

namespace effopt::cli {

std::function<Status()> setup_convert(CLI::App& sub, GlobalOptions& g);
std::function<Status()> setup_inspect(CLI::App& sub, GlobalOptions& g);
std::function<Status()> setup_report(CLI::App& sub, GlobalOptions& g);
std::function<Status()> setup_check(CLI::App& sub, GlobalOptions& g);
std::function<Status()> setup_compare(CLI::App& sub, GlobalOptions& g);
std::function<Status()> setup_passes(CLI::App& sub, GlobalOptions& g);
std::function<Status()> setup_run(CLI::App& sub, GlobalOptions& g);
std::function<Status()> setup_fuse(CLI::App& sub, GlobalOptions& g);
std::function<Status()> setup_quantize(CLI::App& sub, GlobalOptions& g);
std::function<Status()> setup_prune(CLI::App& sub, GlobalOptions& g);
std::function<Status()> setup_sweep(CLI::App& sub, GlobalOptions& g);

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"convert", "Round-trip a model losslessly, or move it to another opset (--opset 7..21)", setup_convert},
      {"inspect", "Show a model's opsets, inputs/outputs, ops, parameters and weight bytes", setup_inspect},
      {"report", "Footprint report: parameters, bytes, compressed sizes, MACs, activation memory (or a diff of two)",
       setup_report},
      {"check", "Fail (exit 3) when a model exceeds a budget: --max-bytes, --max-macs, ...", setup_check},
      {"compare", "Compare two models' outputs (or a model with expected outputs): errors, SQNR, top-1, accuracy", setup_compare},
      {"passes", "List the passes with their options (or one pass with its docs; --markdown: docs/passes.md)",
       setup_passes},
      {"run", "Run a pass pipeline: --passes 'a,b{key=value},repeat{max-iterations=8}(c,d)'", setup_run},
      {"fuse", "Lossless cleanup and operator fusion (the named fuse pipeline); --opset N converts first", setup_fuse},
      {"quantize", "Quantize a model: int8/int4 weights (default), dynamic integer MatMuls, or float16 (@quantize)",
       setup_quantize},
      {"prune", "Prune weights by magnitude (element or N:M sparsity), then store them sparse where smaller (@prune)",
       setup_prune},
      {"sweep", "Run a grid of pipelines: size, MACs and error of each, the Pareto frontier, the best under --max-error",
       setup_sweep},
  };
  return table;
}

namespace {

void setup_logging(const GlobalOptions& g) {
  auto logger = spdlog::stderr_color_mt("effopt");
  logger->set_pattern(isatty(STDERR_FILENO) ? "%^%l%$: %v" : "%l: %v");
  spdlog::set_default_logger(logger);
  auto level = spdlog::level::info;
  if (g.quiet) level = spdlog::level::warn;
  if (g.verbose == 1) level = spdlog::level::debug;
  if (g.verbose >= 2) level = spdlog::level::trace;
  if (!g.log_level.empty()) level = spdlog::level::from_str(g.log_level);
  spdlog::set_level(level);
}

int report_error(const Error& e) {
  std::string prefix = e.kind == ErrorKind::Internal ? "internal error (a bug in effopt; please report it): " : "";
  std::fprintf(stderr, "effopt: error: %s%s\n", prefix.c_str(), e.message.c_str());
  return static_cast<int>(e.kind);
}

int run(int argc, char** argv) {
  CLI::App app{"effopt: make ONNX models smaller and cheaper to run, and show what it cost.", "effopt"};
  app.set_version_flag("--version", std::string("effopt ") + EFFOPT_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions g;
  app.add_option("-o,--output", g.output, "output model path (- = standard output)");
  app.add_flag("-v,--verbose", g.verbose, "more log output (-vv for trace)");
  app.add_flag("-q,--quiet", g.quiet, "only warnings and errors");
  app.add_option("--log-level", g.log_level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_option("--threads", g.threads, "worker threads (0 = all cores); results do not depend on it")
      ->check(CLI::Range(0, 1024));
  app.add_flag("--force", g.force, "replace an existing output file");
  app.add_flag("--in-place", g.in_place, "replace the input model with the result");
  app.add_option("--report", g.report, "write a JSON report to FILE (- = standard output)");
  app.add_flag("--external-data", g.external_data, "write tensors to a separate .data file");

  g.argv.assign(argv + 1, argv + argc);
  std::function<Status()> action;
  for (const Command& c : commands()) {
    CLI::App* sub = app.add_subcommand(c.name, c.summary);
    auto fn = c.setup(*sub, g);
    sub->callback([&action, fn] { action = fn; });
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::string msg = e.what();
    // Without a known command CLI11 only says "A subcommand is required":
    // name the word it did not recognize instead.
    if (app.get_subcommands().empty() && !app.remaining().empty()) {
      const std::string word = app.remaining().front();
      msg = (word.rfind('-', 0) == 0 ? "unknown option '" : "unknown command '") + word + "' (commands:";
      for (const Command& c : commands()) msg += std::string(" ") + c.name;
      msg += ")";
    }
    std::fprintf(stderr, "effopt: error: %s\nRun 'effopt --help' for usage.\n", msg.c_str());
    return static_cast<int>(ErrorKind::Usage);
  }
  setup_logging(g);
  set_progress_enabled(!g.quiet);
  install_cleanup_handlers();
  Status st = action();
  if (!st) return report_error(st.error());
  return 0;
}

}  // namespace
}  // namespace effopt::cli

int main(int argc, char** argv) {
  try {
    return effopt::cli::run(argc, argv);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "effopt: error: out of memory\n");
    return static_cast<int>(effopt::ErrorKind::IO);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "effopt: error: internal error (a bug in effopt; please report it): %s\n", e.what());
    return static_cast<int>(effopt::ErrorKind::Internal);
  }
}
