#!/usr/bin/env bash
# vLLM against the embedded engine, and a LoRA adapter served as LoRA and merged, same prompts, one
# run (`ratio_vs_first_engine`). Runs in its own home so the benchmark's noise adapter never becomes
# the shop's `cs` adapter. Run from anywhere after `make setup`; `bench/run.sh` calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
mkdir -p bench/results
export SHOPASSIST_HOME=${BENCH_HOME:-$PWD/.shopassist/bench}
export SHOPASSIST_MODEL_CACHE=${SHOPASSIST_MODEL_CACHE:-$HOME/.cache/shopassist/models}
export SHOPASSIST_SERVING__PYTHON=${SHOPASSIST_SERVING__PYTHON:-$HOME/.cache/shopassist/vllm-venv/bin/python}
ADAPTER=bench-noise
"$BIN/python" - "$ADAPTER" <<'PY'
import sys
from assistant.generation.adapters import AdapterRecord, AdapterRegistry
from assistant.config import load_settings
from assistant.generation.models import resolve_generator_model
from assistant.generation.serving import noise_lora_adapter

settings, name = load_settings(), sys.argv[1]
registry = AdapterRegistry.for_home(settings.home)
if name not in {r.name for r in registry.list()}:
    base = resolve_generator_model(settings.generator.model, settings.models_dir)
    path = noise_lora_adapter(base, settings.home / "adapters" / name, rank=8)
    registry.register(AdapterRecord(name=name, task="cs", path=path, base_model=str(base)))
PY
trap '"$BIN/shopassist" serve-model --stop >/dev/null 2>&1 || true' EXIT
# Serve as fast as this CPU allows: compiled (no --enforce-eager; minutes to start) and computing on
# every core (vLLM's default keeps one for its scheduler, half of a 2-core machine). A LoRA server
# is not compiled whatever the setting (vLLM turns compilation off for LoRA on CPU).
export SHOPASSIST_SERVING__EAGER=${SHOPASSIST_SERVING__EAGER:-false}
export SHOPASSIST_SERVING__CPU_THREADS_BIND=${SHOPASSIST_SERVING__CPU_THREADS_BIND:-0-$(($(nproc) - 1))}
# vLLM's CPU scheduler process spins on a core even when idle, so on a small machine each engine is
# measured alone: the embedded engine with no server up, then each server by itself. The same
# prompts and settings every time; generate-vllm.json puts them side by side with ratios.
GEN=("$BIN/shopassist" bench generate --concurrency 1,8 --max-new-tokens 128 --rounds 2)
R=bench/results
"$BIN/shopassist" serve-model --stop >/dev/null 2>&1 || true
"${GEN[@]}" --engine embedded --json $R/generate-alone-embedded.json
"$BIN/shopassist" serve-model --install --detach --no-adapters
"${GEN[@]}" --engine vllm --json $R/generate-alone-vllm.json
"$BIN/shopassist" serve-model --stop
"$BIN/shopassist" serve-model --detach
"${GEN[@]}" --engine "vllm:$ADAPTER" --json $R/generate-alone-lora.json
"$BIN/shopassist" serve-model --stop
"$BIN/shopassist" serve-model --merged "$ADAPTER" --detach
"${GEN[@]}" --engine "vllm:$ADAPTER@http://127.0.0.1:8101" --json $R/generate-alone-merged.json
"$BIN/shopassist" serve-model --stop
"$BIN/python" - $R "$ADAPTER" <<'PY'
import json
import sys
from pathlib import Path

from assistant.cli.main import print_rows

folder, adapter = Path(sys.argv[1]), sys.argv[2]
rows = []
for part in ("embedded", "vllm", "lora", "merged"):
    rows += json.loads((folder / f"generate-alone-{part}.json").read_text())["results"]
names = {"embedded": "embedded", "vllm": "vllm base", f"vllm:{adapter}": "vllm LoRA"}
for row in rows:
    row["engine"] = names.get(row["engine"], "vllm merged")
    row.pop("ratio_vs_first_engine", None)
base = {(r["engine"], r["concurrency"]): r["tokens_per_s"] for r in rows}
for row in rows:
    row["ratio_vs_embedded"] = round(row["tokens_per_s"] / base[("embedded", row["concurrency"])], 2)
    row["ratio_vs_vllm_base"] = round(row["tokens_per_s"] / base[("vllm base", row["concurrency"])], 2)
print_rows(rows)
(folder / "generate-vllm.json").write_text(json.dumps({"adapter": adapter, "results": rows}, indent=2))
print(f"wrote {folder / 'generate-vllm.json'}")
PY
