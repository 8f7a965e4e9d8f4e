#!/usr/bin/env bash
# Behaviour check for refactors (not a test): the three numbers a restructure must not move.
# Crowdflower dev hybrid nDCG@10, Bitext cold FAQ accuracy@1 (dense), and the scripted dialogues +
# unanswerable questions through whole chat turns on the embedded engine. Writes JSON under
# bench/results/behaviour-TAG-*.json (TAG = first argument, e.g. before / after) and prints a table.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
DATA=${DATA:-../shared/data}
TAG=${1:-now}
OUT=bench/results
mkdir -p "$OUT"
if [ ! -d "$DATA" ]; then echo "no data at $DATA (set DATA=...)"; exit 1; fi
CF=$DATA/search/crowdflower CS=$DATA/cs
"$BIN/shopassist" eval search --products "$CF/products.csv" --queries "$CF/queries_dev.csv" --qrels "$CF/qrels_dev.csv" --json "$OUT/behaviour-$TAG-search.json"
"$BIN/shopassist" eval faq --faq "$CS/faq.csv" --questions "$CS/questions_dev.csv" --json "$OUT/behaviour-$TAG-faq.json"
"$BIN/shopassist" eval chat --dialogues tests/data/chat/dialogues.jsonl --unanswerable tests/data/chat/unanswerable.csv --json "$OUT/behaviour-$TAG-chat.json"
"$BIN/python" - "$OUT" "$TAG" <<'PY'
import json, sys
out, tag = sys.argv[1], sys.argv[2]
load = lambda name: json.load(open(f"{out}/behaviour-{tag}-{name}.json"))
s, f, c = load("search"), load("faq"), load("chat")
rows = [
    ("Crowdflower dev nDCG@10 hybrid / BM25 / dense", " / ".join(str(s["modes"][m]["ndcg@10"]) for m in ("hybrid", "lexical", "dense"))),
    ("Bitext cold accuracy@1 dense / lexical / fused", " / ".join(str(f["modes"][m]["accuracy@1"]) for m in ("dense", "lexical", "fused"))),
    ("dialogue turns passed", f"{round(c['dialogues']['turn_pass_rate'] * c['dialogues']['turns'])} of {c['dialogues']['turns']}"),
    ("unanswerable refused", f"{round(c['unanswerable']['refusal_rate'] * c['unanswerable']['n'])} of {c['unanswerable']['n']}"),
]
width = max(len(r[0]) for r in rows)
print(f"behaviour ({tag})")
for name, value in rows:
    print(f"  {name.ljust(width)}  {value}")
json.dump(dict(rows), open(f"{out}/behaviour-{tag}.json", "w"), indent=2)
PY
