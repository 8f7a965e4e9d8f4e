"""The REST API over the demo shop (real retrieval, scripted generator): routes, SSE streaming,
authorization (local vs remote, API keys), order scoping, feedback, health and metrics."""

import json

import pytest
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.stores.feedback import FeedbackStore
from tests.assistant.api.conftest import REMOTE

pytestmark = pytest.mark.slow


def _events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_chat_json_and_sse_stream_agree(client):
    plain = client.post("/v1/chat", json={"message": "waterproof boots under 100"})
    assert plain.status_code == 200
    body = plain.json()
    assert body["route"] == "products" and body["action"] == "answer" and body["id"]
    assert all(card["price"] <= 100 for card in body["products"])
    with client.stream(
        "POST", "/v1/chat", json={"message": "waterproof boots under 100", "stream": True}
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = _events(r.read().decode())
    kinds = [k for k, _ in events]
    assert kinds[0] == "products" and kinds[-1] == "done" and "delta" in kinds
    done = events[-1][1]["response"]
    streamed = "".join(e["delta"] for k, e in events if k == "delta")
    assert streamed.split() == done["text"].split()  # the stream spells out the final reply
    assert [c["id"] for c in done["products"]] == [c["id"] for c in body["products"]]


def test_bad_input_gets_a_clear_error_not_a_broken_stream(client):
    r = client.post("/v1/chat", json={"message": "   ", "stream": True})
    assert r.status_code == 400 and "empty" in r.json()["error"]["message"]
    r = client.post("/v1/chat", json={"mesage": "typo"})
    assert r.status_code == 422 and "message" in r.json()["error"]["message"]
    r = client.post("/v1/search", json={"query": "boots", "filters": {"brands": ["NoSuchBrand"]}})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_filter"


def test_orders_are_scoped_to_the_signed_in_customer(client, demo_shop_real):
    other = next(iter(demo_shop_real.orders.orders_for("C1002"))).order_id
    own = client.post("/v1/chat", json={"message": "where is my order HP-ORD-50001?", "customer_id": "C1001"})
    assert own.json()["citations"][0]["id"] == "HP-ORD-50001"
    probe = client.post("/v1/chat", json={"message": f"status of order {other}", "customer_id": "C1001"})
    missing = client.post(
        "/v1/chat", json={"message": "status of order HP-ORD-99999", "customer_id": "C1001"}
    )
    assert other not in json.dumps(probe.json()["citations"])
    assert probe.json()["text"] == missing.json()["text"].replace("HP-ORD-99999", other)


def test_search_returns_cards_scores_and_parsed_filters(client):
    r = client.post("/v1/search", json={"query": "waterproof boots under 100", "top_k": 3})
    body = r.json()
    assert r.status_code == 200 and len(body["hits"]) == 3
    assert body["filters"]["price_max"] == 100 and "100" not in body["query_text"]
    assert body["hits"][0]["score"] >= body["hits"][-1]["score"]
    assert all(h["product"]["reasons"] for h in body["hits"])


def test_remote_clients_need_a_key(app, demo_shop_real, tmp_path):
    remote = TestClient(app, client=REMOTE)
    r = remote.post("/v1/search", json={"query": "boots"})
    assert r.status_code == 403 and "api.keys" in r.json()["error"]["message"]
    assert remote.get("/healthz").status_code == 200  # health stays open for load balancers
    keyed_settings = demo_shop_real.settings.model_copy(
        update={"api": demo_shop_real.settings.api.model_copy(update={"keys": ["s3cret-storefront-key"]})}
    )
    keyed_shop = type(demo_shop_real).__new__(type(demo_shop_real))
    keyed_shop.__dict__.update(demo_shop_real.__dict__, settings=keyed_settings)
    keyed = TestClient(create_app(keyed_shop, feedback=FeedbackStore(tmp_path / "f.db")), client=REMOTE)
    assert keyed.post("/v1/search", json={"query": "boots"}).status_code == 401
    wrong = keyed.post("/v1/search", json={"query": "boots"}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ok = keyed.post(
        "/v1/search", json={"query": "boots"}, headers={"Authorization": "Bearer s3cret-storefront-key"}
    )
    assert ok.status_code == 200 and ok.json()["hits"]


def test_feedback_is_stored_scrubbed_and_validated(client, app):
    reply = client.post("/v1/chat", json={"message": "how long do returns take?"}).json()
    r = client.post(
        "/v1/feedback",
        json={
            "item_id": reply["id"],
            "verdict": "down",
            "comment": "call me at 555-201-3344",
            "intent": reply["route"],
        },
    )
    assert r.status_code == 200 and r.json()["stored"]
    stored = app.state.api.feedback.all("chat")
    assert stored[-1].item_id == reply["id"] and "555-201-3344" not in stored[-1].comment
    bad = client.post("/v1/feedback", json={"item_id": "x", "verdict": "accept"})
    assert bad.status_code == 422 and "does not apply to chat" in bad.json()["error"]["message"]
    edit = client.post("/v1/feedback", json={"kind": "suggest", "item_id": "s1", "verdict": "edit"})
    assert edit.status_code == 422 and "final_text" in edit.json()["error"]["message"]


def test_health_metrics_and_openapi(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["products"] > 100 and health["faq_documents"] > 0
    client.post("/v1/chat", json={"message": "waterproof boots"})
    text = client.get("/metrics").text
    assert 'shopassist_chat_turns_total{action="answer",route="products"}' in text
    # HTTP series are labelled by route template (prometheus-fastapi-instrumentator), never by raw path
    assert 'shopassist_http_requests_total{handler="/v1/chat",method="POST",status="200"}' in text
    spec = client.get("/openapi.json").json()
    assert {"/v1/chat", "/v1/search", "/v1/feedback", "/healthz"} <= set(spec["paths"])


def test_follow_up_over_the_api_echoes_the_state(client):
    first = client.post("/v1/chat", json={"message": "waterproof boots"}).json()
    second = client.post("/v1/chat", json={"message": "the second one", "state": first["state"]}).json()
    assert [p["id"] for p in second["products"]] == [first["products"][1]["id"]]


def test_a_retried_feedback_write_is_stored_once(client, app):
    body = {"item_id": "reply-1", "verdict": "up"}
    first = client.post("/v1/feedback", json=body, headers={"Idempotency-Key": "k-123"})
    again = client.post("/v1/feedback", json=body, headers={"Idempotency-Key": "k-123"})
    other = client.post("/v1/feedback", json=body, headers={"Idempotency-Key": "k-456"})
    assert first.status_code == again.status_code == other.status_code == 200
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert [f.item_id for f in app.state.api.feedback.all("chat")].count("reply-1") == 2


def test_health_is_degraded_not_500_when_the_store_is_unreachable(client, app, monkeypatch):
    def down():
        raise ConnectionError("Could not connect to a Chroma server at http://127.0.0.1:8000")

    monkeypatch.setattr(
        app.state.api.shop.index.faq_collection, "count", down
    )  # the store is read for the FAQ count
    monkeypatch.setattr(app.state.api.shop.index.products_collection, "count", down)
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json()["status"] == "degraded"
    assert "vector store cannot be read" in r.json()["problems"][0] and "8000" in r.json()["problems"][0]
