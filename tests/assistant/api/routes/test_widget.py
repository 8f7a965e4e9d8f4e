"""The storefront widget's server side (issue 18): `/widget.js` and its demo images are public and
cacheable, and the API answers cross-origin calls only from `api.widget_origins` (CORS), with
preflights passing without a key as browsers send them."""

import pytest
from fastapi.testclient import TestClient

from tests.assistant.api.conftest import REMOTE, app_with

pytestmark = pytest.mark.slow

SHOP = "https://shop.example"
KEYS = [{"key": "pk_storefront_0123456789", "role": "storefront", "name": "widget"}]
STOREFRONT = {"Authorization": "Bearer pk_storefront_0123456789"}
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


@pytest.fixture
def remote(demo_shop_real, tmp_path):
    """A stranger's browser against an API with keys and the shop's origin allowed."""
    app = app_with(demo_shop_real, tmp_path, keys=KEYS, widget_origins=[SHOP])[0]
    return TestClient(app, client=REMOTE)


def test_the_script_is_public_typed_and_revalidated_by_etag(remote):
    first = remote.get("/widget.js")
    assert first.status_code == 200
    assert first.headers["content-type"] == "text/javascript; charset=utf-8"
    assert 'customElements.define("shop-assistant"' in first.text
    assert first.headers["cache-control"].startswith("public")
    etag = first.headers["etag"]
    again = remote.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert remote.get("/widget.js", headers={"If-None-Match": '"stale"'}).status_code == 200


def test_demo_images_are_served_by_the_api_without_a_key(remote):
    image = remote.get("/static/demo/footwear-0.svg")
    assert image.status_code == 200 and image.headers["content-type"].startswith("image/svg+xml")
    assert image.headers["etag"]
    assert (
        remote.post("/v1/chat", json={"message": "hi"}).status_code == 401
    )  # the API itself still needs one


def test_a_preflight_from_the_shop_passes_without_a_key(remote):
    response = remote.options("/v1/chat", headers={"Origin": SHOP, **PREFLIGHT})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "x-customer-token" in allowed
    assert "POST" in response.headers["access-control-allow-methods"]


def test_a_preflight_from_another_origin_is_refused(remote):
    response = remote.options("/v1/chat", headers={"Origin": "https://evil.example", **PREFLIGHT})
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_without_widget_origins_no_origin_is_allowed(demo_shop_real, tmp_path):
    client = TestClient(app_with(demo_shop_real, tmp_path, keys=KEYS)[0], client=REMOTE)
    response = client.options("/v1/chat", headers={"Origin": SHOP, **PREFLIGHT})
    assert response.status_code == 400 and "access-control-allow-origin" not in response.headers


def test_the_shop_page_can_read_answers_and_refusals(remote):
    """The real call carries the CORS header, and so does a refusal, so the widget can show why."""
    ok = remote.post("/v1/chat", json={"message": "waterproof boots"}, headers={"Origin": SHOP, **STOREFRONT})
    assert ok.status_code == 200 and ok.json()["products"]
    assert ok.headers["access-control-allow-origin"] == SHOP
    refused = remote.post("/v1/feedback", json={"item_id": "x", "verdict": "up"}, headers={"Origin": SHOP})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == SHOP
    assert "API key" in refused.json()["error"]["message"]
