"""Hybrid retrieval: BM25 (bm25s) and dense MiniLM (Chroma), fused by reciprocal rank.

Both sides rank the same candidate set: filters become a Chroma `where` for the dense side and a
predicate for the lexical side. Results carry their scores and the reasons they matched, and a
confidence the assistant uses to say "I don't know" instead of offering the nearest guess.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from retrieval.calibration import FAQSignals
from retrieval.filters import CatalogSchema, FacetArrays, Filters
from retrieval.fusion import FUSIONS, rrf, text_ratio
from retrieval.lexical import LexicalIndex, fingerprint
from retrieval.query import ParsedQuery, parse_query
from retrieval.schema import FAQEntry, Product
from retrieval.store import read_all, read_ids
from retrieval.text import tokenize
from retrieval.versions import Catalogue, Version

if TYPE_CHECKING:
    from retrieval.calibration import FAQCalibration
    from retrieval.languages import Analyzer
    from retrieval.rerank import Candidates, LearnedRanker

log = logging.getLogger(__name__)

R_co = TypeVar("R_co", covariant=True)


_RELATED = 0.2  # dense similarity below which shared words do not count as a match
# Words of asking to buy: present in product queries and off-topic ones alike (stemmed like queries).
_SHOPPING_WORDS = frozenset(
    tokenize("sell sells selling buy buying need want looking find show get carry stock offer have got order")
)


class Retriever(Protocol[R_co]):
    """One `run()` per retriever (haystack style); heavy state is built lazily in `warm_up()`."""

    def warm_up(self) -> None: ...

    def run(self, query: str, *, top_k: int = 5, filters: Filters | None = None) -> R_co: ...


Query = str | list[float]  # a text (Chroma embeds it) or a query vector


def _dense_query(
    collection: Any, query: Query, n: int, where: dict[str, Any] | None
) -> list[tuple[str, float]]:
    """(id, cosine similarity) of the n nearest documents passing `where`."""
    if n <= 0:
        return []
    given = {"query_texts": [query]} if isinstance(query, str) else {"query_embeddings": [query]}
    got = collection.query(**given, n_results=n, where=where, include=["distances"])
    return [(rid, 1.0 - float(d)) for rid, d in zip(got["ids"][0], got["distances"][0], strict=True)]


class _LazyIndex:
    """Warm-up protocol of the FAQ search (products load catalogue versions instead): heavy state
    is built once, on first use, and rebuilt by `refresh()` after the collection changed.
    Subclasses implement `_load()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready = False

    def _load(self) -> None:
        raise NotImplementedError

    def warm_up(self) -> None:
        with self._lock:
            if not self._ready:
                self._load()
                self._ready = True

    def refresh(self) -> None:
        with self._lock:
            self._ready = False
        self.warm_up()


@dataclass
class ProductHit:
    product: Product
    score: float
    dense: float | None = None
    lexical: float | None = None
    reasons: list[str] = field(default_factory=list)


@dataclass
class ProductResults:
    query: ParsedQuery
    filters: Filters
    hits: list[ProductHit]
    confidence: float

    @property
    def products(self) -> list[Product]:
        return [h.product for h in self.hits]


# "hybrid" is what the product uses: for products the fusion of lexical and dense; for the FAQ
# the learned router when it is trained, else that same fusion ("fused"). The others are baselines.
Mode = Literal["hybrid", "lexical", "dense", "fused", "learned"]


@dataclass
class _Snapshot:
    """One catalogue version in memory: everything a product query reads. It is replaced whole when
    the live version changes, so a query in flight finishes on the version it started with."""

    pointer: int | None  # the live version number it was loaded for (None: a store before versions)
    ids: list[str]
    products: dict[str, Product]
    schema: CatalogSchema
    facets: FacetArrays
    lexical: LexicalIndex
    title_lexical: LexicalIndex
    # Products whose title is their whole text are not in the title collection (same vectors).
    title_is_text: frozenset[str]
    # How much text products carry beyond their titles: the adaptive fusion's dense weight.
    text_ratio: float | None
    live: dict[str, str]  # document id -> product id, for the documents of this version
    live_titles: dict[str, str]  # the same in the title collection
    doc_of: dict[str, str]  # product id -> its document id
    index_of: dict[str, int] = field(init=False)
    tokens: dict[str, tuple[frozenset[str], frozenset[str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index_of = {pid: k for k, pid in enumerate(self.ids)}

    @property
    def title_count(self) -> int:
        return len(self.ids) - len(self.title_is_text)


def _live_query(
    collection: Any, query: Query, n: int, where: dict[str, Any] | None, live: dict[str, str]
) -> list[tuple[str, float]]:
    """(product id, similarity) of the n nearest documents of the live version passing `where`.

    A collection holds only live documents except while an ingest writes its next version (or
    after one was killed); their hits are dropped and the search repeated deeper until n live ones
    are found or the collection is exhausted, so results stay exact."""
    fetch = n
    while True:
        got = _dense_query(collection, query, fetch, where)
        kept = [(live[did], sim) for did, sim in got if did in live]
        if len(kept) >= n or len(got) < fetch:
            return kept[:n]
        fetch *= 2


class ProductSearch:
    """Hybrid product retriever over the live version of a `Catalogue` written by `ShopIndex`.

    `mode` exists for evaluation: "lexical" and "dense" are the two baselines that "hybrid" fuses.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        *,
        candidates: int = 100,
        fusion: str = "adaptive",
        alpha: float = 0.3,
        rrf_k: int = 60,
        ranker: LearnedRanker | None = None,
        embed: Any = None,
        feedback: float = 1.0,
        feedback_docs: int = 5,
        bm25_k1: float = 1.2,
        bm25_b: float = 0.4,
        recheck_s: float = 1.0,
        analyzer: Analyzer | None = None,
    ) -> None:
        """Four signals are fused: BM25 and dense over the full product text, and BM25 and dense
        over titles alone (the catalogue's mirror collection), where a short query matches best.

        Two settings chosen on Crowdflower and Home Depot together (the same values for both;
        `eval search` dev numbers in the README): BM25 with less length normalization than the
        usual b = 0.75 (product texts are short and their length says little about relevance:
        +0.007 nDCG@10 on both sets), and, when `embed` is given, pseudo-relevance feedback on
        the full-text dense signal: the query vector moves towards the mean of its top
        `feedback_docs` hits by weight `feedback` (Rocchio) and is searched again (Crowdflower
        +0.003, Home Depot unchanged; 0 turns it off). The "dense" mode stays plain MiniLM.

        The live version is checked at most every `recheck_s` seconds, so a version another
        process (the ingest CLI) switched to is picked up by a running API or UI. `analyzer` is the
        shop's BM25 analyzer (retrieval.languages.shop_analyzer; default English)."""
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; available: {', '.join(FUSIONS)}")
        self.catalogue = catalogue
        self.collection = catalogue.collection
        self.title_collection = catalogue.mirror
        self.candidates = candidates
        self.fusion = fusion
        self.alpha = alpha
        self.rrf_k = rrf_k
        self.ranker = ranker
        self.embed = embed
        self.feedback = feedback
        self.feedback_docs = feedback_docs
        self.bm25: dict[str, Any] = {"k1": bm25_k1, "b": bm25_b, "analyzer": analyzer}
        self.recheck_s = recheck_s
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._checked = 0.0

    def _current(self) -> _Snapshot:
        """The snapshot queries use. The first use loads the live version; later, when the live
        version changed (looked up at most every `recheck_s`), one background thread loads the new
        one (seconds for a large catalogue) while queries keep answering from the old snapshot.
        Until it is swapped in, the old snapshot misses dense hits of the products the new version
        changed: their previous documents are deleted once the new version is live."""
        snap = self._snapshot
        if snap is None:
            self.warm_up()
            assert self._snapshot is not None
            return self._snapshot
        now = time.monotonic()
        if now - self._checked >= self.recheck_s:
            self._checked = now
            if self.catalogue.current() != snap.pointer and self._lock.acquire(blocking=False):
                threading.Thread(target=self._reload, name="catalogue-reload", daemon=True).start()
        return snap

    def warm_up(self) -> None:
        """Load the live version now, unless this search holds it already."""
        with self._lock:
            self._load_live()

    def _load_live(self) -> None:
        pointer = self.catalogue.current()
        snap = self._snapshot
        if snap is None or snap.pointer != pointer:
            # The manifest of the pointer read: looking the live version up again could name a newer one.
            version = self.catalogue.live() if pointer is None else self.catalogue.manifest(pointer)
            # Products whose document the new version keeps are taken from the served snapshot, so a
            # reload reads only the changed ones (a few, after a typical sync of a large catalogue).
            kept = (
                {
                    pid: snap.products[pid]
                    for pid, e in version.entries.items()
                    if snap.doc_of.get(pid) == e.doc
                }
                if snap is not None
                else None
            )
            self._snapshot = self.prepare(version, pointer, kept)
        self._checked = time.monotonic()

    def follow(self, live: int | None) -> None:
        """Load version `live` now, on the caller's thread, if it is not the one served (the shared
        store's watcher calls this; queries keep the old snapshot meanwhile). A search that has not
        loaded anything yet stays lazy."""
        snap = self._snapshot
        if snap is None or snap.pointer == live:
            return
        with self._lock:
            self._load_live()

    def _reload(self) -> None:
        """The background reload `_current` started (holding the lock); a failure keeps the old
        snapshot serving, and the next check tries again."""
        try:
            self._load_live()
        except Exception:
            log.exception("loading the new catalogue version failed; still serving the previous one")
        finally:
            self._lock.release()

    def prepare(
        self, version: Version, pointer: int | None, known: Mapping[str, Product] | None = None
    ) -> _Snapshot:
        """Load `version` (live, or about to be) and build or load its lexical indexes, saved in the
        version's folder. `pointer` is what `Catalogue.current()` says while it is live (None for a
        store adopted without one); `known` products (those an ingest just read, by id) are not
        read back from the store (they are what the version holds for their ids)."""
        known = known or {}
        entries = version.entries
        stored = read_ids(self.collection, [e.doc for pid, e in entries.items() if pid not in known])
        ids: list[str] = []
        docs: list[str] = []
        items: list[Product] = []
        for pid, entry in entries.items():
            if pid in known:
                item = known[pid]
                doc = item.search_text()
            elif entry.doc in stored:
                doc, meta = stored[entry.doc]
                item = Product.from_metadata(pid, meta)
            else:  # deleted behind the version's back; nothing to show for it
                log.warning("product %s of catalogue version %d has no stored document", pid, version.number)
                continue
            ids.append(pid)
            docs.append(doc)
            items.append(item)
        key = fingerprint(ids, [entries[pid].hash for pid in ids])
        folder = self.catalogue.lexical_dir(version.number)
        titles = [p.title for p in items]
        lexical = LexicalIndex.load_or_build(folder / "full" if folder else None, docs, key, **self.bm25)
        # Bare titles (Home Depot) are their products' whole text: one index serves both signals.
        title_lexical = (
            lexical
            if titles == docs
            else LexicalIndex.load_or_build(folder / "title" if folder else None, titles, key, **self.bm25)
        )
        kept = set(ids)
        return _Snapshot(
            pointer=pointer,
            ids=ids,
            products=dict(zip(ids, items, strict=True)),
            schema=CatalogSchema.from_products(items),
            facets=FacetArrays(items),
            lexical=lexical,
            title_lexical=title_lexical,
            title_is_text=frozenset(i for i, d, t in zip(ids, docs, titles, strict=True) if d == t),
            text_ratio=text_ratio(docs, titles),
            live={d: pid for d, pid in version.docs().items() if pid in kept},
            live_titles={d: pid for d, pid in version.mirrored().items() if pid in kept},
            doc_of={pid: entries[pid].doc for pid in ids},
        )

    def install(self, snapshot: _Snapshot) -> None:
        """Serve `snapshot` from now on (the ingest of this process just made its version live)."""
        with self._lock:
            self._snapshot = snapshot
            self._checked = time.monotonic()

    @property
    def products(self) -> dict[str, Product]:
        return self._current().products

    @property
    def schema(self) -> CatalogSchema:
        return self._current().schema

    @property
    def facets(self) -> FacetArrays:
        return self._current().facets

    def get(self, product_id: str) -> Product | None:
        return self._current().products.get(product_id)

    def run(
        self, query: str, *, top_k: int = 5, filters: Filters | None = None, mode: Mode = "hybrid"
    ) -> ProductResults:
        if mode not in ("hybrid", "lexical", "dense"):
            raise ValueError(f"products are searched in hybrid, lexical or dense mode, not {mode!r}")
        snap = self._current()
        parsed = parse_query(query, snap.schema)
        active = parsed.filters.merged(filters)
        where = active.to_where(snap.schema)
        mask = snap.facets.mask(active) if not active.is_empty() else None
        allowed = int(mask.sum()) if mask is not None else len(snap.ids)
        n = min(max(self.candidates, top_k), allowed)
        dense: list[tuple[str, float]] = []
        lexical: list[tuple[str, float]] = []
        if mode == "hybrid":
            signals, dense = self._signals(snap, parsed.text, n, where, mask, allowed)
            lexical = signals.get("lexical", [])
            fused = self._rank(snap, parsed, signals)
        elif mode == "dense":
            dense = self._dense(snap, False, parsed.text, n, where, mask, allowed) if n else []
            fused = dict(dense)
        else:
            lexical = [(snap.ids[i], s) for i, s in snap.lexical.top(parsed.text, n, mask)] if n else []
            fused = dict(lexical)
        dense_of, lex_of = dict(dense), dict(lexical)
        query_tokens = set(tokenize(parsed.text))
        hits = []
        for pid, score in sorted(fused.items(), key=lambda kv: -kv[1])[:top_k]:
            product = snap.products[pid]
            reasons = []
            words = sorted(query_tokens & set(tokenize(product.search_text())))
            if words:
                reasons.append("words: " + ", ".join(words))
            if pid in dense_of:
                reasons.append(f"meaning: {dense_of[pid]:.2f}")
            if mode == "hybrid" and self.ranker is not None:
                reasons.append(f"learned rank: {score:.2f}")
            reasons += active.describe()
            hits.append(ProductHit(product, score, dense_of.get(pid), lex_of.get(pid), reasons))
        confidence = self._confidence(hits, query_tokens)
        return ProductResults(query=parsed, filters=active, hits=hits, confidence=confidence)

    def _signals(
        self, snap: _Snapshot, text: str, n: int, where: dict[str, Any] | None, mask: Any, allowed: int
    ) -> tuple[dict[str, list[tuple[str, float]]], list[tuple[str, float]]]:
        """The four candidate lists (id, score), best first, each at most n long; and the plain
        dense hits (cosine to the query itself, for reasons and confidence)."""
        if not n:
            return {}, []
        query: Query = text
        if self.embed is not None:
            query = [float(x) for x in self.embed([text])[0]]
        dense = self._dense(snap, False, query, n, where, mask, allowed)
        signals = {
            "lexical": [(snap.ids[i], s) for i, s in snap.lexical.top(text, n, mask)],
            "title_lexical": [(snap.ids[i], s) for i, s in snap.title_lexical.top(text, n, mask)],
            "dense": self._feedback(snap, query, dense, n, where, mask, allowed),
            "title_dense": self._title_dense(snap, query, n, where, mask, allowed, dense),
        }
        return signals, dense

    def _feedback(
        self,
        snap: _Snapshot,
        query: Query,
        dense: list[tuple[str, float]],
        n: int,
        where: dict[str, Any] | None,
        mask: Any,
        allowed: int,
    ) -> list[tuple[str, float]]:
        """Dense hits for the query vector moved towards its top hits (Rocchio feedback)."""
        top = [snap.doc_of[pid] for pid, _ in dense[: self.feedback_docs]]
        if isinstance(query, str) or not self.feedback or not top:
            return dense
        import numpy as np

        got = self.collection.get(ids=top, include=["embeddings"])
        centroid = np.mean(np.asarray(got["embeddings"], dtype=np.float32), axis=0)
        q = np.asarray(query, dtype=np.float32)
        moved = q / (np.linalg.norm(q) or 1.0) + self.feedback * centroid / (np.linalg.norm(centroid) or 1.0)
        moved /= np.linalg.norm(moved) or 1.0
        return self._dense(snap, False, moved.tolist(), n, where, mask, allowed)

    def _title_dense(
        self,
        snap: _Snapshot,
        query: Query,
        n: int,
        where: dict[str, Any] | None,
        mask: Any,
        allowed: int,
        dense: list[tuple[str, float]],
    ) -> list[tuple[str, float]]:
        """Dense search over titles: the title collection for titles that differ from the full
        text, merged with the full-text hits of products whose title is their whole text (their
        vectors are the same). Exact when all titles differ or none do (Home Depot); in a mixed
        catalogue a title-only product can be missed when n other full texts outrank it."""
        merged = {pid: sim for pid, sim in dense if pid in snap.title_is_text}
        if snap.title_count:
            own = min(n, snap.title_count)
            merged.update(self._dense(snap, True, query, own, where, mask, allowed))
        return sorted(merged.items(), key=lambda kv: -kv[1])[:n]

    def _rank(
        self, snap: _Snapshot, parsed: ParsedQuery, signals: dict[str, list[tuple[str, float]]]
    ) -> dict[str, float]:
        """Fused scores of the candidates: the learned ranker when one is loaded, else the fusion
        (plus a small bonus for a category the query names, which the fusion cannot see)."""
        if self.ranker is not None:
            candidates = self._candidate_features(snap, parsed.text, signals)
            return dict(zip(candidates.ids, map(float, self.ranker.score(candidates)), strict=True))
        lexical_lists = [signals.get(k, []) for k in ("lexical", "title_lexical")]
        dense_lists = [signals[k] for k in ("dense", "title_dense") if k in signals]
        fused = FUSIONS[self.fusion](
            lexical_lists, dense_lists, k=self.rrf_k, alpha=self.alpha, text_ratio=snap.text_ratio
        )
        bonus = 0.05 if self.fusion == "convex" else 0.5 / (self.rrf_k + 1)  # scores vs reciprocal ranks
        for hint in parsed.category_hints:
            for pid in fused:
                if snap.products[pid].category.lower() == hint.lower():
                    fused[pid] += bonus
        return fused

    @staticmethod
    def _candidate_features(
        snap: _Snapshot, text: str, signals: dict[str, list[tuple[str, float]]]
    ) -> Candidates:
        from retrieval.rerank import features, product_tokens

        tokens = snap.tokens
        for ranking in signals.values():
            for pid, _ in ranking:
                if pid not in tokens:  # tokenized once per product, on first use
                    product = snap.products[pid]
                    tokens[pid] = product_tokens(product.title, product.search_text())
        return features(text, signals, tokens)

    def training_candidates(self, query: str) -> Candidates:
        """What the ranker scores for this query (no filters), for training it on judged queries."""
        snap = self._current()
        parsed = parse_query(query, snap.schema)
        n = min(self.candidates, len(snap.ids))
        signals = self._signals(snap, parsed.text, n, None, None, len(snap.ids))[0]
        return self._candidate_features(snap, parsed.text, signals)

    def _dense(
        self,
        snap: _Snapshot,
        titles: bool,
        query: Query,
        n: int,
        where: dict[str, Any] | None,
        mask: Any,
        allowed: int,
    ) -> list[tuple[str, float]]:
        """Nearest products passing the filters, in the full-text collection or (`titles`) the
        title collection.

        Chroma's filtered search scans the metadata and is slow when the filter keeps most of a
        large catalogue (~360 ms for 54k products here). When at least a fifth of the catalogue
        passes, over-fetch without `where` and apply the same filter as a mask; the exact filtered
        search is the fallback when too few survive, and the path for narrow filters.
        """
        collection, live = (
            (self.title_collection, snap.live_titles) if titles else (self.collection, snap.live)
        )
        if where is None or mask is None:
            return _live_query(collection, query, n, where, live)
        share = allowed / max(len(snap.ids), 1)
        if share >= 0.2:
            fetch = min(len(snap.ids), int(n / share * 1.5) + 10)
            kept = [
                (pid, sim)
                for pid, sim in _live_query(collection, query, fetch, None, live)
                if mask[snap.index_of[pid]]
            ]
            if len(kept) >= n:
                return kept[:n]
        return _live_query(collection, query, n, where, live)

    @staticmethod
    def _confidence(hits: Sequence[ProductHit], query_tokens: set[str]) -> float:
        """Top hit's semantic similarity, raised when most query words name what the product is.

        Only the identity fields count (title, brand, category, colour, material, tags): a
        description mentioning "car trunk" does not make a cooler an answer to "do you sell cars?".
        Shopping verbs ("sell", "need") say nothing about the product and are left out. Matching
        words only raise a hit whose meaning is at least loosely related (MiniLM cosine >= 0.2):
        below that a shared word is a coincidence ("glasses" in a glass kettle).
        """
        if not hits:
            return 0.0
        top = hits[0]
        dense = top.dense or 0.0
        tokens = query_tokens - _SHOPPING_WORDS
        if not tokens or dense < _RELATED:
            return dense
        p = top.product
        identity = " ".join([p.title, p.brand, p.category, p.color, p.material, " ".join(p.tags)])
        covered = len(tokens & set(tokenize(identity))) / len(tokens)
        return max(dense, 0.6 * covered)


# Phrasings per FAQ entry (on average) from which the learned router ranks instead of the nearest
# phrasing. On Bitext (`shopassist eval faq-curve`, 1,000 held-out questions) the router wins from 3
# labelled questions per entry and clearly from 10: accuracy@1 0.970 vs 0.910 at 10, 0.991 vs 0.934
# at 30 (0.886 vs 0.849 at 3, where the demo shop's chat sets showed no gain). Was 20. The setting
# retrieval.faq_router_min_examples passes another value.
ROUTER_MIN_EXAMPLES = 10


@dataclass
class FAQHit:
    entry: FAQEntry
    score: float
    dense: float
    reasons: list[str] = field(default_factory=list)


@dataclass
class FAQResults:
    """`confident` is the routing decision: the calibration's when one is loaded (`calibrated`,
    with its `probability` for the top entry), else top dense similarity >= `threshold`."""

    hits: list[FAQHit]
    confident: bool
    threshold: float
    signals: FAQSignals | None = None
    probability: float | None = None
    calibrated: bool = False

    @property
    def best(self) -> FAQHit | None:
        return self.hits[0] if self.confident and self.hits else None


def faq_records_docs(entry: FAQEntry) -> list[tuple[str, str]]:
    """The documents indexed per FAQ entry: its question, answer and each example phrasing."""
    docs = [(f"{entry.id}::q", entry.question), (f"{entry.id}::a", entry.answer)]
    docs += [(f"{entry.id}::e{i}", ex) for i, ex in enumerate(entry.examples)]
    return docs


class FAQSearch(_LazyIndex):
    """FAQ/policy retrieval: entry score = best of its phrasings, lexical and dense fused."""

    def __init__(
        self,
        collection: Any,
        *,
        min_score: float = 0.6,
        candidates: int = 100,
        rrf_k: int = 60,
        alpha: float = 0.5,
        embed: Any = None,
        min_examples: float = ROUTER_MIN_EXAMPLES,
        calibration: FAQCalibration | None = None,
        analyzer: Analyzer | None = None,
    ) -> None:
        """`embed` (texts -> vectors) enables the learned router once the entries carry at least
        `min_examples` example phrasings each on average; below that, retrieval alone ranks.
        `calibration` (from `shopassist calibrate-faq`) replaces the `min_score` threshold in the
        confident decision. `analyzer`: the shop's BM25 analyzer, as for products."""
        self.collection = collection
        self.calibration = calibration
        self.analyzer = analyzer
        self.embed = embed
        self.alpha = alpha
        self.min_examples = min_examples
        self.classifier: Any = None
        self.min_score = min_score
        self.candidates = candidates
        self.rrf_k = rrf_k
        super().__init__()
        self.entries: dict[str, FAQEntry] = {}

    def _load(self) -> None:
        ids, docs, metas = read_all(self.collection)
        self._doc_ids = ids
        self._entry_of = {i: str(m["entry_id"]) for i, m in zip(ids, metas, strict=True)}
        self.entries = {}
        for m in metas:
            self.entries.setdefault(str(m["entry_id"]), FAQEntry.from_metadata(str(m["entry_id"]), m))
        self._lexical = LexicalIndex.build(docs, analyzer=self.analyzer)
        words: dict[str, set[str]] = {}
        for doc_id, doc in zip(ids, docs, strict=True):
            words.setdefault(self._entry_of[doc_id], set()).update(tokenize(doc))
        self._entry_words = {e: frozenset(w) for e, w in words.items()}
        self.classifier = self._train()

    def _train(self, min_examples: float | None = None) -> Any:
        """Fit the intent classifier on every entry's question and examples, when there are enough
        (`min_examples` per entry on average; default: the search's own)."""
        entries = list(self.entries.values())
        examples = sum(len(e.examples) for e in entries)
        least = self.min_examples if min_examples is None else min_examples
        if self.embed is None or len(entries) < 2 or examples < least * len(entries):
            return None
        from retrieval.intents import IntentClassifier

        texts = [t for e in entries for t in [e.question, *e.examples]]
        labels = [e.id for e in entries for _ in range(1 + len(e.examples))]
        return IntentClassifier(self.embed).fit(texts, labels)

    def fit_router(self, min_examples: float | None = None) -> bool:
        """Fit the learned router again from the loaded entries' phrasings (labelled questions the
        FAQ was synced with included); `min_examples` overrides the gate for this fit (0: always,
        as the learning curve measures it). Whether a router is in use afterwards."""
        self.warm_up()
        classifier = self._train(min_examples)
        with self._lock:
            self.classifier = classifier
        return classifier is not None

    def run(
        self, query: str, *, top_k: int = 3, filters: Filters | None = None, mode: Mode = "hybrid"
    ) -> FAQResults:
        self.warm_up()
        if not self._doc_ids:
            return FAQResults([], False, self.min_score, calibrated=self.calibration is not None)
        n = min(self.candidates, len(self._doc_ids))
        dense_best: dict[str, float] = {}
        for doc_id, sim in _dense_query(self.collection, query, n, None):
            entry = self._entry_of[doc_id]
            dense_best[entry] = max(dense_best.get(entry, -1.0), sim)
        lex_best: dict[str, float] = {}
        scores = self._lexical.scores(query)  # every mode: the calibration's signals need BM25's pick
        for doc_id, s in zip(self._doc_ids, scores, strict=True):
            if s > 0:
                entry = self._entry_of[doc_id]
                lex_best[entry] = max(lex_best.get(entry, 0.0), float(s))
        dense_rank = sorted(dense_best, key=lambda e: -dense_best[e])
        lex_rank = sorted(lex_best, key=lambda e: -lex_best[e])
        if mode == "learned" or (mode == "hybrid" and self.classifier is not None):
            if self.classifier is None:
                raise ValueError("the learned router needs example questions on the FAQ entries")
            ranked = self.classifier.rank(query, top_k)
            hits = [
                FAQHit(self.entries[e], margin, dense_best.get(e, 0.0), [f"intent margin: {margin:.2f}"])
                for e, margin in ranked
            ]
            # Confident only when the classifier accepts the intent and the question is also close
            # in meaning to that entry: a classifier has no "none of these" class of its own.
            accepted = bool(hits) and hits[0].score > 0
            return self._decide(
                query, hits, accepted, dense_best, lex_rank, hits[0].score if hits else 0.0, routed=True
            )
        # Without a trained router, "hybrid" ranks by meaning alone: on Bitext, fusing BM25 into
        # cold FAQ retrieval lowered accuracy@1 at every weight tried (0.74 dense vs 0.62-0.68).
        both = [dense_rank, lex_rank]
        rankings = {"dense": [dense_rank], "lexical": [lex_rank], "hybrid": [dense_rank], "fused": both}[mode]
        weights = [2 * self.alpha, 2 * (1 - self.alpha)] if len(rankings) == 2 else None
        fused = rrf(rankings, k=self.rrf_k, weights=weights)
        hits = [
            FAQHit(
                self.entries[e],
                s,
                dense_best.get(e, 0.0),
                [f"meaning: {dense_best.get(e, 0.0):.2f}"] + (["shared words"] if e in lex_best else []),
            )
            for e, s in sorted(fused.items(), key=lambda kv: -kv[1])[:top_k]
        ]
        return self._decide(query, hits, bool(hits), dense_best, lex_rank)

    def _decide(
        self,
        query: str,
        hits: list[FAQHit],
        accepted: bool,
        dense_best: dict[str, float],
        lex_rank: list[str],
        router_margin: float = 0.0,
        *,
        routed: bool = False,
    ) -> FAQResults:
        """The confident decision on the top hit: the calibration's when one is loaded, else the
        fixed similarity threshold; `accepted` is what the ranker itself says (the router's margin).
        A calibration fitted without the router's margin (a cold one, such as the shipped one)
        stands aside while the learned router routes (`routed`): its signals were fitted on entries
        without example phrasings, and on Bitext after self-training it refused right answers
        (chat cites the right entry 0.82 with it, 0.893 with the threshold)."""
        calibration = self.calibration
        if calibration is not None and routed and "router_margin" not in calibration.features:
            calibration = None
        if not hits:
            return FAQResults(hits, False, self.min_score, calibrated=calibration is not None)
        signals = self.signals(query, hits[0].entry.id, dense_best, lex_rank, router_margin)
        if calibration is None:
            return FAQResults(hits, accepted and hits[0].dense >= self.min_score, self.min_score, signals)
        p = calibration.probability(signals)
        threshold = calibration.threshold
        return FAQResults(hits, accepted and p >= threshold, threshold, signals, p, calibrated=True)

    def signals(
        self,
        query: str,
        top: str,
        dense_best: dict[str, float],
        lex_rank: list[str],
        router_margin: float = 0.0,
    ) -> FAQSignals:
        """What a calibration reads about the top entry `top` (see retrieval.calibration)."""
        words = set(tokenize(query))
        found = words & self._entry_words.get(top, frozenset())
        return FAQSignals(
            top_dense=dense_best.get(top, 0.0),
            second_dense=max((s for e, s in dense_best.items() if e != top), default=0.0),
            lexical_agrees=bool(lex_rank) and lex_rank[0] == top,
            word_overlap=len(found) / len(words) if words else 0.0,
            router_margin=router_margin,
        )
