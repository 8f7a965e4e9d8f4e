"""The turn log: one row per finished chat turn, for the operator's insights page.

Prometheus counters say how many turns there were; they cannot say which questions went
unanswered, how a route's answers are rated or how its latency is spread over a month. Each row
keeps what the insights need and nothing that names a customer: the reply id (the key that chat
thumbs in the feedback store use), surface, route, action, confidence, timings, the fallback flags
and the customer's message scrubbed like a log line (`assistant.grounding.logs.LOG_KINDS`: no
e-mail, phone, card or street address; no customer id is ever written).

SQLite in WAL mode (turns are written while the console reads), created on first use so that a
`Shop` that never serves a turn (ingest, evaluations) never touches the file. Writing is best
effort: a turn that could not be logged is a warning, never a failed reply. Rows older than
`RETENTION_DAYS` are deleted once a day by the writer itself, so the file stays bounded without a
scheduler.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import re
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.grounding.logs import LOG_KINDS
from assistant.grounding.pii import scrub
from assistant.grounding.spreadsheet import safe_row
from retrieval.text import STOPWORDS

if TYPE_CHECKING:
    from assistant.chat.protocol import ChatResponse

log = logging.getLogger("shopassist")

RETENTION_DAYS = 180  # twice the longest window the insights page offers
MAX_MESSAGE_CHARS = 2000  # enough to read a question; bounds a row

SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, day TEXT NOT NULL,
    response_id TEXT NOT NULL, surface TEXT NOT NULL, route TEXT NOT NULL, action TEXT NOT NULL,
    confidence REAL NOT NULL, message TEXT NOT NULL, latency_ms REAL NOT NULL, first_text_ms REAL,
    model_unavailable INTEGER NOT NULL, fallback INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_day ON turns(day);
CREATE INDEX IF NOT EXISTS turns_by_response ON turns(response_id);
"""
COLUMNS = (
    "id",
    "created",
    "day",
    "response_id",
    "surface",
    "route",
    "action",
    "confidence",
    "message",
    "latency_ms",
    "first_text_ms",
    "model_unavailable",
    "fallback",
)
# Unanswered: refused, or a product/FAQ turn that found nothing (the "no products match" and "can't
# apply that filter" replies answer with confidence 0). Handoffs are excluded: the customer asked
# for a person, which the handoff rate counts. Evaluated at query time, so old rows follow a change.
UNANSWERED = "(action = 'refuse' OR (route IN ('products', 'faq') AND action = 'answer' AND confidence = 0))"
_PRUNE = "DELETE FROM turns WHERE day < ?"
_DIGITS = re.compile(r"\d+")
_NON_WORD = re.compile(r"[^\w#]+|_")


