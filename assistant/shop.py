"""Wiring: from `Settings` to the shared service objects (index, orders, generator, chat).

One `Shop` per process; the CLI, the Gradio UI and (later) the REST API all use the same one, so
they answer identically.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.chat.service import ChatOptions, ChatService
from assistant.config import Settings
from assistant.errors import BadInput, ConfigError
from assistant.generation.adapters import AdapterRegistry, adapter_for_task, base_of
from assistant.generation.base import Generator, GeneratorError
from assistant.generation.factory import create_generator, with_admission
from assistant.stores.order_sources import open_orders
from assistant.stores.orders import OrderSource, OrderStore
from assistant.stores.turns import TurnLog
from retrieval.catalog import LoadResult, load_faq, load_products
from retrieval.content import ContentPolicy, ContentReview
from retrieval.index import ShopIndex
from retrieval.schema import FAQEntry, Product
from retrieval.store import IngestStats

if TYPE_CHECKING:
    from assistant.assist.service import SuggestService

log = logging.getLogger("shopassist")


# The demo shop's own contact domain: its FAQ names support@harborandpine.example.
DEMO_SHOP_DOMAINS = ("harborandpine.example", "qinghe.example")


def demo_shop_dir(demo: str = "en") -> Path:
    """The packaged demo shop: Harbor & Pine ('en') or the Chinese shop ('zh')."""
    return Path(str(resources.files("assistant") / ("demo_shop_zh" if demo == "zh" else "demo_shop")))


def shop_locales(settings: Settings) -> list[str]:
    """The shop's languages: as configured, else the demo shop's."""
    return list(settings.shop.locales or [settings.shop.demo])


@dataclass
class IngestReport:
    products: LoadResult[Product] | None = None
    faq: LoadResult[FAQEntry] | None = None
    product_stats: IngestStats | None = None
    faq_stats: IngestStats | None = None
    content_policy: str = "withhold"
    review_queued: int = 0  # fields now waiting in the content review queue (all files)
    refused: str | None = None  # why nothing was stored (--strict with invalid rows, --fail-on-update)
    pruning_skipped: bool = False  # --prune was asked, but rows were invalid: nothing was deleted
    dry_run: bool = False  # the stats say what would change; nothing was stored

    @property
    def skipped_rows(self) -> int:
        return sum(len({e.row for e in r.errors}) for r in (self.products, self.faq) if r is not None)

    @property
    def stats(self) -> list[IngestStats]:
        return [s for s in (self.product_stats, self.faq_stats) if s is not None]

    @property
    def empty_files(self) -> list[str]:
        return [str(r.path) for r in (self.products, self.faq) if r is not None and not r.items]

    def lines(self) -> list[str]:
        out = []
        for result, stats in ((self.products, self.product_stats), (self.faq, self.faq_stats)):
            if result is not None:
                out.append(result.report())
            if stats is not None:
                out.append(f"  {'would store' if self.dry_run else 'stored'}: {stats}")
            if stats is not None and self.dry_run:
                for kind in ("added", "updated", "deleted"):
                    ids = stats.examples.get(kind, [])
                    more = getattr(stats, kind) - len(ids)
                    if ids:
                        out.append(f"    {kind}: {', '.join(ids)}{f' and {more} more' if more else ''}")
        if self.pruning_skipped:
            out.append(
                "--prune was not applied: some rows were invalid, and their products must not be deleted"
            )
        if self.refused:
            out.append(self.refused)
        if self.review_queued:
            out.append(
                f"content review: {self.review_queued} field(s) wait for an operator (policy "
                f"'{self.content_policy}'): `shopassist content list`, then `shopassist content approve KEY|--all`"
            )
        return out


def embedding_function(settings: Settings, cache: bool = True, faq: bool = False) -> Any:
    """The configured embedding model as a Chroma embedding function (model, device, dtype); `faq`:
    the one the FAQ's index and questions use (MiniLM with `embedding.faq_adapter`, when set)."""
    from retrieval.embeddings import EmbeddingModelNotFound, embedding_for_locales, make_embedding_function

    emb = settings.embedding
    model = str(emb.model) if emb.model else None
    kind = emb.kind if emb.kind != "auto" else embedding_for_locales(shop_locales(settings))
    adapter = emb.faq_adapter if faq and kind == "minilm" else None
    try:
        return make_embedding_function(
            kind, model_path=model, device=emb.device, dtype=emb.dtype, cache=cache, adapter=adapter
        )
    except EmbeddingModelNotFound as exc:
        raise ConfigError(f"embedding.faq_adapter: {exc}") from exc


