"""The REST `OrderSource` against a small local order API serving the demo shop's orders: the same
answers as the SQLite store, scoping enforced even when the endpoint gets it wrong, the bearer
token sent, and a down or malformed service reported, never a failed chat turn."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from assistant.config import ConfigError, load_settings
from assistant.shop import demo_shop_dir
from assistant.stores.order_sources import open_orders
from assistant.stores.orders import OrderSource, OrderStore
from assistant.stores.orders_rest import OrderSourceUnavailable, RestOrderSource
from tests.helpers import free_port

DEMO = json.loads((demo_shop_dir() / "orders.json").read_text())
for _order in DEMO["orders"]:  # a shop's API names its items (the SQLite seed falls back to the id)
    for _item in _order["items"]:
        _item.setdefault("title", _item["product_id"])


class OrderAPI(BaseHTTPRequestHandler):
    """The four documented routes over the demo data; `leak` makes it ignore the customer."""

    leak = False
    broken = False
    seen_auth: list[str] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        OrderAPI.seen_auth.append(self.headers.get("Authorization", ""))
        url = urlparse(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        customers = {c["id"]: c for c in DEMO["customers"]}
        if self.broken:
            return self._send(200, [{"id": "C1001"}])  # no name: not a Customer
        if parts == ["api", "customers"]:
            return self._send(200, list(customers.values()))
        if len(parts) >= 3 and parts[:2] == ["api", "customers"]:
            cid = parts[2]
            if cid not in customers:
                return self._send(404, {"error": "no such customer"})
            if len(parts) == 3:
                return self._send(200, customers[cid])
            orders = sorted(
                (o for o in DEMO["orders"] if self.leak or o["customer_id"] == cid),
                key=lambda o: (o["placed_at"], o["order_id"]),
                reverse=True,
            )
            if len(parts) == 4:
                limit = int(parse_qs(url.query).get("limit", ["5"])[0])
                return self._send(200, orders[:limit])
            found = [o for o in orders if o["order_id"].lower() == parts[4].lower()]
            return self._send(200, found[0]) if found else self._send(404, {"error": "not found"})
        self._send(404, {"error": "no route"})


@pytest.fixture
def order_api() -> Iterator[str]:
    OrderAPI.leak = OrderAPI.broken = False
    OrderAPI.seen_auth = []
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), OrderAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()


@pytest.fixture
def sqlite_orders(tmp_path) -> OrderStore:
    store = OrderStore(tmp_path / "orders.db")
    store.seed(DEMO)
    return store


def test_answers_like_the_sqlite_store(order_api, sqlite_orders):
    rest = RestOrderSource(order_api)
    assert isinstance(rest, OrderSource)
    assert [c.id for c in rest.customers()] == [c.id for c in sqlite_orders.customers()]
    for customer in sqlite_orders.customers():
        assert rest.customer(customer.id) == customer
        expected = sqlite_orders.orders_for(customer.id, limit=3)
        got = rest.orders_for(customer.id, limit=3)
        assert [o.order_id for o in got] == [o.order_id for o in expected]
        assert [o.total for o in got] == [o.total for o in expected]
        for order in expected:
            found = rest.order_for(customer.id, order.order_id.lower())
            assert found is not None and found.order_id == order.order_id
    assert rest.customer("C9999") is None and rest.customer(None) is None


def test_another_customers_order_is_withheld_even_if_the_endpoint_returns_it(order_api, caplog):
    OrderAPI.leak = True
    rest = RestOrderSource(order_api)
    other = next(o for o in DEMO["orders"] if o["customer_id"] != "C1001")
    assert rest.order_for("C1001", other["order_id"]) is None
    assert all(o.customer_id == "C1001" for o in rest.orders_for("C1001", limit=50))
    assert "order probe" in caplog.text and other["order_id"] in caplog.text


def test_the_bearer_token_is_sent(order_api):
    RestOrderSource(order_api, api_key="order-api-secret").customer("C1001")
    assert OrderAPI.seen_auth[-1] == "Bearer order-api-secret"


def test_a_down_or_malformed_service_is_reported_with_its_url(order_api):
    down = f"http://127.0.0.1:{free_port()}/api"
    with pytest.raises(OrderSourceUnavailable, match=f"{down}/customers/C1001 cannot be reached"):
        RestOrderSource(down, timeout_s=1).customer("C1001")
    OrderAPI.broken = True
    with pytest.raises(OrderSourceUnavailable, match="another shape"):
        RestOrderSource(order_api).customers()


def test_settings_pick_the_source(tmp_path, order_api):
    rest = open_orders(load_settings(home=tmp_path, shop={"orders_source": "rest", "orders_url": order_api}))
    assert isinstance(rest, RestOrderSource) and rest.customer("C1001") is not None
    assert isinstance(open_orders(load_settings(home=tmp_path)), OrderStore)
    with pytest.raises(ConfigError, match="needs shop.orders_url"):
        open_orders(load_settings(home=tmp_path, shop={"orders_source": "rest"}))
    with pytest.raises(ConfigError, match="available: rest, sqlite"):
        open_orders(load_settings(home=tmp_path, shop={"orders_source": "erp"}))


@pytest.mark.slow
def test_chat_says_orders_are_unavailable_instead_of_failing(demo_shop_real):
    from assistant.chat.protocol import ChatRequest
    from assistant.chat.service import ChatOptions, ChatService
    from assistant.generation.fake import FakeGenerator

    down = RestOrderSource(f"http://127.0.0.1:{free_port()}/api", timeout_s=1)
    chat = ChatService(demo_shop_real.index, FakeGenerator(), down, ChatOptions())
    response = chat.respond(ChatRequest(message="where is my order HP-ORD-50001?", customer_id="C1001"))
    assert response.route == "order" and "can't look up orders right now" in response.text
    assert response.citations == []
