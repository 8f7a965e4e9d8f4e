"""The REST API: an app factory over the same `Shop` services the Gradio UI and CLI use.

As in vLLM's OpenAI server, each resource is a thin router (`routes/`) that translates HTTP to a
service call, so the API cannot answer differently from the UI. This module only assembles them:
authorization, HTTP metrics (prometheus-fastapi-instrumentator, labelled by route template), and
one error shape for every status, chosen by the error's type (`assistant.errors`).
Requests from this machine need no key (the UI and a local shell); any other client must send
`Authorization: Bearer <key>` with a key from `api.keys`, and without configured keys the API
refuses remote clients.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant import errors
from assistant.api.protocol import ErrorResponse
from assistant.api.routes import chat, copy, feedback, health, search, suggest
from assistant.api.state import ApiState, Metrics
from assistant.stores.feedback import FeedbackStore

if TYPE_CHECKING:
    from assistant.shop import Shop

log = logging.getLogger("shopassist.api")

# Routers under /v1 (behind the key check), then the operational ones at the root.
V1_ROUTERS = (chat, search, feedback, copy, suggest)
ROOT_ROUTERS = (health,)
_HTTP_KINDS = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


def _is_local(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def error_response(status: int, message: str, kind: str) -> JSONResponse:
    body = ErrorResponse.model_validate({"error": {"message": message, "type": kind, "code": status}})
    return JSONResponse(body.model_dump(), status_code=status)


def create_app(shop: Shop, *, feedback: FeedbackStore | None = None) -> FastAPI:
    """The API over one `Shop`; `shopassist api` serves it (with the Gradio UI mounted at /ui)."""
    from prometheus_fastapi_instrumentator import Instrumentator

    settings = shop.settings
    keys = [k for k in settings.api.keys if k]
    state = ApiState(
        shop=shop, metrics=Metrics(), feedback=feedback or FeedbackStore(settings.home / "feedback.db")
    )

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
    app.state.api = state
    app.state.shop = shop
    app.state.metrics = state.metrics
    app.state.feedback = state.feedback
    Instrumentator(
        should_group_status_codes=False, excluded_handlers=["/metrics"], registry=state.metrics.registry
    ).instrument(app, metric_namespace="shopassist")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), _HTTP_KINDS.get(exc.status_code, "error"))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors()
        )
        return error_response(422, f"invalid request: {problems}", "invalid_request")

    async def typed(request: Request, exc: Exception) -> JSONResponse:
        kind = errors.classify(exc)
        status = kind.status if kind else 500
        if status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
        return error_response(status, str(exc), errors.kind_name(exc))

    for handled in errors.handled_types():  # status by the error's type, in one table (assistant.errors)
        app.add_exception_handler(handled, typed)

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(authorize)])
    for module in V1_ROUTERS:
        v1.include_router(module.router(state))
    app.include_router(v1)
    for module in ROOT_ROUTERS:
        app.include_router(module.router(state))
    return app
