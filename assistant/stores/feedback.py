"""Feedback on what the assistant produced: thumbs on chat replies, accept/edit/reject on agent
suggestions and product copy.

One table for every surface, because the uses are the same: a report of what works per intent,
and the accepted or edited texts as the next fine-tune's training data. Texts are PII-scrubbed
before they are written, so neither the table nor an export ever holds a customer's contact
details. The table lives in `HOME/feedback.db` (SQLite), or in the shared database named by
`store.database_url` (`assistant.stores.db`); agent assist's suggestions log shares it.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field, model_validator

from assistant.grounding.pii import scrub
from assistant.stores.db import open_database, sqlite_connect

if TYPE_CHECKING:
    from assistant.config import Settings

Kind = Literal["chat", "suggest", "copy"]
Verdict = Literal["up", "down", "accept", "edit", "reject"]
_VERDICTS: dict[str, set[str]] = {"chat": {"up", "down"}, "suggest": {"accept", "edit", "reject"}}
_VERDICTS["copy"] = _VERDICTS["suggest"]

metadata = sa.MetaData()
_TEXTS = ("kind", "item_id", "verdict", "text", "final_text", "intent", "comment", "created")
FEEDBACK = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *(sa.Column(name, sa.Text) for name in _TEXTS),
    sa.Column("idempotency_key", sa.Text),
)
# Agent assist's log of the suggestions shown (`assistant.assist.feedback`): in this database,
# beside the verdicts it explains, and migrated with them.
ASSIST_SUGGESTIONS = sa.Table(
    "assist_suggestions",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    *(sa.Column(name, sa.Text) for name in ("ticket_id", "ticket", "intent", "category", "text")),
    *(sa.Column(name, sa.Text) for name in ("sources", "customer_id", "created")),
)


class FeedbackItem(BaseModel):
    kind: Kind = Field(default="chat", description="What the feedback is about")
    item_id: str = Field(min_length=1, max_length=200, description="Reply, suggestion or product id")
    verdict: Verdict = Field(
        description="up/down for chat replies; accept/edit/reject for suggestions and copy"
    )
    text: str = Field(default="", max_length=20000, description="The text that was shown")
    final_text: str = Field(default="", max_length=20000, description="The text as sent, after an edit")
    intent: str = Field(default="", max_length=200, description="Intent or route the item answered")
    comment: str = Field(default="", max_length=2000, description="Free-text remark")

    @model_validator(mode="after")
    def _consistent(self) -> FeedbackItem:
        if self.verdict not in _VERDICTS[self.kind]:
            allowed = ", ".join(sorted(_VERDICTS[self.kind]))
            raise ValueError(
                f"verdict {self.verdict!r} does not apply to {self.kind} feedback; use {allowed}"
            )
        if self.verdict == "edit" and not self.final_text.strip():
            raise ValueError("an 'edit' verdict needs final_text: the text as the agent sent it")
        return self


class StoredFeedback(FeedbackItem):
    id: int
    created: str


class FeedbackStore:
    def __init__(self, path: Path, *, database_url: str | None = None) -> None:
        """`path`: the SQLite file; `database_url`: a shared database instead (then `path` is unused)."""
        self.path = Path(path)
        self.database_url = database_url
        self._lock = threading.Lock()
        # Through `_connect`, so that a test can hand the engine a connection of its own making.
        self.db = open_database("feedback", self.path, database_url, creator=lambda: self._connect())

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedbackStore:
        """The shop's feedback: `HOME/feedback.db`, or the shared database when one is configured."""
        return cls(settings.home / "feedback.db", database_url=settings.store.database_url)

    def _connect(self) -> sqlite3.Connection:
        return sqlite_connect(self.path, timeout=10)

    def add(self, item: FeedbackItem, idempotency_key: str | None = None) -> StoredFeedback:
        """Store one verdict; a retry with the same `idempotency_key` returns the first row, stores none."""
        created = datetime.now(UTC).isoformat(timespec="seconds")
        clean = item.model_copy(
            update={
                "text": scrub(item.text),
                "final_text": scrub(item.final_text),
                "comment": scrub(item.comment),
            }
        )
        row = {name: getattr(clean, name) for name in _TEXTS if name != "created"}
        row |= {"created": created, "idempotency_key": idempotency_key or None}
        with self._lock:
            try:
                with self.db.write() as conn:
                    seen = self._seen(conn, idempotency_key)
                    if seen is None:
                        key = conn.execute(FEEDBACK.insert().values(**row)).inserted_primary_key
                        row_id = int(key[0]) if key else 0
            except sa.exc.IntegrityError:
                # Another replica stored the same key between our check and our insert: theirs stands.
                with self.db.read() as conn:
                    seen = self._seen(conn, idempotency_key)
                if seen is None:
                    raise
        if seen is not None:
            return StoredFeedback(**clean.model_dump(), id=seen[0], created=seen[1])
        return StoredFeedback(**clean.model_dump(), id=row_id, created=created)

    @staticmethod
    def _seen(conn: sa.Connection, idempotency_key: str | None) -> tuple[int, str] | None:
        """(id, created) of the row stored with this key, if any."""
        if not idempotency_key:
            return None
        query = sa.select(FEEDBACK.c.id, FEEDBACK.c.created).where(
            FEEDBACK.c.idempotency_key == idempotency_key
        )
        row = conn.execute(query).first()
        return None if row is None else (int(row[0]), str(row[1]))

    def all(self, kind: Kind | None = None) -> list[StoredFeedback]:
        query = sa.select(FEEDBACK.c.id, *(FEEDBACK.c[name] for name in _TEXTS)).order_by(FEEDBACK.c.id)
        if kind:
            query = query.where(FEEDBACK.c.kind == kind)
        with self.db.read() as conn:
            rows = conn.execute(query).mappings().all()
        return [StoredFeedback.model_validate(dict(row)) for row in rows]

    def summary(self, kind: Kind) -> list[dict[str, object]]:
        """Per intent: how many items, and the share accepted as is / edited / rejected (or up/down)."""
        verdicts = sorted(_VERDICTS[kind])
        counts: dict[str, dict[str, int]] = {}
        for item in self.all(kind):
            per = counts.setdefault(item.intent or "(none)", dict.fromkeys(verdicts, 0))
            per[item.verdict] += 1
        rows: list[dict[str, object]] = []
        for intent, per in sorted(counts.items()):
            total = sum(per.values())
            rows.append({"intent": intent, "n": total, **{v: round(per[v] / total, 3) for v in verdicts}})
        return rows
