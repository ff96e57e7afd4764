// test::skip: how an effopt test says that a check could not run.
//
// Catch2 2.13 has no SKIP, and a test that WARNs and returns counts as a pass. Every test that can skip
// calls skip() instead:
// - when what it lacks is required, the test FAILs. EFFOPT_REQUIRE_ORT (ONNX Runtime) and
//   EFFOPT_REQUIRE_CORPUS (../shared/corpus) are on by default when CI=true; "0", "false", "off" or ""
//   turn one off, any other value turns it on. `.ci/run` exports both.
// - otherwise the skip is an assertion that succeeds (so `-w NoAssertions` does not fail the test), is
//   counted, and is listed with its reason at the end of the run (tests/catch_main.cpp).
// A skip for a host feature (a CPU extension, a locale) never fails: the check it guards has a
// host-independent counterpart that runs everywhere.
//
//   auto* ort = test::ort_or_skip();
//   if (!ort) return;
#pragma once

#include <string>
#include <vector>

namespace effopt::test {

enum class Needs {
  Ort,          // ONNX Runtime (EFFOPT_ORT_DIR): fails under EFFOPT_REQUIRE_ORT
  Corpus,       // ../shared/corpus or one of its cases: fails under EFFOPT_REQUIRE_CORPUS
  HostFeature,  // something of this machine (AVX-512, a locale): never fails
};

// Records that the current test could not run a check, or fails it (see above).
void skip(Needs what, const std::string& reason);

// Whether EFFOPT_REQUIRE_ORT / EFFOPT_REQUIRE_CORPUS is in force.
bool ort_required();
bool corpus_required();

struct SkippedCheck {
  std::string test;    // the test case's name
  std::string reason;
};
// Every skip of this process, in order, without repeats (a test case runs once per section).
const std::vector<SkippedCheck>& skipped_checks();

}  // namespace effopt::test
