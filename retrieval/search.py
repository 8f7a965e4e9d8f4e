"""Hybrid retrieval: BM25 (bm25s) and dense MiniLM (Chroma), fused by reciprocal rank.

Both sides rank the same candidate set: filters become a Chroma `where` for the dense side and a
predicate for the lexical side. Results carry their scores and the reasons they matched, and a
confidence the assistant uses to say "I don't know" instead of offering the nearest guess.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from retrieval.filters import CatalogSchema, Filters
from retrieval.offline import set_offline_env
from retrieval.query import ParsedQuery, parse_query
from retrieval.schema import FAQEntry, Product
from retrieval.store import read_all
from retrieval.text import tokenize

R_co = TypeVar("R_co", covariant=True)


class Retriever(Protocol[R_co]):
    """One `run()` per retriever (haystack style); heavy state is built lazily in `warm_up()`."""

    def warm_up(self) -> None: ...

    def run(self, query: str, *, top_k: int = 5, filters: Filters | None = None) -> R_co: ...


def rrf(
    rankings: Sequence[Sequence[str]], k: int = 60, weights: Sequence[float] | None = None
) -> dict[str, float]:
    """Reciprocal rank fusion: sum of w / (k + rank) over the rankings an id appears in."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return scores


class _Lexical:
    """A bm25s index over a fixed list of documents, scoring every document for a query."""

    def __init__(self, docs: Sequence[str]) -> None:
        import bm25s

        set_offline_env()  # also quiets bm25s, whose logger is configured on import
        self.index = bm25s.BM25()
        self.index.index([tokenize(d) or ["__empty__"] for d in docs], show_progress=False)

    def scores(self, query: str) -> Any:
        tokens = tokenize(query)
        known = [t for t in tokens if t in self.index.vocab_dict]
        import numpy as np

        if not known:
            return np.zeros(self.index.scores["num_docs"], dtype="float32")
        return self.index.get_scores(known)


def _dense_query(collection: Any, text: str, n: int, where: dict[str, Any] | None) -> list[tuple[str, float]]:
    if n <= 0:
        return []
    got = collection.query(query_texts=[text], n_results=n, where=where, include=["distances"])
    return [(rid, 1.0 - float(d)) for rid, d in zip(got["ids"][0], got["distances"][0], strict=True)]


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


class ProductSearch:
    """Hybrid product retriever over a Chroma collection written by `ShopIndex`."""

    def __init__(self, collection: Any, *, candidates: int = 100, rrf_k: int = 60) -> None:
        self.collection = collection
        self.candidates = candidates
        self.rrf_k = rrf_k
        self._lock = threading.Lock()
        self._ready = False
        self.products: dict[str, Product] = {}
        self.schema = CatalogSchema()

    def warm_up(self) -> None:
        with self._lock:
            if self._ready:
                return
            ids, docs, metas = read_all(self.collection)
            self._ids = ids
            self._index_of = {pid: k for k, pid in enumerate(ids)}
            self.products = {i: Product.from_metadata(i, m) for i, m in zip(ids, metas, strict=True)}
            self.schema = CatalogSchema.from_products(self.products.values())
            self._lexical = _Lexical(docs) if ids else None
            self._ready = True

    def refresh(self) -> None:
        """Rebuild the in-memory lexical index and schema after the collection changed."""
        with self._lock:
            self._ready = False
        self.warm_up()

    def get(self, product_id: str) -> Product | None:
        self.warm_up()
        return self.products.get(product_id)

    def run(self, query: str, *, top_k: int = 5, filters: Filters | None = None) -> ProductResults:
        self.warm_up()
        parsed = parse_query(query, self.schema)
        active = parsed.filters.merged(filters)
        where = active.to_where(self.schema)
        allowed = [i for i in self._ids if active.matches(self.products[i])]
        n = min(self.candidates, len(allowed))
        dense = _dense_query(self.collection, parsed.text, n, where) if n else []
        lexical: list[tuple[str, float]] = []
        if n and self._lexical is not None:
            scores = self._lexical.scores(parsed.text)
            ranked = sorted(((float(scores[self._index_of[i]]), i) for i in allowed), reverse=True)
            lexical = [(i, s) for s, i in ranked[:n] if s > 0]
        fused = rrf([[i for i, _ in dense], [i for i, _ in lexical]], k=self.rrf_k)
        for hint in parsed.category_hints:
            for pid in fused:
                if self.products[pid].category.lower() == hint.lower():
                    fused[pid] += 0.5 / (self.rrf_k + 1)
        dense_of, lex_of = dict(dense), dict(lexical)
        query_tokens = set(tokenize(parsed.text))
        hits = []
        for pid, score in sorted(fused.items(), key=lambda kv: -kv[1])[:top_k]:
            product = self.products[pid]
            reasons = []
            words = sorted(query_tokens & set(tokenize(product.search_text())))
            if words:
                reasons.append("words: " + ", ".join(words))
            if pid in dense_of:
                reasons.append(f"meaning: {dense_of[pid]:.2f}")
            reasons += active.describe()
            hits.append(ProductHit(product, score, dense_of.get(pid), lex_of.get(pid), reasons))
        confidence = self._confidence(hits, query_tokens)
        return ProductResults(query=parsed, filters=active, hits=hits, confidence=confidence)

    @staticmethod
    def _confidence(hits: Sequence[ProductHit], query_tokens: set[str]) -> float:
        """Top hit's semantic similarity, raised when most query words literally match it."""
        if not hits:
            return 0.0
        top = hits[0]
        dense = top.dense or 0.0
        if not query_tokens:
            return dense
        covered = len(query_tokens & set(tokenize(top.product.search_text()))) / len(query_tokens)
        return max(dense, 0.6 * covered)


