"""`bench chat`: the latency a shopper sees through `ChatService.stream`, turns at once.

A benchmark, not a test: it measures time to the first event, to the first text and to the end of
the turn, p50/p95, on whatever engine the shop is configured with.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from assistant.chat.protocol import ChatRequest

CHAT_QUESTIONS = [
    "waterproof boots under 100",
    "how many days do I have to return something?",
    "a warm sleeping bag for winter camping",
    "do you ship internationally?",
    "red running shoes",
    "a reading lamp for the living room",
    "what is your warranty policy?",
    "lightweight backpack for day hikes",
]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else 0.0


def bench_chat(chat: Any, concurrency: int, *, rounds: int = 2) -> dict[str, Any]:
    """Latency a shopper sees through `ChatService.stream`, with `concurrency` chats at once.

    first_event: the first streamed event (product cards come right after retrieval);
    first_text: the first text (the model's first verified sentence, or the template when the
    model's text failed); done: the whole turn.
    """

    def turn(question: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        first_event = first_text = None
        fallback = False
        for event in chat.stream(ChatRequest(message=question)):
            now = time.perf_counter() - t0
            first_event = first_event if first_event is not None else now
            if event.type == "delta" and first_text is None:
                first_text = now
            if event.type == "done" and event.response is not None:
                fallback = event.response.verifier.fallback
        return {
            "first_event": first_event,
            "first_text": first_text,
            "done": time.perf_counter() - t0,
            "fallback": fallback,
        }

    turn(CHAT_QUESTIONS[0])  # warm: models, retrieval indexes
    results = []
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for r in range(rounds):
            questions = [
                CHAT_QUESTIONS[(i + r * concurrency) % len(CHAT_QUESTIONS)] for i in range(concurrency)
            ]
            results += list(pool.map(turn, questions))
    elapsed = time.perf_counter() - start
    out: dict[str, Any] = {"concurrency": concurrency, "turns": len(results), "seconds": round(elapsed, 2)}
    for key in ("first_event", "first_text", "done"):
        values = [float(r[key]) for r in results if r[key] is not None]
        out[f"{key}_p50_s"] = _pct(values, 0.5)
        out[f"{key}_p95_s"] = _pct(values, 0.95)
    out["template_fallbacks"] = sum(1 for r in results if r["fallback"])
    return out
