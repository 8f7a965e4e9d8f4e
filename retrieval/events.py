"""Shopper events (what was shown, clicked, carted, bought) as judgements for the learned ranker.

A new shop has no judged queries, but its storefront logs what shoppers did with each result list.
Those logs are graded relevance with noise: a product bought after a search is what the query
wanted, one skipped while shown is weak evidence against it. The log format is one event per line,
CSV or JSON lines, with the columns

    query, product_id, event[, position]

where `event` is one of `impression` (shown), `click`, `cart`, `purchase` (`feedback_up` and
`feedback_down` are the chat's thumbs on a product card), and `position` the 1-based rank the
product was shown at (optional). Per (query, product) the strongest event sets the gain: purchase
3, cart 2, click or thumbs-up 1, shown and never chosen or thumbs-down 0 (a judged negative). With
positions, a click counts only when the product drew at least the clicks an average product gets
at the positions it was shown (clicks over expected clicks, `click_rates`): the top result is
clicked often whatever it is, so one stray click there is no judgement. Queries are grouped by
their normalized text. Only queries with at least one positive product become training queries,
as with judged sets (`SearchSet.judged_queries`). `shopassist train-ranker --events FILE` trains on
them with the products shoppers were shown and, as zeros, the candidates retrieval ranks far down
(`TrainingQuery.shown_and_far`). With simulated shoppers (`bench/click_ranker.py`, 10 per query),
nDCG@10 over BM25 on Home Depot is +0.022 on average over five runs (+0.019 to +0.023; counting
every click +0.019; the fusion alone +0.005); see docs/benchmarks.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.rows import CatalogError, read_rows

GAINS = {
    "purchase": 3.0,
    "cart": 2.0,
    "click": 1.0,
    "feedback_up": 1.0,
    "impression": 0.0,
    "feedback_down": 0.0,
}
# A thumbs-down overrides a click on the same card: the shopper looked and said it was wrong.
_VETO = "feedback_down"


@dataclass(frozen=True)
class Event:
    query: str
    product_id: str
    event: str
    position: int | None = None  # 1-based rank in the list the shopper saw, where the log has it


def _normalize(query: str) -> str:
    return " ".join(query.lower().split())


def query_id(query: str) -> str:
    """A stable id for a normalized query text (the same search typed twice is one query)."""
    return "e" + hashlib.sha1(_normalize(query).encode("utf-8")).hexdigest()[:12]


def load_events(path: str | Path) -> list[Event]:
    """Events from a CSV (header: query, product_id, event) or a JSON-lines file, read by the
    catalogue's row reader (`retrieval.rows.read_rows`); a bad row is an error naming its line and
    what to fix, since a silently skipped purchase is a lost judgement."""
    path = Path(path)
    columns, rows = read_rows(path)
    missing = {"query", "product_id", "event"} - set(columns)
    if missing:
        raise CatalogError(
            f"{path.name} needs the columns query, product_id, event; missing: {', '.join(sorted(missing))}"
        )
    events = []
    for line, row in rows:
        if "__error__" in row:
            raise CatalogError(f"{path.name}:{line}: {row['__error__']}")
        query, product, kind = (str(row.get(k) or "").strip() for k in ("query", "product_id", "event"))
        if kind not in GAINS:
            raise CatalogError(f"{path.name}:{line}: event {kind!r} is not one of {', '.join(GAINS)}")
        if not query or not product:
            raise CatalogError(f"{path.name}:{line}: query and product_id must not be empty")
        raw = str(row.get("position") or "").strip()
        try:
            position = int(float(raw)) if raw else None
        except ValueError:
            position = None
        if raw and (position is None or position < 1):
            raise CatalogError(f"{path.name}:{line}: position {raw!r} must be a rank: 1, 2, 3, ...")
        events.append(Event(query, product, kind, position))
    return events


def click_rates(events: Sequence[Event]) -> dict[int, float]:
    """Clicks per impression at each position over the whole log: how often a shopper clicks
    whatever is shown at rank r. It falls with r mostly because fewer shoppers look that far
    down (position bias), so it is the expected click count a product earns just by being there."""
    shown: dict[int, int] = {}
    clicked: dict[int, int] = {}
    for e in events:
        if e.position is None:
            continue
        if e.event == "impression":
            shown[e.position] = shown.get(e.position, 0) + 1
        elif e.event == "click":
            clicked[e.position] = clicked.get(e.position, 0) + 1
    return {r: clicked.get(r, 0) / n for r, n in shown.items() if n}


def _debiased(events: Sequence[tuple[str, Event]], qrels: dict[str, dict[str, float]], prior: float) -> int:
    """Clicks over expected clicks (COEC, smoothed): a click grades a product only when the product
    drew at least as many clicks as an average product at the positions it was shown, with `prior`
    pseudo-impressions' worth of "average" added to both sides so that one stray click on a rarely
    shown product is not a judgement. Cart, purchase and a thumbs-up keep their grades (they are
    deliberate). `events` come with their query ids, as `judgements` computed them. Needs positions
    on the impressions; returns how many click grades it took back."""
    rates = click_rates([e for _, e in events])
    if not rates:
        return 0
    expected: dict[tuple[str, str], float] = {}
    clicks: dict[tuple[str, str], int] = {}
    liked: set[tuple[str, str]] = set()
    for qid, e in events:
        key = (qid, e.product_id)
        if e.event == "impression" and e.position is not None:
            expected[key] = expected.get(key, 0.0) + rates.get(e.position, 0.0)
        elif e.event == "click":
            clicks[key] = clicks.get(key, 0) + 1
        elif e.event == "feedback_up":
            liked.add(key)
    taken = 0
    for (qid, pid), n in clicks.items():
        gains = qrels.get(qid, {})
        if gains.get(pid) != GAINS["click"] or (qid, pid) not in expected or (qid, pid) in liked:
            continue
        if (n + prior) / (expected[(qid, pid)] + prior) < 1.0:
            gains[pid] = 0.0
            taken += 1
    return taken


def judgements(
    events: Sequence[Event], known_products: Iterable[str] | None = None, *, debias_prior: float | None = 1.0
) -> tuple[dict[str, str], dict[str, dict[str, float]], int]:
    """(queries by id, gains by query id and product id, events naming unknown products) from the
    events; products not in `known_products` (removed since) are left out and counted. Where the
    impressions carry positions, a click counts only when it beats position bias (`_debiased`,
    pseudo-count `debias_prior`; None keeps every click)."""
    known = set(known_products) if known_products is not None else None
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, float]] = {}
    vetoed: set[tuple[str, str]] = set()
    kept: list[tuple[str, Event]] = []
    unknown = 0
    for e in events:
        if known is not None and e.product_id not in known:
            unknown += 1
            continue
        qid = query_id(e.query)
        kept.append((qid, e))
        queries.setdefault(qid, _normalize(e.query))
        gains = qrels.setdefault(qid, {})
        gains[e.product_id] = max(gains.get(e.product_id, 0.0), GAINS[e.event])
        if e.event == _VETO:
            vetoed.add((qid, e.product_id))
    for qid, product in vetoed:
        qrels[qid][product] = 0.0
    if debias_prior is not None:
        _debiased(kept, qrels, debias_prior)
    return queries, qrels, unknown


# Queries graded by events under which `train_from_events` refuses: a ranker trained on fewer lost to
# the default fusion it would replace (bench/click_ranker.py --train-sizes, Home Depot, nDCG@10 on
# 1,000 held-out queries against the fusion, log sizes in queries: 100 -0.027, 250 -0.003,
# 500 +0.003, 1,000 +0.016, 2,000 +0.013, all 2,827 +0.019; Crowdflower's 79 lost ~0.008 on average).
MIN_EVENT_QUERIES = 500


class TooFewEventQueries(ValueError):
    """The event log grades too few queries for a ranker that beats the fusion; says what to do."""


def check_event_queries(graded: int, min_queries: int = MIN_EVENT_QUERIES) -> None:
    """`TooFewEventQueries` when the events grade fewer than `min_queries` queries."""
    if graded < min_queries:
        raise TooFewEventQueries(
            f"the events grade {graded} queries; a ranker trained on fewer than {min_queries} lost to the "
            "default fusion in our measurements (docs/benchmarks.md), so search keeps the fusion: collect "
            "more events, or pass --min-queries 0 to train anyway"
        )


def train_from_events(search: Any, search_set: Any, *, min_queries: int = MIN_EVENT_QUERIES) -> Any:
    """A `retrieval.rerank.LearnedRanker` fitted on event-graded queries (`judgements`) over the
    products shoppers were shown and the far tail (`TrainingQuery.shown_and_far`); `search` is the
    product search whose candidates it re-ranks. Used by `shopassist train-ranker --events` and
    bench/click_ranker.py alike. Fewer than `min_queries` graded queries is `TooFewEventQueries`.

    There is no held-out check against the fusion here on purpose: held-out events only grade what
    the fusion showed, so such a check favours the fusion (on Home Depot's simulated log it scored
    the fusion 0.647 and the ranker 0.627 while the ranker was better on the true judgements)."""
    from retrieval.rerank import LearnedRanker, TrainingQuery

    judged = search_set.judged_queries()
    check_event_queries(len(judged), min_queries)
    return LearnedRanker.fit(
        [
            TrainingQuery(
                search.training_candidates(search_set.queries[q]), search_set.qrels[q]
            ).shown_and_far()
            for q in judged
        ]
    )
