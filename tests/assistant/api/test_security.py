"""Trust boundaries of the API (issue 13), one test per attack: each failed before the change.

Customer identity only from a verified token; operators name customers only with an agent/admin key
(audited); X-Forwarded-For believed only from trusted proxies; the credential and the body size are
checked before the body is read; rate limits; bad bytes answered 400/401; one error shape."""

import json
import time

import jwt
import pytest
from fastapi.testclient import TestClient

from tests.assistant.api.conftest import LOCAL, REMOTE, app_with

pytestmark = pytest.mark.slow

SECRET = "test-jwt-secret-of-32-bytes-long!!"
KEYS = [
    {"key": "storefront-key-0123456789", "role": "storefront", "name": "widget"},
    {"key": "agent-key-0123456789abcd", "role": "agent", "name": "dana"},
    {"key": "admin-key-0123456789abcd", "role": "admin", "name": "ops"},
]
STOREFRONT, AGENT, ADMIN = ({"Authorization": f"Bearer {k['key']}"} for k in KEYS)


def _app(shop, tmp_path, **api):
    return app_with(shop, tmp_path, **api)[0]


def token(customer, *, secret=SECRET, lifetime=600, aud="shopassist"):
    now = int(time.time())
    return jwt.encode({"sub": customer, "aud": aud, "iat": now, "exp": now + lifetime}, secret, "HS256")


@pytest.fixture
def secured(demo_shop_real, tmp_path):
    return _app(demo_shop_real, tmp_path, keys=KEYS, jwt_secret=SECRET)


@pytest.fixture
def other_order(demo_shop_real):
    return next(iter(demo_shop_real.orders.orders_for("C1002"))).order_id


def test_a_customer_token_reads_only_its_own_orders(secured, other_order):
    client = TestClient(secured, client=REMOTE)
    mine = {**STOREFRONT, "X-Customer-Token": token("C1001")}
    own = client.post("/v1/chat", json={"message": "where is my order HP-ORD-50001?"}, headers=mine)
    assert own.status_code == 200 and own.json()["citations"][0]["id"] == "HP-ORD-50001"
    # naming another customer in the body is refused, not obeyed
    other = client.post(
        "/v1/chat", json={"message": f"status of {other_order}", "customer_id": "C1002"}, headers=mine
    )
    assert other.status_code == 403 and "customer token" in other.json()["error"]["message"]
    # asking for the other customer's order id reads like an order that does not exist
    probe = client.post("/v1/chat", json={"message": f"status of order {other_order}"}, headers=mine).json()
    assert other_order not in json.dumps(probe["citations"])
    # the token alone is a credential too (the widget's only one)
    alone = client.post(
        "/v1/chat", json={"message": "my orders"}, headers={"Authorization": f"Bearer {token('C1001')}"}
    )
    assert alone.status_code == 200 and all(c["id"].startswith("HP-ORD-") for c in alone.json()["citations"])
    assert other_order not in json.dumps(alone.json())


def test_follow_ups_cannot_switch_customer(secured, other_order):
    client = TestClient(secured, client=REMOTE)
    headers = {"Authorization": f"Bearer {token('C1001')}"}
    first = client.post("/v1/chat", json={"message": "waterproof boots"}, headers=headers).json()
    state = {**first["state"], "customer_id": "C1002"}  # a forged state field is not an identity
    follow = client.post(
        "/v1/chat", json={"message": f"and order {other_order}?", "state": state}, headers=headers
    )
    assert follow.status_code in (200, 422) and other_order not in json.dumps(
        follow.json().get("citations", [])
    )


