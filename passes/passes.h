// Registration functions of the built-in passes, one per file in passes/
// (listed in passes/registry.cpp).
#pragma once

#include "pass/pass.h"

namespace effopt::passes {

}  // namespace effopt::passes
