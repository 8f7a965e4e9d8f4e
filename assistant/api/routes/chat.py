"""`POST /v1/chat`: one customer turn, as JSON or as server-sent events (sse-starlette)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from assistant.api.protocol import ChatCompletionRequest, stream_error
from assistant.api.state import ApiState, principal_of
from assistant.chat.protocol import ChatResponse

log = logging.getLogger("shopassist.api")


def router(state: ApiState) -> APIRouter:
    api = APIRouter(tags=["chat"])
    shop, metrics = state.shop, state.metrics

    @api.post("/chat", response_model=ChatResponse)
    def chat(body: ChatCompletionRequest, request: Request) -> Any:
        """One customer turn; with `stream: true`, server-sent events as the reply is written.

        The customer whose orders the turn may read is the one in the caller's customer token;
        `customer_id` in the body is honoured only for agent and admin keys (and audited)."""
        received = time.perf_counter()
        shop.chat.check_message(body.message)  # a bad message is a 400, not a broken stream
        customer = state.customer(principal_of(request), body.customer_id, "chat", body.message)
        body = body.model_copy(update={"customer_id": customer})
        if not body.stream:
            response = shop.chat.respond(body)
            metrics.record_turn(response)
            shop.turns.record(response, body.message, "api", time.perf_counter() - received)
            return response
        # Keep-alive comments every 15 s hold proxies open while a slow model thinks; a client that
        # disconnects stops the iteration (sse-starlette cancels the sender).
        return EventSourceResponse(_events(body, received), ping=15, sep="\n")

    def _events(body: ChatCompletionRequest, received: float) -> Iterator[ServerSentEvent]:
        start = time.perf_counter()
        first = True
        first_text: float | None = None
        try:
            for event in shop.chat.stream(body):
                if first:
                    metrics.first_event.observe(time.perf_counter() - start)
                    first = False
                if event.type == "delta" and event.delta and first_text is None:
                    first_text = time.perf_counter() - received
                if event.type == "done" and event.response is not None:
                    metrics.record_turn(event.response)
                    shop.turns.record(
                        event.response, body.message, "api", time.perf_counter() - received, first_text
                    )
                yield ServerSentEvent(
                    data=event.model_dump_json(exclude_defaults=True), event=event.type, sep="\n"
                )
        except Exception as exc:  # the status line is sent already: report in-band, typed as a JSON reply
            error = stream_error(exc, shop.settings)
            if error["code"] >= 500 and error["type"] == "internal_error":
                log.exception("chat stream failed")
            else:
                log.warning("chat stream failed: %s", error["message"])
            yield ServerSentEvent(data=json.dumps(error), event="error", sep="\n")

    return api
