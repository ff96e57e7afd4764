// Registration functions of the built-in passes, one per file in passes/
// (listed in passes/registry.cpp).
#pragma once

#include "pass/pass.h"

namespace effopt::passes {

void register_convert_opset(pass::PassRegistry& r);
void register_fix_shapes(pass::PassRegistry& r);

}  // namespace effopt::passes
