"""Admission control for an engine: a bounded queue, per-request deadlines and cancellation.

An engine decodes a few requests at a time; without a bound, a burst (or clients that gave up)
piles work behind it and every later request waits for text nobody will read. `AdmissionGenerator`
wraps any engine: at most `max_active` requests generate at once, at most `max_queue` wait for a
slot (more are refused at once with `Overloaded`, which the API turns into 503 + Retry-After), and
a waiting or generating request stops as soon as its `RequestScope` is cancelled (the client
disconnected) or its deadline passes. The scope travels in a context variable, set by the surface
that owns the request (the API sets one per HTTP request), so no service has to thread it through;
engines read it too (the embedded one drops a cancelled row from its batch at the next token).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from assistant.generation.base import GenerationRequest, Generator, GeneratorError, close_stream


class Overloaded(GeneratorError):
    """The engine's queue is full: retry after `retry_after_s` seconds."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DeadlineExceeded(GeneratorError):
    """The request's deadline passed, or its client went away, before the text was finished."""


class RequestScope:
    """One request's deadline and cancellation flag, shared by every thread working for it."""

    def __init__(self, deadline_s: float | None = None) -> None:
        self.deadline = None if deadline_s is None else time.monotonic() + deadline_s
        self._cancelled = threading.Event()
        self._reason = ""

    def cancel(self, reason: str = "the client went away") -> None:
        if not self._cancelled.is_set():
            self._reason = reason
            self._cancelled.set()

    def stopped(self) -> str | None:
        """Why work for this request should stop now, or None while it may go on."""
        if self._cancelled.is_set():
            return self._reason
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "the request's deadline passed"
        return None

    def remaining(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds` (less if the deadline comes first); True if cancelled meanwhile."""
        left = self.remaining()
        return self._cancelled.wait(seconds if left is None else min(seconds, left))


T = TypeVar("T")

_SCOPE: contextvars.ContextVar[RequestScope | None] = contextvars.ContextVar("shopassist_scope", default=None)


def current_scope() -> RequestScope | None:
    return _SCOPE.get()


@contextlib.contextmanager
def bound(scope: RequestScope | None) -> Iterator[RequestScope | None]:
    """Make `scope` the current request's scope in this context (and in contexts copied from it)."""
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def carry_scope(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn`, run under the caller's request scope: for work handed to a thread pool, whose threads
    do not inherit the caller's context (a cancelled request must stop its pooled generations too)."""
    scope = current_scope()

    def run(*args: Any, **kwargs: Any) -> T:
        with bound(scope):
            return fn(*args, **kwargs)

    return run


class AdmissionGenerator:
    """Bounds and deadlines around one engine; everything else is the engine's (`__getattr__`)."""

    def __init__(
        self, inner: Generator, *, max_active: int, max_queue: int, queue_timeout_s: float = 30.0
    ) -> None:
        if max_active < 1 or max_queue < 0:
            raise ValueError("max_active must be >= 1 and max_queue >= 0")
        self.inner = inner
        self.name = inner.name
        self.max_active = max_active
        self.max_queue = max_queue
        self.queue_timeout_s = queue_timeout_s
        self._cond = threading.Condition()
        self.active = 0
        self.waiting = 0
        self.refused = 0
        self.expired = 0
        # Recent generation times: how long a refused caller should wait before retrying.
        self._recent_s = 1.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def retry_after_s(self) -> float:
        """Roughly when a slot frees up: the queue ahead, served max_active at a time."""
        return max(1.0, round(self._recent_s * (1 + self.waiting / self.max_active)))

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        scope = current_scope()
        self._admit(scope)
        start = time.monotonic()
        chunks: Iterator[str] | None = None
        try:  # from here on the slot is given back whatever happens, even if the engine raises at once
            chunks = self.inner.stream(request)
            for chunk in chunks:
                if scope is not None and (why := scope.stopped()):
                    self.expired += 1
                    raise DeadlineExceeded(f"generation stopped: {why}")
                yield chunk
            if scope is not None and (why := scope.stopped()):  # the engine ended the row for it
                self.expired += 1
                raise DeadlineExceeded(f"generation stopped: {why}")
        finally:
            if chunks is not None:
                close_stream(chunks)
            with self._cond:
                self.active -= 1
                self._recent_s = 0.8 * self._recent_s + 0.2 * (time.monotonic() - start)
                self._cond.notify()

    def _admit(self, scope: RequestScope | None) -> None:
        """Take a generation slot, waiting in the bounded queue; raise instead of waiting forever."""
        with self._cond:
            if self.active < self.max_active and not self.waiting:
                self.active += 1
                return
            if self.waiting >= self.max_queue:
                self.refused += 1
                raise Overloaded(
                    f"the {self.name} engine is busy ({self.active} generating, {self.waiting} waiting); "
                    "try again shortly",
                    self.retry_after_s(),
                )
            self.waiting += 1
            try:
                give_up = time.monotonic() + self.queue_timeout_s
                while self.active >= self.max_active:
                    why = scope.stopped() if scope is not None else None
                    left = give_up - time.monotonic()
                    if why or left <= 0:
                        self.expired += 1
                        raise DeadlineExceeded(
                            f"waited {self.queue_timeout_s:g}s for the {self.name} engine"
                            if not why
                            else f"gave up waiting for the {self.name} engine: {why}"
                        )
                    # Wake up now and then to notice a cancelled scope (nobody notifies for that).
                    self._cond.wait(min(left, 0.1))
                self.active += 1
            finally:
                self.waiting -= 1
