#!/usr/bin/env bash
# Build llama.cpp's Python bindings (xllamacpp) for this CPU and install them in the venv.
#
# Why: the prebuilt wheel is compiled for any x86-64 with AVX2 (it has no AVX-512 code), so on a
# CPU with AVX-512 a native build decodes batches faster (measured in docs/benchmarks.md). It is
# optional: `make native` runs it once (about 9 minutes on 2 cores; needs a C++ compiler and cmake);
# `make setup` keeps the prebuilt wheel so a first run stays short. The same version as the
# installed wheel is built from its source distribution on the package index. LLGuidance (a Rust
# component fetched from GitHub at build time) and BoringSSL (fetched too) are left out: the engine
# enforces patterns with llama.cpp's own GBNF grammars and serves no HTTPS.
# Usage: bash scripts/build-llamacpp-native.sh [VENV]     (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv}
PY="$VENV/bin/python"
for tool in c++ cmake; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed to build llama.cpp: install it (e.g. apt install build-essential cmake)" >&2; exit 2; }
done
version=$("$PY" -c "from importlib.metadata import version; print(version('xllamacpp'))")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building xllamacpp $version for this CPU in $work (several minutes)"
"$PY" -m pip download -q --no-deps --no-binary :all: "xllamacpp==$version" -d "$work/src"
python3 -m venv "$work/build-venv"
"$work/build-venv/bin/pip" install -q "cython>=3.1" versioneer setuptools wheel
tar -xzf "$work"/src/xllamacpp-*.tar.gz -C "$work/src"
(
  cd "$work"/src/xllamacpp-*/
  CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_LLGUIDANCE=OFF -DLLAMA_BUILD_BORINGSSL=OFF" NPROC="$(nproc)" \
    "$work/build-venv/bin/pip" wheel . --no-deps --no-build-isolation -w "$work/wheel" -q
)
"$PY" -m pip install -q --no-deps --force-reinstall "$work"/wheel/xllamacpp-*.whl
echo "installed a native xllamacpp $version in $VENV; 'make setup' after a pyproject change keeps it"
