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
