"""The shop's searchable store: products and FAQ entries in two Chroma collections.

`ShopIndex` is the one object the assistant, CLI and UI share: it ingests validated records
(hash-based upserts, optional prune) and hands out the retrievers over the same collections.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.schema import FAQEntry, Product
from retrieval.search import FAQSearch, ProductSearch, faq_records_docs
from retrieval.store import IngestStats, Record, get_collection, sync_records

if TYPE_CHECKING:
    from retrieval.calibration import FAQCalibration


def faq_records(entries: Sequence[FAQEntry]) -> list[Record]:
    """The stored documents of FAQ entries: each phrasing (question, answer, examples) of an entry
    is its own document, all carrying the entry's metadata and id."""
    records = []
    for entry in entries:
        meta = dict(entry.metadata(), entry_id=entry.id)
        records += [Record(doc_id, text, meta) for doc_id, text in faq_records_docs(entry)]
    return records


@contextmanager
def memory_faq_search(entries: Sequence[FAQEntry], embedding_function: Any) -> Iterator[FAQSearch]:
    """A warmed-up FAQ search over `entries` in an in-memory Chroma collection that is dropped
    afterwards (evaluation folds, checking generated questions); no score threshold."""
    import random

    import chromadb

    client = chromadb.EphemeralClient()
    name = f"faq_memory_{random.Random().randrange(10**12)}"
    collection = client.get_or_create_collection(name, embedding_function=embedding_function)
    try:
        sync_records(collection, faq_records(entries), batch_size=2000)
        search = FAQSearch(collection, min_score=0.0, embed=embedding_function)
        search.warm_up()
        yield search
    finally:
        client.delete_collection(name)


class ShopIndex:
    def __init__(
        self,
        client: Any,
        embedding_function: Any,
        *,
        products_collection: str = "products",
        faq_collection: str = "faq",
        faq_min_score: float = 0.6,
        lexical_dir: Path | None = None,
        fusion: str = "adaptive",
        alpha: float = 0.3,
        ranker: Any = None,
        faq_calibration: FAQCalibration | None = None,
    ) -> None:
        """`faq_calibration` decides when an FAQ match is confident; without one, `faq_min_score`."""
        self.client = client
        self.embedding_function = embedding_function
        self.products_collection = get_collection(client, products_collection, embedding_function)
        self.titles_collection = get_collection(client, f"{products_collection}_titles", embedding_function)
        self.faq_collection = get_collection(client, faq_collection, embedding_function)
        self.products = ProductSearch(
            self.products_collection,
            fusion=fusion,
            alpha=alpha,
            lexical_dir=lexical_dir / products_collection if lexical_dir else None,
            title_collection=self.titles_collection,
            ranker=ranker,
            embed=embedding_function,
        )
        self.faq = FAQSearch(
            self.faq_collection,
            min_score=faq_min_score,
            embed=embedding_function,
            calibration=faq_calibration,
        )

    def ingest_products(
        self,
        products: Sequence[Product],
        *,
        prune: bool = False,
        progress: Callable[[int], None] | None = None,
        batch_size: int = 1024,
        mirror_every_title: bool = False,
    ) -> IngestStats:
        """`mirror_every_title` stores plain titles in the title collection too, as versions before
        2026-11-29 did; it exists so `bench ingest` can measure what skipping them saves."""
        records = [Record(p.id, p.search_text(), p.metadata()) for p in products]
        # Only titles that differ from the full text need their own vectors; the title signal reads
        # the full collection for the rest (ProductSearch._title_dense).
        titles = {
            p.id: p.title
            for p, r in zip(products, records, strict=True)
            if mirror_every_title or p.title != r.document
        }
        stats = sync_records(
            self.products_collection,
            records,
            prune=prune,
            progress=progress,
            batch_size=batch_size,
            mirrors=[(self.titles_collection, lambda r: titles.get(r.id))],
            embed=self.embedding_function,
        )
        if stats.embedded or stats.deleted:
            self.products.refresh()
        return stats

    def ingest_faq(self, entries: Sequence[FAQEntry], *, prune: bool = False) -> IngestStats:
        stats = sync_records(self.faq_collection, faq_records(entries), prune=prune)
        if stats.embedded or stats.deleted:
            self.faq.refresh()
        return stats

    def counts(self) -> dict[str, int]:
        return {"products": self.products_collection.count(), "faq_documents": self.faq_collection.count()}
