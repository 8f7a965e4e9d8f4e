"""Wiring: from `Settings` to the shared service objects (index, orders, generator, chat).

One `Shop` per process; the CLI, the Gradio UI and (later) the REST API all use the same one, so
they answer identically.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.chat.service import ChatOptions, ChatService
from assistant.config import Settings
from assistant.generation.adapters import AdapterRegistry, adapter_for_task
from assistant.generation.base import Generator
from assistant.generation.factory import create_generator
from assistant.stores.orders import OrderStore
from retrieval.catalog import LoadResult, load_faq, load_products
from retrieval.index import ShopIndex
from retrieval.schema import FAQEntry, Product
from retrieval.store import IngestStats

if TYPE_CHECKING:
    from assistant.assist.service import SuggestService

log = logging.getLogger("shopassist")


def demo_shop_dir() -> Path:
    return Path(str(resources.files("assistant") / "demo_shop"))


@dataclass
class IngestReport:
    products: LoadResult[Product] | None = None
    faq: LoadResult[FAQEntry] | None = None
    product_stats: IngestStats | None = None
    faq_stats: IngestStats | None = None

    def lines(self) -> list[str]:
        out = []
        for result, stats in ((self.products, self.product_stats), (self.faq, self.faq_stats)):
            if result is not None:
                out.append(result.report())
            if stats is not None:
                out.append(f"  stored: {stats}")
        return out


def embedding_function(settings: Settings, cache: bool = True) -> Any:
    """The configured embedding model as a Chroma embedding function (model, device, dtype)."""
    from retrieval.embeddings import MiniLMEmbeddingFunction

    emb = settings.embedding
    model = str(emb.model) if emb.model else None
    return MiniLMEmbeddingFunction(model_path=model, device=emb.device, dtype=emb.dtype, cache=cache)


def _load_ranker(path: Path | None) -> Any:
    if path is None:
        return None
    from retrieval.rerank import LearnedRanker

    return LearnedRanker.load(path)


class Shop:
    def __init__(self, settings: Settings, generator: Generator | None = None) -> None:
        from retrieval.store import open_client

        self.settings = settings
        settings.home.mkdir(parents=True, exist_ok=True)
        self.embedding_function = embedding_function(settings)
        client = open_client(path=settings.chroma_path, url=settings.store.url)
        self.index = ShopIndex(
            client,
            self.embedding_function,
            products_collection=settings.store.products_collection,
            faq_collection=settings.store.faq_collection,
            faq_min_score=settings.retrieval.faq_min_score,
            ranker=_load_ranker(settings.retrieval.ranker),
            lexical_dir=settings.chroma_path / "lexical"
            if settings.store.url is None
            else settings.home / "lexical",
        )
        self.orders = OrderStore(settings.orders_path)
        self._generator = generator
        self._suggest: SuggestService | None = None
        self._lock = threading.Lock()

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            self._generator = create_generator(self.settings.generator.engine, settings=self.settings)
        return self._generator

    @property
    def chat(self) -> ChatService:
        if not hasattr(self, "_chat"):
            s = self.settings
            adapter = adapter_for_task("cs", s.generator.task_adapters, AdapterRegistry.for_home(s.home))
            self._chat = ChatService(
                self.index, self.generator, self.orders, ChatOptions.from_settings(s, adapter)
            )
        return self._chat

    @property
    def suggest(self) -> SuggestService:
        """The shop's one agent-assist service (its policies are loaded once)."""
        with self._lock:
            if self._suggest is None:
                from assistant.assist.service import SuggestService

                self._suggest = SuggestService.from_shop(self)
            return self._suggest

    def ingest(
        self,
        products: Path | None = None,
        faq: Path | None = None,
        *,
        prune: bool = False,
        mapping: dict[str, str] | None = None,
        progress: Any = None,
    ) -> IngestReport:
        """Validate and store the given files; defaults are the configured (or demo) shop files."""
        report = IngestReport()
        products = products or self.settings.shop.catalog or demo_shop_dir() / "products.csv"
        faq = faq or self.settings.shop.faq or demo_shop_dir() / "faq.csv"
        report.products = load_products(products, mapping)
        if report.products.items:
            report.product_stats = self.index.ingest_products(
                report.products.items, prune=prune, progress=progress
            )
        report.faq = load_faq(faq)
        if report.faq.items:
            report.faq_stats = self.index.ingest_faq(report.faq.items, prune=prune)
        return report

    def ensure_demo_orders(self) -> None:
        if self.settings.shop.orders_db is None and self.orders.is_empty():
            data = json.loads((demo_shop_dir() / "orders.json").read_text())
            self.index.products.warm_up()
            titles = {pid: p.title for pid, p in self.index.products.products.items()}
            self.orders.seed(data, titles)

    def ensure_ready(self) -> None:
        """First start: ingest the configured shop if the store is empty, and seed demo orders."""
        index = self.index
        products = index.products_collection.count()
        if not products or index.faq_collection.count() == 0:
            for line in self.ingest().lines():
                log.info(line)
        self.ensure_demo_orders()
