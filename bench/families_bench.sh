#!/usr/bin/env bash
# The executor against ONNX Runtime 1.30 on the bench families (issue 27) and
# the corpus models: gen_families writes the twelve family instances at the
# chosen opsets into WORK_DIR, then exec_bench times every model in
# alternating rounds (one thread, ONNX Runtime at level 'all') and prints each
# ratio (median over the rounds) with PASS/FAIL against the issue's targets:
# every model within 1.5x, the geometric mean within 1.25x, and with the
# executor's internal rewrites and BatchNormalization folding off (as
# calibration and --check-outputs run it) within 2x. Exits 1 when a target
# fails. Protocol and results: docs/benchmarks.md.
#
#   bench/families_bench.sh [BUILD_DIR] [WORK_DIR] [NAME...]
#
# Environment: EFFOPT_BENCH_ROUNDS (default 5), EFFOPT_BENCH_REPEAT (runs per round, default 10),
# EFFOPT_BENCH_CPU_TIME=1 (judge process CPU time instead of wall time: for a loaded machine),
# EFFOPT_BENCH_OPSETS (default "13 17"), EFFOPT_CORPUS (default ../shared/corpus; its six models join the
# table when present), EFFOPT_ORT_DIR (default ~/.cache/effopt/ort). NAME... limits the families (e.g.
# efficientnet_b0 gpt_seq128) and leaves the corpus models out.
set -euo pipefail
BUILD="${1:-build}"
WORK="${2:-/tmp/effopt-families}"
shift $(( $# > 2 ? 2 : $# ))
ROUNDS="${EFFOPT_BENCH_ROUNDS:-5}"
REPEAT="${EFFOPT_BENCH_REPEAT:-10}"
OPSETS="${EFFOPT_BENCH_OPSETS:-13 17}"
CORPUS="${EFFOPT_CORPUS:-$(dirname "$0")/../../shared/corpus}"
export EFFOPT_ORT_DIR="${EFFOPT_ORT_DIR:-$HOME/.cache/effopt/ort}"

opset_args=()
for o in $OPSETS; do opset_args+=(--opset "$o"); done
mkdir -p "$WORK"
"$BUILD/bench/gen_families" "$WORK" "${opset_args[@]}" "$@" >&2

models=()
names=("$@")
[ ${#names[@]} -eq 0 ] && mapfile -t names < <("$BUILD/bench/gen_families" --list)
for n in "${names[@]}"; do
  for o in $OPSETS; do models+=("$WORK/${n}_opset$o"); done
done
if [ $# -eq 0 ] && [ -d "$CORPUS/models" ]; then
  for m in resnet18 mobilenet_v2 tiny_bert digits_cnn ppocr_cls_v2 ppocr_det_v4; do
    [ -f "$CORPUS/models/$m/model.onnx" ] && models+=("$CORPUS/models/$m")
  done
fi

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), flags:$(grep -m1 -o -w -E 'avx512f|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
extra=()
[ "${EFFOPT_BENCH_CPU_TIME:-0}" = 1 ] && extra+=(--cpu-time)
exec "$BUILD/bench/exec_bench" "${extra[@]}" --threads 1 --rounds "$ROUNDS" --repeat "$REPEAT" --warmup 2 \
  --max-ratio 1.5 --max-geomean 1.25 --rewrites-off-max-ratio 2.0 "${models[@]}"
