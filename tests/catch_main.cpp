// The Catch2 runner of every effopt test binary.
//
// Catch2 2.13 has no SKIP, so effopt's tests call test::skip() (util/test_util.h) where a check cannot
// run. This runner
// - adds `-w NoAssertions` (unless the command line sets -w itself): a test case or section that asserted
//   nothing and did not call test::skip fails, so a check cannot pass by doing nothing;
// - prints, after the run, how many checks were skipped and why, one `effopt-skip:` line each
//   (tools/run-tests.sh repeats them after ctest, which hides the output of passing tests).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <vector>

#include "util/skip.h"

int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  bool has_warn = false;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "-w") == 0 || std::strncmp(argv[i], "--warn", 6) == 0) has_warn = true;
  static char warn_flag[] = "-w", no_assertions[] = "NoAssertions";
  if (!has_warn && argc > 0) args.insert(args.begin() + 1, {warn_flag, no_assertions});

  Catch::Session session;
  int rc = session.run(static_cast<int>(args.size()), args.data());

  const auto& skips = effopt::test::skipped_checks();
  if (!skips.empty()) {
    std::printf("effopt-skip: %zu check(s) skipped in %s\n", skips.size(), argc > 0 ? argv[0] : "?");
    for (const auto& s : skips) std::printf("effopt-skip:   [%s] %s\n", s.test.c_str(), s.reason.c_str());
    std::fflush(stdout);
  }
  return rc;
}
