"""Order lookups over the shop's own database (SQLite, or a shared one), scoped to the signed-in customer.

The signed-in customer id is the only key: every query filters on it, so an order that belongs to
someone else is indistinguishable from one that does not exist. Such a lookup is logged as a
possible probe (with the order id, never the other customer's data).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import sqlalchemy as sa
from pydantic import BaseModel

from assistant.stores.db import REAL, open_database, upsert

if TYPE_CHECKING:
    from assistant.config import Settings

log = logging.getLogger("shopassist.orders")

metadata = sa.MetaData()
CUSTOMERS = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    *(sa.Column(name, sa.Text) for name in ("email", "city", "state", "joined")),
    sa.Column("preferred_categories", sa.Text, server_default="[]"),
    sa.Column("preferred_brands", sa.Text, server_default="[]"),
)
ORDERS = sa.Table(
    "orders",
    metadata,
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("customer_id", sa.Text, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    *(sa.Column(name, sa.Text) for name in ("placed_at", "shipped_at", "delivered_at", "estimated_delivery")),
    *(sa.Column(name, sa.Text) for name in ("carrier", "tracking_number", "shipping_method")),
    sa.Column("total", REAL, nullable=False),
)
ORDER_ITEMS = sa.Table(
    "order_items",
    metadata,
    sa.Column("order_id", sa.Text, sa.ForeignKey("orders.order_id"), nullable=False),
    sa.Column("product_id", sa.Text, nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", REAL, nullable=False),
    sa.Column("line", sa.Integer),  # position in the order (migration orders_0002)
)


class OrderItem(BaseModel):
    product_id: str
    title: str
    quantity: int
    unit_price: float


class Order(BaseModel):
    order_id: str
    customer_id: str
    status: str
    placed_at: str | None = None
    shipped_at: str | None = None
    delivered_at: str | None = None
    estimated_delivery: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    shipping_method: str | None = None
    total: float
    items: list[OrderItem] = []


class Customer(BaseModel):
    id: str
    name: str
    email: str | None = None
    city: str | None = None
    state: str | None = None
    preferred_categories: list[str] = []
    preferred_brands: list[str] = []


@runtime_checkable
class OrderSource(Protocol):
    """What the services read about customers and orders: a shop's own order system implements
    these four lookups (every one scoped to the customer it names) to replace the SQLite store."""

    def customer(self, customer_id: str | None) -> Customer | None: ...

    def customers(self) -> list[Customer]: ...

    def orders_for(self, customer_id: str, limit: int = 5) -> list[Order]: ...

    def order_for(self, customer_id: str, order_id: str) -> Order | None: ...


class OrderStore:
    """The embedded `OrderSource`: SQLite in `HOME/orders.db` (or the shared database named by
    `store.database_url`), seeded from the demo shop."""

    def __init__(self, path: str | Path, *, database_url: str | None = None) -> None:
        """`path`: the SQLite file; `database_url`: a shared database instead (then `path` is unused)."""
        self.path = Path(path)
        self.database_url = database_url
        self.db = open_database("orders", self.path, database_url)

    @classmethod
    def from_settings(cls, settings: Settings) -> OrderStore:
        """The shop's orders: `shop.orders_db` when set (a SQLite file, always), else the shared
        database when one is configured, else `HOME/orders.db`."""
        url = None if settings.shop.orders_db else settings.store.database_url
        return cls(settings.orders_path, database_url=url)

    def is_empty(self) -> bool:
        with self.db.read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(CUSTOMERS)).scalar_one() == 0

    def seed(self, data: dict[str, Any], titles: dict[str, str] | None = None) -> None:
        """Load customers and orders from the demo JSON layout; existing rows are kept (upsert)."""
        titles = titles or {}
        people = [
            {
                "id": c["id"],
                "name": c["name"],
                **{k: c.get(k) for k in ("email", "city", "state", "joined")},
                "preferred_categories": json.dumps(c.get("preferred_categories", [])),
                "preferred_brands": json.dumps(c.get("preferred_brands", [])),
            }
            for c in data.get("customers", [])
        ]
        dates = ("placed_at", "shipped_at", "delivered_at", "estimated_delivery")
        placed = [
            {
                "order_id": o["order_id"],
                "customer_id": o["customer_id"],
                "status": o["status"],
                **{k: o.get(k) for k in (*dates, "carrier", "tracking_number", "shipping_method")},
                "total": float(o["total"]),
            }
            for o in data.get("orders", [])
        ]
        items = [
            {
                "order_id": o["order_id"],
                "product_id": item["product_id"],
                "title": item.get("title") or titles.get(item["product_id"], item["product_id"]),
                "quantity": int(item["quantity"]),
                "unit_price": float(item["unit_price"]),
                "line": line,
            }
            for o in data.get("orders", [])
            for line, item in enumerate(o.get("items", []))
        ]
        with self.db.write() as conn:
            upsert(conn, CUSTOMERS, people, ["id"])
            upsert(conn, ORDERS, placed, ["order_id"])
            if placed:
                ids = [o["order_id"] for o in placed]
                conn.execute(ORDER_ITEMS.delete().where(ORDER_ITEMS.c.order_id.in_(ids)))
            if items:
                conn.execute(ORDER_ITEMS.insert(), items)

    def customer(self, customer_id: str | None) -> Customer | None:
        if not customer_id:
            return None
        with self.db.read() as conn:
            row = conn.execute(sa.select(CUSTOMERS).where(CUSTOMERS.c.id == customer_id)).mappings().first()
        return None if row is None else _customer(row)

    def customers(self) -> list[Customer]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(CUSTOMERS).order_by(CUSTOMERS.c.id)).mappings().all()
        return [_customer(row) for row in rows]

    @staticmethod
    def _orders(conn: sa.Connection, rows: Any) -> list[Order]:
        """Orders with their items, in one query for the items of all of them."""
        found = [dict(r) for r in rows]
        if not found:
            return []
        query = (
            sa.select(ORDER_ITEMS)
            .where(ORDER_ITEMS.c.order_id.in_([o["order_id"] for o in found]))
            .order_by(ORDER_ITEMS.c.line)
        )
        items: dict[str, list[OrderItem]] = {}
        for item in conn.execute(query).mappings():
            items.setdefault(item["order_id"], []).append(OrderItem.model_validate(dict(item)))
        return [Order.model_validate({**o, "items": items.get(o["order_id"], [])}) for o in found]

    def orders_for(self, customer_id: str, limit: int = 5) -> list[Order]:
        """The customer's most recent orders, newest first."""
        query = (
            sa.select(ORDERS)
            .where(ORDERS.c.customer_id == customer_id)
            .order_by(ORDERS.c.placed_at.desc().nulls_last(), ORDERS.c.order_id.desc())
            .limit(limit)
        )
        with self.db.read() as conn:
            return self._orders(conn, conn.execute(query).mappings().all())

    def order_for(self, customer_id: str, order_id: str) -> Order | None:
        """One order, only if it belongs to this customer; otherwise None, exactly as if it did not exist."""
        same_id = sa.func.lower(ORDERS.c.order_id) == sa.func.lower(order_id.strip())  # SQLite's NOCASE
        exists_elsewhere = None
        with self.db.read() as conn:
            mine = conn.execute(sa.select(ORDERS).where(same_id, ORDERS.c.customer_id == customer_id))
            found = self._orders(conn, mine.mappings().all())
            if not found:
                exists_elsewhere = conn.execute(sa.select(sa.literal(1)).where(same_id)).first()
        if found:
            return found[0]
        if exists_elsewhere:
            log.warning(
                "order probe: customer %s asked for order %s of another customer", customer_id, order_id
            )
        return None


def _customer(row: Any) -> Customer:
    data = dict(row)
    data["preferred_categories"] = json.loads(data["preferred_categories"] or "[]")
    data["preferred_brands"] = json.loads(data["preferred_brands"] or "[]")
    return Customer.model_validate(data)
