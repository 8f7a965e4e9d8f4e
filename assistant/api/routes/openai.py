"""`POST /v1/chat/completions` and `GET /v1/models`: the assistant behind the OpenAI wire format.

The same grounded turn as `/v1/chat` (same service, same credentials, same customer rules), so
Open WebUI, LangChain or the `openai` SDK can talk to the shop. OpenAI clients send the whole
conversation and nothing else, so the follow-up state (which products "the second one" means) is
recovered from the previous assistant message: every reply's state is remembered under a hash of
its exact text (bounded, in memory), and a client that keeps `shopassist.state` may send it back
instead. Nothing is parsed out of prose.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from assistant.api.openai_protocol import (
    ChatCompletionsRequest,
    chunk,
    completion,
    completion_id,
    model_list,
)
from assistant.api.protocol import stream_error
from assistant.api.state import ApiState, principal_of
from assistant.chat.followup import ConversationState
from assistant.chat.protocol import ChatRequest, ChatResponse
from assistant.errors import BadInput

log = logging.getLogger("shopassist.api")


class ReplyStates:
    """The state of recent replies, by a hash of their text: what an OpenAI client sends back."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._states: OrderedDict[str, ConversationState] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()

    def remember(self, response: ChatResponse) -> None:
        with self._lock:
            self._states[self._key(response.text)] = response.state
            while len(self._states) > self.size:
                self._states.popitem(last=False)

    def recall(self, text: str) -> ConversationState | None:
        with self._lock:
            return self._states.get(self._key(text))


def _turn(body: ChatCompletionsRequest, states: ReplyStates) -> ChatRequest:
    """The customer's turn: the last user message, with the state of the reply before it."""
    users = [i for i, m in enumerate(body.messages) if m.role == "user"]
    if not users or not body.messages[users[-1]].text().strip():
        raise BadInput("messages must end with a user message that has text")
    last = users[-1]
    state = body.shopassist.state
    if state is None:
        previous = [m for m in body.messages[:last] if m.role == "assistant" and m.text().strip()]
        state = states.recall(previous[-1].text()) if previous else None
    return ChatRequest(message=body.messages[last].text(), filters=body.shopassist.filters, state=state)


def router(state: ApiState) -> APIRouter:
    api = APIRouter(tags=["openai"])
    shop, metrics = state.shop, state.metrics
    states = ReplyStates()

    @api.get("/models")
    def models() -> dict[str, Any]:
        """The assistant as the one model an OpenAI client can pick."""
        return model_list(shop.settings.shop.name)

    @api.post("/chat/completions")
    def chat_completions(body: ChatCompletionsRequest, request: Request) -> Any:
        """A grounded chat turn in the OpenAI format; `stream: true` gives `chat.completion.chunk`
        events ending with `data: [DONE]`. Cards, citations, action and state are in `shopassist`."""
        received = time.perf_counter()
        turn = _turn(body, states)
        shop.chat.check_message(turn.message)
        customer = state.customer(principal_of(request), body.shopassist.customer_id, "chat", turn.message)
        turn = turn.model_copy(update={"customer_id": customer})
        cid = completion_id()
        if not body.stream:
            response = shop.chat.respond(turn)
            metrics.record_turn(response)
            shop.turns.record(response, turn.message, "openai", time.perf_counter() - received)
            states.remember(response)
            return completion(response, body.model, cid)
        return EventSourceResponse(_chunks(turn, body.model, cid, received), ping=15, sep="\n")

    def _chunks(turn: ChatRequest, model: str, cid: str, received: float) -> Iterator[ServerSentEvent]:
        first_text: float | None = None
        yield ServerSentEvent(
            data=json.dumps(chunk(cid, model, {"role": "assistant", "content": ""})), sep="\n"
        )
        try:
            for event in shop.chat.stream(turn):
                if event.type == "delta" and event.delta:
                    if first_text is None:
                        first_text = time.perf_counter() - received
                    data = chunk(cid, model, {"content": event.delta})
                    yield ServerSentEvent(data=json.dumps(data), sep="\n")
                elif event.type == "done" and event.response is not None:
                    metrics.record_turn(event.response)
                    shop.turns.record(
                        event.response, turn.message, "openai", time.perf_counter() - received, first_text
                    )
                    states.remember(event.response)
                    data = chunk(cid, model, {}, finish="stop", response=event.response)
                    yield ServerSentEvent(data=json.dumps(data), sep="\n")
        except Exception as exc:  # the status line is sent already: report in-band, as OpenAI servers do
            error = stream_error(exc, shop.settings)
            if error["type"] == "internal_error":
                log.exception("chat completion stream failed")
            yield ServerSentEvent(data=json.dumps({"error": error}), sep="\n")
        yield ServerSentEvent(data="[DONE]", sep="\n")

    return api
