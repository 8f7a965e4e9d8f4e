"""The audit log: every time a caller names a customer (agent or admin reading their data).

Shoppers never name a customer (their id comes from a verified token), so each row here is a
person or system with an operator credential looking at someone's orders or profile: who, which
customer, which order (if the request named one), what for, from where, and when. One row per
read, acknowledged only after commit: in `HOME/audit.db` (SQLite), or in the shared database
named by `store.database_url` (`assistant.stores.db`).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from assistant.stores.db import REAL, open_database

metadata = sa.MetaData()
AUDIT = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("ts", REAL, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Column("order_id", sa.Text),
    sa.Column("client", sa.Text),
)


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
    def __init__(self, path: str | Path, *, database_url: str | None = None) -> None:
        """`path`: the SQLite file; `database_url`: a shared database instead (then `path` is unused)."""
        self.path = Path(path)
        self.database_url = database_url
        self._lock = threading.Lock()
        self.db = open_database("audit", self.path, database_url, timeout=30, wal=True)

    @classmethod
    def from_settings(cls, settings: Any) -> AuditLog:
        """The shop's audit log: `HOME/audit.db`, or the shared database when one is configured."""
        return cls(settings.home / "audit.db", database_url=settings.store.database_url)

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
        row = {"ts": time.time(), "actor": actor, "role": role, "action": action}
        row |= {"customer_id": customer_id, "order_id": order_id, "client": client}
        with self._lock, self.db.write() as conn:
            conn.execute(AUDIT.insert().values(**row))

    def entries(self, customer_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        query = sa.select(AUDIT).order_by(AUDIT.c.id.desc()).limit(limit)
        if customer_id:
            query = query.where(AUDIT.c.customer_id == customer_id)
        with self.db.read() as conn:
            rows = conn.execute(query).mappings().all()
        return [AuditEntry.model_validate(dict(row)) for row in rows]
