"""The turn log: one row per finished chat turn, for the operator's insights page.

Prometheus counters say how many turns there were; they cannot say which questions went
unanswered, how a route's answers are rated or how its latency is spread over a month. Each row
keeps what the insights need and nothing that names a customer: the reply id (the key that chat
thumbs in the feedback store use), surface, route, action, confidence, timings, the fallback flags
and the customer's message scrubbed like a log line (`assistant.grounding.logs.LOG_KINDS`: no
e-mail, phone, card or street address; no customer id is ever written).

SQLite in WAL mode (turns are written while the console reads), or the shared database named by
`store.database_url` (`assistant.stores.db`); opened on first use so that a `Shop` that never
serves a turn (ingest, evaluations) never touches the file. Writing is best
effort: a turn that could not be logged is a warning, never a failed reply. Rows older than
`RETENTION_DAYS` are deleted once a day by the writer itself, so the file stays bounded without a
scheduler.
"""

from __future__ import annotations

import csv
import logging
import math
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from assistant.grounding.logs import LOG_KINDS
from assistant.grounding.pii import scrub
from assistant.grounding.spreadsheet import safe_row
from assistant.stores.db import REAL, Database, open_database, sqlite_connect
from retrieval.text import STOPWORDS

if TYPE_CHECKING:
    from assistant.chat.protocol import ChatResponse
    from assistant.config import Settings

log = logging.getLogger("shopassist")

RETENTION_DAYS = 180  # twice the longest window the insights page offers
MAX_MESSAGE_CHARS = 2000  # enough to read a question; bounds a row

