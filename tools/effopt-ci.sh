#!/usr/bin/env bash
# effopt-ci.sh: one CI step that shrinks a model, fails the build when a
# budget or quality limit is broken, and always keeps the reports as
# artifacts. Usable from any CI system (docs/ci.md has a GitHub Actions
# example). Needs only bash and the effopt binary.
#
#   effopt-ci.sh MODEL OUT [options]
#
# Options:
#   --effopt BIN        effopt binary (default: $EFFOPT, else `effopt` on PATH)
#   --artifacts DIR     where the reports go (default: effopt-artifacts)
#   --command CMD       the shrinking command: fuse (default), or any
#                       transforming command (quantize, prune, ...) or
#                       "run --passes PIPELINE" (quote it as one argument)
#   --shape NAME=DIMS   bind an input's dims (repeatable; for MAC/activation
#                       budgets and random inputs)
#   budgets, checked on OUT (passed to the shrinking command):
#     --max-bytes S --max-gzip-bytes S --max-zstd-bytes S --max-params C
#     --max-macs C --max-peak-activation-bytes S
#   quality limits, checked by `effopt compare MODEL OUT` (same meaning as
#   in effopt compare; the default limit is --max-error 1e-4 on rel-l2):
#     --max-error E --metric M --min-sqnr DB --data DIR (repeatable)
#     --random N --seed S --range NAME=LO:HI
#   --no-quality        skip the quality comparison
#
# Exit status: 0 when everything passed; effopt's own code otherwise (3: a
# budget or quality limit was broken, 1: usage, 2: invalid model, 4: I/O,
# 5: internal error). Every stage's report is written before the exit.
set -uo pipefail

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 1; }

[ $# -ge 2 ] || usage
MODEL="$1" OUT="$2"
shift 2
EFFOPT_BIN="${EFFOPT:-effopt}"
ARTIFACTS="effopt-artifacts"
COMMAND="fuse"
budget=() quality=() shapes=() quality_on=1 have_limit=0
while [ $# -gt 0 ]; do
  case "$1" in
    --effopt) EFFOPT_BIN="$2"; shift 2 ;;
    --artifacts) ARTIFACTS="$2"; shift 2 ;;
    --command) COMMAND="$2"; shift 2 ;;
    --shape) shapes+=(--shape "$2"); shift 2 ;;
    --max-bytes|--max-gzip-bytes|--max-zstd-bytes|--max-params|--max-macs|--max-peak-activation-bytes)
      budget+=("$1" "$2"); shift 2 ;;
    --max-error|--min-sqnr) quality+=("$1" "$2"); have_limit=1; shift 2 ;;
    --metric|--data|--random|--seed|--range) quality+=("$1" "$2"); shift 2 ;;
    --no-quality) quality_on=0; shift ;;
    -h|--help) usage ;;
    *) echo "effopt-ci: unknown option '$1'" >&2; exit 1 ;;
  esac
done
[ "$have_limit" = 1 ] || quality+=(--max-error 1e-4)
command -v "$EFFOPT_BIN" >/dev/null 2>&1 || { echo "effopt-ci: effopt not found ('$EFFOPT_BIN'); set --effopt or \$EFFOPT" >&2; exit 4; }
[ -f "$MODEL" ] || { echo "effopt-ci: model '$MODEL' does not exist" >&2; exit 4; }
mkdir -p "$ARTIFACTS" || exit 4

status=0
# 1. Shrink, with the budgets checked on the result (exit 3 keeps the output
#    and the report, so the next stages still run and show the quality side).
read -r -a cmd_words <<<"$COMMAND"
echo "effopt-ci: $EFFOPT_BIN ${cmd_words[*]} $MODEL -o $OUT" >&2
"$EFFOPT_BIN" "${cmd_words[@]}" "$MODEL" -o "$OUT" --force "${shapes[@]}" "${budget[@]}" \
  --report "$ARTIFACTS/report.json"
rc=$?
if [ $rc -ne 0 ]; then
  status=$rc
  [ $rc -eq 3 ] || { echo "effopt-ci: shrinking failed (exit $rc)" >&2; exit $rc; }
  echo "effopt-ci: budget exceeded or could not be checked (details above; report in $ARTIFACTS/report.json)" >&2
fi

# 2. Quality: the optimized model against the original, on the same inputs.
if [ "$quality_on" = 1 ]; then
  "$EFFOPT_BIN" compare "$MODEL" "$OUT" "${shapes[@]}" "${quality[@]}" --json >"$ARTIFACTS/fidelity.json"
  rc=$?
  if [ $rc -ne 0 ]; then
    [ $status -ne 0 ] || status=$rc
    echo "effopt-ci: quality check failed (exit $rc; $ARTIFACTS/fidelity.json)" >&2
  fi
fi

# 3. A footprint report of the result, for the artifact.
"$EFFOPT_BIN" report "$MODEL" "$OUT" --json "${shapes[@]}" >"$ARTIFACTS/footprint-diff.json" || true

[ $status -eq 0 ] && echo "effopt-ci: $OUT passed every budget and quality limit" >&2
exit $status
