#!/usr/bin/env python3
"""Generate the ONNX Runtime CPU kernel table in lib/ort/ort_ops.cpp from OperatorKernels.md.

Usage:
    python3 docs/tools/gen_ort_ops.py PATH/TO/OperatorKernels.md            # print the table rows
    python3 docs/tools/gen_ort_ops.py PATH/TO/OperatorKernels.md --update lib/ort/ort_ops.cpp

Input: a local copy of ONNX Runtime's docs/OperatorKernels.md (generated upstream from the registered
kernels by tools/python/gen_opkernel_doc.py). Only its "Operators implemented by CPUExecutionProvider"
section is read: for each "**Operator Domain:** *d*" block, every row `|Op|params|VERSIONS|types|` (a
continuation row has an empty Op cell) gives one registered kernel range: `N+` (open), `[a, b]` or `N`.
The Parameters and Types columns are ignored, so an abridged copy with those cells empty parses the same.
Nothing else is read: no network, no ONNX installation. Not run at build time; rerun by hand when the
table needs refreshing and review the diff.

The table in effopt was generated from microsoft/onnxruntime docs/OperatorKernels.md at commit
001d12d2623fd411ce0f83d05abb5e82304a3389 (the newest stored copy found; its newest ai.onnx kernels are
opset 25, so it predates ONNX Runtime 1.30, which accepts ai.onnx opset 26). The CAPS and EXTRA lists
below correct it where ONNX Runtime 1.30 behaves differently, and add ops ORT runs without a kernel
(functions, Constant); every entry was checked against onnxruntime-node 1.30.0 by loading one-node
models (see lib/ort/ort_ops.h).
"""
import re
import sys

# Everything below was checked against onnxruntime-node 1.30.0 (linux-x64) by creating an
# InferenceSession for a one-node model at every opset listed; "no kernel" means session creation failed
# with "Could not find an implementation for Op(N) node".

# CAPS: (domain, op, last supported opset, why). Kernel rows of the op are clipped to end there.
CAPS = [
    # OperatorKernels.md lists these as open-ended ("N+"), but ONNX Runtime 1.30 has no kernel for their
    # opset-22 schema: loading fails at every model opset 22..26 (verified), works at 21.
    ("", "GlobalLpPool", 21, "no kernel for the opset-22 schema in ORT 1.30"),
    ("", "MaxRoiPool", 21, "no kernel for the opset-22 schema in ORT 1.30"),
    ("", "Multinomial", 21, "no kernel for the opset-22 schema in ORT 1.30"),
    ("", "RandomNormal", 21, "no kernel for the opset-22 schema in ORT 1.30"),
    ("", "RandomNormalLike", 21, "no kernel for the opset-22 schema in ORT 1.30"),
    ("", "RandomUniform", 21, "no kernel for the opset-22 schema in ORT 1.30"),
    ("", "RandomUniformLike", 21, "no kernel for the opset-22 schema in ORT 1.30"),
    ("", "RoiAlign", 21, "no kernel for the opset-22 schema in ORT 1.30"),
    # Old experimental ops: ORT 1.30 rejects them from opset 10 on ("ai.onnx:Affine(10) is not a
    # registered function/op"); verified at 1..26 for each.
    ("", "Affine", 9, "experimental op, unknown to ORT from opset 10"),
    ("", "Crop", 9, "experimental op, unknown to ORT from opset 10"),
    ("", "DynamicSlice", 9, "experimental op, unknown to ORT from opset 10"),
    ("", "ImageScaler", 9, "experimental op, unknown to ORT from opset 10"),
    ("", "ParametricSoftplus", 9, "experimental op, unknown to ORT from opset 10"),
    ("", "Scale", 9, "experimental op, unknown to ORT from opset 10"),
    ("", "ScaledTanh", 9, "experimental op, unknown to ORT from opset 10"),
    # ai.onnx.ml opset 5 deprecates these ("Op registered for TreeEnsembleRegressor is deprecated in
    # domain_version of 5"); the model is rejected.
    ("ai.onnx.ml", "TreeEnsembleClassifier", 4, "deprecated in ai.onnx.ml opset 5"),
    ("ai.onnx.ml", "TreeEnsembleRegressor", 4, "deprecated in ai.onnx.ml opset 5"),
]

