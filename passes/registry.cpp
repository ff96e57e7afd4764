// The registry of built-in passes, generated from passes/passes.def. An
// explicit list, not static initializers: a static library drops object
// files nobody references.
#include <cassert>

#include "pass/pass.h"
#include "passes/passes.h"

namespace effopt::passes {

void register_builtin_passes(pass::PassRegistry& r) {
  // Each register_ID adds the pass named NAME (its file, test and docs name).
#define EFFOPT_PASS(NAME, ID) \
  register_##ID(r);           \
  assert(r.find(NAME) && "passes.def: register_" #ID " must add the pass " NAME);
#include "passes/passes.def"
#undef EFFOPT_PASS
}

}  // namespace effopt::passes

namespace effopt::pass {

PassRegistry& PassRegistry::global() {
  static PassRegistry* r = [] {
    auto* reg = new PassRegistry();
    passes::register_builtin_passes(*reg);
    return reg;
  }();
  return *r;
}

Expected<PassResult> apply_pass(std::string_view name, Model& model, int threads) {
  const PassInfo* info = PassRegistry::global().find(name);
  assert(info && "unknown pass");
  PassOptions opts(&info->options);
  return apply_pass(*info, model, opts, threads);
}

}  // namespace effopt::pass
