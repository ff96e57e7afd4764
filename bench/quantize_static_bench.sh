#!/usr/bin/env bash
# effopt quantize --mode static: ONNX Runtime latency of float32 vs the static model, one intra-op thread,
# level 'all', alternating in one process (bench/ort_latency_ab.js: per-round medians, median of the per-round
# ratios). resnet18 and mobilenet_v2 are random-init: calibrated on seeded random inputs (a warning says so),
# for speed only. Protocol and results: docs/benchmarks.md ("mode static").
#
#   EFFOPT_ORT_DIR=~/.cache/effopt/ort bench/quantize_static_bench.sh [BUILD_DIR] [WORK_DIR] [ROUNDS]
set -euo pipefail
BUILD="${1:-build}"
WORK="${2:-/tmp/effopt-bench-static}"
ROUNDS="${3:-9}"
CORPUS="$(dirname "$0")/../../shared/corpus/models"
[ -d "$CORPUS" ] || CORPUS=../shared/corpus/models
: "${EFFOPT_ORT_DIR:?set EFFOPT_ORT_DIR to the npm prefix holding onnxruntime-node}"
mkdir -p "$WORK"
grep -m1 "model name" /proc/cpuinfo
grep -o -m1 -w "avx512_vnni\|avx_vnni" /proc/cpuinfo || echo "no VNNI"
uptime
for m in resnet18 mobilenet_v2; do
  "$BUILD/tools/effopt" quantize "$CORPUS/$m/model.onnx" --mode static -o "$WORK/$m.static.onnx" --force -q
  node "$(dirname "$0")/ort_latency_ab.js" "$CORPUS/$m/model.onnx" "$WORK/$m.static.onnx" "$ROUNDS" 10
done
