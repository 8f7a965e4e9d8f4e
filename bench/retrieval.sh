#!/usr/bin/env bash
# Retrieval benchmarks on the shared relevance sets (not tests). Each eval prints one table and
# writes JSON under bench/results/. DATA defaults to ../shared/data beside the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
DATA=${DATA:-../shared/data}
OUT=bench/results
mkdir -p "$OUT"
if [ ! -d "$DATA" ]; then echo "no data at $DATA (set DATA=...)"; exit 1; fi
CF=$DATA/search/crowdflower HD=$DATA/search/homedepot CS=$DATA/cs
"$BIN/shopassist" eval search --products "$CF/products.csv" --queries "$CF/queries_dev.csv" --qrels "$CF/qrels_dev.csv" --learned-folds 5 --json "$OUT/search-crowdflower.json"
"$BIN/shopassist" eval search --products "$HD/products.csv" --queries "$HD/queries_dev.csv" --qrels "$HD/qrels_dev.csv" --max-queries 1000 --learned-folds 5 --json "$OUT/search-homedepot.json"
"$BIN/shopassist" eval search --products "$HD/products.csv" --queries "$HD/queries_dev.csv" --qrels "$HD/qrels_dev.csv" --max-queries 1000 --filters '{"in_stock": true}' --json "$OUT/search-homedepot-filtered.json"
"$BIN/shopassist" bench ingest --products "$HD/products.csv" --old-mirror --json "$OUT/ingest-homedepot.json"
"$BIN/shopassist" eval faq --faq "$CS/faq.csv" --questions "$CS/questions_dev.csv" --json "$OUT/faq-bitext-cold.json"
"$BIN/shopassist" eval faq --faq "$CS/faq.csv" --questions "$CS/questions_dev.csv" --examples "$CS/questions_dev.csv" --json "$OUT/faq-bitext-examples.json"
# Whole chat turns. Bitext questions against the Bitext FAQ (cold): routing and citations do not
# depend on the generator, so that run uses the scripted one; our dialogue and unanswerable sets on
# the demo shop run on the configured engine (embedded by default) for verifier and latency numbers.
"$BIN/shopassist" eval chat --faq "$CS/faq.csv" --questions "$CS/questions_dev.csv" --max-questions 1000 --engine fake --json "$OUT/chat-bitext.json"
"$BIN/shopassist" eval chat --dialogues tests/data/chat/dialogues.jsonl --unanswerable tests/data/chat/unanswerable.csv --json "$OUT/chat-dialogues.json"