@dataclass
class FAQHit:
    entry: FAQEntry
    score: float
    dense: float
    reasons: list[str] = field(default_factory=list)


@dataclass
class FAQResults:
    hits: list[FAQHit]
    confident: bool
    threshold: float

    @property
    def best(self) -> FAQHit | None:
        return self.hits[0] if self.confident and self.hits else None


def faq_records_docs(entry: FAQEntry) -> list[tuple[str, str]]:
    """The documents indexed per FAQ entry: its question, answer and each example phrasing."""
    docs = [(f"{entry.id}::q", entry.question), (f"{entry.id}::a", entry.answer)]
    docs += [(f"{entry.id}::e{i}", ex) for i, ex in enumerate(entry.examples)]
    return docs


class FAQSearch:
    """FAQ/policy retrieval: entry score = best of its phrasings, lexical and dense fused."""

    def __init__(
        self, collection: Any, *, min_score: float = 0.6, candidates: int = 40, rrf_k: int = 60
    ) -> None:
        self.collection = collection
        self.min_score = min_score
        self.candidates = candidates
        self.rrf_k = rrf_k
        self._lock = threading.Lock()
        self._ready = False
        self.entries: dict[str, FAQEntry] = {}

    def warm_up(self) -> None:
        with self._lock:
            if self._ready:
                return
            ids, docs, metas = read_all(self.collection)
            self._doc_ids = ids
            self._entry_of = {i: str(m["entry_id"]) for i, m in zip(ids, metas, strict=True)}
            self.entries = {}
            for m in metas:
                self.entries.setdefault(str(m["entry_id"]), FAQEntry.from_metadata(str(m["entry_id"]), m))
            self._lexical = _Lexical(docs) if ids else None
            self._ready = True

    def refresh(self) -> None:
        with self._lock:
            self._ready = False
        self.warm_up()

    def run(self, query: str, *, top_k: int = 3, filters: Filters | None = None) -> FAQResults:
        self.warm_up()
        if not self._doc_ids:
            return FAQResults([], False, self.min_score)
        n = min(self.candidates, len(self._doc_ids))
        dense_best: dict[str, float] = {}
        for doc_id, sim in _dense_query(self.collection, query, n, None):
            entry = self._entry_of[doc_id]
            dense_best[entry] = max(dense_best.get(entry, -1.0), sim)
        lex_best: dict[str, float] = {}
        if self._lexical is not None:
            scores = self._lexical.scores(query)
            for doc_id, s in zip(self._doc_ids, scores, strict=True):
                if s > 0:
                    entry = self._entry_of[doc_id]
                    lex_best[entry] = max(lex_best.get(entry, 0.0), float(s))
        dense_rank = sorted(dense_best, key=lambda e: -dense_best[e])
        lex_rank = sorted(lex_best, key=lambda e: -lex_best[e])
        fused = rrf([dense_rank, lex_rank], k=self.rrf_k)
        hits = [
            FAQHit(
                self.entries[e],
                s,
                dense_best.get(e, 0.0),
                [f"meaning: {dense_best.get(e, 0.0):.2f}"] + (["shared words"] if e in lex_best else []),
            )
            for e, s in sorted(fused.items(), key=lambda kv: -kv[1])[:top_k]
        ]
        confident = bool(hits) and hits[0].dense >= self.min_score
        return FAQResults(hits, confident, self.min_score)
