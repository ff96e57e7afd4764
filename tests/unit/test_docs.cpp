// Docs that are generated from code tables must match the code. Run with
// EFFOPT_REGEN_DOCS=1 to rewrite them.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <sstream>

#include "onnx/opset_convert.h"
#include "util/test_util.h"

using namespace effopt;

namespace {
std::string escape(std::string s) {
  for (size_t p = s.find('|'); p != std::string::npos; p = s.find('|', p + 2)) s.replace(p, 1, "\\|");
  return s;
}

std::string opsets_md() {
  std::ostringstream os;
  os << "# Opset conversion\n\n"
        "`effopt convert MODEL --opset N` moves a model's default-domain opset from any version (1 and up) to any\n"
        "version from 7 to 21. Ops whose inputs, attributes or semantics changed get an adapter (below); every\n"
        "other op that got a new version only changed compatibly (new types, new attributes whose defaults keep\n"
        "the old behaviour) and just moves. Downgrades are accepted only when no op present changed between the\n"
        "two opsets. An impossible conversion is an error (exit 2) naming the op, the node and why.\n\n"
        "This page is generated from the tables in `lib/onnx/opset_convert.cpp` (`tests/unit/test_docs.cpp`\n"
        "checks it; `EFFOPT_REGEN_DOCS=1 build/tests/effopt_unit_tests \"[docs]\"` rewrites it).\n\n"
        "## Adapters\n\n| op | at opset | what changed, and what effopt does |\n|---|---|---|\n";
  for (auto& a : opset_adapters()) os << "| " << a.op << " | " << a.version << " | " << escape(a.what) << " |\n";
  os << "\n## Ops removed from the standard\n\n| op | removed at | what effopt does |\n|---|---|---|\n";
  for (auto& a : legacy_op_handlers()) os << "| " << a.op << " | " << a.version << " | " << escape(a.what) << " |\n";
  return os.str();
}
}  // namespace

TEST_CASE("docs/opsets.md lists every opset adapter", "[docs]") {
  std::string path = std::string(EFFOPT_SOURCE_DIR) + "/docs/opsets.md";
  std::string want = opsets_md();
  if (std::getenv("EFFOPT_REGEN_DOCS")) test::write_file(path, want);
  REQUIRE(test::read_file(path) == want);
}
