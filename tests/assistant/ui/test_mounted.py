"""The shopper app and the operator console mounted under the API (issue 13): no customer list and
no customer choice for strangers, the console behind an operator login, both behind the API's keys.

Drives Gradio's own HTTP API (what `gradio_client` and an attacker's script use) through a TestClient;
the real retrieval with the scripted generator (the `demo_shop_real` fixture)."""

import json
import time
from contextlib import ExitStack

import jwt
import pytest
from fastapi.testclient import TestClient

from assistant.ui.mount import mount_apps
from tests.assistant.api.conftest import LOCAL, REMOTE, app_with

pytestmark = pytest.mark.slow

SECRET = "ui-test-jwt-secret-32-bytes-long!!"
KEYS = [
    {"key": "agent-key-0123456789abcd", "role": "agent"},
    {"key": "storefront-key-0123456789", "role": "storefront"},
]


def _mounted(shop, tmp_path, **api):
    app, copy = app_with(shop, tmp_path, **api)
    return mount_apps(app, copy, bind_host="127.0.0.1")


@pytest.fixture
def open_client():
    """Clients that run the app's lifespan (Gradio's queue workers start there), closed after the test."""
    with ExitStack() as stack:
        yield lambda app, **kwargs: stack.enter_context(TestClient(app, **kwargs))


def _call(client, path, data, headers=None):
    """Gradio's two-step call API: POST the inputs, then read the result events."""
    r = client.post(f"{path}/gradio_api/call/respond", json={"data": data}, headers=headers or {})
    if r.status_code != 200:
        return r.status_code, r.text
    event_id = r.json()["event_id"]
    stream = client.get(f"{path}/gradio_api/call/respond/{event_id}", headers=headers or {})
    return stream.status_code, stream.text


def _inputs(client, path):
    info = client.get(f"{path}/gradio_api/info").json()
    return [p["label"] for p in info["named_endpoints"]["/respond"]["parameters"]]


@pytest.fixture
def keyed(demo_shop_real, tmp_path):
    return _mounted(demo_shop_real, tmp_path, keys=KEYS, jwt_secret=SECRET)


def test_the_storefront_page_lists_no_customers_and_takes_none_from_the_form(
    keyed, demo_shop_real, open_client
):
    client = open_client(keyed, client=REMOTE)
    config = client.get("/ui/config")
    assert config.status_code == 200
    names = [c.name for c in demo_shop_real.orders.customers()]
    assert not any(n in config.text for n in names) and "C1002" not in config.text
    other = next(iter(demo_shop_real.orders.orders_for("C1002"))).order_id
    assert len(_inputs(client, "/ui")) == 6  # message, max price, category, brand, in stock, demo picker
    status, text = _call(
        client, "/ui", ["where are my orders?", None, "(any)", "(any)", False, "Daniel Okafor (C1002)"]
    )
    assert status == 200 and "event: complete" in text
    assert other not in text and "Daniel" not in text


def test_the_customer_comes_from_the_token_cookie(keyed, demo_shop_real, open_client):
    now = int(time.time())
    token = jwt.encode({"sub": "C1001", "aud": "shopassist", "iat": now, "exp": now + 600}, SECRET, "HS256")
    client = open_client(keyed, client=REMOTE, cookies={"shopassist_customer": token})
    status, text = _call(
        client, "/ui", ["where is my order HP-ORD-50001?", None, "(any)", "(any)", False, None]
    )
    assert status == 200 and "HP-ORD-50001" in text
    other = next(iter(demo_shop_real.orders.orders_for("C1002")))
    status, text = _call(
        client, "/ui", [f"status of order {other.order_id}", None, "(any)", "(any)", False, None]
    )
    assert status == 200 and other.tracking_number and other.tracking_number not in text  # nothing of theirs


def test_the_console_needs_an_operator_login(keyed, open_client):
    client = open_client(keyed, client=REMOTE)
    assert client.post(
        "/console/gradio_api/call/suggest", json={"data": ["where is my order?"]}
    ).status_code in (401, 403)
    assert client.get("/console/config").status_code in (401, 403)
    bad = client.post("/console/login", data={"username": "x", "password": "storefront-key-0123456789"})
    assert bad.status_code in (400, 401)
    good = client.post("/console/login", data={"username": "dana", "password": "agent-key-0123456789abcd"})
    assert good.status_code == 200
    assert client.get("/console/config").status_code == 200


def test_without_keys_strangers_get_neither_app(demo_shop_real, tmp_path):
    app = _mounted(demo_shop_real, tmp_path)
    remote = TestClient(app, client=REMOTE)
    assert remote.get("/ui/config").status_code == 403
    assert remote.post("/console/gradio_api/call/suggest", json={"data": ["x"]}).status_code == 403
    local = TestClient(app, client=LOCAL)
    assert local.get("/ui/config").status_code == 200
    assert json.loads(local.get("/console/config").text)  # the local operator needs no login
