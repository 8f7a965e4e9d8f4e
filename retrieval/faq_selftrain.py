"""Self-training the FAQ router on unlabelled customer questions: labels before anyone labels.

A new shop has its FAQ entries and, within days, its customers' questions, but no one has said
which entry answers which question. Cold routing (nearest entry by meaning) is right about three
times in four on Bitext; the learned router (`retrieval.intents`) is right 97 times in 100 once it
has ten labelled questions per entry. Self-training joins the two without a human label:

1. Score every unlabelled question against each entry's views: the entry's question (a bare intent
   name such as "track refund" is read through a few question templates, since a customer never
   types a bare name) and its answer, whole and sentence by sentence.
2. Correct for hubs, entries near everything ("contact customer service"), by subtracting each
   entry's mean similarity to its `hub_k` nearest questions (CSLS, Lample et al. 2018).
3. Keep, per entry, the questions routed to it that it wins by the widest margin (a quota: a third
   of the questions per entry on average), and fit the learned router on them; route the questions
   again with that router and keep up to two thirds (one more round). The kept questions are the
   labels (source "traffic").

On Bitext (`shopassist eval faq-selftrain`, two folds: labels from one half's questions, accuracy on
the other half) accuracy@1 goes from 0.74 (cold) to over 0.9; see docs/benchmarks.md. Human labels
always win over these (`retrieval.faq_labels.with_labels`).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retrieval.schema import FAQEntry

Embed = Callable[[list[str]], Any]

# How a customer asks for a bare intent name ("track refund"): the question view of such an entry
# is the mean similarity to these phrasings. An entry whose question is a real question keeps it.
NAME_TEMPLATES = (
    "How do I {}?",
    "I want to {}",
    "I need help to {}",
    "Can you help me {}?",
    "question about {}",
    "{} help",
)


@dataclass(frozen=True)
class SelfTrainConfig:
    """Settings of `self_train`; the defaults were chosen on one half of Bitext's questions and
    confirmed on the other (docs/benchmarks.md)."""

    shares: tuple[float, ...] = field(
        default=(1 / 3, 2 / 3),
        metadata={
            "help": "per round, the most questions an entry keeps (most confident first), as a share of "
            "the questions per entry on average"
        },
    )
    hub_k: int = field(default=50, metadata={"help": "questions per entry the hub correction averages"})
    question_weight: float = field(
        default=0.5, metadata={"help": "weight of the question view against the answer view"}
    )
    min_questions: int = field(
        default=3, metadata={"help": "fewer kept questions than this for an entry: it gets none"}
    )


@dataclass
class SelfTrained:
    """The labels (question, entry id) a self-training run chose, and what each round kept."""

    labels: list[tuple[str, str]]
    rounds: list[int]
    questions: int
    seconds: float


def _bare_name(question: str) -> bool:
    """An intent name rather than a question: no question mark and at most five words."""
    return "?" not in question and len(question.split()) <= 5


def _unit(x: Any) -> np.ndarray:
    v = np.asarray(x, dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)


def _sentences(answer: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", answer.strip()) if s]


def view_scores(
    entries: Sequence[FAQEntry], questions: np.ndarray, embed: Embed, weight: float = 0.5
) -> np.ndarray:
    """(questions x entries) similarity: `weight` x the question view (the mean over the name's
    templates, or the entry's question) + (1 - weight) x the answer view (the best of the whole
    answer and its sentences). `questions` are unit vectors."""
    q_texts: list[str] = []
    q_owner: list[int] = []
    a_texts: list[str] = []
    a_owner: list[int] = []
    for j, entry in enumerate(entries):
        asks = (
            [t.format(entry.question) for t in NAME_TEMPLATES]
            if _bare_name(entry.question)
            else [entry.question]
        )
        q_texts += asks
        q_owner += [j] * len(asks)
        parts = [entry.answer, *_sentences(entry.answer)] if entry.answer else [entry.question]
        a_texts += parts
        a_owner += [j] * len(parts)
    qs = questions @ _unit(embed(q_texts)).T
    ans = questions @ _unit(embed(a_texts)).T
    q_owner_a, a_owner_a = np.array(q_owner), np.array(a_owner)
    out = np.empty((len(questions), len(entries)), dtype=np.float32)
    for j in range(len(entries)):
        out[:, j] = weight * qs[:, q_owner_a == j].mean(1) + (1 - weight) * ans[:, a_owner_a == j].max(1)
    return out


def hub_corrected(scores: np.ndarray, k: int) -> np.ndarray:
    """CSLS: 2 x similarity minus each entry's mean similarity to its k nearest questions."""
    k = max(1, min(k, len(scores)))
    return 2 * scores - np.sort(scores, axis=0)[-k:].mean(0)[None, :]


