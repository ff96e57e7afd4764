#!/usr/bin/env bash
# The README's second command: builds effopt (Release) and runs the whole test
# suite with CTest. Tests that need ../shared/corpus or ONNX Runtime skip with
# a message when those are absent.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${EFFOPT_BUILD_DIR:-build}"
bash tools/build.sh
export EFFOPT_ORT_DIR="${EFFOPT_ORT_DIR:-${EFFOPT_CACHE:-$HOME/.cache/effopt}/ort}"
ctest --test-dir "$BUILD" --output-on-failure -j 2 "$@"
