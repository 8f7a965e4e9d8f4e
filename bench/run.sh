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
# The REST API under 1/8/32 concurrent chat clients and 16 abandoned requests (fake, then embedded).
"$BIN/shopassist" bench load --engine fake --json bench/results/load-fake.json
"$BIN/shopassist" bench load --engine embedded --json bench/results/load-embedded.json
# vLLM against the embedded engine, and a LoRA adapter served as LoRA and merged (SKIP_VLLM=1 skips).
if [ "${SKIP_VLLM:-0}" != 1 ]; then
  bash bench/vllm.sh
fi
# Retrieval on the shared relevance data (skips with a message when ../shared/data is absent).
bash bench/retrieval.sh || echo "retrieval benchmarks skipped or failed (see above)"
