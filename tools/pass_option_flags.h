// Command-line flags generated from a pass's OptionSpec table: `--NAME` for
// every option of the pass (a Bool option is a flag, with `--NEGATION` when
// its spec names one), checked with the same rules as pipeline text, and
// turned back into the pass's `{key=value ...}` for the options given. The
// table thus drives `effopt quantize`'s parsing and --help, `effopt passes
// quantize` and docs/passes.md alike.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "pass/pass.h"

namespace effopt::cli {

class PassOptionFlags {
 public:
  // Adds one flag per option of `info` to `sub`, in table order.
  PassOptionFlags(CLI::App& sub, const pass::PassInfo& info);
  // The options given on the command line as pipeline option text
  // ("bits=4 per-channel=false"), in table order; "" when none was given.
  std::string options_text() const;

 private:
  struct Flag {
    const pass::OptionSpec* spec;
    CLI::Option* option;
    std::string value;
    bool on = false;
  };
  std::vector<std::unique_ptr<Flag>> flags_;
};

}  // namespace effopt::cli