# EXTRA: (domain, op, since, until or None for open-ended, why): ops ORT 1.30 runs on CPU that the
# stored OperatorKernels.md does not list. Ranges are the model opsets verified to load.
EXTRA = [
    # ai.onnx opset 26 (ONNX 1.21) is newer than the stored OperatorKernels.md; ORT PR #27601 added CPU
    # kernels for both new ops. Verified at 26.
    ("", "BitCast", 26, None, "opset-26 kernel, newer than the stored OperatorKernels.md"),
    ("", "CumProd", 26, None, "opset-26 kernel, newer than the stored OperatorKernels.md"),
    # Kernels missing from the stored OperatorKernels.md; verified at every opset in range.
    ("", "NonMaxSuppression", 10, None, "kernel not listed in OperatorKernels.md; verified 10..26"),
    ("", "DeformConv", 19, None, "kernel not listed in OperatorKernels.md; verified 19..26"),
    ("com.microsoft", "QLinearAveragePool", 1, None, "kernel not listed in OperatorKernels.md"),
    ("com.microsoft", "QLinearConcat", 1, None, "kernel not listed in OperatorKernels.md"),
    ("com.microsoft", "QLinearGlobalAveragePool", 1, None, "kernel not listed in OperatorKernels.md"),
    # Constant has no kernel: ORT turns Constant nodes into initializers when it loads the graph.
    ("", "Constant", 1, None, "folded into an initializer at load; verified 1..26"),
    # Ops ONNX defines as functions (OpSchema::HasFunction / HasContextDependentFunction): with no
    # kernel, ORT inlines the function body at partitioning time, so they run if the body's ops do.
    ("", "Bernoulli", 15, 21, "function; from 22 its body needs RandomUniformLike-22 (no kernel)"),
    ("", "CastLike", 15, None, "function; verified 15..26"),
    ("", "CenterCropPad", 18, None, "function; verified 18..26"),
    ("", "GroupNormalization", 18, None, "function; verified 18..26"),
    ("", "HardSwish", 14, None, "function; verified 14..26"),
    ("", "Mish", 18, None, "function; verified 18..26"),
    ("", "NegativeLogLikelihoodLoss", 12, None, "function; verified 12..26"),
    ("", "SequenceMap", 17, None, "function; verified 17..26"),
    ("", "SoftmaxCrossEntropyLoss", 12, None, "function; verified 12..26"),
    ("", "Swish", 24, 24, "function; only model opset 24 loads (25, 26: no implementation for Swish(24))"),
]

VERSION_RE = re.compile(r"^(?:(\d+)\+|\[(\d+),\s*(\d+)\]|(\d+))$")


def parse(text):
    start = text.find('<a name="cpuexecutionprovider"/>')
    if start < 0:
        raise SystemExit("no CPUExecutionProvider section found")
    end = text.find('<a name="', start + 1)
    section = text[start:end if end >= 0 else len(text)]
    rows, domain, op = [], None, None
    for line in section.splitlines():
        line = line.strip()
        m = re.match(r"^\|\*\*Operator Domain:\*\* \*([^*]+)\*", line)
        if m:
            domain, op = m.group(1), None
            continue
        if not line.startswith("|") or domain is None:
            continue
        cells = line.split("|")[1:-1]
        if len(cells) < 3:
            continue
        name = cells[0].strip()
        if name in ("Op Name",) or name.startswith("---"):
            continue
        if name:
            op = name
        if op is None:
            continue
        v = VERSION_RE.match(cells[2].strip())
        if not v:
            continue
        if v.group(1):
            since, until = int(v.group(1)), None
        elif v.group(2):
            since, until = int(v.group(2)), int(v.group(3))
        else:
            since = until = int(v.group(4))
        rows.append(("" if domain == "ai.onnx" else domain, op, since, until, None))
    return rows


def apply_caps(rows):
    caps = {(d, op): (last, why) for d, op, last, why in CAPS}
    seen, out = set(), []
    for d, op, since, until, why in rows:
        cap = caps.get((d, op))
        if cap:
            seen.add((d, op))
            if since > cap[0]:
                continue
            if until is None or until > cap[0]:
                until, why = cap[0], cap[1]
        out.append((d, op, since, until, why))
    missing = set(caps) - seen
    if missing:
        raise SystemExit(f"CAPS rows match no kernel row: {sorted(missing)}")
    return out


def emit(rows):
    out = []
    for d, op, since, until, why in sorted(rows, key=lambda r: (r[0], r[1], r[2])):
        u = "kOpen" if until is None else str(until)
        line = '    {"%s", "%s", %d, %s},' % (d, op, since, u)
        if why:
            line += "  // " + why
        out.append(line)
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    rows = apply_caps(parse(open(argv[1], encoding="utf-8").read()))
    have = {(d, o) for d, o, *_ in rows}
    for d, op, since, until, why in EXTRA:
        if (d, op) in have:
            raise SystemExit(f"EXTRA row {d}:{op} duplicates a kernel row; drop it")
        rows.append((d, op, since, until, why))
    body = emit(rows)
    if len(argv) >= 4 and argv[2] == "--update":
        path = argv[3]
        src = open(path, encoding="utf-8").read()
        b, e = "// BEGIN GENERATED ROWS\n", "    // END GENERATED ROWS"
        i, j = src.index(b) + len(b), src.index(e)
        open(path, "w", encoding="utf-8").write(src[:i] + body + src[j:])
    else:
        sys.stdout.write(body)


if __name__ == "__main__":
    main(sys.argv)
