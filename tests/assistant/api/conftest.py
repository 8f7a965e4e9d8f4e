"""One app and client for every API test: the demo shop (real retrieval, scripted generator) with a
fresh feedback store, called from a local address unless a test says otherwise."""

import pytest
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.stores.feedback import FeedbackStore

LOCAL = ("127.0.0.1", 40000)
REMOTE = ("203.0.113.7", 40000)


@pytest.fixture
def app(demo_shop_real, tmp_path):
    return create_app(demo_shop_real, feedback=FeedbackStore(tmp_path / "feedback.db"))


@pytest.fixture
def client(app):
    return TestClient(app, client=LOCAL)


def app_with(shop, tmp_path, **api):
    """An API app over `shop` with other `api` settings (keys, tokens, limits) and its own home."""
    from assistant.config import APISettings

    settings = shop.settings.model_copy(
        update={
            "api": APISettings.model_validate({**shop.settings.api.model_dump(), **api}),
            "home": tmp_path,
        }
    )
    copy = type(shop).__new__(type(shop))
    copy.__dict__.update(shop.__dict__, settings=settings)
    return create_app(copy, feedback=FeedbackStore(tmp_path / "f.db")), copy


def live_server(app):
    """`app` on a real uvicorn server on a free loopback port (real sockets: disconnects, SDKs)."""
    from assistant.api.loadbench import running
    from tests.helpers import free_port

    return running(app, free_port())
