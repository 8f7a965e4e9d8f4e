"""Shopper events (what was shown, clicked, carted, bought) as judgements for the learned ranker.

A new shop has no judged queries, but its storefront logs what shoppers did with each result list.
Those logs are graded relevance with noise: a product bought after a search is what the query
wanted, one skipped while shown is weak evidence against it. The log format is one event per line,
CSV or JSON lines, with the columns

    query, product_id, event[, position]

where `event` is one of `impression` (shown), `click`, `cart`, `purchase` (`feedback_up` and
`feedback_down` are the chat's thumbs on a product card). Per (query, product) the strongest event
sets the gain: purchase 3, cart 2, click or thumbs-up 1, shown and never chosen or thumbs-down 0 (a
judged negative). Queries are grouped by their normalized text. Only queries with at least one
positive product become training queries, as with judged sets (`SearchSet.judged_queries`).
`shopassist train-ranker --events FILE` trains on them with the products shoppers were shown and,
as zeros, the candidates retrieval ranks far down (`TrainingQuery.shown_and_far`). With simulated
shoppers (`bench/click_ranker.py`, 10 per query), nDCG@10 over BM25 on Home Depot: every unseen
candidate as a zero +0.016, shown only +0.022 (but Crowdflower fell to 0.776 from 0.847: nothing
taught it that the far tail is bad), shown and far +0.019 (Crowdflower 0.841).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

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
        events.append(Event(query, product, kind))
    return events


def judgements(
    events: Sequence[Event], known_products: Iterable[str] | None = None
) -> tuple[dict[str, str], dict[str, dict[str, float]], int]:
    """(queries by id, gains by query id and product id, events naming unknown products) from the
    events; products not in `known_products` (removed since) are left out and counted."""
    known = set(known_products) if known_products is not None else None
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, float]] = {}
    vetoed: set[tuple[str, str]] = set()
    unknown = 0
    for e in events:
        if known is not None and e.product_id not in known:
            unknown += 1
            continue
        qid = query_id(e.query)
        queries.setdefault(qid, _normalize(e.query))
        gains = qrels.setdefault(qid, {})
        gains[e.product_id] = max(gains.get(e.product_id, 0.0), GAINS[e.event])
        if e.event == _VETO:
            vetoed.add((qid, e.product_id))
    for qid, product in vetoed:
        qrels[qid][product] = 0.0
    return queries, qrels, unknown
