// Linked into effopt_test_passes (tests/CMakeLists.txt): the effopt CLI with
// the deliberately broken passes registered before main runs.
#include "util/broken_passes.h"

namespace {
const bool registered = [] {
  effopt::test::register_broken_passes(effopt::pass::PassRegistry::global());
  return true;
}();
}  // namespace
