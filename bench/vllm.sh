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
from assistant.adapters import AdapterRecord, AdapterRegistry
from assistant.config import load_settings
from assistant.models import resolve_generator_model
from assistant.serving import noise_lora_adapter

settings, name = load_settings(), sys.argv[1]
registry = AdapterRegistry.for_home(settings.home)
if name not in {r.name for r in registry.list()}:
    base = resolve_generator_model(settings.generator.model, settings.models_dir)
    path = noise_lora_adapter(base, settings.home / "adapters" / name, rank=8)
    registry.register(AdapterRecord(name=name, task="cs", path=path, base_model=str(base)))
PY
trap '"$BIN/shopassist" serve-model --stop' EXIT
"$BIN/shopassist" serve-model --install --detach
"$BIN/shopassist" serve-model --merged "$ADAPTER" --detach
"$BIN/shopassist" bench generate --concurrency 1,8 --max-new-tokens 128 \
  --engine "embedded,vllm,vllm:$ADAPTER@http://127.0.0.1:8100,vllm:$ADAPTER@http://127.0.0.1:8101" \
  --json bench/results/generate-vllm.json
