#!/usr/bin/env bash
# Build llama.cpp's Python bindings (xllamacpp) for this CPU and install them in the venv.
#
# Why: the prebuilt wheel is compiled for any x86-64 with AVX2 (it has no AVX-512 code), so on a
# CPU with AVX-512 a native build decodes batches faster (measured in docs/benchmarks.md). The same
# version as the installed wheel is built from its source distribution on the package index.
# LLGuidance (a Rust component fetched from GitHub at build time) and BoringSSL (fetched too) are
# left out: the engine enforces patterns with llama.cpp's own GBNF grammars and serves no HTTPS.
# The wheel is kept in the user's cache under a key of the version and the CPU's flags, so another
# venv on this machine (a fresh clone, CI) installs it in seconds instead of compiling again.
#
# Usage: bash scripts/build-llamacpp-native.sh [VENV]     build now (about 6 minutes on 2 cores;
#                                                         `make native`), or install the cached wheel
#        bash scripts/build-llamacpp-native.sh --background [VENV]
#            what `make run` does: nothing if the venv has the native build; the cached wheel if
#            there is one; else, on a CPU with AVX-512 and a compiler, the build starts in the
#            background at the lowest priority (log: VENV/native-build.log) and the app starts at
#            once on the prebuilt wheel; the next start uses the native build. NATIVE=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
background=0
print_key=0
case "${1:-}" in
  --background) background=1; shift ;;
  --key) print_key=1; shift ;;  # the cache key of this venv's version on this CPU (for tests)
esac
VENV=$(cd "${1:-.venv}" && pwd)
PY="$VENV/bin/python"
MARK="$VENV/.native-xllamacpp"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/shopassist/wheels"
version=$("$PY" -c "from importlib.metadata import version; print(version('xllamacpp'))")
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | tr ' ' '\n' | sort | tr '\n' ' ' || true)
key="$version-$(uname -m)-$(printf '%s' "$flags" | sha256sum | cut -c1-12)"
cached="$CACHE/$key"
if [[ $print_key == 1 ]]; then
  echo "$key"
  exit 0
fi

install_cached() {
  "$PY" -m pip install -q --no-deps --force-reinstall "$cached"/xllamacpp-*.whl
  echo "$key" > "$MARK"
  rm -f "$VENV/.native-build-failed"
  echo "installed the native xllamacpp $version built for this CPU ($cached)"
}

if [[ -f "$MARK" && "$(cat "$MARK")" == "$key" ]]; then
  [[ $background == 1 ]] || echo "the native xllamacpp $version for this CPU is already installed in $VENV"
  exit 0
fi
if compgen -G "$cached/xllamacpp-*.whl" >/dev/null; then
  install_cached
  exit 0
fi
if [[ $background == 1 ]]; then
  if [[ "${NATIVE:-1}" == 0 ]]; then
    exit 0
  fi
  if ! grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    exit 0  # the prebuilt wheel's AVX2 code is what a native build would use here too
  fi
  for tool in c++ cmake; do
    if ! command -v "$tool" >/dev/null; then
      echo "note: llama.cpp runs on the prebuilt wheel; with a C++ compiler and cmake, 'make native' builds it for this CPU (faster batches)"
      exit 0
    fi
  done
  log="$VENV/native-build.log"
  failed="$VENV/.native-build-failed"
  if [[ -f "$failed" && "$(cat "$failed")" == "$key" ]]; then
    echo "note: llama.cpp runs on the prebuilt wheel: the build for this CPU failed (see $log); 'make native' tries again"
    exit 0
  fi
  echo "note: building llama.cpp for this CPU in the background at the lowest priority (about 6 minutes on 2 cores; log: $log, NATIVE=0 skips it); the app starts now on the prebuilt wheel and uses the native build from its next start"
  # A copy runs, so a checkout that changes under it (git pull) cannot change a running script.
  copy="$VENV/.native-build.sh"
  cp "$0" "$copy"
  # A failed build is not retried at every start (it may have run for minutes): its key is kept.
  nohup nice -n 19 bash -c 'bash "$1" "$2" || echo "$3" > "$4"' _ "$copy" "$VENV" "$key" "$failed" \
    >"$log" 2>&1 </dev/null &
  exit 0
fi

for tool in c++ cmake; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed to build llama.cpp: install it (e.g. apt install build-essential cmake)" >&2; exit 2; }
done
mkdir -p "$CACHE"
exec 9>"$CACHE/build.lock"
if ! flock -n 9; then
  echo "another build of llama.cpp is running (lock $CACHE/build.lock); waiting for it"
  flock 9
  if compgen -G "$cached/xllamacpp-*.whl" >/dev/null; then
    install_cached
    exit 0
  fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building xllamacpp $version for this CPU in $work (several minutes)"
start=$(date +%s)
"$PY" -m pip download -q --no-deps --no-binary :all: "xllamacpp==$version" -d "$work/src"
python3 -m venv "$work/build-venv"
"$work/build-venv/bin/pip" install -q "cython>=3.1" versioneer setuptools wheel
tar -xzf "$work"/src/xllamacpp-*.tar.gz -C "$work/src"
(
  cd "$work"/src/xllamacpp-*/
  CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_LLGUIDANCE=OFF -DLLAMA_BUILD_BORINGSSL=OFF" NPROC="$(nproc)" \
    "$work/build-venv/bin/pip" wheel . --no-deps --no-build-isolation -w "$work/wheel" -q
)
mkdir -p "$cached.tmp"
cp "$work"/wheel/xllamacpp-*.whl "$cached.tmp/"
rm -rf "$cached"
mv "$cached.tmp" "$cached"
echo "built in $(( $(date +%s) - start )) s"
install_cached
