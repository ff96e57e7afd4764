#!/usr/bin/env bash
# Configures and builds effopt in Release into build/ (or $EFFOPT_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${EFFOPT_BUILD_DIR:-build}"
JOBS="${EFFOPT_JOBS:-$(nproc)}"
extra=()
[ "${CI:-}" = "true" ] && extra+=(-DEFFOPT_WERROR=ON)
# ccache, when installed, makes rebuilds in a second checkout cheap (CCACHE_BASEDIR
# set to a folder above both checkouts lets them share hits).
command -v ccache >/dev/null 2>&1 && extra+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release "${extra[@]}" "$@" >/dev/null
cmake --build "$BUILD" -j "$JOBS"
