#!/usr/bin/env bash
# Batch copy throughput (issue 16): the same held-out Flipkart products through `shopassist copy
# --batch --workers 8` on each engine, one run, products per minute and the ratio to the embedded
# engine. Each engine runs alone (vLLM's CPU scheduler spins on a core even when idle). Runs in its
# own home; N products (default 16) from the copy adapter's held-out side.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
N=${N:-16}
ENGINES=${ENGINES:-embedded llamacpp vllm}
PRODUCTS=${PRODUCTS:-../shared/data/copy/flipkart_products.csv}
R=bench/results
mkdir -p "$R"
export SHOPASSIST_HOME=${BENCH_HOME:-$PWD/.shopassist/bench-copy}
export SHOPASSIST_MODEL_CACHE=${SHOPASSIST_MODEL_CACHE:-$HOME/.cache/shopassist/models}
export SHOPASSIST_SERVING__PYTHON=${SHOPASSIST_SERVING__PYTHON:-$HOME/.cache/shopassist/vllm-venv/bin/python}
[ -f "$PRODUCTS" ] || { echo "copy_batch: $PRODUCTS is missing (../shared/data, or set PRODUCTS)" >&2; exit 2; }
IDS=$("$BIN/python" - "$PRODUCTS" "$N" <<'PY'
import sys
from finetune.copy_eval import heldout_ids, sample
from finetune.data import load_copy_products
path, n = sys.argv[1], int(sys.argv[2])
keep = heldout_ids([path], "")
print(",".join(p.id for p in sample([p for p in load_copy_products([path]) if p.id in keep], n)))
PY
)
trap '"$BIN/shopassist" serve-model --stop >/dev/null 2>&1 || true' EXIT
"$BIN/shopassist" serve-model --stop >/dev/null 2>&1 || true
: > "$R/copy-batch-times.txt"
for engine in $ENGINES; do
  out="$R/copy-batch-$engine.jsonl"
  rm -f "$out" "$out.state"
  if [ "$engine" = vllm ]; then "$BIN/shopassist" serve-model --detach; fi
  start=$(date +%s.%N)
  "$BIN/shopassist" copy --batch --products "$PRODUCTS" --ids "$IDS" --out "$out" --workers 8 --engine "$engine"
  echo "$engine $start $(date +%s.%N)" >> "$R/copy-batch-times.txt"
  if [ "$engine" = vllm ]; then "$BIN/shopassist" serve-model --stop; fi
done
"$BIN/python" - "$R" <<'PY'
import json, sys
from pathlib import Path
r = Path(sys.argv[1])
rows = []
for line in (r / "copy-batch-times.txt").read_text().splitlines():
    engine, start, end = line.split()
    records = [json.loads(x) for x in (r / f"copy-batch-{engine}.jsonl").read_text().splitlines() if x.strip()]
    seconds = float(end) - float(start)
    model = sum(1 for x in records if x.get("source") == "model")
    rows.append({"engine": engine, "products": len(records), "seconds": round(seconds, 1),
                 "products_per_minute": round(len(records) / seconds * 60, 2),
                 "model_written": round(model / len(records), 3) if records else 0.0})
base = next((x["products_per_minute"] for x in rows if x["engine"] == "embedded"), None)
for x in rows:
    x["ratio_vs_embedded"] = round(x["products_per_minute"] / base, 2) if base else None
print(f"{'engine':10} {'products':>8} {'seconds':>8} {'per min':>8} {'model':>6} {'ratio':>6}")
for x in rows:
    print(f"{x['engine']:10} {x['products']:>8} {x['seconds']:>8} {x['products_per_minute']:>8} {x['model_written']:>6} {x['ratio_vs_embedded'] or '-':>6}")
(r / "copy-batch.json").write_text(json.dumps({"workers": 8, "rows": rows}, indent=2) + "\n")
print(f"wrote {r / 'copy-batch.json'}")
PY
