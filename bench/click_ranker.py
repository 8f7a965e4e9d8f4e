"""A learned ranker trained from shopper events alone, against BM25 and the default hybrid, in one run.

    python bench/click_ranker.py [--set homedepot|crowdflower] [--sessions 3] [--train-sizes 250,500] [--json PATH]

A shop has no judged queries but logs what shoppers did. This bench makes such a log from a judged
set: the judged queries are split in two halves by a hash of their id; for each query of the first
half, `--sessions` simulated shoppers see the default hybrid's top 10 and click by a
position-based model (a shopper looks at rank r with probability 1 / r^0.7 and clicks a product it
looks at with a probability that grows with its judged grade; unjudged products count as
irrelevant and draw stray clicks at 0.05); a click on a product of the top grade is carted half
the time. Impressions and clicks carry their position, as a storefront logs them. The events go
through `retrieval.events.judgements` into the ranker's training, exactly as `shopassist
train-ranker --events` does. The second half is then ranked by BM25, the hybrid without a ranker,
with a ranker trained on the events as `train-ranker --events` trains it (a click grades a product
only when it beats position bias, `retrieval.events.click_rates`; the shown products and the far
tail, `TrainingQuery.shown_and_far`), with one trained the same way but counting every click, and
with one trained on the first half's true judgements (the ceiling). nDCG@10 over the whole
catalogue. The simulator's own examination curve is never given to the estimator: it reads the
click rates by position from the log. A log that grades fewer queries than
`retrieval.events.MIN_EVENT_QUERIES` is refused, as by the command, and the row is the fusion's;
`--train-sizes` adds rankers trained (without that rule) on nested random parts of the log, the
curve the rule was chosen from.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETS = ROOT.parent / "shared" / "data" / "search"


def _half(qid: str) -> int:
    return int(hashlib.sha1(qid.encode()).hexdigest(), 16) % 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="homedepot", choices=("homedepot", "crowdflower"))
    parser.add_argument("--sessions", type=int, default=3, help="Simulated shoppers per training query")
    parser.add_argument("--max-test", type=int, default=1000, help="Test queries evaluated (a fixed sample)")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the simulated shoppers")
    parser.add_argument(
        "--train-sizes",
        default="",
        help="Comma-separated numbers of training queries: also train `train-ranker --events` rankers on "
        "nested random subsets of the event log of that many queries (how big a log must be to gain)",
    )
    parser.add_argument("--home", type=Path, default=Path("/tmp/shopassist-bench-clicks"))
    parser.add_argument("--json", type=Path, help="Write the results as JSON")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from retrieval.datasets import SearchSet, load_search_set
    from retrieval.embeddings import make_embedding_function
    from retrieval.evaluate import build_search_index, evaluate_search
    from retrieval.events import Event, TooFewEventQueries, judgements, train_from_events
    from retrieval.rerank import LearnedRanker, TrainingQuery

    folder = SETS / args.set
    data = load_search_set(folder / "products.csv", folder / "queries_dev.csv", folder / "qrels_dev.csv", 1.0)
    eval_index = build_search_index(data, args.home / "eval", make_embedding_function())
    search = eval_index.index.products
    judged = data.judged_queries()
    train = [q for q in judged if _half(q) == 0]
    test = [q for q in judged if _half(q) == 1]
    top_gain = max(g for q in judged for g in data.qrels[q].values())
    rng = random.Random(args.seed)
    events: list[Event] = []
    start = time.perf_counter()
    for q in train:
        text = data.queries[q]
        shown = [h.product.id for h in search.run(text, top_k=10).hits]
        for _ in range(args.sessions):
            for rank, pid in enumerate(shown, start=1):
                events.append(Event(text, pid, "impression", rank))
                if rng.random() > 1 / rank**0.7:
                    continue  # not looked at
                gain = data.qrels[q].get(pid, 0.0)
                attract = 0.05 + 0.85 * (gain / top_gain) if top_gain else 0.05
                if rng.random() < attract:
                    events.append(Event(text, pid, "click", rank))
                    if gain == top_gain and rng.random() < 0.5:
                        events.append(Event(text, pid, "cart"))
    simulate_s = time.perf_counter() - start
    queries, gains, _ = judgements(events)
    _, raw_gains, _ = judgements(events, debias_prior=None)
    with_raw_clicks = [q for q in queries if any(g > 0 for g in raw_gains[q].values())]
    start = time.perf_counter()
    every_click = LearnedRanker.fit(
        [
            TrainingQuery(search.training_candidates(queries[q]), raw_gains[q]).shown_and_far()
            for q in with_raw_clicks
        ]
    )
    from_events = SearchSet(data.products, queries, gains)
    debiased_name = "events (train-ranker --events)"
    try:  # as the command does: a log grading too few queries keeps the fusion
        debiased = train_from_events(search, from_events)
    except TooFewEventQueries:
        debiased, debiased_name = (
            None,
            f"events: {len(from_events.judged_queries())} queries, refused (fusion)",
        )
    from_judgements = LearnedRanker.fit(
        [TrainingQuery(search.training_candidates(data.queries[q]), data.qrels[q]) for q in train]
    )
    train_s = time.perf_counter() - start
    by_query: dict[str, list[Event]] = {}
    for event in events:
        by_query.setdefault(event.query, []).append(event)
    order = sorted(by_query)  # the log's own (normalized) query texts
    random.Random(args.seed).shuffle(order)
    subsets = []
    for size in sorted({int(n) for n in args.train_sizes.split(",") if n.strip()}):
        if size >= len(order):
            continue
        sub_queries, sub_gains, _ = judgements([e for text in order[:size] for e in by_query[text]])
        subsets.append(
            (
                f"events, {size} training queries",
                train_from_events(search, SearchSet(data.products, sub_queries, sub_gains), min_queries=0),
            )
        )
    sample = sorted(random.Random(0).sample(test, min(args.max_test, len(test))))
    held_out = SearchSet(
        data.products, {q: data.queries[q] for q in sample}, {q: data.qrels[q] for q in sample}
    )
    rows = []
    rankers = (
        ("none", None),
        ("events, every click counted", every_click),
        (debiased_name, debiased),
        ("judgements (ceiling)", from_judgements),
        *subsets,
    )
    for name, ranker in rankers:
        if ranker is None and name != "none":
            rows.append({**next(r for r in rows if r["ranker"] == "none"), "ranker": name})
            continue
        search.ranker = ranker
        modes = ("lexical", "hybrid") if name == "none" else ("hybrid",)
        result = evaluate_search(eval_index, held_out, modes=modes)
        for mode, metrics in result["modes"].items():
            rows.append({"ranker": name if mode == "hybrid" else "-", "mode": mode, **metrics})
    bm25 = next(r["ndcg@10"] for r in rows if r["mode"] == "lexical")
    for row in rows:
        row["vs_bm25"] = round(row["ndcg@10"] - bm25, 4)
    keys = ["ranker", "mode", "ndcg@10", "vs_bm25", "recall@100"]
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(str(row.get(k, "")) for k in keys))
    summary = {
        "set": args.set,
        "seed": args.seed,
        "train_queries": len(train),
        "train_queries_with_clicks": len(with_raw_clicks),
        "train_queries_after_debiasing": len(from_events.judged_queries()),
        "events": len(events),
        "clicks": sum(e.event == "click" for e in events),
        "test_queries": len(sample),
        "simulate_s": round(simulate_s, 1),
        "train_s": round(train_s, 1),
        "rows": rows,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
