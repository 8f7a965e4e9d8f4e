"""The audit log: every time a caller names a customer (agent or admin reading their data).

Shoppers never name a customer (their id comes from a verified token), so each row here is a
person or system with an operator credential looking at someone's orders or profile: who, which
customer, which order (if the request named one), what for, from where, and when. SQLite, one
row per read, acknowledged only after commit.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from pydantic import BaseModel

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL,
    action TEXT NOT NULL, customer_id TEXT NOT NULL, order_id TEXT, client TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_customer ON audit(customer_id, ts);
"""


class AuditEntry(BaseModel):
    id: int
    ts: float
    actor: str
    role: str
    action: str
    customer_id: str
    order_id: str | None = None
    client: str | None = None


class AuditLog:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as conn:
            conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def record(
        self,
        *,
        actor: str,
        role: str,
        action: str,
        customer_id: str,
        order_id: str | None = None,
        client: str | None = None,
    ) -> None:
        with self._lock, self._connect() as conn:
            conn.execute(
                "INSERT INTO audit (ts, actor, role, action, customer_id, order_id, client) VALUES (?,?,?,?,?,?,?)",
                (time.time(), actor, role, action, customer_id, order_id, client),
            )

    def entries(self, customer_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        query, args = "SELECT * FROM audit", []
        if customer_id:
            query, args = query + " WHERE customer_id = ?", [customer_id]
        with self._connect() as conn:
            rows = conn.execute(query + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        keys = ("id", "ts", "actor", "role", "action", "customer_id", "order_id", "client")
        return [AuditEntry(**dict(zip(keys, row, strict=True))) for row in rows]
