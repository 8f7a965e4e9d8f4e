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

import hashlib
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.assist.protocol import Ticket
from assistant.assist.service import Candidate, SuggestService, apply_threshold
from retrieval.evaluate import percentile

if TYPE_CHECKING:
    from assistant.config import Settings

THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


@dataclass
class EvalSetup:
    service: SuggestService
    info: dict[str, Any]


def build_eval_service(
    settings: Settings,
    faq_path: Path,
    questions: Sequence[tuple[str, str]],
    examples_path: Path | None = None,
) -> EvalSetup:
    """A suggest service over the FAQ (with example phrasings), in a store cached by content."""
    from assistant.shop import Shop
    from retrieval.datasets import load_intent_faq, load_labelled_questions

    entries = load_intent_faq(faq_path)
    known = {e.id for e in entries}
    unknown = sorted({intent for _, intent in questions if intent not in known})
    if unknown:
        raise ValueError(f"{faq_path} has no entry for the questions' intent(s) {', '.join(unknown[:10])}")
    asked = {text for text, _ in questions}
    extra: dict[str, list[str]] = {}
    dropped = used = 0
    for text, intent in load_labelled_questions(examples_path) if examples_path else []:
        if text in asked:
            dropped += 1
        elif intent in known:
            extra.setdefault(intent, []).append(text)
            used += 1
    entries = [e.model_copy(update={"examples": e.examples + extra.get(e.id, [])}) for e in entries]
    digest = hashlib.sha256(json.dumps(settings.embedding.model_dump(mode="json"), sort_keys=True).encode())
    for entry in entries:
        digest.update(entry.content_hash().encode())
    key = digest.hexdigest()[:12]
    shop = Shop(settings.model_copy(update={"home": settings.home / "eval-suggest" / key}))
    start = time.perf_counter()
    stats = shop.index.ingest_faq(entries, prune=True)
    shop.index.faq.warm_up()
    info = {
        "faq": str(faq_path),
        "examples_file": str(examples_path) if examples_path else None,
        "intents": len(entries),
        "examples": used,
        "examples_dropped_overlap": dropped,
        "router": "learned" if shop.index.faq.classifier is not None else "dense",
        "index": {
            "key": key,
            "embedded": stats.embedded,
            "cached": stats.embedded == 0,
            "seconds": round(time.perf_counter() - start, 1),
        },
    }
    return EvalSetup(SuggestService.from_shop(shop), info)


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
