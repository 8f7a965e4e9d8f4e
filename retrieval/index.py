"""The shop's searchable store: products (and their titles) and FAQ entries in Chroma collections.

`ShopIndex` is the one object the assistant, CLI and UI share: it ingests validated records and
hands out the retrievers over the same collections. Products are stored as catalogue versions
(retrieval.versions: a new version goes live whole, or not at all); the small FAQ is synced in place.

Over a Chroma server the versions are kept in the server (retrieval.shared_versions) and a watcher
thread looks at them every `version_check_s`: a version (or FAQ change) another replica made live is
loaded in the background and served from then on, so every replica follows an ingest made anywhere.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.languages import Analyzer, shop_analyzer
from retrieval.schema import FAQEntry, Product
from retrieval.search import ROUTER_MIN_EXAMPLES, FAQSearch, ProductSearch, faq_records_docs
from retrieval.shared_versions import ChromaVersions, is_server
from retrieval.store import IngestStats, Record, get_collection, get_embedded_collection, sync_records
from retrieval.versions import Catalogue

if TYPE_CHECKING:
    from retrieval.calibration import FAQCalibration

log = logging.getLogger(__name__)


def faq_records(entries: Sequence[FAQEntry]) -> list[Record]:
    """The stored documents of FAQ entries: each phrasing (question, answer, examples) of an entry
    is its own document, all carrying the entry's metadata and id."""
    records = []
    for entry in entries:
        meta = dict(entry.metadata(), entry_id=entry.id)
        records += [Record(doc_id, text, meta) for doc_id, text in faq_records_docs(entry)]
    return records


@contextmanager
def memory_faq_search(
    entries: Sequence[FAQEntry], embedding_function: Any, analyzer: Analyzer | None = None
) -> Iterator[FAQSearch]:
    """A warmed-up FAQ search over `entries` in an in-memory Chroma collection that is dropped
    afterwards (evaluation folds, checking generated questions); no score threshold. `analyzer`:
    the BM25 analyzer of the entries' language (default English)."""
    import random

    import chromadb

    client = chromadb.EphemeralClient()
    name = f"faq_memory_{random.Random().randrange(10**12)}"
    collection = client.get_or_create_collection(name, embedding_function=embedding_function)
    try:
        sync_records(collection, faq_records(entries), batch_size=2000)
        search = FAQSearch(collection, min_score=0.0, embed=embedding_function, analyzer=analyzer)
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
        faq_router_min_examples: float = ROUTER_MIN_EXAMPLES,
        shared: bool | None = None,
        version_check_s: float = 2.0,
        lease_s: float = 60.0,
        locales: Sequence[str] | None = None,
        faq_embedding_function: Any = None,
    ) -> None:
        """`faq_embedding_function` (default: `embedding_function`) embeds the FAQ and the questions
        put to it; a FAQ stored by another one is re-embedded on open (`get_embedded_collection`).

        `faq_calibration` decides when an FAQ match is confident; without one, `faq_min_score`.

        `lexical_dir`/<products collection> holds the catalogue versions and their lexical indexes;
        for an embedded store it defaults to its own folder's `lexical`, as `Shop` passes it. With
        neither (an in-memory store), versions are kept by this object alone.

        `shared` (default: whether `client` is a Chroma server) keeps the versions in the store
        itself for every process using it; `lexical_dir` is then only this process's cache of
        lexical indexes. The shared version is checked every `version_check_s`; a killed ingest
        holds the next one off for at most `lease_s`.

        `locales` are the shop's languages (ISO codes, e.g. ['zh'] or ['de', 'en']): they pick the
        BM25 analyzer of products and FAQ (retrieval.languages); none means English as before."""
        self.client = client
        self.embedding_function = embedding_function
        self.products_collection = get_collection(client, products_collection, embedding_function)
        self.titles_collection = get_collection(client, f"{products_collection}_titles", embedding_function)
        self.faq_embedding_function = faq_embedding_function or embedding_function
        self.faq_collection = get_embedded_collection(client, faq_collection, self.faq_embedding_function)
        if lexical_dir is None and client.get_settings().is_persistent:
            lexical_dir = Path(client.get_settings().persist_directory) / "lexical"
        folder = lexical_dir / products_collection if lexical_dir else None
        self.shared = (
            ChromaVersions.open(client, products_collection, folder, lease_s=lease_s)
            if (is_server(client) if shared is None else shared)
            else None
        )
        self.catalogue = Catalogue(
            self.products_collection,
            self.titles_collection,
            None if self.shared else folder,
            store=self.shared,
        )
        self.analyzer = shop_analyzer(locales)
        self.products = ProductSearch(
            self.catalogue,
            fusion=fusion,
            alpha=alpha,
            ranker=ranker,
            embed=embedding_function,
            analyzer=self.analyzer,
            # Shared: the watcher follows the version, so a query never waits on the server for it.
            recheck_s=math.inf if self.shared else 1.0,
        )
        self.faq = FAQSearch(
            self.faq_collection,
            min_score=faq_min_score,
            embed=self.faq_embedding_function,
            calibration=faq_calibration,
            analyzer=self.analyzer,
            min_examples=faq_router_min_examples,
        )
        self._stop = threading.Event()
        if self.shared is not None:
            if version_check_s <= 0:
                raise ValueError(f"version_check_s must be positive, got {version_check_s}")
            self.catalogue.current()  # the FAQ stamp the FAQ about to be loaded corresponds to
            self._faq_stamp = self.shared.faq_stamp
            threading.Thread(
                target=_watch,
                args=(weakref.ref(self), version_check_s, self._stop),
                name="catalogue-watch",
                daemon=True,
            ).start()

    def close(self) -> None:
        """Stop following the shared version (the watcher also stops once this index is dropped)."""
        self._stop.set()

    def follow(self) -> None:
        """One look at the shared store (one request): load a version another process made live,
        and reload the FAQ when another process changed it. The watcher calls this."""
        if self.shared is None:
            return
        live = self.catalogue.current()
        self.products.follow(live)
        stamp = self.shared.faq_stamp
        if stamp != self._faq_stamp:
            self._faq_stamp = stamp
            if self.faq._ready:  # not loaded yet: its first use loads what the store holds then
                self.faq.refresh()

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
            if self.shared is not None:
                self._faq_stamp = self.shared.touch_faq()
            self.faq.refresh()
        return stats

    def counts(self) -> dict[str, int]:
        """Products of the live version (not documents an unfinished ingest left) and FAQ documents."""
        return {
            "products": len(self.catalogue.live().entries),
            "faq_documents": self.faq_collection.count(),
        }


def _watch(ref: weakref.ref[ShopIndex], interval: float, stop: threading.Event) -> None:
    """The shared-store watcher: `follow()` every `interval` seconds until the index is closed or
    dropped (it holds the index only during a look). A failing look is logged once until one works;
    the versions already loaded keep serving meanwhile."""
    failing = False
    while not stop.wait(interval):
        index = ref()
        if index is None:
            return
        try:
            index.follow()
            failing = False
        except Exception as exc:
            if not failing:
                log.warning(
                    "following the shared catalogue version failed (%s); retrying every %g s", exc, interval
                )
            failing = True
        del index
