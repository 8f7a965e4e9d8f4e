"""A circuit breaker for a remote engine: remember an outage instead of paying for it on every turn.

Without it, each turn against a dead model server spends its connection retries and backoff
(~1.5 s with the defaults) before falling back to template sentences. After `failures` consecutive
failures before the first token the breaker opens: requests fail at once with `EngineDown`, whose
message says since when and why, and a background thread probes the server (`health()` or
`warm_up()`) every `recheck_s` seconds; the first probe that answers closes it. Failures after text
has started, refusals of a busy engine and expired deadlines say nothing about the server being
down, so they do not count.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from assistant.generation.admission import DeadlineExceeded, Overloaded
from assistant.generation.base import GenerationRequest, Generator, GeneratorError

log = logging.getLogger(__name__)


class EngineDown(GeneratorError):
    """The engine is known to be down; requests skip it until a background probe succeeds."""


class CircuitBreaker:
    def __init__(self, inner: Generator, *, failures: int = 1, recheck_s: float = 10.0) -> None:
        self.inner = inner
        self.name = inner.name
        self.failures = max(1, failures)
        self.recheck_s = recheck_s
        self._lock = threading.Lock()
        self._consecutive = 0
        self.down_since: float | None = None  # wall-clock time the breaker opened
        self.last_error: str | None = None
        self._prober: threading.Thread | None = None
        self._closed = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def problem(self) -> str | None:
        """Why this engine is not answering now (None while it is)."""
        if self.down_since is None:
            return None
        since = time.strftime("%H:%M:%S", time.localtime(self.down_since))
        return f"{self.last_error} (down since {since}; checked again every {self.recheck_s:g}s)"

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        if self.down_since is not None:
            raise EngineDown(f"the {self.name} engine is down: {self.problem()}")
        started = False
        try:
            for chunk in self.inner.stream(request):
                started = True
                yield chunk
        except (Overloaded, DeadlineExceeded):
            raise
        except GeneratorError as exc:
            if not started:
                self._failed(exc)
            raise
        with self._lock:
            self._consecutive = 0

    def warm_up(self) -> None:
        warm = getattr(self.inner, "warm_up", None)
        if warm is None:
            return
        try:
            warm()
        except GeneratorError as exc:
            self._failed(exc, at_once=True)
            raise

    def _failed(self, exc: GeneratorError, *, at_once: bool = False) -> None:
        with self._lock:
            self._consecutive += 1
            self.last_error = str(exc)
            if self.down_since is not None or (self._consecutive < self.failures and not at_once):
                return
            self.down_since = time.time()
            log.warning("%s engine marked down: %s; probing every %gs", self.name, exc, self.recheck_s)
            self._prober = threading.Thread(target=self._probe, name=f"probe-{self.name}", daemon=True)
            self._prober.start()

    def _probe(self) -> None:
        check = getattr(self.inner, "health", None) or getattr(self.inner, "warm_up", None)
        while not self._closed.wait(self.recheck_s):
            try:
                if check is not None:
                    check()
            except GeneratorError as exc:
                self.last_error = str(exc)
                continue
            with self._lock:
                self.down_since, self._consecutive = None, 0
            log.warning("%s engine is back", self.name)
            return

    def close(self) -> None:
        """Stop probing (and close the engine, if it can be)."""
        self._closed.set()
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
