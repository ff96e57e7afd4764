#include "util/skip.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>

namespace effopt::test {

namespace {

std::vector<SkippedCheck>& skips() {
  static std::vector<SkippedCheck> s;
  return s;
}

bool env_flag(const char* name) {
  if (const char* v = std::getenv(name))
    return !(*v == '\0' || std::strcmp(v, "0") == 0 || std::strcmp(v, "false") == 0 || std::strcmp(v, "off") == 0);
  const char* ci = std::getenv("CI");
  return ci && std::strcmp(ci, "true") == 0;
}

}  // namespace

bool ort_required() { return env_flag("EFFOPT_REQUIRE_ORT"); }
bool corpus_required() { return env_flag("EFFOPT_REQUIRE_CORPUS"); }

void skip(Needs what, const std::string& reason) {
  if (what == Needs::Ort && ort_required()) FAIL("EFFOPT_REQUIRE_ORT is set, but: " << reason);
  if (what == Needs::Corpus && corpus_required()) FAIL("EFFOPT_REQUIRE_CORPUS is set, but: " << reason);
  std::string test = Catch::getResultCapture().getCurrentTestName();
  bool seen = false;
  for (const auto& s : skips()) seen = seen || (s.test == test && s.reason == reason);
  if (!seen) skips().push_back({test, reason});
  SUCCEED("skipped: " << reason);
}

const std::vector<SkippedCheck>& skipped_checks() { return skips(); }

}  // namespace effopt::test