def _load_ranker(path: Path | None) -> Any:
    if path is None:
        return None
    from retrieval.rerank import LearnedRanker

    return LearnedRanker.load(path)


def _load_faq_calibration(settings: Settings, faq_embedding: Any = None) -> Any:
    """The configured FAQ calibration, or None; a bad file is a configuration error that says what
    to fix (retrieval's CalibrationError is not in assistant.errors' table). A calibration holds
    only for the embedding it was fitted with (its file records it, when it does): the shipped one
    stands aside for faq_min_score under another model, a shop's own is an error to refit.
    `faq_embedding`: the FAQ's embedding function (default: the configured one)."""
    path = settings.retrieval.faq_calibration
    if path is None:
        return None
    from retrieval.calibration import SHIPPED_FAQ_CALIBRATION, CalibrationError, FAQCalibration
    from retrieval.store import embedding_tag

    shipped = str(path) == "shipped"
    try:
        calibration = FAQCalibration.load(
            SHIPPED_FAQ_CALIBRATION if shipped else path if path.is_absolute() else settings.home / path
        )
    except CalibrationError as exc:
        raise ConfigError(f"retrieval.faq_calibration: {exc}") from exc
    fitted_for = calibration.meta.get("embedding")
    if fitted_for is None:
        return calibration  # a file from before calibrations recorded their model
    current = embedding_tag(
        faq_embedding if faq_embedding is not None else embedding_function(settings, faq=True)
    )
    if settings.embedding.model and shipped:  # the tag names MiniLM, not which weights it loaded
        current = f"{current} ({settings.embedding.model})"
    if fitted_for == current:
        return calibration
    if shipped:
        log.info(
            "the shipped FAQ calibration was fitted for %s, the FAQ is embedded by %s: FAQ matches use "
            "retrieval.faq_min_score %s",
            fitted_for,
            current,
            settings.retrieval.faq_min_score,
        )
        return None
    raise ConfigError(
        f"retrieval.faq_calibration: {path} was fitted for the FAQ embedding {fitted_for}, but the FAQ is now "
        f"embedded by {current}; refit it with `shopassist calibrate-faq` or empty retrieval.faq_calibration"
    )


def label_store(settings: Settings) -> Any:
    """The shop's labelled FAQ questions (`retrieval.faq_labels`, default HOME/faq_labels.jsonl)."""
    from retrieval.faq_labels import LabelStore

    path = settings.retrieval.faq_labels or Path("faq_labels.jsonl")
    return LabelStore(path if path.is_absolute() else settings.home / path)


def serving_generator(settings: Settings) -> Generator:
    """The configured engine as the serving surfaces use it: a bounded queue with deadlines in front
    of it (generation.admission). Built lazily; the model loads on first use."""
    return with_admission(create_generator(settings.generator.engine, settings=settings), settings)


