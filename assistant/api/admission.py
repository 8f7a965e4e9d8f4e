"""Admission control at the API's door: bounded work, a deadline per request, cancellation on disconnect.

Chat, search, copy and assist requests share two cores (or one GPU) with each other. At most
`api.max_concurrent` are handled at once and at most `api.max_queued` wait for a turn; beyond that
a request is answered at once with 503 and a Retry-After estimated from recent request times,
instead of joining a queue it would time out in. Each admitted request gets a `RequestScope`
(generation.admission) with the `api.request_timeout_s` deadline, bound in the context the route
runs in (Starlette copies it into its worker threads), and cancelled when the client disconnects,
so a reply nobody will read stops generating at its next token and frees its slot. Feedback,
health and metrics are not queued: they are cheap and must answer while the assistant is busy.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from assistant.api.protocol import error_response
from assistant.generation.admission import RequestScope, bound

log = logging.getLogger("shopassist.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

QUEUED_PATHS = ("/v1/chat", "/v1/search", "/v1/copy", "/v1/suggest")


class Admission:
    """Pure ASGI middleware (it must see the stream end and the disconnect, so no BaseHTTPMiddleware)."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        *,
        max_concurrent: int,
        max_queued: int,
        timeout_s: float,
        paths: tuple[str, ...] = QUEUED_PATHS,
    ) -> None:
        self.app = app
        self.max_concurrent = max_concurrent
        self.max_queued = max_queued
        self.timeout_s = timeout_s
        self.paths = paths
        self.active = 0
        self.waiting = 0
        self.refused = 0
        self.cancelled = 0
        self._slots: asyncio.Semaphore | None = None  # made on the server's event loop
        self._recent_s = 1.0  # moving average of request times, for Retry-After

    def retry_after_s(self) -> int:
        queued = self.waiting + 1
        return max(1, math.ceil(self._recent_s * queued / self.max_concurrent))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.paths):
            await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrent)
        request = RequestScope(self.timeout_s)
        if self._slots.locked() and self.waiting >= self.max_queued:
            await self._busy(
                scope, receive, send, f"{self.active} requests in progress and {self.waiting} waiting"
            )
            return
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=request.remaining())
        except TimeoutError:
            await self._busy(scope, receive, send, f"no turn within {self.timeout_s:g}s")
            return
        finally:
            self.waiting -= 1
        self.active += 1
        start = time.monotonic()
        body_read = asyncio.Event()

        async def receive_watched() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect":
                request.cancel()
            elif message["type"] == "http.request" and not message.get("more_body"):
                body_read.set()
            return message

        answered = False

        async def send_watched(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.body" and not message.get("more_body"):
                answered = True  # a disconnect after this is the normal end, not a client leaving
            await send(message)

        async def watch_disconnect() -> None:
            # Once the body is in, the next message the server has for us is the disconnect.
            await body_read.wait()
            while (await receive())["type"] != "http.disconnect":
                pass
            if answered:
                return
            if request.stopped() is None:
                self.cancelled += 1
                log.info("client left %s; its generation is stopped", scope.get("path"))
            request.cancel()

        watcher = asyncio.create_task(watch_disconnect())
        try:
            with bound(request):
                await self.app(scope, receive_watched, send_watched)
        finally:
            watcher.cancel()
            self.active -= 1
            self._slots.release()
            self._recent_s = 0.8 * self._recent_s + 0.2 * (time.monotonic() - start)

    async def _busy(self, scope: Scope, receive: Receive, send: Send, why: str) -> None:
        self.refused += 1
        retry = self.retry_after_s()
        response = error_response(503, f"the assistant is busy ({why}); retry in {retry} s", "overloaded")
        response.headers["Retry-After"] = str(retry)
        await response(scope, receive, send)