def normalize_question(message: str) -> str:
    """The grouping key of a question: lowercased, digit runs masked as '#', punctuation dropped,
    stop-words (retrieval's list) removed. "Do you ship to Norway?" and "do you SHIP to norway" group
    together; "order 123" and "order 456" too. A message of stop-words alone keeps its words."""
    words = _NON_WORD.sub(" ", _DIGITS.sub("#", message.lower())).split()
    return " ".join(w for w in words if w not in STOPWORDS) or " ".join(words)


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between ranks (numpy's default)."""
    pos = (len(sorted_values) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def window_start(days: int, today: date | None = None) -> str:
    """The first UTC day (ISO) of a window of `days` days ending today, today included."""
    return ((today or datetime.now(UTC).date()) - timedelta(days=days - 1)).isoformat()


class TurnLog:
    def __init__(self, path: Path, feedback_db: Path | None = None) -> None:
        """`feedback_db` is the FeedbackStore file whose chat thumbs join to these turns; by default
        the one beside this file (both live in the shop's home)."""
        self.path = path
        self.feedback_db = feedback_db or path.with_name("feedback.db")
        self._lock = threading.Lock()  # one writer at a time in this process
        self._schema_lock = threading.Lock()  # apart: a writer holding `_lock` may make the schema
        self._ready = False
        self._pruned_on: str | None = None

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction, always closed (sqlite3's own context manager only
        commits); the schema is made on first use."""
        if not self._ready:
            with self._schema_lock:
                if not self._ready:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    with contextlib.closing(sqlite3.connect(self.path, timeout=10)) as db:
                        db.execute("PRAGMA journal_mode=WAL")
                        db.executescript(SCHEMA)
                    self._ready = True
        uri = self.path.resolve().as_uri()  # a URI connection may ATTACH another file read-only
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as db, db:
            yield db

    # -- writing ---------------------------------------------------------------------------------
    def record(
        self,
        response: ChatResponse,
        message: str,
        surface: str,
        latency_s: float,
        first_text_s: float | None = None,
        *,
        at: datetime | None = None,
    ) -> bool:
        """Log one finished turn (`at`: when it finished, now by default); False, with a warning,
        when it could not be written. Never raises: the customer's reply matters more than its log."""
        try:
            when = (at or datetime.now(UTC)).astimezone(UTC)
            row = (
                when.isoformat(timespec="seconds"),
                when.date().isoformat(),
                response.id,
                surface,
                response.route,
                response.action,
                float(response.confidence),
                scrub(message, LOG_KINDS)[:MAX_MESSAGE_CHARS],
                round(latency_s * 1000, 1),
                None if first_text_s is None else round(first_text_s * 1000, 1),
                int(response.verifier.model_unavailable is not None),
                int(response.verifier.fallback),
            )
            with self._lock, self._db() as db:
                db.execute(
                    f"INSERT INTO turns ({', '.join(COLUMNS[1:])}) VALUES ({', '.join('?' * len(row))})",
                    row,
                )
                if self._pruned_on != row[1]:  # the first turn of a day deletes the expired ones
                    db.execute(_PRUNE, (window_start(RETENTION_DAYS),))
                    self._pruned_on = row[1]
            return True
        except Exception as exc:  # noqa: BLE001 - a log write must never fail the turn it logs
            log.warning("could not log the chat turn in %s: %s: %s", self.path, type(exc).__name__, exc)
            return False

    def prune(self, older_than_days: int = RETENTION_DAYS) -> int:
        """Delete turns from before the last `older_than_days` days; how many were deleted."""
        with self._lock, self._db() as db:
            cur = db.execute(_PRUNE, (window_start(older_than_days),))
            return int(cur.rowcount)

    # -- reading ---------------------------------------------------------------------------------
    def _select(self, sql: str, since: str | None, *args: Any) -> list[tuple[Any, ...]]:
        """Rows of `sql`, whose WHERE clause starts with the window condition `day >= ?`."""
        with self._db() as db:
            return db.execute(sql, (since or "", *args)).fetchall()

    def rows(self, since: str | None = None) -> list[dict[str, Any]]:
        """Every turn from the UTC day `since` on (ISO date; None: all), oldest first."""
        found = self._select(f"SELECT {', '.join(COLUMNS)} FROM turns WHERE day >= ? ORDER BY id", since)
        return [dict(zip(COLUMNS, r, strict=True)) for r in found]

    def turns_per_route_day(self, since: str | None = None) -> list[dict[str, Any]]:
        found = self._select(
            "SELECT day, route, COUNT(*) FROM turns WHERE day >= ? GROUP BY day, route ORDER BY day, route",
            since,
        )
        return [{"day": d, "route": r, "turns": n} for d, r, n in found]

    def rates_per_day(self, since: str | None = None) -> list[dict[str, Any]]:
        """Per day: turns, refusals, handoffs and their shares of the day's turns."""
        found = self._select(
            "SELECT day, COUNT(*), SUM(action = 'refuse'), SUM(action = 'handoff') FROM turns "
            "WHERE day >= ? GROUP BY day ORDER BY day",
            since,
        )
        return [
            {
                "day": d,
                "turns": n,
                "refused": refused,
                "handoffs": handoffs,
                "refusal_rate": refused / n,
                "handoff_rate": handoffs / n,
            }
            for d, n, refused, handoffs in found
        ]

    def unanswered(self, since: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The most frequent unanswered questions (see `UNANSWERED`), grouped by
        `normalize_question`: count, the latest wording as the example, and the last day asked."""
        found = self._select(
            f"SELECT message, day FROM turns WHERE day >= ? AND {UNANSWERED} ORDER BY id DESC", since
        )
        groups: dict[str, dict[str, Any]] = {}
        for message, day in found:  # newest first: the first seen of a group is its example
            key = normalize_question(message)
            group = groups.setdefault(key, {"question": key, "count": 0, "example": message, "last_day": day})
            group["count"] += 1
        ranked = sorted(groups.values(), key=lambda g: (-g["count"], g["question"]))
        return ranked[:limit]

    def thumbs_per_route(self, since: str | None = None) -> list[dict[str, Any]]:
        """Chat thumbs per route of the turn they rate. The feedback file is ATTACHed read-only and
        joined in SQL (reply id = feedback item_id, kind 'chat'); every verdict row counts, as in
        `FeedbackStore.summary`. Thumbs on replies not in this log (the CLI, pruned days) are left
        out; so is everything when no feedback was ever stored."""
        if not self.feedback_db.exists():
            return []
        with self._db() as db:
            db.execute("ATTACH DATABASE ? AS fb", (self.feedback_db.resolve().as_uri() + "?mode=ro",))
            if not db.execute("SELECT 1 FROM fb.sqlite_master WHERE name = 'feedback'").fetchone():
                return []
            found = db.execute(
                "SELECT t.route, SUM(f.verdict = 'up'), SUM(f.verdict = 'down') FROM turns t "
                "JOIN fb.feedback f ON f.item_id = t.response_id AND f.kind = 'chat' "
                "WHERE t.day >= ? GROUP BY t.route ORDER BY t.route",
                (since or "",),
            ).fetchall()
        return [
            {"route": r, "up": up, "down": down, "up_share": up / (up + down) if up + down else 0.0}
            for r, up, down in found
        ]

    def latency_per_route(self, since: str | None = None) -> list[dict[str, Any]]:
        """Whole-turn latency p50/p95/p99 (ms) per route; SQLite has no percentile, so in Python."""
        found = self._select(
            "SELECT route, latency_ms FROM turns WHERE day >= ? ORDER BY route, latency_ms", since
        )
        by_route: dict[str, list[float]] = {}
        for route, ms in found:
            by_route.setdefault(route, []).append(ms)
        return [
            {
                "route": route,
                "turns": len(values),
                **{f"p{q}_ms": round(percentile(values, q), 1) for q in (50, 95, 99)},
            }
            for route, values in by_route.items()
        ]

    def export_csv(self, path: Path, since: str | None = None) -> Path:
        """One CSV for a spreadsheet: a section per table (a '# title' row, a header, the rows, a
        blank line): the turns, then each summary. Every cell goes through `safe_row`, so a customer
        message like `=HYPERLINK(...)` is text, not a formula."""
        sections = (
            ("turns", self.rows(since)),
            ("turns per route per day", self.turns_per_route_day(since)),
            ("refusal and handoff rate per day", self.rates_per_day(since)),
            ("unanswered questions", self.unanswered(since)),
            ("thumbs per route", self.thumbs_per_route(since)),
            ("latency per route", self.latency_per_route(since)),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            for title, rows in sections:
                writer.writerow([f"# {title}"])
                if rows:
                    writer.writerow(list(rows[0]))
                    writer.writerows(safe_row(list(r.values())) for r in rows)
                writer.writerow([])
        return path
