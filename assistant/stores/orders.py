"""Order lookups over SQLite, scoped to the signed-in customer.

The signed-in customer id is the only key: every query filters on it, so an order that belongs to
someone else is indistinguishable from one that does not exist. Such a lookup is logged as a
possible probe (with the order id, never the other customer's data).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

log = logging.getLogger("shopassist.orders")

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT, city TEXT, state TEXT, joined TEXT,
    preferred_categories TEXT DEFAULT '[]', preferred_brands TEXT DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id), status TEXT NOT NULL,
    placed_at TEXT, shipped_at TEXT, delivered_at TEXT, estimated_delivery TEXT, carrier TEXT,
    tracking_number TEXT, shipping_method TEXT, total REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS order_items (
    order_id TEXT NOT NULL REFERENCES orders(order_id), product_id TEXT NOT NULL, title TEXT,
    quantity INTEGER NOT NULL, unit_price REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_customer ON orders(customer_id);
"""


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
    """The embedded `OrderSource`: SQLite in `HOME/orders.db`, seeded from the demo shop."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def is_empty(self) -> bool:
        return self._conn().execute("SELECT COUNT(*) FROM customers").fetchone()[0] == 0

    def seed(self, data: dict[str, Any], titles: dict[str, str] | None = None) -> None:
        """Load customers and orders from the demo JSON layout; existing rows are kept (upsert)."""
        titles = titles or {}
        conn = self._conn()
        with conn:
            for c in data.get("customers", []):
                conn.execute(
                    "INSERT OR REPLACE INTO customers VALUES (?,?,?,?,?,?,?,?)",
                    (
                        c["id"],
                        c["name"],
                        c.get("email"),
                        c.get("city"),
                        c.get("state"),
                        c.get("joined"),
                        json.dumps(c.get("preferred_categories", [])),
                        json.dumps(c.get("preferred_brands", [])),
                    ),
                )
            for o in data.get("orders", []):
                conn.execute(
                    "INSERT OR REPLACE INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        o["order_id"],
                        o["customer_id"],
                        o["status"],
                        o.get("placed_at"),
                        o.get("shipped_at"),
                        o.get("delivered_at"),
                        o.get("estimated_delivery"),
                        o.get("carrier"),
                        o.get("tracking_number"),
                        o.get("shipping_method"),
                        float(o["total"]),
                    ),
                )
                conn.execute("DELETE FROM order_items WHERE order_id = ?", (o["order_id"],))
                for item in o.get("items", []):
                    conn.execute(
                        "INSERT INTO order_items VALUES (?,?,?,?,?)",
                        (
                            o["order_id"],
                            item["product_id"],
                            item.get("title") or titles.get(item["product_id"], item["product_id"]),
                            int(item["quantity"]),
                            float(item["unit_price"]),
                        ),
                    )

    def customer(self, customer_id: str | None) -> Customer | None:
        if not customer_id:
            return None
        row = self._conn().execute("SELECT * FROM customers WHERE id = ?", (customer_id,)).fetchone()
        if row is None:
            return None
        data = dict(row)
        data["preferred_categories"] = json.loads(data["preferred_categories"] or "[]")
        data["preferred_brands"] = json.loads(data["preferred_brands"] or "[]")
        return Customer.model_validate(data)

    def customers(self) -> list[Customer]:
        ids = [r[0] for r in self._conn().execute("SELECT id FROM customers ORDER BY id")]
        return [c for c in (self.customer(i) for i in ids) if c is not None]

    def _items(self, order_id: str) -> list[OrderItem]:
        rows = self._conn().execute(
            "SELECT product_id, title, quantity, unit_price FROM order_items WHERE order_id = ? ORDER BY rowid",
            (order_id,),
        )
        return [OrderItem.model_validate(dict(r)) for r in rows]

    def orders_for(self, customer_id: str, limit: int = 5) -> list[Order]:
        """The customer's most recent orders, newest first."""
        rows = (
            self._conn()
            .execute(
                "SELECT * FROM orders WHERE customer_id = ? ORDER BY placed_at DESC, order_id DESC LIMIT ?",
                (customer_id, limit),
            )
            .fetchall()
        )
        return [Order.model_validate({**dict(r), "items": self._items(r["order_id"])}) for r in rows]

    def order_for(self, customer_id: str, order_id: str) -> Order | None:
        """One order, only if it belongs to this customer; otherwise None, exactly as if it did not exist."""
        row = (
            self._conn()
            .execute(
                "SELECT * FROM orders WHERE order_id = ? COLLATE NOCASE AND customer_id = ?",
                (order_id.strip(), customer_id),
            )
            .fetchone()
        )
        if row is None:
            exists_elsewhere = (
                self._conn()
                .execute("SELECT 1 FROM orders WHERE order_id = ? COLLATE NOCASE", (order_id.strip(),))
                .fetchone()
            )
            if exists_elsewhere:
                log.warning(
                    "order probe: customer %s asked for order %s of another customer", customer_id, order_id
                )
            return None
        return Order.model_validate({**dict(row), "items": self._items(row["order_id"])})