class Shop:
    def __init__(self, settings: Settings, generator: Generator | None = None) -> None:
        from assistant.errors import store_unreachable
        from retrieval.store import open_client

        self.settings = settings
        settings.home.mkdir(parents=True, exist_ok=True)
        self.embedding_function = embedding_function(settings)
        self.faq_embedding_function = embedding_function(settings, faq=True)
        try:
            client = open_client(path=settings.chroma_path, url=settings.store.url)
        except ConnectionError as exc:  # only a server URL can fail to connect; say which, and what to do
            raise store_unreachable(str(settings.store.url), exc) from exc
        self.index = ShopIndex(
            client,
            self.embedding_function,
            products_collection=settings.store.products_collection,
            faq_collection=settings.store.faq_collection,
            faq_embedding_function=self.faq_embedding_function,
            faq_min_score=settings.retrieval.faq_min_score,
            fusion=settings.retrieval.fusion,
            alpha=settings.retrieval.alpha,
            ranker=_load_ranker(settings.retrieval.ranker),
            faq_calibration=_load_faq_calibration(settings, self.faq_embedding_function),
            faq_router_min_examples=settings.retrieval.faq_router_min_examples,
            lexical_dir=settings.chroma_path / "lexical"
            if settings.store.url is None
            else settings.home / "lexical",
            version_check_s=settings.store.version_check_s,
            locales=shop_locales(settings),
        )
        self.orders: OrderSource = open_orders(settings)
        self.content_review = ContentReview(settings.home)
        self.turns = TurnLog.from_settings(settings)  # served chat turns, for the console's insights
        self._generator = generator
        self._suggest: SuggestService | None = None
        self._lock = threading.Lock()

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            self._generator = serving_generator(self.settings)
        return self._generator

    @property
    def chat(self) -> ChatService:
        if not hasattr(self, "_chat"):
            s = self.settings
            registry, base = AdapterRegistry.for_home(s.home), base_of(s)

            def pick(task: str) -> str | None:
                return adapter_for_task(task, s.generator.task_adapters, registry, base)

            options = ChatOptions.from_settings(
                s, pick("cs"), rewrite_adapter=pick("rewrite"), answer_adapter=pick("answer"), base_model=base
            )
            self._chat = ChatService(self.index, self.generator, self.orders, options)
        return self._chat

    CHAT_CONFIGS = ("adapters", "rules")

    def chat_config(self, name: str) -> ChatService:
        """The chat as configured ("adapters": the configured or shipped task adapters) or with the
        rules alone ("rules": no rewrite or answer adapter), for evaluations and benchmarks that
        compare the two in one run."""
        if name not in self.CHAT_CONFIGS:
            raise BadInput(f"unknown chat config {name!r}; use {' and/or '.join(self.CHAT_CONFIGS)}")
        options = self.chat.options
        if name == "rules":
            options = options.model_copy(update={"rewrite_adapter": None, "answer_adapter": None})
        return ChatService(self.index, self.generator, self.orders, options)

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
        sources: tuple[str, ...] = ("products", "faq"),
        strict: bool = False,
        encoding: str = "utf-8-sig",
        format: str = "generic",
        dry_run: bool = False,
        fail_on_update: bool = False,
    ) -> IngestReport:
        """Validate and store the given files; defaults are the configured (or demo) shop files.
        `sources` limits it to products or FAQ (`content approve --reingest` re-reads one file).
        `dry_run` reports what would be added, updated and deleted and stores nothing;
        `fail_on_update` stores nothing when a record would change a stored one with the same id
        (a catalogue feed that should only add, say)."""
        report = IngestReport(content_policy=self.settings.shop.content_policy, dry_run=dry_run)
        demo = demo_shop_dir(self.settings.shop.demo)
        products = products or self.settings.shop.catalog or demo / "products.csv"
        faq = faq or self.settings.shop.faq or demo / "faq.csv"
        # Read and check everything first: a refused or empty file stores nothing, and never prunes.
        if "products" in sources:
            policy = self.content_policy("products", products)
            report.products = load_products(
                products, mapping, content=policy, encoding=encoding, format=format
            )
            self._keep_clean(policy)
        if "faq" in sources:
            policy = self.content_policy("faq", faq)
            report.faq = load_faq(faq, content=policy, encoding=encoding)
            self._keep_clean(policy)
        loaded = [r for r in (report.products, report.faq) if r is not None]
        if strict and any(r.errors for r in loaded):
            report.refused = "--strict: rows were invalid, so nothing was stored"
            return report
        if dry_run or fail_on_update:
            self._store(report, prune, progress, dry_run=True)
            updated = [(s.updated, s.examples.get("updated", [])) for s in report.stats if s.updated]
            if fail_on_update and updated:
                count = sum(n for n, _ in updated)
                some = ", ".join(rid for _, ids in updated for rid in ids[:3])
                report.refused = (
                    f"--fail-on-update: {count} stored record(s) would change (e.g. {some}), "
                    "so nothing was stored"
                )
                report.dry_run = True  # the stats say what storing would have changed
                return report
        if not dry_run:
            self._store(report, prune, progress, dry_run=False)
        report.review_queued = len(self.content_review.entries())
        return report

    def _store(self, report: IngestReport, prune: bool, progress: Any, *, dry_run: bool) -> None:
        """Store the report's valid items (or, `dry_run`, count what storing them would change)."""
        if report.products is not None and report.products.items:
            safe_prune = prune and not report.products.errors  # a bad row must not delete its product
            report.pruning_skipped = prune and not safe_prune
            report.product_stats = self.index.ingest_products(
                report.products.items, prune=safe_prune, progress=progress, dry_run=dry_run
            )
            if not dry_run:
                self._queue_review("products", report.products, safe_prune)
        if report.faq is not None and report.faq.items:
            safe_prune = prune and not report.faq.errors
            report.pruning_skipped = report.pruning_skipped or (prune and not safe_prune)
            # What the shop learned (labelled questions) stays: a re-ingested FAQ file carries none.
            entries = self.with_labels(report.faq.items)
            report.faq_stats = self.index.ingest_faq(entries, prune=safe_prune, dry_run=dry_run)
            if not dry_run:
                self._queue_review("faq", report.faq, safe_prune)

    def with_labels(self, entries: list[FAQEntry]) -> list[FAQEntry]:
        """The FAQ entries with the shop's labelled questions as example phrasings of their entries."""
        from retrieval.faq_labels import with_labels

        labels = label_store(self.settings).all()
        return with_labels(entries, labels) if labels else entries

    def content_policy(self, source: str, path: Path) -> ContentPolicy:
        """How ingest treats flagged text in `path` (settings shop.content_policy, shop.allowed_domains,
        and the operator's approvals for `source`); the demo shop's own domain is allowed for its files."""
        shop = self.settings.shop
        domains = list(shop.allowed_domains)
        if Path(path).resolve().parent == demo_shop_dir(shop.demo).resolve():
            domains += DEMO_SHOP_DOMAINS
        policy = ContentPolicy(
            mode=shop.content_policy,
            allowed_domains=tuple(domains),
            approved=self.content_review.approved(source),
            source=source,
        )
        cache = self._clean_cache(source, policy)
        if cache.exists():
            policy = replace(policy, clean=frozenset(cache.read_text().split()))
        return policy

    def _clean_cache(self, source: str, policy: ContentPolicy) -> Path:
        """Where the texts of `source` that scanned clean under `policy` are kept between ingests."""
        return self.settings.home / "content_scan" / f"{source}-{policy.cache_key()}.txt"

    def _keep_clean(self, policy: ContentPolicy) -> None:
        """Keep this run's clean texts (only the current file's: the cache never outgrows it). A cache
        that cannot be written costs the next ingest its speed, nothing else."""
        from retrieval.files import write_atomic

        path = self._clean_cache(policy.source, policy)
        if set(policy.clean) == policy.seen_clean:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, "\n".join(sorted(policy.seen_clean)))
        except OSError as exc:
            log.warning("content scan cache not written (%s); the next ingest scans every text", exc)

    def _queue_review(self, source: str, result: LoadResult[Any], prune: bool) -> None:
        """Replace the queued entries of the items just read (nothing else is dropped, so a row that
        stays withheld keeps its original text in the queue)."""
        scanned = {str(item.id) for item in result.items} | {i.item_id for i in result.findings}
        if result.findings or self.content_review.queue_path.exists():
            self.content_review.record(source, result.findings, scanned, prune=prune)

    def ensure_demo_orders(self) -> None:
        if (
            isinstance(self.orders, OrderStore)
            and self.settings.shop.orders_db is None
            and self.orders.is_empty()
        ):
            data = json.loads((demo_shop_dir(self.settings.shop.demo) / "orders.json").read_text())
            self.index.products.warm_up()
            titles = {pid: p.title for pid, p in self.index.products.products.items()}
            self.orders.seed(data, titles)

    def warm_up(self) -> list[str]:
        """Load the search indexes, the embedding model and the generation model now, so the first
        shopper does not wait for them; returns what could not be loaded (a model that is down is
        not fatal: replies then close with template sentences)."""
        problems = []
        self.index.products.warm_up()
        self.index.faq.warm_up()
        self.embedding_function(["warm up"])
        warm = getattr(self.generator, "warm_up", None)
        if warm is not None:
            try:
                warm()
            except GeneratorError as exc:
                problems.append(f"the model is unavailable, replies use template sentences: {exc}")
        return problems

    def ensure_ready(self) -> None:
        """First start: ingest the configured shop if the store is empty, and seed demo orders."""
        index = self.index
        counts = index.counts()  # the live version: a killed first ingest's leftovers do not count
        if not counts["products"] or not counts["faq_documents"]:
            for line in self.ingest().lines():
                log.info(line)
        self.ensure_demo_orders()
