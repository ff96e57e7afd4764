// Registration functions of the built-in passes, one per file in passes/,
// declared from the pass list passes/passes.def.
#pragma once

#include "pass/pass.h"

namespace effopt::passes {

#define EFFOPT_PASS(NAME, ID) void register_##ID(pass::PassRegistry& r);
#include "passes/passes.def"
#undef EFFOPT_PASS

}  // namespace effopt::passes