def test_bad_expired_or_foreign_tokens_are_401(secured):
    client = TestClient(secured, client=REMOTE)
    for bad in (
        token("C1001", secret="another-secret-of-32-bytes-long!!!"),
        token("C1001", lifetime=-10),
        token("C1001", aud="someone-else"),
        token("C1001", lifetime=86400),
    ):
        r = client.post("/v1/chat", json={"message": "hi"}, headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401 and r.json()["error"]["type"] == "unauthorized"


def test_agent_assist_needs_an_operator_key_and_is_audited(secured, demo_shop_real, other_order):
    client = TestClient(secured, client=REMOTE)
    ticket = {"text": f"where is order {other_order}?", "customer_id": "C1002"}
    for shopper in (STOREFRONT, {"Authorization": f"Bearer {token('C1001')}"}):
        r = client.post("/v1/suggest", json=ticket, headers=shopper)
        assert r.status_code == 403 and "agent" in r.json()["error"]["message"]
    ok = client.post("/v1/suggest", json=ticket, headers=AGENT)
    assert ok.status_code == 200
    entry = secured.state.api.audit.entries("C1002")[0]
    assert (entry.actor, entry.role, entry.action, entry.order_id) == (
        "dana",
        "agent",
        "suggest",
        other_order,
    )
    assert client.post("/v1/copy", json={"product_id": "HP-1002"}, headers=STOREFRONT).status_code == 403


def test_forwarded_for_is_believed_only_from_trusted_proxies(demo_shop_real, tmp_path):
    # no keys: only this machine may call; a remote caller claiming to be local stays remote
    app = _app(demo_shop_real, tmp_path)
    spoof = TestClient(app, client=REMOTE).post(
        "/v1/search", json={"query": "boots"}, headers={"X-Forwarded-For": "127.0.0.1"}
    )
    assert spoof.status_code == 403
    # behind a local reverse proxy (trusted), the real client is the forwarded one: remote, refused
    proxied = _app(demo_shop_real, tmp_path, trusted_proxies=["127.0.0.1/32"])
    r = TestClient(proxied, client=LOCAL).post(
        "/v1/search", json={"query": "boots"}, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert r.status_code == 403
    # with keys configured, a local caller needs one too (by default)
    keyed = TestClient(_app(demo_shop_real, tmp_path, keys=KEYS), client=LOCAL)
    assert keyed.post("/v1/search", json={"query": "boots"}).status_code == 401
    assert keyed.post("/v1/search", json={"query": "boots"}, headers=STOREFRONT).status_code == 200


def test_the_credential_and_body_size_are_checked_before_the_body_is_read(demo_shop_real, tmp_path):
    client = TestClient(_app(demo_shop_real, tmp_path, keys=KEYS, max_body_bytes=4096), client=REMOTE)
    truncated = client.post(
        "/v1/chat", content=b'{"message": "bo', headers={"Content-Type": "application/json"}
    )
    assert truncated.status_code == 401  # not 422: nothing was parsed for a caller without a key
    big = b'{"message": "' + b"x" * 100_000 + b'"}'
    assert (
        client.post("/v1/chat", content=big, headers={"Content-Type": "application/json"}).status_code == 401
    )
    r = client.post("/v1/chat", content=big, headers={**STOREFRONT, "Content-Type": "application/json"})
    assert r.status_code == 413 and "api.max_body_bytes" in r.json()["error"]["message"]

    def chunks():  # no Content-Length: counted as it streams
        for _ in range(50):
            yield b"x" * 1000

    streamed = client.post(
        "/v1/chat", content=chunks(), headers={**STOREFRONT, "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


def test_rate_limits_answer_429_with_retry_after(demo_shop_real, tmp_path):
    app = _app(demo_shop_real, tmp_path, keys=KEYS, rate_limit="5/minute", rate_limit_per_address="8/minute")
    client = TestClient(app, client=REMOTE)
    codes = [
        client.post("/v1/search", json={"query": "boots"}, headers=STOREFRONT).status_code for _ in range(6)
    ]
    assert codes[:5] == [200] * 5 and codes[5] == 429
    r = client.post("/v1/search", json={"query": "boots"}, headers=STOREFRONT)
    assert (
        r.status_code == 429
        and int(r.headers["retry-after"]) >= 1
        and r.json()["error"]["type"] == "rate_limited"
    )
    # refused requests count per address: a keyless flood is cut off too
    flood = TestClient(app, client=("198.51.100.4", 5000))
    codes = [flood.post("/v1/search", json={"query": "x"}).status_code for _ in range(10)]
    assert codes[:8] == [401] * 8 and codes[8:] == [429, 429]


def test_bad_bytes_are_400_or_401_never_500(secured):
    client = TestClient(secured, client=REMOTE)
    surrogate = b'{"message": "boots \\ud800"}'
    r = client.post("/v1/chat", content=surrogate, headers={**STOREFRONT, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_message"
    streamed = client.post(
        "/v1/chat",
        content=surrogate.replace(b"}", b', "stream": true}'),
        headers={**STOREFRONT, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 400
    r = client.post("/v1/search", json={"query": "boots"}, headers={"Authorization": "Bearer ключ".encode()})
    assert r.status_code == 401
    r = client.post(
        "/v1/search", content=b'{"query": ', headers={**STOREFRONT, "Content-Type": "application/json"}
    )
    assert r.status_code == 422 and "not valid JSON" in r.json()["error"]["message"]


def test_every_status_has_the_error_shape_and_operator_pages_are_protected(secured):
    client = TestClient(secured, client=REMOTE)
    for response, status in (
        (client.get("/v1/nope", headers=STOREFRONT), 404),
        (client.get("/v1/chat", headers=STOREFRONT), 405),
        (client.get("/metrics"), 401),
        (client.get("/metrics", headers=STOREFRONT), 403),
        (client.get("/openapi.json", headers=STOREFRONT), 403),
    ):
        assert response.status_code == status and set(response.json()["error"]) == {"message", "type", "code"}
    assert client.get("/metrics", headers=ADMIN).status_code == 200
    assert client.get("/openapi.json", headers=AGENT).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_page_assets_do_not_use_up_the_rate_limit_and_sockets_meet_the_same_door(demo_shop_real, tmp_path):
    from starlette.websockets import WebSocketDisconnect

    app = _app(demo_shop_real, tmp_path, keys=KEYS, rate_limit_per_address="3/minute")
    client = TestClient(app, client=REMOTE)
    assert all(client.get("/healthz").status_code == 200 for _ in range(10))  # not counted
    codes = [
        client.post("/v1/search", json={"query": "boots"}, headers=STOREFRONT).status_code for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/v1/anything"):
        pass
    assert closed.value.code == 1008  # no credential: the socket is closed before the app sees it
