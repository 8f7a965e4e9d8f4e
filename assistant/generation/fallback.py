"""A primary engine with a stand-in: when the model server is down, the shop keeps writing prose.

Only failures before the first token switch engines (after that the caller has shown text, and a
second engine would start the sentence again). Remembering the outage is the circuit breaker's
job (`breaker.CircuitBreaker`, which the factory puts around a remote primary): while it is open
the primary fails at once and the stand-in answers without a connection timeout first, and its
background probe notices a restarted server without restarting the shop. `problem()` says that the
stand-in is answering, so a turn can report it (`model_unavailable`) even though it got prose. The
stand-in is built lazily: loading the embedded model costs seconds and memory that a healthy
primary never needs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

from assistant.generation.admission import DeadlineExceeded
from assistant.generation.base import GenerationRequest, Generator, GeneratorError, engine_problem

log = logging.getLogger(__name__)


class FallbackGenerator:
    def __init__(self, primary: Generator, make_fallback: Callable[[], Generator]) -> None:
        self.primary = primary
        self.name = primary.name
        self._make_fallback = make_fallback
        self._fallback: Generator | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None  # the primary's last failure, while the stand-in answers

    @property
    def fallback(self) -> Generator:
        with self._lock:
            if self._fallback is None:
                self._fallback = self._make_fallback()
            return self._fallback

    def endpoint_status(self) -> list[dict[str, object]]:
        """The primary's model servers (the stand-in runs in process: it has none)."""
        status = getattr(self.primary, "endpoint_status", None)
        return list(status()) if callable(status) else []

    def problem(self) -> str | None:
        why = engine_problem(self.primary) or self.last_error
        return f"{why}; the {self.fallback.name} engine answers instead" if why else None

    def warm_up(self) -> None:
        try:
            warm = getattr(self.primary, "warm_up", None)
            if warm:
                warm()
        except GeneratorError as exc:
            self._note(exc)
            warm = getattr(self.fallback, "warm_up", None)
            if warm:
                warm()

    def _note(self, exc: GeneratorError) -> None:
        if self.last_error is None:
            log.warning("%s; using the %s engine until it is back", exc, self.fallback.name)
        self.last_error = str(exc)

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        started = False
        try:
            for chunk in self.primary.stream(request):
                started = True
                yield chunk
            if self.last_error is not None:
                log.warning("model server is back; leaving the %s engine", self.fallback.name)
                self.last_error = None
            return
        except DeadlineExceeded:
            raise
        except GeneratorError as exc:
            if started:
                raise
            self._note(exc)
        # The stand-in has no task adapters: it answers with its base model.
        yield from self.fallback.stream(request.model_copy(update={"adapter": None}))
