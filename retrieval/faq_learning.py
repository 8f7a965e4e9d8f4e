"""FAQ routing accuracy against the number of labelled questions per entry (a learning curve).

How much does each label the shop collects (`retrieval.faq_labels`) buy? The labelled questions are
split by a hash of their text into a pool the labels are drawn from and held-out questions that are
only ever asked, never learned from. For each count k, every entry gets the first k of its pool
questions (the same order for every k, so k=10 holds the k=3 labels) as example phrasings, exactly
as `with_labels` gives them to a shop's FAQ, and the held-out questions are routed:

- dense: the nearest phrasing (the cold router, which sees the labels as phrasings at once);
- learned: the intent classifier fitted on the phrasings, whatever their number;
- served: what `FAQSearch` uses with its default gate (the classifier from `min_examples` phrasings
  per entry on average, else dense).

Latency is measured once, at the largest k, on held-out questions no other pass has embedded (each
pays its embedding, as a customer's question does): half in dense mode, half with the learned router;
then the learned router's own extra cost on the same questions, their embeddings cached.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from retrieval.evaluate import percentile
from retrieval.faq_labels import FAQLabel, with_labels
from retrieval.schema import FAQEntry

DEFAULT_COUNTS = (0, 1, 3, 10, 30)


def held_out(text: str, share: float = 0.5) -> bool:
    """Whether a question is on the held-out side: by a hash of its normalized text, so a question
    keeps its side across runs and sets, and duplicates share one."""
    digest = hashlib.sha1(" ".join(text.lower().split()).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def split_questions(
    questions: Sequence[tuple[str, str]], share: float = 0.5
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(pool, held-out): labels come from the pool only; the held-out side is only asked."""
    pool = [q for q in questions if not held_out(q[0], share)]
    rest = [q for q in questions if held_out(q[0], share)]
    return pool, rest


def labels_per_entry(pool: Sequence[tuple[str, str]], k: int, seed: int = 0) -> list[FAQLabel]:
    """The first k pool questions of each entry, in one seeded order (nested across k)."""
    order = list(pool)
    random.Random(seed).shuffle(order)
    taken: dict[str, int] = {}
    out = []
    for n, (text, intent) in enumerate(order):
        if taken.get(intent, 0) < k:
            taken[intent] = taken.get(intent, 0) + 1
            out.append(FAQLabel.make(text, intent, "import", f"pool-{n}"))
    return out


def _timed(search: Any, text: str, mode: str) -> float:
    """Milliseconds of one routing of `text` in `mode`."""
    start = time.perf_counter()
    search.run(text, top_k=3, mode=mode)
    return (time.perf_counter() - start) * 1000


def learning_curve(
    entries: Sequence[FAQEntry],
    questions: Sequence[tuple[str, str]],
    embedding_function: Any,
    *,
    counts: Sequence[int] = DEFAULT_COUNTS,
    max_questions: int | None = None,
    latency_questions: int = 200,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Accuracy@1/@3 of each router per labels-per-entry count, the re-fit time, and the latency of
    routing with and without the learned router (see the module docstring)."""
    from retrieval.index import memory_faq_search

    known = {e.id for e in entries}
    unknown = sorted({intent for _, intent in questions if intent not in known})
    if unknown:
        raise ValueError(f"questions name intents missing from the FAQ: {', '.join(unknown[:10])}")
    if not counts:
        raise ValueError("give at least one count of labels per entry")
    pool, rest = split_questions(questions)
    pool_texts = {text.lower() for text, _ in pool}
    rest = [q for q in rest if q[0].lower() not in pool_texts]
    shuffled = list(rest)
    random.Random(seed).shuffle(shuffled)
    timing = shuffled[:latency_questions]
    asked = shuffled[latency_questions:] or shuffled
    if max_questions and len(asked) > max_questions:
        asked = asked[:max_questions]
    counts = sorted(set(counts))
    result: dict[str, Any] = {
        "intents": len(entries),
        "pool_questions": len(pool),
        "held_out_questions": len(rest),
        "evaluated": len(asked),
        "curve": [],
    }
    # Latency first, so every question it times is one the embedding model has not seen yet.
    with memory_faq_search(
        with_labels(entries, labels_per_entry(pool, counts[-1], seed)), embedding_function
    ) as search:
        search.fit_router(min_examples=0)
        half = len(timing) // 2
        latency: dict[str, Any] = {"per_entry": counts[-1], "questions": len(timing)}
        for mode, texts in (("dense", timing[:half]), ("learned", timing[half:])):
            times = [_timed(search, text, mode) for text, _ in texts]
            latency[f"{mode}_p50_ms"] = round(percentile(times, 0.5), 1) if times else None
            latency[f"{mode}_p95_ms"] = round(percentile(times, 0.95), 1) if times else None
        # The router's own cost, apart from the embedding (now cached) and a busy machine's noise:
        # the same questions again, learned minus dense, each the better of two runs.
        extra = [
            min(_timed(search, t, "learned") for _ in range(2))
            - min(_timed(search, t, "dense") for _ in range(2))
            for t, _ in timing[half:]
        ]
        latency["router_extra_p50_ms"] = round(percentile(extra, 0.5), 2) if extra else None
        latency["router_extra_p95_ms"] = round(percentile(extra, 0.95), 2) if extra else None
        result["latency"] = latency
    for k in counts:
        labels = labels_per_entry(pool, k, seed)
        start = time.perf_counter()
        with memory_faq_search(with_labels(entries, labels), embedding_function) as search:
            index_s = time.perf_counter() - start
            served = "learned" if search.classifier is not None else "dense"
            start = time.perf_counter()
            search.fit_router(min_examples=0)
            refit_s = time.perf_counter() - start
            right = {m: [0, 0] for m in ("dense", "learned")}
            for text, intent in asked:
                for mode, tally in right.items():
                    ids = [h.entry.id for h in search.run(text, top_k=3, mode=mode).hits]  # type: ignore[arg-type]
                    tally[0] += ids[:1] == [intent]
                    tally[1] += intent in ids
                if progress:
                    progress(1)
        n = max(len(asked), 1)
        row: dict[str, Any] = {"per_entry": k, "labels": len(labels)}
        for mode, (at1, at3) in right.items():
            row[f"{mode}@1"] = round(at1 / n, 4)
            row[f"{mode}@3"] = round(at3 / n, 4)
        row["served"] = served
        row["served@1"] = row[f"{served}@1"]
        row["refit_s"] = round(refit_s, 2)
        row["index_s"] = round(index_s, 2)
        result["curve"].append(row)
    return result
