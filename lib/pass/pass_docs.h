// Text about passes, generated from the registry: `effopt passes [NAME]`
// and docs/passes.md (`effopt passes --markdown`; tests/unit/test_pass_docs.cpp
// checks the file matches).
#pragma once

#include <string>

#include "pass/pass.h"

namespace effopt::pass {

// "int (0..21)", "enum: tensor|channel", "file", ...
std::string option_type_text(const OptionSpec& spec);
// One pass for the terminal: name, summary, options (type, default, help);
// with `with_doc`, its documentation too.
std::string pass_text(const PassInfo& info, bool with_doc);
// docs/passes.md: pipeline syntax, named pipelines, every pass of `registry`.
std::string passes_markdown(const PassRegistry& registry);

}  // namespace effopt::pass
