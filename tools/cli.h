// Shared pieces of the effopt command line: global options, the command
// table, output-path rules and the mapping from errors to exit codes.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "support/error.h"

namespace effopt::cli {

struct GlobalOptions {
  std::string output;
  int verbose = 0;
  bool quiet = false;
  std::string log_level;
  int threads = 0;  // 0 = all cores
  bool force = false;
  bool in_place = false;
  std::string report;
  bool external_data = false;
  // The command line as given (argv[1..]), for the reports of transforming commands (`command_line`).
  std::vector<std::string> argv;
};

// One subcommand: the table drives both parsing and --help.
struct Command {
  const char* name;
  const char* summary;
  // Adds the command's own options; returns the function that runs it.
  std::function<std::function<Status()>(CLI::App& sub, GlobalOptions& g)> setup;
};

const std::vector<Command>& commands();

// Where a transforming command writes: -o, --in-place, or beside the input
// with `suffix` (model.onnx -> model.<suffix>.onnx). Refuses to replace an
// existing file without --force and the input without --in-place.
Expected<std::string> resolve_output(const GlobalOptions& g, const std::string& input, const std::string& suffix);

// Writes `text` to FILE or "-" (stdout), atomically.
Status write_text(const std::string& path, const std::string& text);

}  // namespace effopt::cli
