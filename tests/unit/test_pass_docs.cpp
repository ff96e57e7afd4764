// docs/passes.md is generated from the pass registry and must match it (run
// with EFFOPT_REGEN_DOCS=1 to rewrite it); the pass list (passes/passes.def)
// and each pass's one description (its registry doc) are checked here too.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

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

TEST_CASE("passes.def lists exactly the registered passes, one file each", "[docs]") {
  std::vector<std::string> listed;
#define EFFOPT_PASS(NAME, ID) listed.push_back(NAME);
#include "passes/passes.def"
#undef EFFOPT_PASS
  pass::PassRegistry reg;
  passes::register_builtin_passes(reg);
  std::vector<std::string> registered;
  for (const pass::PassInfo* p : reg.all()) registered.push_back(p->name);
  CHECK(listed == registered);  // both sorted by name
  for (const std::string& name : listed) {
    INFO("pass " << name);
    std::string id = name;
    std::replace(id.begin(), id.end(), '-', '_');
    std::string text = test::read_file(std::string(EFFOPT_SOURCE_DIR) + "/passes/" + name + ".cpp");
    CHECK(text.find("void register_" + id + "(pass::PassRegistry& r)") != std::string::npos);
  }
}

TEST_CASE("a pass's docs are its registry entry: When, Before and After there, one header line in its file",
          "[docs]") {
  pass::PassRegistry reg;
  passes::register_builtin_passes(reg);
  for (const pass::PassInfo* p : reg.all()) {
    INFO("pass " << p->name);
    // The file's header comment is one line naming the pass; the rest of
    // what it would say is the doc, so the two cannot drift.
    std::string text = test::read_file(std::string(EFFOPT_SOURCE_DIR) + "/passes/" + p->name + ".cpp");
    std::string header = text.substr(0, text.find("\n#include"));
    CHECK(header.rfind("// " + p->name, 0) == 0);
    CHECK(header.find('\n') == std::string::npos);
    CHECK_FALSE(p->doc.empty());
    if (p->run_on_model) continue;  // model-scoped passes rewrite no pattern
    // Graph passes rewrite patterns: a When paragraph and a Before/After example.
    std::vector<std::string> paragraphs;
    for (size_t start = 0; start <= p->doc.size();) {
      size_t end = std::min(p->doc.find("\n\n", start), p->doc.size());
      paragraphs.push_back(p->doc.substr(start, end - start));
      start = end + 2;
    }
    bool when = false, example = false;
    for (const std::string& para : paragraphs) {
      when = when || para.rfind("When", 0) == 0;
      example = example || (para.rfind("Before:", 0) == 0 && para.find("\nAfter:") != std::string::npos);
    }
    CHECK(when);
    CHECK(example);
  }
}
