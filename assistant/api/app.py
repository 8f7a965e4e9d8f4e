"""The REST API: thin FastAPI routes over the same `Shop` services the Gradio UI and CLI use.

As in vLLM's OpenAI server, each route only translates HTTP to a service call: the chat, search
and feedback logic lives in the services, so the API cannot answer differently from the UI.
Requests from this machine need no key (the UI and a local shell); any other client must send
`Authorization: Bearer <key>` with a key from `api.keys`, and without configured keys the API
refuses remote clients. Errors share one JSON shape with a message that says what to fix.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from assistant.api.protocol import (
    ChatCompletionRequest,
    ErrorResponse,
    FeedbackResponse,
    Health,
    SearchHit,
    SearchRequest,
    SearchResponse,
)
from assistant.chat import InputError
from assistant.feedback import FeedbackItem, FeedbackStore
from assistant.protocol import ChatResponse, ProductCard
from retrieval.filters import FilterError

if TYPE_CHECKING:
    from assistant.shop import Shop

log = logging.getLogger("shopassist.api")


class Metrics:
    """Prometheus metrics in a registry of this app's own (several apps can live in one process)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "shopassist_requests", "HTTP requests", ["endpoint", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "shopassist_request_seconds",
            "Request time (to the last byte for streams)",
            ["endpoint"],
            registry=self.registry,
        )
        self.turns = Counter(
            "shopassist_chat_turns",
            "Chat turns by route and action",
            ["route", "action"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "shopassist_chat_template_fallbacks",
            "Turns whose model prose was replaced by a template (verifier or model unavailable)",
            registry=self.registry,
        )
        self.first_event = Histogram(
            "shopassist_chat_first_event_seconds",
            "Time to the first streamed chat event",
            registry=self.registry,
        )
        self.feedback = Counter(
            "shopassist_feedback", "Feedback received", ["kind", "verdict"], registry=self.registry
        )

    def record_turn(self, response: ChatResponse) -> None:
        self.turns.labels(response.route, response.action).inc()
        if response.verifier.fallback:
            self.fallbacks.inc()


def _is_local(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _error(status: int, message: str, kind: str) -> JSONResponse:
    body = ErrorResponse.model_validate({"error": {"message": message, "type": kind, "code": status}})
    return JSONResponse(body.model_dump(), status_code=status)


def create_app(shop: Shop, *, feedback: FeedbackStore | None = None) -> FastAPI:
    """The API over one `Shop`; `shopassist api` serves it (with the Gradio UI mounted at /ui)."""
    settings = shop.settings
    keys = [k for k in settings.api.keys if k]
    metrics = Metrics()
    store = feedback or FeedbackStore(settings.home / "feedback.db")

    def authorize(request: Request) -> None:
        if not settings.api.require_key_for_local and _is_local(
            request.client.host if request.client else None
        ):
            return
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not keys:
            raise HTTPException(
                403,
                "remote access is off: set api.keys (SHOPASSIST_API__KEYS) and send 'Authorization: Bearer KEY'",
            )
        if not token or not any(secrets.compare_digest(token, k) for k in keys):
            raise HTTPException(
                401, "missing or wrong API key: send 'Authorization: Bearer KEY' with a key from api.keys"
            )

    app = FastAPI(
        title=f"{settings.shop.name} assistant API",
        version="1",
        description="Grounded shop assistant: chat (with server-sent events), product search, feedback.",
        responses={
            400: {"model": ErrorResponse},
            401: {"model": ErrorResponse},
            403: {"model": ErrorResponse},
        },
    )
    app.state.shop = shop
    app.state.metrics = metrics
    app.state.feedback = store

    @app.middleware("http")
    async def count(request: Request, call_next: Any) -> Any:
        start = time.perf_counter()
        response = await call_next(request)
        endpoint = request.url.path if request.url.path.startswith("/v1/") else "other"
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        kinds = {401: "unauthorized", 403: "forbidden", 404: "not_found"}
        return _error(exc.status_code, str(exc.detail), kinds.get(exc.status_code, "error"))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors()
        )
        return _error(422, f"invalid request: {problems}", "invalid_request")

    @app.exception_handler(InputError)
    async def bad_message(request: Request, exc: InputError) -> JSONResponse:
        return _error(400, str(exc), "invalid_message")

    @app.exception_handler(FilterError)
    async def bad_filter(request: Request, exc: FilterError) -> JSONResponse:
        return _error(400, str(exc), "invalid_filter")

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(authorize)])

    @v1.post("/chat", response_model=ChatResponse)
    def chat(body: ChatCompletionRequest) -> Any:
        """One customer turn; with `stream: true`, server-sent events as the reply is written."""
        shop.chat.check_message(body.message)  # a bad message is a 400, not a broken stream
        if not body.stream:
            response = shop.chat.respond(body)
            metrics.record_turn(response)
            return response
        return StreamingResponse(_sse(body), media_type="text/event-stream")

    def _sse(body: ChatCompletionRequest) -> Iterator[str]:
        start = time.perf_counter()
        first = True
        try:
            for event in shop.chat.stream(body):
                if first:
                    metrics.first_event.observe(time.perf_counter() - start)
                    first = False
                if event.type == "done" and event.response is not None:
                    metrics.record_turn(event.response)
                yield f"event: {event.type}\ndata: {event.model_dump_json(exclude_defaults=True)}\n\n"
        except Exception as exc:  # the status line is sent already: report in-band and end the stream
            log.exception("chat stream failed")
            yield f"event: error\ndata: {json.dumps({'message': f'the reply failed: {exc}'})}\n\n"

    @v1.post("/search", response_model=SearchResponse)
    def search(body: SearchRequest) -> SearchResponse:
        """Product search with the assistant's retriever; filters are validated against the catalogue."""
        results = shop.index.products.run(body.query, top_k=body.top_k, filters=body.filters, mode=body.mode)
        return SearchResponse(
            query_text=results.query.text,
            filters=results.filters,
            confidence=results.confidence,
            hits=[SearchHit(product=ProductCard.from_hit(h), score=h.score) for h in results.hits],
        )

    @v1.post("/feedback", response_model=FeedbackResponse)
    def give_feedback(body: FeedbackItem) -> FeedbackResponse:
        """Thumbs on a reply (its `id`), or accept/edit/reject on a suggestion or product copy."""
        stored = store.add(body)
        metrics.feedback.labels(body.kind, body.verdict).inc()
        return FeedbackResponse(id=stored.id)

    from assistant.api import copy_routes, suggest_routes

    for module in (copy_routes, suggest_routes):  # each surface's routes live beside its own protocol
        v1.include_router(module.router(shop))
    app.include_router(v1)

    @app.get("/healthz", response_model=Health)
    def healthz() -> Health:
        """Liveness plus what the assistant can answer from; `degraded` lists what is missing."""
        products = shop.index.products_collection.count()
        faq = shop.index.faq_collection.count()
        problems = []
        if not products:
            problems.append("no products stored: run `shopassist ingest`")
        if not faq:
            problems.append("no FAQ entries stored: run `shopassist ingest`")
        return Health(
            status="degraded" if problems else "ok",
            products=products,
            faq_documents=faq,
            engine=settings.generator.engine,
            problems=problems,
        )

    @app.get("/metrics", response_class=PlainTextResponse)
    def prometheus() -> PlainTextResponse:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
