"""Overload at the API: abandoned requests stop generating, a full queue answers 503 with
Retry-After, and start-up loading is reported by /readyz apart from liveness (/livez).

The server is real (uvicorn on a loopback port), so client disconnects are real too; the engine is
a scripted one that takes ~1 s per reply behind the same admission control as in production."""

from __future__ import annotations

import contextlib
import copy
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.generation.admission import AdmissionGenerator
from assistant.generation.base import GenerationRequest, GeneratorError
from assistant.stores.feedback import FeedbackStore
from tests.assistant.api.conftest import live_server

pytestmark = pytest.mark.slow


class SlowEngine:
    """~1 s per reply (50 chunks of 20 ms); `produced` counts the chunks made (work done)."""

    name = "slow"

    def __init__(self) -> None:
        self.produced = 0

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        for _ in range(50):  # one unfinished sentence: the turn reads all of it
            time.sleep(0.02)
            self.produced += 1
            yield "and "


def shop_with(demo_shop_real: Any, generator: Any, **api: Any) -> Any:
    """The demo shop (shared index) with another engine and API limits; the model's sentence is
    waited for (no budget), so a generation runs to its end unless admission stops it."""
    shop = copy.copy(demo_shop_real)
    shop.__dict__.pop("_chat", None)
    s = demo_shop_real.settings
    shop.settings = s.model_copy(
        update={
            "shop": s.shop.model_copy(update={"model_budget_ms": None}),
            "api": s.api.model_copy(update=api),
        }
    )
    shop._generator = generator
    return shop


def serving(shop: Any, tmp_path: Any) -> Any:
    return live_server(create_app(shop, feedback=FeedbackStore(tmp_path / "feedback.db"), warm_up=False))


TURN = {"message": "waterproof boots under 100"}


def timed_turn(url: str) -> float:
    start = time.perf_counter()
    r = httpx.post(f"{url}/v1/chat", json=TURN, timeout=60)
    assert r.status_code == 200, r.text
    return time.perf_counter() - start


def abandon(url: str) -> None:
    with contextlib.suppress(httpx.TimeoutException):
        httpx.post(f"{url}/v1/chat", json=TURN, timeout=0.3)


def test_abandoned_requests_stop_generating_and_do_not_delay_the_next(demo_shop_real, tmp_path):
    engine = SlowEngine()
    shop = shop_with(demo_shop_real, AdmissionGenerator(engine, max_active=2, max_queue=64))
    with serving(shop, tmp_path) as url:
        timed_turn(url)  # warm
        idle = min(timed_turn(url) for _ in range(2))
        before = engine.produced
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(abandon, [url] * 16))  # 16 clients give up after 0.3 s
        busy = timed_turn(url)
        time.sleep(0.3)
        wasted = engine.produced - before - 50  # chunks made for the 16 abandoned turns
    # Without cancellation the 16 replies (~1 s each, two at a time) hold the engine for ~8 s.
    assert busy <= 2 * idle + 0.5, (idle, busy)
    assert wasted < 16 * 50 / 2, wasted


def test_a_full_queue_gets_503_with_retry_after(demo_shop_real, tmp_path):
    engine = SlowEngine()
    shop = shop_with(
        demo_shop_real, AdmissionGenerator(engine, max_active=1, max_queue=0), max_concurrent=1, max_queued=0
    )
    with serving(shop, tmp_path) as url, ThreadPoolExecutor(1) as pool:
        first = pool.submit(timed_turn, url)
        time.sleep(0.4)
        r = httpx.post(f"{url}/v1/chat", json=TURN, timeout=10)
        assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1
        error = r.json()["error"]
        assert error["type"] == "overloaded" and "busy" in error["message"] and error["code"] == 503
        assert httpx.get(f"{url}/livez").json() == {"status": "alive"}
        assert first.result() < 10


class LoadingEngine:
    """An engine whose load takes until `loaded` is set (or fails, with `fail`)."""

    name = "loading"

    def __init__(self, fail: bool = False) -> None:
        self.loaded = threading.Event()
        self.fail = fail

    def warm_up(self) -> None:
        self.loaded.wait(10)
        if self.fail:
            raise GeneratorError("cannot load the model from /nowhere")

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        yield "ok."


def test_readiness_waits_for_start_up_loading_while_liveness_answers(demo_shop_real, tmp_path):
    engine = LoadingEngine()
    shop = shop_with(demo_shop_real, engine)
    app = create_app(shop, feedback=FeedbackStore(tmp_path / "feedback.db"))
    with TestClient(app) as client:
        assert client.get("/livez").status_code == 200
        loading = client.get("/readyz")
        assert loading.status_code == 503 and loading.json()["status"] == "loading"
        engine.loaded.set()
        deadline = time.time() + 10
        while client.get("/readyz").status_code != 200 and time.time() < deadline:
            time.sleep(0.05)
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and ready["problems"] == [] and ready["load_seconds"] is not None


def test_a_model_that_fails_to_load_leaves_the_replica_ready_and_says_why(demo_shop_real, tmp_path):
    engine = LoadingEngine(fail=True)
    engine.loaded.set()
    shop = shop_with(demo_shop_real, engine)
    app = create_app(shop, feedback=FeedbackStore(tmp_path / "feedback.db"))
    with TestClient(app) as client:
        deadline = time.time() + 10
        while client.get("/readyz").json()["status"] == "loading" and time.time() < deadline:
            time.sleep(0.05)
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert "cannot load the model from /nowhere" in ready.json()["problems"][0]


def test_readiness_lists_the_model_servers_of_a_remote_engine(demo_shop_real, tmp_path):
    """Through the stand-in wrapper too: an operator sees which replica of the model is down."""
    from assistant.generation.fallback import FallbackGenerator

    class Servers(LoadingEngine):
        def endpoint_status(self) -> list[dict[str, object]]:
            return [
                {"url": "http://gpu-a:8000", "up": True, "outstanding": 2},
                {"url": "http://gpu-b:8000", "up": False, "last_error": "connection refused"},
            ]

    engine = Servers()
    engine.loaded.set()
    shop = shop_with(demo_shop_real, FallbackGenerator(engine, LoadingEngine))
    app = create_app(shop, feedback=FeedbackStore(tmp_path / "feedback.db"))
    with TestClient(app) as client:
        deadline = time.time() + 10
        while client.get("/readyz").json()["status"] == "loading" and time.time() < deadline:
            time.sleep(0.05)
        servers = client.get("/readyz").json()["model_servers"]
    assert [s["url"] for s in servers] == ["http://gpu-a:8000", "http://gpu-b:8000"]
    assert servers[1]["up"] is False and servers[1]["last_error"] == "connection refused"
