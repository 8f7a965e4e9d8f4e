"""Base model vs adapter, side by side on the same held-out examples in one run.

Replies: ROUGE-L against the reference reply, plus format adherence (placeholders kept, no invented
contact details, length in range). Held-out means the validation side of the hash split, which
training never sees. Product copy is evaluated by `finetune.copy_eval` (`shopassist eval
copy`), which reuses `rouge_l` from here.

ROUGE-L (`assistant.grounding.replies.rouge_l`, re-exported here) is Google's `rouge-score` package
(the reimplementation of ROUGE-1.5.5 that most papers report), summary-level off: one LCS over the whole reply. Its tokenizer lower-cases, turns every
character outside [a-z0-9] into a space and splits on whitespace, and we enable its Porter stemmer
(ROUGE-1.5.5's `-m`, applied to tokens longer than 3 characters), so "cancelling" matches "cancel".
Consequences: a placeholder such as {{Order History}} counts as its words, punctuation never
counts, and non-ASCII letters are dropped ("Größe" becomes "gr e"), so scores of non-English text
are unreliable. Scores are not comparable with those of the earlier hand-written ROUGE-L, which
kept Unicode words and whole placeholders and did not stem (it scored lower on stemmed matches).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from assistant.grounding.replies import invented_contacts, rouge_l
from finetune.data import Example, placeholders_in


def reply_format(
    reply: str, example: Example, length_range: tuple[float, float] = (0.3, 2.0)
) -> dict[str, Any]:
    """Format adherence of one reply: placeholders kept, nothing invented, length near the reference's."""
    ref_ph = set(placeholders_in(example.assistant))
    kept = len(ref_ph & set(placeholders_in(reply))) / len(ref_ph) if ref_ph else 1.0
    invented = invented_contacts(reply, example.system + "\n" + example.user)
    ratio = len(reply.split()) / max(1, len(example.assistant.split()))
    length_ok = length_range[0] <= ratio <= length_range[1]
    return {
        "placeholders_kept": kept,
        "invented_contacts": len(invented),
        "length_ok": length_ok,
        "format_ok": kept >= 0.5 and not invented and length_ok,
    }


def _generate_all(
    generator: Any, examples: Sequence[Example], adapter: str | None, max_new_tokens: int
) -> list[str]:
    """Greedy replies, sent concurrently so the embedded engine batches them."""
    from assistant.generation import ChatMessage, GenerationRequest, generate

    def one(ex: Example) -> str:
        request = GenerationRequest(
            messages=[ChatMessage(role=m["role"], content=m["content"]) for m in ex.messages(False)],  # type: ignore[arg-type]
            max_new_tokens=max_new_tokens,
            temperature=0.0,
            adapter=adapter,
        )
        return generate(generator, request).strip()

    workers = max(1, int(getattr(generator, "max_batch_size", 8)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, examples))


def _mean(xs: Sequence[float]) -> float:
    return round(statistics.fmean(xs), 4) if xs else 0.0


def eval_replies(
    generator: Any,
    examples: Sequence[Example],
    adapters: Sequence[str | None],
    *,
    max_new_tokens: int = 160,
    keep_samples: int = 3,
) -> dict[str, Any]:
    """ROUGE-L and format adherence for each model variant (None = base) on the same examples."""
    out: dict[str, Any] = {"examples": len(examples), "models": {}}
    for adapter in adapters:
        replies = _generate_all(generator, examples, adapter, max_new_tokens)
        formats = [reply_format(r, ex) for r, ex in zip(replies, examples, strict=True)]
        out["models"][adapter or "base"] = {
            "rouge_l": _mean([rouge_l(r, ex.assistant) for r, ex in zip(replies, examples, strict=True)]),
            "format_ok": _mean([float(f["format_ok"]) for f in formats]),
            "placeholders_kept": _mean([f["placeholders_kept"] for f in formats]),
            "invented_contact_rate": _mean([float(f["invented_contacts"] > 0) for f in formats]),
            "length_ok": _mean([float(f["length_ok"]) for f in formats]),
            "mean_words": _mean([float(len(r.split())) for r in replies]),
            "samples": [
                {"prompt": ex.user, "reply": r, "reference": ex.assistant[:400]}
                for ex, r in list(zip(examples, replies, strict=True))[:keep_samples]
            ],
        }
    return out
