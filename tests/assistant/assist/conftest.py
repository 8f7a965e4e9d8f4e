"""Fast fixtures for agent-assist tests: a scripted FAQ retriever and the demo orders in SQLite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.stores.orders import OrderStore
from retrieval.schema import FAQEntry
from retrieval.search import FAQHit, FAQResults

DEMO_ORDERS = Path(__file__).resolve().parents[3] / "assistant" / "demo_shop" / "orders.json"


class StubFAQ:
    """Returns the scripted (entry, confidence) hits in order and records every query it was given."""

    def __init__(self, hits: list[tuple[FAQEntry, float]] | None = None) -> None:
        self.hits = hits or []
        self.queries: list[str] = []

    def run(self, query: str, *, top_k: int = 3) -> FAQResults:
        self.queries.append(query)
        hits = [FAQHit(e, score=1.0 / (i + 1), dense=d) for i, (e, d) in enumerate(self.hits)][:top_k]
        return FAQResults(hits, bool(hits), 0.6)


def entry(
    entry_id: str, category: str = "", answer: str | None = None, question: str | None = None
) -> FAQEntry:
    return FAQEntry(
        id=entry_id,
        category=category,
        question=question or entry_id.replace("-", " ").replace("_", " "),
        answer=answer or f"The answer of {entry_id}.",
    )


@pytest.fixture
def orders(tmp_path: Path) -> OrderStore:
    store = OrderStore(tmp_path / "orders.db")
    store.seed(json.loads(DEMO_ORDERS.read_text()))
    return store


@pytest.fixture
def make_service(orders: OrderStore) -> Any:
    from assistant.assist.service import SuggestService
    from assistant.config import AssistSettings

    def make(
        hits: list[tuple[FAQEntry, float]], generator: Any = None, **settings: Any
    ) -> tuple[SuggestService, StubFAQ]:
        faq = StubFAQ(hits)
        # One draft per suggestion unless a test asks for candidates: a queue of scripted replies then
        # goes to the one request in order (candidates run concurrently; see test_draft_candidates).
        settings.setdefault("draft_candidates", 1)
        service = SuggestService(
            faq,
            orders,
            settings=AssistSettings(**settings),
            shop_name="Harbor & Pine",
            generator=(lambda: generator) if generator is not None else None,
        )
        return service, faq

    return make
