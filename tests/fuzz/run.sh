#!/usr/bin/env bash
# Runs effopt's libFuzzer targets (tests/fuzz/fuzz_targets.h) from a clang build
# configured with -DEFFOPT_SANITIZE=ON -DEFFOPT_FUZZ=ON (.ci/run's sanitizer
# stage makes one in build-sanitize; docs/reliability.md).
#
#   tests/fuzz/run.sh [-j JOBS] TARGET|all SECONDS
#
# Each target runs SECONDS under ASan + UBSan with libFuzzer's -rss_limit_mb=2048
# -timeout=10 (an input running over 10 s is a failure), JOBS targets at a time
# (default 1). Seeds are made at fuzz time: effopt_fuzz_replay --write-seeds
# (models, tensors, pipelines and shapes made by effopt's own code, the tests'
# bad inputs among them), the ../shared/corpus models (those over 256 KiB with
# their weights made graph inputs: effopt_fuzz_replay --slim), its tensors up to
# 64 KiB (.pb), and tests/fuzz/regressions/TARGET. New inputs
# accumulate in $EFFOPT_FUZZ_WORK/TARGET/corpus (default BUILD/fuzz-work).
#
# Prints one line per target: the seconds it ran (less than SECONDS when it
# failed), runs, executions per second, new inputs, peak RSS and the result.
# Exit 1 when a target found a crash, leak, timeout or out-of-memory: the
# input is in BUILD/fuzz-work/TARGET/artifacts/; replay it with
# `BUILD/tests/fuzz/fuzz_TARGET FILE`, fix the bug, and keep the input in
# tests/fuzz/regressions/TARGET/ (replayed by ctest in every build).
set -euo pipefail
cd "$(dirname "$0")/../.."

jobs=1
if [ "${1:-}" = "-j" ]; then jobs="$2"; shift 2; fi
[ $# -eq 2 ] || { echo "usage: tests/fuzz/run.sh [-j JOBS] TARGET|all SECONDS" >&2; exit 1; }
what="$1" seconds="$2"
BUILD="${EFFOPT_BUILD_DIR:-build-sanitize}"
WORK="${EFFOPT_FUZZ_WORK:-$BUILD/fuzz-work}"
CORPUS="${EFFOPT_CORPUS:-../shared/corpus}"
replay="$BUILD/tests/fuzz/effopt_fuzz_replay"
[ -x "$replay" ] || { echo "run.sh: $replay not found: build $BUILD with -DEFFOPT_FUZZ=ON first" >&2; exit 1; }

if [ "$what" = all ]; then
  targets=$("$replay" --list)
else
  targets="$what"
fi
for t in $targets; do
  [ -x "$BUILD/tests/fuzz/fuzz_$t" ] || { echo "run.sh: $BUILD/tests/fuzz/fuzz_$t not found (target '$t')" >&2; exit 1; }
done

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
symbolizer=/usr/lib/llvm-14/bin/llvm-symbolizer
[ -x "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-$symbolizer}"

# One target: seeds, then libFuzzer; writes its log and a summary line.
fuzz_one() {
  local t="$1" dir="$WORK/$1"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  rm -rf "$dir/seeds"
  "$replay" --write-seeds "$t" "$dir/seeds" "$dir/dict"
  if [ -d "$CORPUS" ]; then
    case "$t" in
      model_roundtrip|model_report)
        find "$CORPUS" -name '*.onnx' | while read -r f; do
          local seed
          seed="$dir/seeds/corpus-$(echo "${f#"$CORPUS"/}" | tr '/' '_')"
          if [ "$(stat -c %s "$f")" -le 262144 ]; then cp "$f" "$seed"
          else "$replay" --slim "$f" "$seed"; fi
        done ;;
      tensor_pb)
        find "$CORPUS" -name '*.pb' -size -65k | while read -r f; do
          cp "$f" "$dir/seeds/corpus-$(echo "${f#"$CORPUS"/}" | tr '/' '_')"
        done ;;
    esac
  fi
  local dirs=("$dir/corpus" "$dir/seeds")
  [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")
  local dict=()
  [ -s "$dir/dict" ] && dict=("-dict=$dir/dict")
  local rc=0 start=$SECONDS
  "$BUILD/tests/fuzz/fuzz_$t" "${dirs[@]}" "${dict[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -max_len=262144 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" >"$dir/log" 2>&1 || rc=$?
  local ran=$((SECONDS - start)) runs eps new rss
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
  new=$(sed -n 's/^stat::new_units_added: *//p' "$dir/log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$dir/log" | tail -1)
  local result=ok
  if [ "$rc" -ne 0 ]; then
    result="FAILED (exit $rc): $(grep -m1 -E '^==[0-9]+==ERROR|^SUMMARY|ALARM|invariant broken|out-of-memory|runtime error' "$dir/log" || echo 'see the log'); log $dir/log, input in $dir/artifacts/"
  fi
  printf '%-16s %4ss  runs %-10s exec/s %-6s new inputs %-5s peak RSS %s MB  %s\n' \
    "$t" "$ran" "${runs:-?}" "${eps:-?}" "${new:-?}" "${rss:-?}" "$result" >"$dir/summary"
  cat "$dir/summary"
  [ "$rc" -eq 0 ]
}
export -f fuzz_one
export BUILD WORK CORPUS replay seconds

echo "== fuzzing: $(echo $targets | wc -w) target(s), $seconds s each, $jobs at a time ($BUILD) ==" >&2
status=0
printf '%s\n' $targets | xargs -P "$jobs" -I{} bash -c 'fuzz_one "$@"' _ {} || status=1
exit "$status"
