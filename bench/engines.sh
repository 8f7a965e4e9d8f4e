#!/usr/bin/env bash
# Issue 20: every CPU engine on the same prompts and model, one run, each measured alone on the
# machine (vLLM's CPU scheduler spins on a core even when idle): the embedded transformers engine,
# llama.cpp in process (xllamacpp, the packaged Q4_1 GGUF) and vLLM on CPU (compiled, both cores).
# Tokens/s and time to first token at 1 and 8 requests, peak memory, each engine's single-stream
# share of the memory-bandwidth limit for its weight format, ratios to the best other engine; then
# time to first token at 8 with staggered arrivals (100 ms apart), where continuous batching
# (llama.cpp, vLLM) and batches that run to completion (embedded) differ.
# The llama.cpp engine decodes the weight format `generator.gguf_format` sets (Q8_0 by default).
# Usage: bash bench/engines.sh            (SKIP_VLLM=1 leaves vLLM out: it installs ~2 min first;
#                                           SKIP_EMBEDDED=1 the embedded engine)
#        NATIVE_SITE=DIR bash bench/engines.sh   adds 'llamacpp-native': the same engine with the
#        xllamacpp found in DIR (a build for this CPU: pip install --target DIR the wheel that
#        scripts/build-llamacpp-native.sh builds), so the prebuilt and native builds share one run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
R=bench/results
mkdir -p $R
export SHOPASSIST_HOME=${BENCH_HOME:-$PWD/.shopassist/bench}
export SHOPASSIST_SERVING__PYTHON=${SHOPASSIST_SERVING__PYTHON:-$HOME/.cache/shopassist/vllm-venv/bin/python}
export SHOPASSIST_SERVING__EAGER=${SHOPASSIST_SERVING__EAGER:-false}
export SHOPASSIST_SERVING__CPU_THREADS_BIND=${SHOPASSIST_SERVING__CPU_THREADS_BIND:-0-$(($(nproc) - 1))}
GEN=("$BIN/shopassist" bench generate --concurrency 1,8 --max-new-tokens 128 --rounds 2)
STAG=("$BIN/shopassist" bench generate --concurrency 8 --max-new-tokens 128 --rounds 2 --stagger-ms 100)
trap '"$BIN/shopassist" serve-model --stop >/dev/null 2>&1 || true' EXIT
"$BIN/shopassist" serve-model --stop >/dev/null 2>&1 || true
parts=(embedded llamacpp)
[[ "${SKIP_EMBEDDED:-0}" == 1 ]] && parts=(llamacpp)
for engine in "${parts[@]}"; do
  "${GEN[@]}" --engine "$engine" --json "$R/engines-$engine.json"
  "${STAG[@]}" --engine "$engine" --json "$R/engines-stagger-$engine.json"
done
if [[ -n "${NATIVE_SITE:-}" ]]; then
  PYTHONPATH="$NATIVE_SITE${PYTHONPATH:+:$PYTHONPATH}" "${GEN[@]}" --engine llamacpp --json "$R/engines-llamacpp-native.json"
  PYTHONPATH="$NATIVE_SITE${PYTHONPATH:+:$PYTHONPATH}" "${STAG[@]}" --engine llamacpp --json "$R/engines-stagger-llamacpp-native.json"
  parts+=(llamacpp-native)
fi
if [[ "${SKIP_VLLM:-0}" != 1 ]]; then
  "$BIN/shopassist" serve-model --install --detach --no-adapters
  "${GEN[@]}" --engine vllm --json "$R/engines-vllm.json"
  "${STAG[@]}" --engine vllm --json "$R/engines-stagger-vllm.json"
  "$BIN/shopassist" serve-model --stop
  parts+=(vllm)
fi
"$BIN/python" - "$R" "${parts[@]}" <<'PY'
import json
import sys
from pathlib import Path

from assistant.cli.common import print_rows

folder, parts = Path(sys.argv[1]), sys.argv[2:]
rows, stagger, meta = [], [], {}
for part in parts:
    data = json.loads((folder / f"engines-{part}.json").read_text())
    meta = {k: data[k] for k in ("memory_bandwidth_gbs", "cpu_count")}
    staggered = json.loads((folder / f"engines-stagger-{part}.json").read_text())["results"]
    for row in data["results"] + staggered:
        row["engine"] = part  # llamacpp-native runs the llamacpp engine on another build
    rows += data["results"]
    stagger += staggered
def family(row):
    return row["engine"].split("-")[0]  # llamacpp-native is llama.cpp: its peers are the other engines


for row in rows:
    others = [r["tokens_per_s"] for r in rows if r["concurrency"] == row["concurrency"] and family(r) != family(row)]
    row["ratio_vs_best_other"] = round(row["tokens_per_s"] / max(others), 2) if others else None
    for key in ("ratio_vs_first", "ratio_vs_first_engine"):
        row.pop(key, None)
print_rows(rows)
print(f"memory bandwidth (one core, copy): {meta['memory_bandwidth_gbs']} GB/s; cores: {meta['cpu_count']}")
print("\nstaggered arrivals (8 requests, 100 ms apart):")
print_rows([{k: r[k] for k in ("engine", "tokens_per_s", "ttft_p50_s", "ttft_p95_s")} for r in stagger])
out = folder / "engines.json"
out.write_text(json.dumps({**meta, "results": rows, "staggered_100ms": stagger}, indent=2))
print(f"wrote {out}")
PY
