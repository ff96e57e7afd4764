// docs/passes.md is generated from the pass registry and must match it. Run
// with EFFOPT_REGEN_DOCS=1 to rewrite it.
#include <catch2/catch.hpp>
#include <cstdlib>

#include "pass/pass_docs.h"
#include "util/test_util.h"

using namespace effopt;

TEST_CASE("docs/passes.md matches the pass registry", "[docs]") {
  // A fresh registry: other tests add deliberately broken passes to the global one.
  pass::PassRegistry reg;
  passes::register_builtin_passes(reg);
  std::string path = std::string(EFFOPT_SOURCE_DIR) + "/docs/passes.md";
  std::string want = pass::passes_markdown(reg);
  if (std::getenv("EFFOPT_REGEN_DOCS")) test::write_file(path, want);
  REQUIRE(test::read_file(path) == want);
  for (const pass::PassInfo* p : reg.all()) CHECK(want.find("### " + p->name + "\n") != std::string::npos);
}
