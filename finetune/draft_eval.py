"""Agent-assist drafts on held-out tickets, through the suggest service as agents get them.

Each held-out Bitext ticket (the validation side of the cs/draft split, which neither adapter
trains on) goes through `SuggestService.run` in each configuration: `template` (no model: the FAQ
answer as written), `base` (the base model drafts), `adapter` (the draft adapter drafts). Reported
per configuration: the share of suggestions whose reply the model wrote and the checks passed,
ROUGE-L of the top suggestion against the ticket's reference reply (over all covered tickets, and
over those whose top suggestion the model wrote: the drafting alone), intent accuracy of the top
suggestion, and invented numbers or contacts in the model-written replies, counted here with this
module's own patterns (not the service's checker, which is what is under test), and time per ticket.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from assistant.assist.protocol import Ticket
from assistant.assist.service import LATE, PLACEHOLDER, SuggestService
from finetune.data import Example
from finetune.evaluate import rouge_l

CONFIGS = ("template", "base", "adapter")
# Numbers and contacts, matched independently of assistant.grounding (what the eval checks it by).
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_CONTACT = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+|\bwww\.\S+|https?://\S+|\+?\d[\d ()-]{7,}\d")
_LIST_NUMBER = re.compile(r"(?m)^\s*\d{1,2}[.)]\s")  # "1. Sign in": a step's number, not a claim


def invented(text: str, sources: str) -> list[str]:
    """Numbers and contacts in `text` (placeholders aside) that `sources` does not contain."""
    plain = _LIST_NUMBER.sub(" ", PLACEHOLDER.sub(" ", text))
    found = _CONTACT.findall(plain) + _NUMBER.findall(_CONTACT.sub(" ", plain))
    found = [x.strip().rstrip(".,;:") for x in found]  # "write to support@example.com." ends a sentence
    return [x for x in found if x not in sources]


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_drafts(
    service: SuggestService,
    examples: Sequence[Example],
    references: dict[str, str],
    configs: Sequence[str],
    *,
    adapter: str | None,
    concurrency: int = 1,
    budget_ms: int | None = None,
    candidates: int | None = None,
) -> dict[str, Any]:
    """Each configuration over the same tickets; `references` maps example id to the reference reply.
    `budget_ms` and `candidates` override assist.draft_budget_ms and assist.draft_candidates."""
    if candidates is not None and not 1 <= candidates <= 8:
        raise ValueError(f"candidates must be 1 to 8 (assist.draft_candidates), not {candidates}")
    out: dict[str, Any] = {"tickets": len(examples), "configs": {}}
    base_settings = service.settings
    for config in configs:
        if config not in CONFIGS:
            raise ValueError(f"unknown configuration {config!r}; known: {', '.join(CONFIGS)}")
        update: dict[str, Any] = {"model_drafts": config != "template"}
        if budget_ms is not None:
            update["draft_budget_ms"] = budget_ms
        if candidates is not None:
            update["draft_candidates"] = candidates
        service.settings = base_settings.model_copy(update=update)
        service.draft_adapter = adapter if config == "adapter" else None

        def one(ex: Example) -> dict[str, Any]:
            start = time.perf_counter()
            result = service.run(Ticket(text=ex.meta["ticket"]))
            seconds = time.perf_counter() - start
            top = result.suggestions[0] if result.suggestions else None
            row: dict[str, Any] = {
                "seconds": seconds,
                "covered": top is not None,
                "intent_ok": top is not None and top.intent == ex.meta["intent"],
                "rouge_l": rouge_l(top.text, references[ex.id]) if top else 0.0,
                "model_top": top is not None and top.written_by != "template",
                "suggestions": len(result.suggestions),
                "model_written": sum(s.written_by != "template" for s in result.suggestions),
                "problems": [
                    p.split(":")[0].split(" (")[0] for s in result.suggestions for p in s.draft_problems
                ],
                "invented": [],
            }
            answers = [c.entry.answer for c in service.rank(Ticket(text=ex.meta["ticket"])).candidates]
            sources = " ".join([ex.meta["ticket"], service.shop_name, *answers])
            for s in result.suggestions:
                if s.written_by != "template":
                    row["invented"] += invented(s.text, sources)
            row["record"] = {
                "ticket": ex.meta["ticket"],
                "intent": ex.meta["intent"],
                "top_intent": top.intent if top else None,
                "written_by": top.written_by if top else None,
                "rouge_l": round(row["rouge_l"], 4),
                "reply": top.text if top else "",
                "reference": references[ex.id],
                "problems": row["problems"],
            }
            return row

        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            rows = list(pool.map(one, examples))
        n = len(rows)
        suggestions = sum(r["suggestions"] for r in rows)
        covered = [r for r in rows if r["covered"]]
        drafted = [r for r in rows if r["model_top"]]
        out["configs"][config] = {
            "covered": round(len(covered) / n, 4) if n else 0.0,
            "top1_intent": round(sum(r["intent_ok"] for r in rows) / n, 4) if n else 0.0,
            "model_written_share": round(sum(r["model_written"] for r in rows) / suggestions, 4)
            if suggestions
            else 0.0,
            "rouge_l_top": round(sum(r["rouge_l"] for r in covered) / len(covered), 4) if covered else 0.0,
            # the drafting alone: tickets whose top suggestion the model wrote (routing and fallbacks aside)
            "rouge_l_model_top": round(sum(r["rouge_l"] for r in drafted) / len(drafted), 4)
            if drafted
            else 0.0,
            "model_top": len(drafted),
            "late": sum(p == LATE for r in rows for p in r["problems"]),
            "invented": sum(len(r["invented"]) for r in rows),
            "invented_examples": [x for r in rows for x in r["invented"]][:10],
            "why_not_model": dict(Counter(p for r in rows for p in r["problems"]).most_common(8)),
            "seconds_p50": round(_percentile([r["seconds"] for r in rows], 0.5), 2),
            "seconds_p95": round(_percentile([r["seconds"] for r in rows], 0.95), 2),
            "samples": [
                {
                    "ticket": r["record"]["ticket"],
                    "reply": r["record"]["reply"],
                    "written_by": r["record"]["written_by"],
                }
                for r in rows
                if r["covered"]
            ][:3],
            "records": [r["record"] for r in rows],  # per ticket, for reading what the numbers hide
        }
    service.settings = base_settings
    return out
