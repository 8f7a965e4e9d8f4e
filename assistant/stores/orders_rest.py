"""`OrderSource` over the shop's own order system, by HTTP: orders stay where the shop keeps them.

The shop exposes four read-only JSON routes under one base URL (`shop.orders_url`); the assistant
only ever asks about the customer it names, which comes from a verified credential:

    GET {base}/customers                                  -> [Customer, ...]   (operator console)
    GET {base}/customers/{customer_id}                    -> Customer          (404: unknown)
    GET {base}/customers/{customer_id}/orders?limit=N     -> [Order, ...]      newest first
    GET {base}/customers/{customer_id}/orders/{order_id}  -> Order             (404: not this customer's)

Customer and Order are the JSON of `stores.orders.Customer` / `Order` (an order's `items` are
`{product_id, title, quantity, unit_price}`). Requests carry `Authorization: Bearer
{shop.orders_api_key}` when one is set. An order whose `customer_id` is not the customer asked
about is treated as not found (and logged as a probe), whatever the endpoint returned, so a bug in
the shop's scoping cannot leak one customer's order to another. A server that is down, slow or
answering garbage raises `OrderSourceUnavailable`, which the chat turns into "orders cannot be
looked up right now" instead of a failed reply.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from pydantic import TypeAdapter, ValidationError

from assistant.errors import Unavailable
from assistant.stores.orders import Customer, Order

log = logging.getLogger("shopassist.orders")

_CUSTOMERS = TypeAdapter(list[Customer])
_ORDERS = TypeAdapter(list[Order])


class OrderSourceUnavailable(Unavailable):
    """The shop's order system did not answer usably; the message names the URL and the reason."""


class RestOrderSource:
    def __init__(self, base_url: str, *, api_key: str | None = None, timeout_s: float = 5.0) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The JSON at `path`, or None for a 404; anything else unusable raises."""
        import httpx

        url = f"{self.base_url}{path}"
        try:
            response = self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise OrderSourceUnavailable(
                f"the order system at {url} cannot be reached ({type(exc).__name__}: {exc}); "
                "check shop.orders_url and that the service is up"
            ) from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise OrderSourceUnavailable(
                f"the order system at {url} answered {response.status_code}: {response.text[:200]}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise OrderSourceUnavailable(f"the order system at {url} did not answer JSON") from exc

    def _parse(self, adapter: TypeAdapter[Any], data: Any, path: str) -> Any:
        try:
            return adapter.validate_python(data)
        except ValidationError as exc:
            raise OrderSourceUnavailable(
                f"the order system at {self.base_url}{path} answered in another shape: "
                f"{exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
            ) from exc

    @staticmethod
    def _segment(value: str) -> str:
        return quote(value.strip(), safe="")

    def customer(self, customer_id: str | None) -> Customer | None:
        if not customer_id:
            return None
        path = f"/customers/{self._segment(customer_id)}"
        data = self._get(path)
        if data is None:
            return None
        found: Customer = self._parse(TypeAdapter(Customer), data, path)
        return found if found.id == customer_id else None

    def customers(self) -> list[Customer]:
        data = self._get("/customers")
        return [] if data is None else list(self._parse(_CUSTOMERS, data, "/customers"))

    def orders_for(self, customer_id: str, limit: int = 5) -> list[Order]:
        path = f"/customers/{self._segment(customer_id)}/orders"
        data = self._get(path, {"limit": limit})
        orders: list[Order] = [] if data is None else list(self._parse(_ORDERS, data, path))
        return [o for o in orders if self._owned(o, customer_id)][:limit]

    def order_for(self, customer_id: str, order_id: str) -> Order | None:
        path = f"/customers/{self._segment(customer_id)}/orders/{self._segment(order_id)}"
        data = self._get(path)
        if data is None:
            return None
        order: Order = self._parse(TypeAdapter(Order), data, path)
        if order.order_id.lower() != order_id.strip().lower():
            return None
        return order if self._owned(order, customer_id) else None

    @staticmethod
    def _owned(order: Order, customer_id: str) -> bool:
        if order.customer_id == customer_id:
            return True
        log.warning(
            "order probe: the order system returned order %s of another customer to customer %s; withheld",
            order.order_id,
            customer_id,
        )
        return False

    def close(self) -> None:
        self._client.close()
