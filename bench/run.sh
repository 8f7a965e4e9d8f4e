#!/usr/bin/env bash
# Benchmarks (not tests): each prints a table and writes JSON under bench/results/.
# Run from the repo root after `make setup` (or via `make bench`).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
mkdir -p bench/results
# Embedded engine, 1/4/8 concurrent requests, same prompts, one process: the ratios are the result.
"$BIN/shopassist" bench generate --engine embedded --concurrency 1,4,8 --max-new-tokens 128 --rounds 3 \
  --json bench/results/generate-embedded.json
# Chat latency a shopper sees (first streamed event, first text) at 4 concurrent chats, default engine.
"$BIN/shopassist" bench chat --concurrency 4 --rounds 2 --json bench/results/chat-embedded.json
# vLLM against the embedded engine, and a LoRA adapter served as LoRA and merged (SKIP_VLLM=1 skips).
# Runs in its own home so the benchmark's noise adapter never becomes the shop's `cs` adapter.
if [ "${SKIP_VLLM:-0}" != 1 ]; then
  (
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
  )
fi
# Retrieval on the shared relevance data (skips with a message when ../shared/data is absent).
bash bench/retrieval.sh || echo "retrieval benchmarks skipped or failed (see above)"
