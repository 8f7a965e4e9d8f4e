"""Feedback on what the assistant produced: thumbs on chat replies, accept/edit/reject on agent
suggestions and product copy.

One SQLite table for every surface, because the uses are the same: a report of what works per
intent, and the accepted or edited texts as the next fine-tune's training data. Texts are
PII-scrubbed before they are written, so neither the table nor an export ever holds a customer's
contact details.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from assistant.grounding.pii import scrub

Kind = Literal["chat", "suggest", "copy"]
Verdict = Literal["up", "down", "accept", "edit", "reject"]
_VERDICTS: dict[str, set[str]] = {"chat": {"up", "down"}, "suggest": {"accept", "edit", "reject"}}
_VERDICTS["copy"] = _VERDICTS["suggest"]


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
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT, "
                "item_id TEXT, verdict TEXT, text TEXT, final_text TEXT, intent TEXT, comment TEXT, created TEXT)"
            )
            columns = {row[1] for row in db.execute("PRAGMA table_info(feedback)")}
            if "idempotency_key" not in columns:  # stores written before idempotency keys: add, keep rows
                db.execute("ALTER TABLE feedback ADD COLUMN idempotency_key TEXT")
            db.execute(
                "CREATE UNIQUE INDEX IF NOT EXISTS feedback_idempotency ON feedback(idempotency_key) "
                "WHERE idempotency_key IS NOT NULL"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

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
        with self._lock, self._connect() as db:
            if idempotency_key:
                seen = db.execute(
                    "SELECT id, created FROM feedback WHERE idempotency_key = ?", (idempotency_key,)
                ).fetchone()
                if seen:
                    return StoredFeedback(**clean.model_dump(), id=int(seen[0]), created=str(seen[1]))
            cur = db.execute(
                "INSERT INTO feedback (kind, item_id, verdict, text, final_text, intent, comment, created, "
                "idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    clean.kind,
                    clean.item_id,
                    clean.verdict,
                    clean.text,
                    clean.final_text,
                    clean.intent,
                    clean.comment,
                    created,
                    idempotency_key or None,
                ),
            )
            row_id = int(cur.lastrowid or 0)
        return StoredFeedback(**clean.model_dump(), id=row_id, created=created)

    def all(self, kind: Kind | None = None) -> list[StoredFeedback]:
        query = "SELECT id, kind, item_id, verdict, text, final_text, intent, comment, created FROM feedback"
        args: tuple[str, ...] = ()
        if kind:
            query, args = query + " WHERE kind = ?", (kind,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY id", args).fetchall()
        names = ("id", "kind", "item_id", "verdict", "text", "final_text", "intent", "comment", "created")
        return [StoredFeedback(**dict(zip(names, row, strict=True))) for row in rows]

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
