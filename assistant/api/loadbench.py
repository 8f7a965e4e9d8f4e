"""`bench load`: the REST API under concurrent shoppers and under abandoned requests.

A benchmark, not a test. It serves the shop's API from this process (uvicorn on a loopback port,
admission control as configured), waits for /readyz, and then, over real HTTP:
- at each concurrency level, sends chat turns from that many clients at once and reports throughput,
  p50/p95/p99 latency and every non-200 answer by status (503s are admission refusals);
- the issue-17 case: a normal turn's latency when idle, then again right after 16 clients gave up on
  their turns after `abandon_after_s` (their generations must stop, not hold the engine).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from assistant.chat.bench import CHAT_QUESTIONS, percentile


@contextlib.contextmanager
def running(app: Any, port: int) -> Iterator[str]:
    """`app` served by uvicorn on 127.0.0.1:`port` in a thread (real sockets: disconnects, SDKs);
    yields its URL once it listens, and stops it afterwards."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="shopassist-api", daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and thread.is_alive() and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@contextlib.contextmanager
def serve(shop: Any, port: int, ready_timeout_s: float = 600) -> Iterator[str]:
    """The shop's API on 127.0.0.1:`port`, ready (start-up loading done) when this yields."""
    import httpx

    from assistant.api.app import create_app

    with running(create_app(shop), port) as url:
        deadline = time.time() + ready_timeout_s
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            if time.time() > deadline:
                raise RuntimeError(f"the API on {url} was not ready within {ready_timeout_s:g}s")
            time.sleep(0.2)
        yield url


def _turn(url: str, message: str, timeout: float) -> tuple[int, float]:
    import httpx

    start = time.perf_counter()
    try:
        status = httpx.post(f"{url}/v1/chat", json={"message": message}, timeout=timeout).status_code
    except httpx.TimeoutException:
        status = 0  # gave up (the abandoned case) or timed out
    except httpx.HTTPError:
        status = -1
    return status, time.perf_counter() - start


def run_level(url: str, concurrency: int, requests: int, timeout: float = 300) -> dict[str, Any]:
    questions = [CHAT_QUESTIONS[i % len(CHAT_QUESTIONS)] for i in range(requests)]
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda q: _turn(url, q, timeout), questions))
    wall = time.perf_counter() - start
    ok = [t for s, t in results if s == 200]
    errors = Counter(str(s) for s, _ in results if s != 200)
    return {
        "concurrency": concurrency,
        "requests": requests,
        "turns_per_s": round(len(ok) / wall, 3),
        "p50_s": percentile(ok, 0.5),
        "p95_s": percentile(ok, 0.95),
        "p99_s": percentile(ok, 0.99),
        "errors": dict(errors),
    }


def abandoned_case(url: str, abandoned: int = 16, abandon_after_s: float = 3.0) -> dict[str, Any]:
    """Idle latency of one turn (median of 3), then the latency of the next turn after `abandoned`
    clients gave up after `abandon_after_s` seconds."""
    idle = sorted(_turn(url, CHAT_QUESTIONS[0], 300)[1] for _ in range(3))[1]
    with ThreadPoolExecutor(abandoned) as pool:
        questions = [CHAT_QUESTIONS[i % len(CHAT_QUESTIONS)] for i in range(abandoned)]
        gave_up = list(pool.map(lambda q: _turn(url, q, abandon_after_s)[0], questions))
    status, after = _turn(url, CHAT_QUESTIONS[0], 300)
    return {
        "abandoned": abandoned,
        "abandon_after_s": abandon_after_s,
        "abandoned_timed_out": sum(1 for s in gave_up if s == 0),
        "idle_turn_s": round(idle, 3),
        "turn_after_abandoned_s": round(after, 3),
        "after_status": status,
        "ratio_after_vs_idle": round(after / idle, 2) if idle else None,
    }
