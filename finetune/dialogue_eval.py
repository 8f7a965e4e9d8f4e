"""The held-out follow-up turns run through whole chat turns: understanding, model text, wrong facts.

Each held-out turn (templates and FAQ entries never trained on, see `finetune.dialogues`) is sent to
`ChatService.stream` with the state a client would send back, so the numbers hold for the UI and
the API. Three numbers per configuration (the rules alone, then the shipped adapters, in one run):
- understood: the executed request matches the gold one (op, products, measure, attribute, and for
  searches the price bound, colours, brands and kept categories); policy turns count when they reach
  the FAQ, order follow-ups when they reach the orders, fresh searches when nothing is carried over;
- model text: product and policy turns whose reply carries verified model text (not a template);
- wrong facts: model text that contradicts the gold answer, checked here against the records
  independently of the verifier under test: a product named that the gold answer does not name, a
  number the gold answer does not hold, or the opposite stock state.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from assistant.chat.protocol import ChatRequest, ChatResponse
from assistant.chat.service import ChatService
from assistant.chat.understanding import TurnRequest, resolve
from finetune.dialogues import DialogueMaker, Turn
from retrieval.evaluate import percentile

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def gold_request(
    turn: Turn, maker: DialogueMaker, named: Callable[[str], str | None] | None = None
) -> TurnRequest:
    """The gold intent resolved as written (never re-grounded: it is the answer key). A product the
    message names is found by its full title, as the maker wrote it, never by the name matcher of
    the chat under test (`named` only overrides this, for tests)."""
    return resolve(
        turn.intent, turn.message, turn.state, maker.lookup, named or titled(maker), grounded=False
    )


def titled(maker: DialogueMaker) -> Callable[[str], str | None]:
    """The product whose whole title the message contains (the longest, if several)."""
    titles = sorted(((p.title.lower(), p.id) for p in maker.products), key=lambda t: -len(t[0]))

    def named(message: str) -> str | None:
        text = message.lower()
        return next((pid for title, pid in titles if title in text), None)

    return named


def understood(response: ChatResponse, gold: TurnRequest) -> bool:
    """Did the turn do what the gold request asks (see the module docstring for policy and orders)?"""
    if gold.op == "policy":
        return response.route == "faq"
    if gold.op == "order":
        return response.route == "order"
    done = TurnRequest.model_validate(response.request) if response.request else TurnRequest(op="search")
    if gold.op == "search":
        return done.op == "search"
    return done.key() == gold.key()


def wrong_facts(text: str, turn: Turn, products: Sequence[Any]) -> list[str]:
    """What in the model's text the gold answer contradicts (empty: nothing)."""
    if not turn.answer or not text:
        return []
    problems = []
    gold = turn.answer.lower()
    titles = [p.title for p in products if p.title.lower() in text.lower()]
    # A single-product answer may name its product ("it" in the gold answer); others must name the gold's.
    own = " ".join(turn.facts).lower() if turn.answer_kind in {"stock", "attribute"} else ""
    problems += [f"names {t}" for t in titles if t.lower() not in gold and t.lower() not in own]
    allowed = set(_NUMBER.findall(turn.answer)) | {"5"}
    if turn.answer_kind in {"list", "policy"}:  # a count, or any number of the policy text
        allowed |= set(_NUMBER.findall(" ".join(turn.facts)))
    problems += [
        f"number {n}"
        for n in _NUMBER.findall(text)
        if n not in allowed and n.rstrip("0").rstrip(".") not in allowed
    ]
    out_words = re.compile(r"out of stock|sold out|unavailable", re.I)
    if turn.answer_kind == "stock" and bool(out_words.search(text)) != bool(out_words.search(turn.answer)):
        problems.append("stock state")
    return problems


def closing_text(response: ChatResponse) -> str:
    """The model's verified text of a facts-first reply: what follows the facts, when a model wrote it."""
    if response.model.written_by is None:
        return ""
    return response.text.rsplit("\n\n", 1)[-1]


def _why_no_text(response: ChatResponse) -> str:
    """Why a product or policy turn ended without the model's sentence, from the response's fields."""
    report = response.verifier
    if response.model.text_skipped:
        return response.model.text_skipped
    if report.over_budget:
        return "over the model budget"
    if report.model_unavailable:
        return f"model unavailable: {report.model_unavailable}"
    if report.unsupported:
        return "unsupported: " + "; ".join(report.unsupported[:3])
    if not report.checked:
        return "no model text planned for this turn"
    return "the model wrote nothing usable"


def run_turns(
    chat: ChatService,
    maker: DialogueMaker,
    turns: Sequence[Turn],
    customer_id: str | None,
    progress: Callable[[int], Any] | None = None,
) -> dict[str, Any]:
    by_kind: Counter[str] = Counter()
    right: Counter[str] = Counter()
    text_turns = with_text = 0
    wrong: list[dict[str, Any]] = []
    misses: list[dict[str, Any]] = []
    without_text: list[dict[str, Any]] = []
    latencies: list[float] = []
    first_text: list[float] = []
    sources: Counter[str] = Counter()
    products = list(maker.by_id.values())
    for turn in turns:
        gold = gold_request(turn, maker)
        request = ChatRequest(message=turn.message, state=turn.state, customer_id=customer_id)
        start = time.perf_counter()
        first: float | None = None
        response: ChatResponse | None = None
        for event in chat.stream(request):
            if event.type == "delta" and first is None:
                first = time.perf_counter() - start
            response = event.response or response
        assert response is not None
        latencies.append(time.perf_counter() - start)
        first_text.append(first if first is not None else latencies[-1])
        by_kind[turn.kind] += 1
        sources["model" if response.model.understood_by != "rules" else "rules"] += 1
        if understood(response, gold):
            right[turn.kind] += 1
        elif len(misses) < 30:
            misses.append(
                {"kind": turn.kind, "message": turn.message, "gold": gold.op, "got": response.request}
            )
        if response.route in {"products", "faq"} and turn.answer_kind is not None:
            text_turns += 1
            text = closing_text(response)
            if not text and len(without_text) < 40:
                without_text.append(
                    {"kind": turn.kind, "message": turn.message, "why": _why_no_text(response)}
                )
            if text:
                with_text += 1
                problems = wrong_facts(text, turn, products)
                if problems:
                    wrong.append(
                        {"message": turn.message, "text": text, "gold": turn.answer, "problems": problems}
                    )
        if progress:
            progress(1)
    total = sum(by_kind.values())
    return {
        "turns": total,
        "understood": round(sum(right.values()) / total, 4) if total else 0.0,
        "understood_by_kind": {k: f"{right[k]}/{n}" for k, n in sorted(by_kind.items())},
        "understood_by": dict(sources),
        "answer_turns": text_turns,
        "model_text_share": round(with_text / text_turns, 4) if text_turns else 0.0,
        "wrong_facts": len(wrong),
        "wrong_examples": wrong[:10],
        "misses": misses,
        "without_model_text": without_text,
        "latency_p50_s": _pct(latencies, 50),
        "latency_p95_s": _pct(latencies, 95),
        "first_text_p95_s": _pct(first_text, 95),
    }


def _pct(values: Sequence[float], q: int) -> float:
    return round(percentile(values, q / 100), 3)
