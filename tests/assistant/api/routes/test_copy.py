"""POST /v1/copy over the demo shop (real retrieval store, scripted generator): a checked result,
controls honoured, clear errors, and the same authorization as the rest of the API."""

import pytest
from fastapi.testclient import TestClient

from tests.assistant.api.conftest import REMOTE

pytestmark = pytest.mark.slow


def test_copy_for_a_stored_product_is_checked_and_covers_its_attributes(client, demo_shop_real):
    demo_shop_real.generator.enqueue(
        "A rugged boot with a black finish and a 3-year warranty. Ready for long days on rocky trails and wet meadows."
    )
    r = client.post(
        "/v1/copy", json={"product_id": "HP-1001", "controls": {"tone": "technical", "form": "bullets"}}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["product_id"] == "HP-1001" and body["tone"] == "technical" and body["form"] == "bullets"
    assert body["unsupported"] == [] and body["coverage"] >= 0.8 and body["length_ok"]
    assert "- Brand: Ridgeback Trail Co." in body["text"].splitlines()
    flagged = {c["text"] for d in body["drafts"] for c in d["unsupported"]}
    assert {"black", "3-year warranty"} <= flagged
    assert all(body["text"][c["start"] : c["end"]] == c["text"] for c in body["claims"])


def test_copy_from_attributes_and_a_language_note(client):
    r = client.post(
        "/v1/copy",
        json={
            "attributes": {"Title": "Trail Mug", "Colour": "sage green", "Capacity": "350 ml"},
            "controls": {"language": "es"},
        },
    )
    body = r.json()
    assert r.status_code == 200 and body["source"] == "template" and "inglés" in body["language_note"]
    assert "350 ml" in body["text"] and body["unsupported"] == []


def test_bad_copy_requests_get_clear_errors(client):
    r = client.post("/v1/copy", json={"product_id": "NOPE"})
    assert r.status_code == 404 and "no product with id 'NOPE'" in r.json()["error"]["message"]
    r = client.post("/v1/copy", json={"product_id": "HP-1001", "controls": {"tone": "loud"}})
    assert r.status_code == 422 and "tone" in r.json()["error"]["message"]
    r = client.post("/v1/copy", json={"product_id": "HP-1001", "adapter": "no-such-adapter"})
    assert r.status_code == 400 and "no adapter named 'no-such-adapter'" in r.json()["error"]["message"]
    r = client.post("/v1/copy", json={})
    assert r.status_code == 422 and "product_id or attributes" in r.json()["error"]["message"]


def test_copy_needs_a_key_from_a_remote_client(app):
    r = TestClient(app, client=REMOTE).post("/v1/copy", json={"product_id": "HP-1001"})
    assert r.status_code == 403
