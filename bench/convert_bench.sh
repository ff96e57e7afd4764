#!/usr/bin/env bash
# Import/export speed and memory: `effopt convert` against `cp` of the same
# file. Protocol (docs/benchmarks.md): warm page cache, cp and effopt run
# alternately, median of 5 runs each, neither side fsyncs, no --report; peak
# memory is max RSS from GNU time (`apt-get install time`). Each row ends in
# PASS or FAIL against the target (issue "Foundation"): the ~600 MB inline
# model in at most 2x cp's time with max RSS at most 1.3x the file; the model
# over 2 GB with external data with max RSS at most half its size. Exits 1
# when a target fails.
#
#   bench/convert_bench.sh [BUILD_DIR] [WORK_DIR]     (EFFOPT_BENCH_RUNS: runs per side, default 5)
set -euo pipefail
BUILD="${1:-build}"
WORK="${2:-/tmp/effopt-bench}"
RUNS="${EFFOPT_BENCH_RUNS:-5}"
EFFOPT="$BUILD/tools/effopt"
GEN="$BUILD/bench/gen_model"
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
mkdir -p "$WORK"

# prints "seconds max_rss_kb"
measure() { /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" >/dev/null 2>"$WORK/stderr.txt" || { cat "$WORK/stderr.txt" >&2; exit 1; }; cat "$WORK/time.txt"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

failed=0
bench_one() {  # NAME MODEL MAX_TIME_RATIO(0: none) MAX_RSS_PER_SIZE [extra effopt args]
  local name="$1" model="$2" max_ratio="$3" max_rss="$4"; shift 4
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
  awk -v n="$name" -v s="$size" -v ct="$cp_t" -v et="$ef_t" -v cm="$cp_m" -v em="$ef_m" \
      -v mt="$max_ratio" -v mr="$max_rss" 'BEGIN {
    ratio = (ct > 0 ? et/ct : 0); rss = em*1024/s
    ok = (mt == 0 || ratio <= mt) && rss <= mr
    target = (mt == 0 ? "" : sprintf("time <= %.1fx cp, ", mt)) sprintf("RSS <= %.2fx size", mr)
    printf "| %s | %.0f MB | %.2f s | %.2f s | %.2fx | %.0f MB | %.0f MB | %.2fx | %s: %s |\n",
      n, s/1e6, ct, et, ratio, cm/1024, em/1024, rss, target, (ok ? "PASS" : "FAIL")
    exit(ok ? 0 : 1) }' || failed=1
}

[ -f "$WORK/m600.onnx" ] || "$GEN" "$WORK/m600.onnx" --mb 600 >&2
[ -f "$WORK/m2300.onnx" ] || "$GEN" "$WORK/m2300.onnx" --mb 2300 --external >&2
echo "| model | size | cp | effopt convert | time ratio | cp max RSS | effopt max RSS | RSS / size | target |"
echo "|---|---|---|---|---|---|---|---|---|"
bench_one "600 MB float32, inline" "$WORK/m600.onnx" 2 1.3
bench_one "2.3 GB float32, external data" "$WORK/m2300.onnx" 0 0.5
exit "$failed"