metadata = sa.MetaData()
TURNS = sa.Table(
    "turns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *(sa.Column(name, sa.Text, nullable=False) for name in ("created", "day", "response_id")),
    *(sa.Column(name, sa.Text, nullable=False) for name in ("surface", "route", "action")),
    sa.Column("confidence", REAL, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("latency_ms", REAL, nullable=False),
    sa.Column("first_text_ms", REAL),
    sa.Column("model_unavailable", sa.Integer, nullable=False),
    sa.Column("fallback", sa.Integer, nullable=False),
)
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
REFUSED, HANDOFF = "action = 'refuse'", "action = 'handoff'"
THUMB_UP, THUMB_DOWN = "f.verdict = 'up'", "f.verdict = 'down'"
_PRUNE = "DELETE FROM turns WHERE day < :since"
_DIGITS = re.compile(r"\d+")
_NON_WORD = re.compile(r"[^\w#]+|_")


def _count(condition: str) -> str:
    """How many rows of a group meet `condition`, in SQL both databases read (PostgreSQL cannot
    SUM a boolean as SQLite does)."""
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


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
    def __init__(
        self, path: Path, feedback_db: Path | None = None, *, database_url: str | None = None
    ) -> None:
        """`feedback_db` is the FeedbackStore file whose chat thumbs join to these turns; by default
        the one beside this file (both live in the shop's home). With `database_url` both tables
        are in that shared database, and the paths are unused."""
        self.path = path
        self.feedback_db = feedback_db or path.with_name("feedback.db")
        self.database_url = database_url
        self._lock = threading.Lock()  # one writer at a time in this process
        self._schema_lock = threading.Lock()  # apart: a writer holding `_lock` may make the schema
        self._database: Database | None = None
        self._pruned_on: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TurnLog:
        """The shop's turn log: `HOME/turns.db`, or the shared database when one is configured."""
        return cls(settings.home / "turns.db", database_url=settings.store.database_url)

    @property
    def db(self) -> Database:
        """The database, opened and migrated on first use."""
        if self._database is None:
            with self._schema_lock:
                if self._database is None:
                    # SQLite through a file URI: a URI connection may ATTACH the feedback file read-only.
                    connect = lambda: sqlite_connect(self.path, wal=True, uri=True)  # noqa: E731
                    self._database = open_database("turns", self.path, self.database_url, creator=connect)
        return self._database

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[sa.Connection]:
        """A connection in one transaction, always closed; the schema is made on first use."""
        with self.db.write() if write else self.db.read() as conn:
            yield conn

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
            values = (
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
            row: dict[str, Any] = dict(zip(COLUMNS[1:], values, strict=True))
            with self._lock, self._db(write=True) as db:
                db.execute(TURNS.insert().values(**row))
                if self._pruned_on != row["day"]:  # the first turn of a day deletes the expired ones
                    db.execute(sa.text(_PRUNE), {"since": window_start(RETENTION_DAYS)})
                    self._pruned_on = row["day"]
            return True
        except Exception as exc:  # noqa: BLE001 - a log write must never fail the turn it logs
            log.warning("could not log the chat turn in %s: %s: %s", self.path, type(exc).__name__, exc)
            return False

    def prune(self, older_than_days: int = RETENTION_DAYS) -> int:
        """Delete turns from before the last `older_than_days` days; how many were deleted."""
        with self._lock, self._db(write=True) as db:
            cur = db.execute(sa.text(_PRUNE), {"since": window_start(older_than_days)})
            return int(cur.rowcount)

    # -- reading ---------------------------------------------------------------------------------
    def _select(self, sql: str, since: str | None, **args: Any) -> list[tuple[Any, ...]]:
        """Rows of `sql`, whose WHERE clause starts with the window condition `day >= :since`."""
        with self._db() as db:
            return [tuple(r) for r in db.execute(sa.text(sql), {"since": since or "", **args})]

    def rows(self, since: str | None = None) -> list[dict[str, Any]]:
        """Every turn from the UTC day `since` on (ISO date; None: all), oldest first."""
        found = self._select(f"SELECT {', '.join(COLUMNS)} FROM turns WHERE day >= :since ORDER BY id", since)
        return [dict(zip(COLUMNS, r, strict=True)) for r in found]

    def turns_per_route_day(self, since: str | None = None) -> list[dict[str, Any]]:
        found = self._select(
            "SELECT day, route, COUNT(*) FROM turns WHERE day >= :since GROUP BY day, route ORDER BY day, route",
            since,
        )
        return [{"day": d, "route": r, "turns": n} for d, r, n in found]

    def rates_per_day(self, since: str | None = None) -> list[dict[str, Any]]:
        """Per day: turns, refusals, handoffs and their shares of the day's turns."""
        found = self._select(
            f"SELECT day, COUNT(*), {_count(REFUSED)}, {_count(HANDOFF)} FROM turns "
            "WHERE day >= :since GROUP BY day ORDER BY day",
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
            f"SELECT message, day FROM turns WHERE day >= :since AND {UNANSWERED} ORDER BY id DESC", since
        )
        groups: dict[str, dict[str, Any]] = {}
        for message, day in found:  # newest first: the first seen of a group is its example
            key = normalize_question(message)
            group = groups.setdefault(key, {"question": key, "count": 0, "example": message, "last_day": day})
            group["count"] += 1
        ranked = sorted(groups.values(), key=lambda g: (-g["count"], g["question"]))
        return ranked[:limit]

    def thumbs_per_route(self, since: str | None = None) -> list[dict[str, Any]]:
        """Chat thumbs per route of the turn they rate, joined in SQL (reply id = feedback item_id,
        kind 'chat'); every verdict row counts, as in `FeedbackStore.summary`. On SQLite the feedback
        file is ATTACHed read-only; in a shared database both tables are there already. Thumbs on
        replies not in this log (the CLI, pruned days) are left out; so is everything when no
        feedback was ever stored."""
        shared = self.database_url is not None
        if not shared and not self.feedback_db.exists():
            return []
        sql = (
            f"SELECT t.route, {_count(THUMB_UP)}, {_count(THUMB_DOWN)} FROM turns t "
            "JOIN {feedback} f ON f.item_id = t.response_id AND f.kind = 'chat' "
            "WHERE t.day >= :since GROUP BY t.route ORDER BY t.route"
        )
        with self.db.engine.connect() as db:
            table = "feedback"
            if not shared:
                db.execution_options(sqlite_begin="")  # SQLite refuses ATTACH inside a transaction
                db.exec_driver_sql(
                    "ATTACH DATABASE ? AS fb", (self.feedback_db.resolve().as_uri() + "?mode=ro",)
                )
                db.commit()
                db.execution_options(sqlite_begin="BEGIN")
                table = "fb.feedback"
            with db.begin():
                schema = None if shared else "fb"
                if not sa.inspect(db).has_table("feedback", schema=schema):
                    return []
                query = sa.text(sql.replace("{feedback}", table))
                found = [tuple(r) for r in db.execute(query, {"since": since or ""})]
        return [
            {"route": r, "up": up, "down": down, "up_share": up / (up + down) if up + down else 0.0}
            for r, up, down in found
        ]

    def latency_per_route(self, since: str | None = None) -> list[dict[str, Any]]:
        """Whole-turn latency p50/p95/p99 (ms) per route; SQLite has no percentile, so in Python."""
        found = self._select(
            "SELECT route, latency_ms FROM turns WHERE day >= :since ORDER BY route, latency_ms", since
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
