"""A dependency that fails under the running API (the Chroma server, the disk) answers 503 in the one
error shape, naming what failed, with a Retry-After; `/healthz` says degraded; never a plain-text 500."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from chromadb.api.models.Collection import Collection
from chromadb.errors import InternalError
from click.testing import CliRunner
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.generation.fake import FakeGenerator
from assistant.stores.feedback import FeedbackStore
from tests.conftest import HashEmbedding
from tests.helpers import free_port, running_server

LOCAL = ("127.0.0.1", 40000)
CHAT = {"message": "waterproof boots under 100"}


def hashed_shop(settings: Any, monkeypatch: pytest.MonkeyPatch, *, ready: bool = True) -> Any:
    """The demo shop on the hashing embedding and the scripted generator: fast, and real Chroma."""
    from assistant.shop import Shop

    monkeypatch.setattr("assistant.shop.embedding_function", lambda *args, **kwargs: HashEmbedding())
    shop = Shop(settings, generator=FakeGenerator())
    if ready:
        shop.ensure_ready()
    return shop


def client_for(shop: Any, tmp_path: Path, **settings: Any) -> TestClient:
    if settings:
        shop.settings = shop.settings.model_copy(update=settings)
    return TestClient(create_app(shop, feedback=FeedbackStore(tmp_path / "feedback.db")), client=LOCAL)


def failing(monkeypatch: pytest.MonkeyPatch, fault: BaseException) -> None:
    """Every read of every collection raises `fault`, as when the store dies under the running API."""

    def down(*args: Any, **kwargs: Any) -> Any:
        raise fault

    for method in ("query", "get", "count"):
        monkeypatch.setattr(Collection, method, down)


def assert_unavailable(response: httpx.Response, kind: str, names: str) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"]) == (kind, 503) and names in error["message"], error
    assert int(response.headers["retry-after"]) >= 1


def test_a_chroma_server_failing_mid_run_is_503_naming_it(settings, monkeypatch, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    shop = hashed_shop(settings, monkeypatch)
    client = client_for(shop, tmp_path, store=settings.store.model_copy(update={"url": url}))
    assert client.post("/v1/search", json={"query": "boots"}).status_code == 200
    failing(monkeypatch, httpx.ConnectError("[Errno 111] Connection refused"))
    assert_unavailable(client.post("/v1/search", json={"query": "boots"}), "store_unavailable", url)
    assert_unavailable(client.post("/v1/chat", json=CHAT), "store_unavailable", url)
    # A stream has sent its status line already: the same typed error arrives in-band.
    streamed = client.post("/v1/chat", json={**CHAT, "stream": True}).text
    assert "event: error" in streamed and '"type": "store_unavailable"' in streamed and url in streamed
    openai_stream = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": CHAT["message"]}], "stream": True},
    ).text
    assert '"type": "store_unavailable"' in openai_stream and openai_stream.rstrip().endswith("[DONE]")
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    assert url in health.json()["problems"][0] and "start it" in health.json()["problems"][0]


def test_the_embedded_store_failing_mid_run_is_503_naming_its_folder(settings, monkeypatch, tmp_path):
    client = client_for(hashed_shop(settings, monkeypatch), tmp_path)
    failing(monkeypatch, InternalError("error returned from database: (code: 11) malformed"))
    path = str(settings.chroma_path)
    assert_unavailable(client.post("/v1/search", json={"query": "boots"}), "store_unavailable", path)
    assert_unavailable(client.post("/v1/chat", json=CHAT), "store_unavailable", path)


def test_a_full_disk_under_feedback_is_503_and_keeps_what_was_stored(settings, monkeypatch, tmp_path):
    client = client_for(hashed_shop(settings, monkeypatch), tmp_path)
    body = {"item_id": "reply-1", "verdict": "up"}
    assert client.post("/v1/feedback", json=body).status_code == 200
    store = client.app.state.api.feedback  # type: ignore[attr-defined]
    connect = store._connect

    def no_room() -> sqlite3.Connection:  # SQLite's own "database or disk is full", from a page cap
        db = connect()
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")
        return db

    monkeypatch.setattr(store, "_connect", no_room)
    response = client.post("/v1/feedback", json={**body, "text": "x" * 20000})
    assert_unavailable(response, "disk_error", "free space on")
    assert int(response.headers["retry-after"]) == 60
    assert [f.item_id for f in store.all()] == ["reply-1"]


def test_an_unexpected_library_error_is_a_json_500_not_plain_text(settings, monkeypatch, tmp_path):
    client = client_for(hashed_shop(settings, monkeypatch), tmp_path)
    client = TestClient(client.app, client=LOCAL, raise_server_exceptions=False)
    failing(monkeypatch, OSError(errno.EBADF, "Bad file descriptor"))  # a bug, not the disk refusing
    response = client.post("/v1/search", json={"query": "boots"})
    assert response.status_code == 500 and response.json()["error"]["type"] == "internal_error"
    assert "Bad file descriptor" not in response.text


@contextlib.contextmanager
def chroma_run(folder: Path, log: Path) -> Iterator[tuple[str, Any]]:
    """A `chroma run` server on `folder`, on a free loopback port (as in test_chroma_server)."""
    from tests.retrieval.test_chroma_server import CHROMA

    if not CHROMA.exists():
        pytest.skip(f"no `chroma` executable beside {sys.executable} (chromadb's server CLI)")
    port = free_port()
    cmd = [str(CHROMA), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False")
    with running_server(cmd, f"{url}/api/v2/heartbeat", log, env, timeout=60) as proc:
        yield url, proc


@pytest.mark.integration
def test_a_real_chroma_server_stopped_under_the_api_and_the_cli(settings, monkeypatch, tmp_path):
    from assistant.cli.main import cli

    with chroma_run(tmp_path / "data", tmp_path / "chroma.log") as (url, proc):
        settings.store = settings.store.model_copy(update={"url": url})
        shop = hashed_shop(settings, monkeypatch)
        counts = shop.index.counts()
        client = client_for(shop, tmp_path)
        assert client.post("/v1/search", json={"query": "boots"}).status_code == 200
        proc.terminate()
        proc.wait(timeout=20)
        assert_unavailable(client.post("/v1/search", json={"query": "boots"}), "store_unavailable", url)
        assert_unavailable(client.post("/v1/chat", json=CHAT), "store_unavailable", url)
        assert client.get("/healthz").json()["status"] == "degraded"
        monkeypatch.setenv("SHOPASSIST_HOME", str(settings.home))
        monkeypatch.setenv("SHOPASSIST_STORE__URL", url)
        result = CliRunner().invoke(cli, ["chat", "boots"])
        assert result.exit_code == 5 and result.output.count("\n") == 1 and url in result.output
    # Nothing stored was lost: a server started again on the same folder holds the same counts.
    with chroma_run(tmp_path / "data", tmp_path / "again.log") as (again, _):
        settings.store = settings.store.model_copy(update={"url": again})
        assert hashed_shop(settings, monkeypatch, ready=False).index.counts() == counts
