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
# Asked after each product question, with its state (the rewrite adapter's work, then the answer's).
FOLLOW_UPS = [
    "cheaper ones?",
    "which of those has the best rating?",
    "is the second one in stock?",
    "compare the first and second",
    "what is the first one made of?",
    "which is the cheapest?",
    "how much is the third one?",
    "in black?",
]


def percentile(values: list[float], q: float) -> float:
    """The value at quantile `q` of `values` (nearest rank, 3 decimals); 0 for none."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else 0.0


def bench_chat(chat: Any, concurrency: int, *, rounds: int = 2, followups: bool = False) -> dict[str, Any]:
    """Latency a shopper sees through `ChatService.stream`, with `concurrency` chats at once.

    first_event: the first streamed event (product cards come right after retrieval);
    first_text: the first text (the model's first verified sentence, or the template when the
    model's text failed); done: the whole turn. With `followups`, each product question is followed
    by a follow-up on its state, reported apart too (`followup_*`): that turn waits for the rewrite.
    """

    def turn(request: ChatRequest) -> dict[str, Any]:
        t0 = time.perf_counter()
        first_event = first_text = None
        fallback, model_text, state, route = False, False, None, ""
        for event in chat.stream(request):
            now = time.perf_counter() - t0
            first_event = first_event if first_event is not None else now
            if event.type == "delta" and first_text is None:
                first_text = now
            if event.type == "done" and event.response is not None:
                fallback = event.response.verifier.fallback
                model_text = event.response.model.written_by is not None
                state, route = event.response.state, event.response.route
        return {
            "first_event": first_event,
            "first_text": first_text,
            "done": time.perf_counter() - t0,
            "fallback": fallback,
            "model_text": model_text,
            "state": state,
            "route": route,
        }

    def conversation(i: int) -> list[dict[str, Any]]:
        """A question, then (when it showed products and `followups`) a follow-up about them."""
        first = turn(ChatRequest(message=CHAT_QUESTIONS[i % len(CHAT_QUESTIONS)]))
        first["kind"] = "first"
        if not followups or first["route"] != "products":
            return [first]
        second = turn(ChatRequest(message=FOLLOW_UPS[i % len(FOLLOW_UPS)], state=first["state"]))
        second["kind"] = "follow-up"
        return [first, second]

    turn(ChatRequest(message=CHAT_QUESTIONS[0]))  # warm: models, retrieval indexes
    # A generation the warm turn left behind past its budget would be billed to the first timed
    # turns: wait until the engine is idle (engines without the counter are never busy here).
    idle_by = time.perf_counter() + 30
    while getattr(chat.generator, "active", 0) and time.perf_counter() < idle_by:
        time.sleep(0.05)
    results: list[dict[str, Any]] = []
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for r in range(rounds):
            for pair in pool.map(conversation, [i + r * concurrency for i in range(concurrency)]):
                results += pair
    elapsed = time.perf_counter() - start
    out: dict[str, Any] = {"concurrency": concurrency, "turns": len(results), "seconds": round(elapsed, 2)}
    groups = {"": results}
    if followups:
        groups |= {"followup_": [r for r in results if r["kind"] == "follow-up"]}
    for prefix, rows in groups.items():
        for key in ("first_event", "first_text", "done"):
            values = [float(r[key]) for r in rows if r[key] is not None]
            out[f"{prefix}{key}_p50_s"] = percentile(values, 0.5)
            out[f"{prefix}{key}_p95_s"] = percentile(values, 0.95)
    out["template_fallbacks"] = sum(1 for r in results if r["fallback"])
    out["model_text_turns"] = sum(1 for r in results if r["model_text"])
    return out
