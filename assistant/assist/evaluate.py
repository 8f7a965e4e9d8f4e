"""Offline evaluation of agent-assist suggestions on labelled tickets (Bitext's question,intent).

Each question is a ticket; the suggestions are what `SuggestService` returns, so the numbers hold
for the CLI, API and UI. Reported: top-1 and top-3 intent accuracy over all tickets (no suggestion
counts as wrong), coverage (share of tickets with a suggestion), accuracy among covered tickets,
the same over a few thresholds (the curve a shop picks `assist.min_confidence` from), the share of
suggestions carrying policy steps, and latency. The FAQ (plus labelled examples) is indexed once
per content under HOME/eval-suggest/<key>, so a re-run embeds nothing; examples whose text is also
an evaluation question are left out, so no ticket is answered from its own copy.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from assistant.assist.protocol import Ticket
from assistant.assist.service import Candidate, SuggestService, apply_threshold
from retrieval.evaluate import percentile

if TYPE_CHECKING:
    pass

THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def _scores(kept: Sequence[Candidate], intent: str) -> tuple[bool, bool, bool]:
    ids = [c.entry.id for c in kept]
    return bool(ids), ids[:1] == [intent], intent in ids


def evaluate_suggest(
    service: SuggestService,
    questions: Sequence[tuple[str, str]],
    *,
    thresholds: Sequence[float] = THRESHOLDS,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    threshold = service.settings.min_confidence
    limit = service.settings.max_suggestions
    latencies: list[float] = []
    ranked_all: list[tuple[list[Candidate], str]] = []
    covered = top1 = top3 = with_steps = 0
    for text, intent in questions:
        ticket = Ticket(text=text)
        start = time.perf_counter()
        ranked = service.rank(ticket)
        result = service.render(ticket, ranked, threshold)
        latencies.append((time.perf_counter() - start) * 1000)
        ids = [s.intent for s in result.suggestions]
        covered += not result.no_suggestion
        top1 += ids[:1] == [intent]
        top3 += intent in ids
        with_steps += bool(result.suggestions and result.suggestions[0].steps)
        ranked_all.append((ranked.candidates, intent))
        if progress:
            progress(1)
    n = len(questions)
    curve = []
    for t in sorted({*thresholds, threshold}):
        c = a1 = a3 = 0
        for candidates, intent in ranked_all:
            has, hit1, hit3 = _scores(apply_threshold(candidates, t, limit), intent)
            c, a1, a3 = c + has, a1 + hit1, a3 + hit3
        curve.append(
            {
                "threshold": t,
                "coverage": round(c / n, 4) if n else 0.0,
                "top1_accuracy": round(a1 / n, 4) if n else 0.0,
                "top3_accuracy": round(a3 / n, 4) if n else 0.0,
                "accuracy_at_coverage": round(a1 / c, 4) if c else 0.0,
            }
        )
    return {
        "questions": n,
        "threshold": threshold,
        "max_suggestions": limit,
        "top1_accuracy": round(top1 / n, 4) if n else 0.0,
        "top3_accuracy": round(top3 / n, 4) if n else 0.0,
        "coverage": round(covered / n, 4) if n else 0.0,
        "accuracy_at_coverage": round(top1 / covered, 4) if covered else 0.0,
        "top3_at_coverage": round(top3 / covered, 4) if covered else 0.0,
        "with_policy_steps": round(with_steps / covered, 4) if covered else 0.0,
        "curve": curve,
        "latency_p50_ms": round(percentile(latencies, 0.5), 1),
        "latency_p95_ms": round(percentile(latencies, 0.95), 1),
    }


def sample(
    questions: list[tuple[str, str]], max_questions: int | None, seed: int = 0
) -> list[tuple[str, str]]:
    """A fixed random sample (the same one `eval faq` and `eval chat` draw)."""
    if max_questions and len(questions) > max_questions:
        return random.Random(seed).sample(questions, max_questions)
    return questions
