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
# Retrieval on the shared relevance data (skips with a message when ../shared/data is absent).
bash bench/retrieval.sh || echo "retrieval benchmarks skipped or failed (see above)"