def _keep(scores: np.ndarray, share: float, min_questions: int) -> list[tuple[int, int]]:
    """(question, entry) pairs: per entry, its most confident questions (widest margin over the
    runner-up), at most `share` x the questions per entry on average. A quota per entry, not a share
    of what each entry wins: an entry near everything wins many questions, and a share of them
    would fill the router with its wrong ones (on Bitext, accuracy fell as the pool grew)."""
    top = scores.argmax(1)
    ordered = np.sort(scores, axis=1)
    margin = ordered[:, -1] - (ordered[:, -2] if scores.shape[1] > 1 else 0)
    quota = int(round(share * len(scores) / scores.shape[1]))
    kept: list[tuple[int, int]] = []
    for j in range(scores.shape[1]):
        mine = np.where(top == j)[0]
        mine = mine[np.argsort(-margin[mine], kind="stable")][:quota]
        if len(mine) >= min_questions:
            kept += [(int(i), j) for i in mine]
    return kept


def self_train(
    entries: Sequence[FAQEntry],
    questions: Sequence[str],
    embed: Embed,
    config: SelfTrainConfig | None = None,
) -> SelfTrained:
    """Labels for `questions` (unlabelled customer questions) from the entries alone; see the module
    docstring. Questions repeated in `questions` count once."""
    from retrieval.intents import IntentClassifier

    config = config or SelfTrainConfig()
    start = time.perf_counter()
    texts = list(dict.fromkeys(q.strip() for q in questions if q.strip()))
    if len(entries) < 2 or not texts:
        return SelfTrained([], [], len(texts), 0.0)
    vectors = _unit(embed(texts))
    cached = dict(zip(texts, vectors, strict=True))

    def embed_cached(batch: list[str]) -> np.ndarray:
        missing = [t for t in batch if t not in cached]
        if missing:
            cached.update(zip(missing, _unit(embed(missing)), strict=True))
        return np.stack([cached[t] for t in batch])

    scores = hub_corrected(view_scores(entries, vectors, embed, config.question_weight), config.hub_k)
    ids = [e.id for e in entries]
    kept: list[tuple[int, int]] = []
    rounds: list[int] = []
    for n, share in enumerate(config.shares):
        if n > 0:
            labels = [ids[j] for _, j in kept]
            if len(set(labels)) < 2:
                break
            router = IntentClassifier(embed_cached).fit([texts[i] for i, _ in kept], labels)
            decision = router.decision(texts)
            scores = decision[:, [router.classes.index(i) if i in router.classes else 0 for i in ids]]
            missing = [j for j, i in enumerate(ids) if i not in router.classes]
            scores[:, missing] = -np.inf  # an entry with no label yet cannot win a round-2 question
        kept = _keep(scores, share, config.min_questions)
        rounds.append(len(kept))
    return SelfTrained(
        [(texts[i], ids[j]) for i, j in kept], rounds, len(texts), round(time.perf_counter() - start, 2)
    )


