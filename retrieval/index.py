"""The shop's searchable store: products (and their titles) and FAQ entries in Chroma collections.

`ShopIndex` is the one object the assistant, CLI and UI share: it ingests validated records and
hands out the retrievers over the same collections. Products are stored as catalogue versions
(retrieval.versions: a new version goes live whole, or not at all); the small FAQ is synced in place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.schema import FAQEntry, Product
from retrieval.search import FAQSearch, ProductSearch, faq_records_docs
from retrieval.store import IngestStats, Record, get_collection, sync_records
from retrieval.versions import Catalogue

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
        """`faq_calibration` decides when an FAQ match is confident; without one, `faq_min_score`.

        `lexical_dir`/<products collection> holds the catalogue versions and their lexical indexes;
        for an embedded store it defaults to its own folder's `lexical`, as `Shop` passes it. With
        neither (an in-memory or remote store), versions are kept by this object alone."""
        self.client = client
        self.embedding_function = embedding_function
        self.products_collection = get_collection(client, products_collection, embedding_function)
        self.titles_collection = get_collection(client, f"{products_collection}_titles", embedding_function)
        self.faq_collection = get_collection(client, faq_collection, embedding_function)
        if lexical_dir is None and client.get_settings().is_persistent:
            lexical_dir = Path(client.get_settings().persist_directory) / "lexical"
        self.catalogue = Catalogue(
            self.products_collection,
            self.titles_collection,
            lexical_dir / products_collection if lexical_dir else None,
        )
        self.products = ProductSearch(
            self.catalogue, fusion=fusion, alpha=alpha, ranker=ranker, embed=embedding_function
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
        dry_run: bool = False,
    ) -> IngestStats:
        """Build the catalogue version holding `products` (and, unless `prune`, the stored products
        not among them) and make it live once its documents and lexical index are written; an
        unchanged catalogue costs a comparison with the live manifest. `dry_run` only compares.

        `mirror_every_title` stores plain titles in the title collection too, as versions before
        2026-11-29 did; it exists so `bench ingest` can measure what skipping them saves."""
        start = time.perf_counter()
        by_id = {p.id: p for p in products}
        hashes = {pid: p.content_hash() for pid, p in by_id.items()}
        # Only titles that differ from the full text need their own vectors; the title signal reads
        # the full collection for the rest (ProductSearch._title_dense).
        titles = {
            pid: p.title for pid, p in by_id.items() if mirror_every_title or p.title != p.search_text()
        }
        catalogue = self.catalogue
        with nullcontext() if dry_run else catalogue.lock():
            live = catalogue.live(persist=not dry_run)
            plan = catalogue.plan(live, hashes, titles.keys(), prune=prune)
            if not dry_run:
                if plan.changed:
                    records = {
                        pid: Record(pid, by_id[pid].search_text(), by_id[pid].metadata())
                        for pid, _, _ in plan.todo
                    }
                    catalogue.write(
                        plan,
                        records,
                        titles,
                        self.embedding_function,
                        batch_size=batch_size,
                        progress=progress,
                    )
                    snapshot = self.products.prepare(plan.version, plan.version.number, by_id)
                    catalogue.switch(plan.version)
                    self.products.install(snapshot)
                catalogue.collect_garbage(plan.version, live)
        plan.stats.seconds = time.perf_counter() - start
        return plan.stats

    def ingest_faq(
        self, entries: Sequence[FAQEntry], *, prune: bool = False, dry_run: bool = False
    ) -> IngestStats:
        stats = sync_records(self.faq_collection, faq_records(entries), prune=prune, dry_run=dry_run)
        if not dry_run and (stats.embedded or stats.deleted):
            self.faq.refresh()
        return stats

    def counts(self) -> dict[str, int]:
        """Products of the live version (not documents an unfinished ingest left) and FAQ documents."""
        return {
            "products": len(self.catalogue.live().entries),
            "faq_documents": self.faq_collection.count(),
        }
