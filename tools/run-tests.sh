#!/usr/bin/env bash
# The README's second command: builds effopt (Release) and runs the whole test
# suite with CTest. Tests that need ../shared/corpus or ONNX Runtime skip with
# a message when those are absent, and fail instead under EFFOPT_REQUIRE_ORT /
# EFFOPT_REQUIRE_CORPUS (on by default when CI=true; tests/util/skip.h). The
# skipped checks are listed after CTest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${EFFOPT_BUILD_DIR:-build}"
bash tools/build.sh
export EFFOPT_ORT_DIR="${EFFOPT_ORT_DIR:-${EFFOPT_CACHE:-$HOME/.cache/effopt}/ort}"
rc=0
ctest --test-dir "$BUILD" --output-on-failure -j 2 "$@" || rc=$?
# CTest hides the output of passing tests; every test binary prints its skips
# as `effopt-skip:` lines (tests/catch_main.cpp), kept in CTest's log.
log="$BUILD/Testing/Temporary/LastTest.log"
if [ -f "$log" ] && grep -q '^effopt-skip:' "$log"; then
  echo "== skipped checks ==" >&2
  grep '^effopt-skip:' "$log" >&2
else
  echo "== no check was skipped ==" >&2
fi
exit "$rc"
