"""`POST /v1/chat`: one customer turn, as JSON or as server-sent events (sse-starlette)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from assistant.api.protocol import ChatCompletionRequest
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
        shop.chat.check_message(body.message)  # a bad message is a 400, not a broken stream
        customer = state.customer(principal_of(request), body.customer_id, "chat", body.message)
        body = body.model_copy(update={"customer_id": customer})
        if not body.stream:
            response = shop.chat.respond(body)
            metrics.record_turn(response)
            return response
        # Keep-alive comments every 15 s hold proxies open while a slow model thinks; a client that
        # disconnects stops the iteration (sse-starlette cancels the sender).
        return EventSourceResponse(_events(body), ping=15, sep="\n")

    def _events(body: ChatCompletionRequest) -> Iterator[ServerSentEvent]:
        start = time.perf_counter()
        first = True
        try:
            for event in shop.chat.stream(body):
                if first:
                    metrics.first_event.observe(time.perf_counter() - start)
                    first = False
                if event.type == "done" and event.response is not None:
                    metrics.record_turn(event.response)
                yield ServerSentEvent(
                    data=event.model_dump_json(exclude_defaults=True), event=event.type, sep="\n"
                )
        except Exception:  # the status line is sent already: report in-band, without internals
            log.exception("chat stream failed")
            yield ServerSentEvent(
                data='{"message": "the reply failed; please try again or ask for a person"}',
                event="error",
                sep="\n",
            )

    return api
