"""The optional re-ranking stage: a learned ranker over the fused candidates.

Reciprocal rank fusion needs no training and is the default. A shop that has judged queries (a
relevance set, or clicks turned into grades) can do better with a LambdaMART ranker (LightGBM)
over features every candidate already has: its rank and score in each of the four signals, and
how much of the query its title and text cover. Training and serving share `features()`, so a
model can never see features computed differently from the ones it was trained on; the model
file records the feature names and is refused when they differ.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.files import write_atomic
from retrieval.text import tokenize

SIGNALS = ("lexical", "title_lexical", "dense", "title_dense")
FEATURES = (
    *(f"{s}_rrf" for s in SIGNALS),
    *(f"{s}_score" for s in SIGNALS),
    "title_coverage",
    "text_coverage",
    "title_covers_all",
    "title_length",
    "query_length",
)
_RRF_K = 60
_FORMAT = "shopassist-ranker/1"


class RankerError(ValueError):
    """A ranker file is missing, unreadable or was trained on other features; says what to do."""


@dataclass
class Candidates:
    """Everything the ranker sees for one query: the ids and one feature row per id."""

    ids: list[str]
    matrix: np.ndarray


def features(
    query_text: str,
    signals: Mapping[str, Sequence[tuple[str, float]]],
    tokens: Mapping[str, tuple[frozenset[str], frozenset[str]]],
) -> Candidates:
    """Feature rows for the union of the signals' candidates.

    Lexical scores are divided by the query's best score (BM25 has no fixed scale); dense scores
    are cosines already. A candidate missing from a signal's list gets that list's lowest score and
    no reciprocal-rank credit, which is what the fusion knows about it too. `tokens` gives each
    candidate's (title, full text) token sets; `product_tokens` makes them.
    """
    ids = sorted({pid for ranking in signals.values() for pid, _ in ranking})
    query_tokens = set(tokenize(query_text))
    n_query = max(len(query_tokens), 1)
    rows = np.zeros((len(ids), len(FEATURES)), dtype=np.float32)
    position = {pid: i for i, pid in enumerate(ids)}
    for s, name in enumerate(SIGNALS):
        ranking = signals.get(name, [])
        if not ranking:
            continue
        values = [score for _, score in ranking]
        scale = (max(values) or 1.0) if "lexical" in name else 1.0
        rows[:, len(SIGNALS) + s] = min(values) / scale
        for rank, (pid, score) in enumerate(ranking, start=1):
            row = position[pid]
            rows[row, s] = 1.0 / (_RRF_K + rank)
            rows[row, len(SIGNALS) + s] = score / scale
    base = 2 * len(SIGNALS)
    empty: frozenset[str] = frozenset()
    for pid, row in position.items():
        title_tokens, text_tokens = tokens.get(pid, (empty, empty))
        title_cover = len(query_tokens & title_tokens) / n_query
        rows[row, base : base + 5] = (
            title_cover,
            len(query_tokens & text_tokens) / n_query,
            float(title_cover == 1.0),
            np.log1p(len(title_tokens)),
            len(query_tokens),
        )
    return Candidates(ids, rows)


def product_tokens(title: str, text: str) -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(tokenize(title)), frozenset(tokenize(text))


@dataclass
class TrainingQuery:
    candidates: Candidates
    gains: Mapping[str, float]

    def shown_and_far(self, far: int = 30) -> TrainingQuery:
        """The candidates with a gain, and the ones the retrievers rank past `far` (by the summed
        reciprocal ranks of the signals) as zeros. Events grade what shoppers were shown; a
        candidate just below the shown ones is unknown, not irrelevant, and training on it as a
        zero teaches the ranker to keep the order that chose what was shown, while the far tail
        is what teaches it that a weak retrieval rank is bad."""
        rrf = self.candidates.matrix[:, [FEATURES.index(f"{s}_rrf") for s in SIGNALS]].sum(axis=1)
        order = np.argsort(-rrf, kind="stable")
        far_ids = {self.candidates.ids[i] for i in order[far:]}
        keep = [i for i, pid in enumerate(self.candidates.ids) if pid in self.gains or pid in far_ids]
        return TrainingQuery(
            Candidates([self.candidates.ids[i] for i in keep], self.candidates.matrix[keep]), self.gains
        )


class LearnedRanker:
    """LambdaMART (LightGBM) over `FEATURES`; `score()` orders one query's candidates."""

    def __init__(self, booster: Any, meta: dict[str, Any]) -> None:
        self.booster = booster
        self.meta = meta

    @classmethod
    def fit(
        cls,
        queries: Sequence[TrainingQuery],
        *,
        trees: int = 200,
        learning_rate: float = 0.05,
        leaves: int = 15,
        min_samples: int = 50,
        seed: int = 0,
    ) -> LearnedRanker:
        """Fit on judged queries; gains are rounded to integer grades (LambdaMART's labels)."""
        import lightgbm as lgb

        usable = [q for q in queries if len(q.candidates.ids) > 1]
        if not usable:
            raise RankerError("no judged query has two or more candidates to rank; check the qrels")
        matrix = np.vstack([q.candidates.matrix for q in usable])
        labels = np.concatenate(
            [[int(round(q.gains.get(pid, 0.0))) for pid in q.candidates.ids] for q in usable]
        ).clip(0, 30)
        grades = int(labels.max()) + 1
        model = lgb.LGBMRanker(
            objective="lambdarank",
            n_estimators=trees,
            learning_rate=learning_rate,
            num_leaves=leaves,
            min_child_samples=min_samples,
            label_gain=[2**g - 1 for g in range(grades)],
            random_state=seed,
            n_jobs=1,
            verbose=-1,
        )
        model.fit(matrix, labels, group=[len(q.candidates.ids) for q in usable])
        meta = {"format": _FORMAT, "features": list(FEATURES), "queries": len(usable), "trees": trees}
        return cls(model.booster_, meta)

    def score(self, candidates: Candidates) -> np.ndarray:
        if not candidates.ids:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self.booster.predict(candidates.matrix, num_threads=1), dtype=np.float32)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        payload = {**self.meta, "model": self.booster.model_to_string()}
        return write_atomic(path, json.dumps(payload))

    @classmethod
    def load(cls, path: str | Path) -> LearnedRanker:
        import lightgbm as lgb

        path = Path(path)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RankerError(
                f"cannot read ranker {path}: {exc}; train one with `shopassist train-ranker`"
            ) from exc
        if payload.get("format") != _FORMAT or payload.get("features") != list(FEATURES):
            raise RankerError(
                f"ranker {path} was trained on other features ({payload.get('format')}); "
                "retrain it with `shopassist train-ranker`"
            )
        booster = lgb.Booster(model_str=payload.pop("model"))
        return cls(booster, payload)
