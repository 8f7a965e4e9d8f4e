"""A primary engine with a stand-in: when the model server is down, the shop keeps writing prose.

Only failures before the first token switch engines (after that the caller has shown text, and a
second engine would start the sentence again). While the primary is down it is skipped for
`recheck_s` seconds, so every turn does not pay for a connection timeout; then it is tried again,
so a restarted server is picked up without restarting the shop. The stand-in is built lazily:
loading the embedded model costs seconds and memory that a healthy primary never needs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from assistant.generation.base import GenerationRequest, Generator, GeneratorError

log = logging.getLogger(__name__)


class FallbackGenerator:
    def __init__(
        self, primary: Generator, make_fallback: Callable[[], Generator], *, recheck_s: float = 30.0
    ) -> None:
        self.primary = primary
        self.name = primary.name
        self._make_fallback = make_fallback
        self._fallback: Generator | None = None
        self._lock = threading.Lock()
        self.recheck_s = recheck_s
        self.down_since: float | None = None
        self.last_error: str | None = None

    @property
    def fallback(self) -> Generator:
        with self._lock:
            if self._fallback is None:
                self._fallback = self._make_fallback()
            return self._fallback

    def warm_up(self) -> None:
        try:
            warm = getattr(self.primary, "warm_up", None)
            if warm:
                warm()
        except GeneratorError as exc:
            self._mark_down(exc)
            warm = getattr(self.fallback, "warm_up", None)
            if warm:
                warm()

    def _mark_down(self, exc: GeneratorError) -> None:
        if self.down_since is None:
            log.warning("%s; using the %s engine until it is back", exc, self.fallback.name)
        self.down_since = time.monotonic()
        self.last_error = str(exc)

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        skip = self.down_since is not None and time.monotonic() - self.down_since < self.recheck_s
        if not skip:
            started = False
            try:
                for chunk in self.primary.stream(request):
                    started = True
                    yield chunk
                if self.down_since is not None:
                    log.warning("model server is back; leaving the %s engine", self.fallback.name)
                    self.down_since = None
                return
            except GeneratorError as exc:
                if started:
                    raise
                self._mark_down(exc)
        # The stand-in has no task adapters: it answers with its base model.
        yield from self.fallback.stream(request.model_copy(update={"adapter": None}))