def evaluate_self_training(
    entries: Sequence[FAQEntry],
    questions: Sequence[tuple[str, str]],
    embed: Embed,
    *,
    folds: int = 2,
    pool_sizes: Sequence[int | None] = (None,),
    config: SelfTrainConfig | None = None,
    seed: int = 0,
    analyzer: Any = None,
) -> dict[str, Any]:
    """Accuracy@1/@3 of the served FAQ search (`FAQSearch.run`, learned router and all) after
    self-training on unlabelled questions, cross-validated: the questions are split into `folds`;
    each fold is asked, self-training reads the other folds' questions (their texts only, at most
    `pool_size` of them, a fixed random sample). The cold search is the baseline of the same run.
    The labels' precision (how many pseudo-labels are right) is reported per pool size."""
    from retrieval.index import memory_faq_search

    known = {e.id for e in entries}
    unknown = sorted({intent for _, intent in questions if intent not in known})
    if unknown:
        raise ValueError(f"questions name intents missing from the FAQ: {', '.join(unknown[:10])}")
    if folds < 2:
        raise ValueError("self-training needs at least 2 folds: questions it reads are never asked")
    order = list(range(len(questions)))
    random.Random(seed).shuffle(order)
    split = [order[i::folds] for i in range(folds)]
    gold = {q: intent for q, intent in questions}
    rows: dict[str, dict[str, Any]] = {}
    latencies: list[float] = []

    def ask(search: Any, fold: list[int], row: dict[str, Any], timed: bool) -> None:
        for i in fold:
            text, intent = questions[i]
            t0 = time.perf_counter()
            ranked = [h.entry.id for h in search.run(text, top_k=3).hits]
            if timed:
                latencies.append((time.perf_counter() - t0) * 1000)
            row["top1"] += ranked[:1] == [intent]
            row["top3"] += intent in ranked
            row["n"] += 1

    for f, fold in enumerate(split):
        pool_all = [questions[i][0] for g, part in enumerate(split) if g != f for i in part]
        cold = rows.setdefault("cold", {"pool": 0, "top1": 0, "top3": 0, "n": 0, "labels": 0, "right": 0})
        with memory_faq_search(list(entries), embed, analyzer) as search:
            ask(search, fold, cold, False)
        for size in pool_sizes:
            pool = (
                pool_all
                if size is None or size >= len(pool_all)
                else random.Random(seed + f).sample(pool_all, size)
            )
            key = f"self-trained on {'all others' if size is None else size}"
            row = rows.setdefault(
                key, {"pool": 0, "top1": 0, "top3": 0, "n": 0, "labels": 0, "right": 0, "seconds": 0.0}
            )
            result = self_train(entries, pool, embed, config)
            row["pool"] += len(pool)
            row["labels"] += len(result.labels)
            row["right"] += sum(gold.get(q) == e for q, e in result.labels)
            row["seconds"] += result.seconds
            by_entry: dict[str, list[str]] = {}
            for q, e in result.labels:
                by_entry.setdefault(e, []).append(q)
            trained = [
                e.model_copy(update={"examples": e.examples + by_entry.get(e.id, [])}) for e in entries
            ]
            with memory_faq_search(trained, embed, analyzer) as search:
                ask(search, fold, row, size == pool_sizes[-1])
    out = []
    for key, r in rows.items():
        out.append(
            {
                "mode": key,
                "unlabelled_per_fold": r["pool"] // folds,
                "accuracy@1": round(r["top1"] / r["n"], 4),
                "accuracy@3": round(r["top3"] / r["n"], 4),
                "labels_per_fold": r["labels"] // folds,
                "label_precision": round(r["right"] / r["labels"], 4) if r["labels"] else None,
                "self_train_s_per_fold": round(r.get("seconds", 0.0) / folds, 2),
            }
        )
    from retrieval.evaluate import percentile

    return {
        "questions": len(questions),
        "intents": len(entries),
        "folds": folds,
        "rows": out,
        "latency_p50_ms": round(percentile(latencies, 0.5), 1),
        "latency_p95_ms": round(percentile(latencies, 0.95), 1),
    }
