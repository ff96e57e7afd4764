#!/usr/bin/env bash
# Import/export speed and memory: `effopt convert` against `cp` of the same
# file. Protocol (docs/benchmarks.md): warm page cache, cp and effopt run
# alternately, median of 5 runs each, neither side fsyncs, no --report; peak
# memory is max RSS from GNU time (`apt-get install time`).
#
#   bench/convert_bench.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
BUILD="${1:-build}"
WORK="${2:-/tmp/effopt-bench}"
RUNS=5
EFFOPT="$BUILD/tools/effopt"
GEN="$BUILD/bench/gen_model"
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
mkdir -p "$WORK"

# prints "seconds max_rss_kb"
measure() { /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" >/dev/null 2>"$WORK/stderr.txt" || { cat "$WORK/stderr.txt" >&2; exit 1; }; cat "$WORK/time.txt"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

bench_one() {  # NAME MODEL [extra effopt args]
  local name="$1" model="$2"; shift 2
  local size; size=$(du -cb "$model"* | tail -1 | cut -f1)
  cat "$model"* >/dev/null  # warm the page cache
  : >"$WORK/cp.txt"; : >"$WORK/ef.txt"
  for _ in $(seq $RUNS); do
    rm -rf "$WORK/out"; mkdir -p "$WORK/out"
    measure cp "$model"* "$WORK/out/" >>"$WORK/cp.txt"
    rm -rf "$WORK/out"; mkdir -p "$WORK/out"
    measure "$EFFOPT" convert "$model" -o "$WORK/out/model.onnx" "$@" >>"$WORK/ef.txt"
  done
  local cp_t ef_t cp_m ef_m
  cp_t=$(cut -d' ' -f1 "$WORK/cp.txt" | median); ef_t=$(cut -d' ' -f1 "$WORK/ef.txt" | median)
  cp_m=$(cut -d' ' -f2 "$WORK/cp.txt" | median); ef_m=$(cut -d' ' -f2 "$WORK/ef.txt" | median)
  awk -v n="$name" -v s="$size" -v ct="$cp_t" -v et="$ef_t" -v cm="$cp_m" -v em="$ef_m" 'BEGIN {
    printf "| %s | %.0f MB | %.2f s | %.2f s | %.2fx | %.0f MB | %.0f MB | %.2fx |\n",
      n, s/1e6, ct, et, (ct > 0 ? et/ct : 0), cm/1024, em/1024, em*1024/s }'
}

[ -f "$WORK/m600.onnx" ] || "$GEN" "$WORK/m600.onnx" --mb 600 >&2
[ -f "$WORK/m2300.onnx" ] || "$GEN" "$WORK/m2300.onnx" --mb 2300 --external >&2
echo "| model | size | cp | effopt convert | time ratio | cp max RSS | effopt max RSS | RSS / size |"
echo "|---|---|---|---|---|---|---|---|"
bench_one "600 MB float32, inline" "$WORK/m600.onnx"
bench_one "2.3 GB float32, external data" "$WORK/m2300.onnx"
