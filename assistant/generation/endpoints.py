"""The model servers a remote engine spreads its requests over, and which of them are up.

Several OpenAI-compatible servers may serve the same model (replicas with no load balancer of
their own). Each request goes to the candidate with the fewest requests in flight, so a slow or
busy replica gets fewer; ties go to the one picked longest ago (round robin), so an idle pool still
spreads. A server that fails before the first token is marked down and skipped, instead of costing
every later request a connection attempt; one background thread probes the servers that are down
every `recheck_s` seconds, and the first check that passes brings a server back. State is kept per
URL, so a server that several model names route to is counted once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class _Endpoint:
    url: str
    outstanding: int = 0
    requests: int = 0
    last_pick: int = 0  # the pick sequence number: lower = picked longer ago
    down_since: float | None = None  # wall-clock time it was marked down
    last_error: str | None = None


class EndpointPool:
    """Per-URL load and health; thread-safe (requests stream from many threads at once).

    `check(url)` is the health check the probe runs (it raises while the server is not answering).
    """

    def __init__(
        self, check: Callable[[str], object], *, recheck_s: float = 10.0, urls: Iterable[str] = ()
    ) -> None:
        if recheck_s <= 0:
            raise ValueError("recheck_s must be > 0")
        self.check = check
        self.recheck_s = recheck_s
        self._lock = threading.Lock()
        self._endpoints: dict[str, _Endpoint] = {}
        self._picks = 0
        self._prober: threading.Thread | None = None
        self._closed = threading.Event()
        for url in urls:
            self._get(url)

    def _get(self, url: str) -> _Endpoint:
        """The state of `url`, registered (up, idle) on first sight; call with the lock held."""
        endpoint = self._endpoints.get(url)
        if endpoint is None:
            endpoint = self._endpoints[url] = _Endpoint(url)
        return endpoint

    def pick(self, urls: Sequence[str], *, avoid: Collection[str] = (), anyway: bool = False) -> str | None:
        """Take the least busy of `urls` that is up and not in `avoid` (count it outstanding until
        `release`); None when there is none. With `anyway` (a retry after backoff) the ones in
        `avoid` qualify too, and when all are down the least busy down one: a retry is worth a try."""
        with self._lock:
            candidates = [self._get(url) for url in dict.fromkeys(urls)]
            chosen = [e for e in candidates if e.down_since is None and e.url not in avoid]
            if not chosen and anyway:
                chosen = [e for e in candidates if e.down_since is None] or candidates
            if not chosen:
                return None
            best = min(chosen, key=lambda e: (e.outstanding, e.last_pick))
            self._picks += 1
            best.last_pick = self._picks
            best.outstanding += 1
            best.requests += 1
            return best.url

    def release(self, url: str) -> None:
        """The request that `pick` gave `url` is over (whatever its outcome)."""
        with self._lock:
            endpoint = self._get(url)
            endpoint.outstanding = max(0, endpoint.outstanding - 1)

    def is_up(self, url: str) -> bool:
        with self._lock:
            return self._get(url).down_since is None

    def mark_down(self, url: str, why: str) -> None:
        """Skip `url` until a probe passes; the probe thread starts if it is not running."""
        with self._lock:
            endpoint = self._get(url)
            endpoint.last_error = why
            if endpoint.down_since is not None:
                return
            endpoint.down_since = time.time()
            log.warning("model server %s marked down: %s; probing every %gs", url, why, self.recheck_s)
            if self._prober is None and not self._closed.is_set():
                self._prober = threading.Thread(target=self._probe, name="probe-model-servers", daemon=True)
                self._prober.start()

    def mark_up(self, url: str) -> None:
        """`url` answered (a probe passed, or a request got a reply): route to it again."""
        with self._lock:
            endpoint = self._get(url)
            if endpoint.down_since is None:
                return
            endpoint.down_since = None
        log.warning("model server %s is back", url)

    def status(self, urls: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Each server's state (all known ones, or `urls`), for readiness reports and tests."""
        with self._lock:
            endpoints = (
                list(self._endpoints.values())
                if urls is None
                else [self._get(u) for u in dict.fromkeys(urls)]
            )
            return [
                {
                    "url": e.url,
                    "up": e.down_since is None,
                    "outstanding": e.outstanding,
                    "requests": e.requests,
                    "down_since": e.down_since,
                    "last_error": e.last_error,
                }
                for e in endpoints
            ]

    def _probe(self) -> None:
        """Check every down server each `recheck_s` until none is down (or the pool is closed)."""
        while not self._closed.wait(self.recheck_s):
            with self._lock:
                down = [e.url for e in self._endpoints.values() if e.down_since is not None]
                if not down:
                    self._prober = None
                    return
            for url in down:
                try:
                    self.check(url)
                except Exception as exc:  # noqa: BLE001 - whatever the check raises, the server is still down
                    with self._lock:
                        self._get(url).last_error = str(exc)
                    continue
                self.mark_up(url)

    def close(self) -> None:
        """Stop probing (a closed engine has no servers to watch)."""
        self._closed.set()
