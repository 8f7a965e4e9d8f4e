"""The REST API: an app factory over the same `Shop` services the Gradio UI and CLI use.

As in vLLM's OpenAI server, each resource is a thin router (`routes/`) that translates HTTP to a
service call, so the API cannot answer differently from the UI. This module only assembles them:
authorization, HTTP metrics (prometheus-fastapi-instrumentator, labelled by route template), and
one error shape for every status, chosen by the error's type (`assistant.errors`).
Who may call is decided by `security.Guard` before a body is read: API keys with roles, customer
tokens from the shop's backend, rate limits and the body-size limit (README "Trust model").
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant import errors
from assistant.api.admission import Admission
from assistant.api.protocol import ErrorResponse, error_response
from assistant.api.routes import chat, copy, feedback, health, openai, readiness, search, suggest, widget
from assistant.api.security import Guard
from assistant.api.state import ApiState, Metrics
from assistant.stores.audit import AuditLog
from assistant.stores.feedback import FeedbackStore

if TYPE_CHECKING:
    from assistant.shop import Shop

log = logging.getLogger("shopassist.api")

# Routers under /v1 (behind the key check), then the operational ones at the root.
V1_ROUTERS = (chat, openai, search, feedback, copy, suggest)
ROOT_ROUTERS = (health, readiness, widget)
_HTTP_KINDS = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


def describe_validation(problems: Sequence[Any]) -> str:
    """Readable field problems; a body that is not JSON says so (not "12: JSON decode error")."""
    out = []
    for e in problems:
        if e.get("type") == "json_invalid":
            position = e["loc"][-1] if e.get("loc") else "?"
            reason = (e.get("ctx") or {}).get("error", "not JSON")
            out.append(f"the body is not valid JSON ({reason} at character {position}); send a JSON object")
        else:
            field = ".".join(str(p) for p in e["loc"] if p != "body") or "body"
            out.append(f"{field}: {e['msg']}")
    return "; ".join(out)


def create_app(shop: Shop, *, feedback: FeedbackStore | None = None, warm_up: bool = True) -> FastAPI:
    """The API over one `Shop`; `shopassist api` serves it (with the Gradio UI mounted at /ui).

    With `warm_up`, start-up loads the index and the model in the background (`/readyz` says
    'loading' meanwhile), so the first shopper does not wait for them."""
    from prometheus_fastapi_instrumentator import Instrumentator

    settings = shop.settings
    state = ApiState(
        shop=shop,
        metrics=Metrics(),
        feedback=feedback or FeedbackStore.from_settings(settings),
        audit=AuditLog.from_settings(settings),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm_up:
            state.startup.start(shop)
        else:
            state.startup.done.set()
        yield
        from assistant.stores.db import dispose_engines

        dispose_engines()  # close the shared database pool's connections at shutdown

    app = FastAPI(
        lifespan=lifespan,
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
    Instrumentator(
        should_group_status_codes=False, excluded_handlers=["/metrics"], registry=state.metrics.registry
    ).instrument(app, metric_namespace="shopassist")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), _HTTP_KINDS.get(exc.status_code, "error"))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, f"invalid request: {describe_validation(exc.errors())}", "invalid_request")

    async def typed(request: Request, exc: Exception) -> JSONResponse:
        kind = errors.classify(exc)
        status = kind.status if kind else 500
        if status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
        response = error_response(status, str(exc), errors.kind_name(exc))
        if isinstance(exc, errors.Unavailable):
            response.headers["Retry-After"] = str(math.ceil(exc.retry_after_s))
        return response

    for handled in errors.handled_types():  # status by the error's type, in one table (assistant.errors)
        app.add_exception_handler(handled, typed)

    async def dependency(request: Request, exc: Exception) -> JSONResponse:
        """The Chroma server or the disk failing mid-request is a 503 that names it; another
        exception of these library types is a bug, left to `internal` (which logs its traceback)."""
        failure = errors.dependency_error(exc, settings)
        if failure is None:
            raise exc
        return await typed(request, failure)

    for library_type in errors.dependency_types():
        app.add_exception_handler(library_type, dependency)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        """A bug still answers in the one error shape, without internals (Starlette logs the traceback)."""
        return error_response(500, "internal error; the server log has the details", "internal_error")

    # Inner: bounded work, a deadline per request and cancellation on disconnect (api.admission);
    # outer: the caller is known (and the body size bounded) before any route reads the body
    # (security.Guard), so a stranger never takes a slot.
    app.add_middleware(
        Admission,
        max_concurrent=settings.api.max_concurrent,
        max_queued=settings.api.max_queued,
        timeout_s=settings.api.request_timeout_s,
    )
    app.add_middleware(Guard, settings=settings.api)
    # Outermost: the storefront widget's pages are on the shop's origin; their preflights are
    # answered here (no key needed), and every answer, refusals included, carries the CORS headers.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.api.widget_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "X-Customer-Token", "Idempotency-Key"],
        expose_headers=["Retry-After"],
        max_age=600,
    )

    @app.exception_handler(UnicodeError)
    async def bad_text(request: Request, exc: UnicodeError) -> JSONResponse:
        return error_response(
            400,
            "the request contains text that is not valid UTF-8 (e.g. a lone surrogate)",
            "invalid_request",
        )

    v1 = APIRouter(prefix="/v1")
    for module in V1_ROUTERS:
        v1.include_router(module.router(state))
    app.include_router(v1)
    for module in ROOT_ROUTERS:
        app.include_router(module.router(state))
    app.mount("/static", StaticFiles(directory=widget.STATIC_DIR), name="static")  # the widget's demo images
    return app
