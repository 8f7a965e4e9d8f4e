"""Agent feedback on suggestions: accept / edit / reject, a report per intent, and a training export.

Verdicts go into the shared `FeedbackStore` (kind "suggest", PII-scrubbed there). What that table
lacks for training is the ticket a reply answered, so every suggestion shown is also logged here
(its id, the scrubbed ticket, intent and text) in a table of the same database (`assist_suggestions`,
defined and migrated with the feedback store: SQLite or the shared database); the export joins the
latest accept or edit of each suggestion with its ticket and writes chat-format examples.

Names and tracking numbers are not caught by `scrub` (it finds e-mails, phones, cards, addresses and
order ids), and a suggestion greets the customer by name and may quote an order's tracking number,
so the customer's own name and tracking numbers (looked up by the customer id logged with the
suggestion) become `{{Customer Name}}` / `{{Tracking Number}}` on the way in and again on the way
out, which also covers verdicts sent through the generic `POST /v1/feedback`.
"""

from __future__ import annotations

import csv
import json
import re
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel

from assistant.assist.protocol import Suggestions
from assistant.errors import BadInput, NotFound
from assistant.grounding.pii import scrub
from assistant.grounding.spreadsheet import safe_row
from assistant.stores.db import upsert
from assistant.stores.feedback import (
    ASSIST_SUGGESTIONS,
    FeedbackItem,
    FeedbackStore,
    Kind,
    StoredFeedback,
)
from assistant.stores.orders import OrderSource

SuggestVerdict = Literal["accept", "edit", "reject"]


class FeedbackError(BadInput):
    """A verdict cannot be stored (unknown suggestion, empty edit); the message says why."""


class UnknownSuggestion(NotFound, FeedbackError):
    """The suggestion id was never shown here (404 on the API)."""


class LoggedSuggestion(BaseModel):
    id: str
    ticket_id: str
    ticket: str
    intent: str
    category: str
    text: str
    sources: list[dict[str, str]]
    customer_id: str | None
    created: str


class AssistFeedback:
    def __init__(self, store: FeedbackStore, orders: OrderSource | None = None) -> None:
        self.store = store
        self.orders = orders
        self._lock = threading.Lock()  # the table is made with the store's (its migrations)

    # -- personal data ----------------------------------------------------------------------------
    def _personal(self, customer_id: str | None) -> list[tuple[str, str]]:
        """(value, placeholder) for what `scrub` cannot know is personal: the customer's name (full,
        then first) and their orders' tracking numbers; longest first."""
        if not customer_id or self.orders is None:
            return []
        customer = self.orders.customer(customer_id)
        if customer is None:
            return []
        pairs = {
            (n, "{{Customer Name}}")
            for n in (customer.name.strip(), *customer.name.split()[:1])
            if len(n) >= 2
        }
        for order in self.orders.orders_for(customer_id, limit=1000):
            if order.tracking_number and len(order.tracking_number) >= 4:
                pairs.add((order.tracking_number, "{{Tracking Number}}"))
        return sorted(pairs, key=lambda p: -len(p[0]))

    def clean(self, text: str, customer_id: str | None) -> str:
        """`scrub` plus the customer's name and tracking numbers -> placeholders."""
        for value, placeholder in self._personal(customer_id):
            text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", placeholder, text)
        return scrub(text)

    # -- suggestions log --------------------------------------------------------------------------
    def record(self, result: Suggestions, customer_id: str | None = None) -> None:
        """Log the suggestions shown for a ticket (scrubbed) so verdicts can be tied to their ticket."""
        if not result.suggestions:
            return
        created = datetime.now(UTC).isoformat(timespec="seconds")
        ticket = self.clean(result.ticket_scrubbed, customer_id)
        rows = [
            {
                "id": s.id,
                "ticket_id": result.ticket_id,
                "ticket": ticket,
                "intent": s.intent,
                "category": s.category,
                "text": self.clean(s.text, customer_id),
                "sources": json.dumps([src.model_dump() for src in s.sources]),
                "customer_id": customer_id,
                "created": created,
            }
            for s in result.suggestions
        ]
        with self._lock, self.store.db.write() as db:  # a suggestion shown again replaces its row
            upsert(db, ASSIST_SUGGESTIONS, rows, ["id"])

    def logged(self, suggestion_id: str) -> LoggedSuggestion | None:
        query = sa.select(ASSIST_SUGGESTIONS).where(ASSIST_SUGGESTIONS.c.id == suggestion_id)
        with self.store.db.read() as db:
            row = db.execute(query).mappings().first()
        if row is None:
            return None
        data = dict(row)
        data["sources"] = json.loads(data["sources"] or "[]")
        return LoggedSuggestion.model_validate(data)

    # -- verdicts ---------------------------------------------------------------------------------
    def give(
        self, suggestion_id: str, verdict: SuggestVerdict, final_text: str = "", comment: str = ""
    ) -> StoredFeedback:
        """Store an agent's verdict on a logged suggestion; `final_text` is the text as sent."""
        logged = self.logged(suggestion_id)
        if logged is None:
            raise UnknownSuggestion(
                f"no suggestion {suggestion_id!r} was shown here: give feedback on an id from `suggest`"
            )
        final = final_text.strip()
        if verdict == "edit" and not final:
            raise FeedbackError("an edit needs the text as the agent sent it")
        if verdict == "edit" and _same(final, logged.text, self.clean(final, logged.customer_id)):
            verdict = "accept"  # nothing changed: an edit that is an acceptance counts as one
        if verdict == "accept" and not final:
            final = logged.text
        item = FeedbackItem(
            kind="suggest",
            item_id=suggestion_id,
            verdict=verdict,
            text=logged.text,
            final_text=self.clean(final, logged.customer_id) if verdict != "reject" else "",
            intent=logged.intent,
            comment=self.clean(comment, logged.customer_id),
        )
        return self.store.add(item)

    # -- report -----------------------------------------------------------------------------------
    def report(self, kind: Kind = "suggest") -> dict[str, Any]:
        """Counts and rates of each verdict, overall and per intent (most frequent intents first)."""
        items = self.store.all(kind)
        verdicts = ["accept", "edit", "reject"] if kind != "chat" else ["up", "down"]
        per: dict[str, Counter[str]] = {}
        for item in items:
            per.setdefault(item.intent or "(none)", Counter())[item.verdict] += 1
        total: Counter[str] = Counter(item.verdict for item in items)

        def row(counts: Counter[str]) -> dict[str, Any]:
            n = sum(counts.values())
            out: dict[str, Any] = {"n": n}
            for v in verdicts:
                out[v] = counts[v]
            for v in verdicts:
                out[f"{v}_rate"] = round(counts[v] / n, 3) if n else 0.0
            return out

        intents = [
            {"intent": intent, **row(counts)}
            for intent, counts in sorted(per.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        ]
        return {"kind": kind, "total": row(total), "intents": intents}

    # -- export -----------------------------------------------------------------------------------
    def export(self, out: Path, shop_name: str) -> dict[str, Any]:
        """Accepted and edited replies with their tickets as training examples.

        `.csv` writes the Bitext replies layout (instruction, intent, category, response) that
        `shopassist finetune --task cs --data F.csv` reads today; anything else writes JSONL, one
        chat example a line in `finetune.data`'s Example layout (id, task, system, user, assistant,
        meta) plus the OpenAI-style `messages`. The latest verdict of a suggestion counts.
        """
        from prompts.tasks import cs_system_prompt, example_id

        latest: dict[str, StoredFeedback] = {}
        for item in self.store.all("suggest"):
            latest[item.item_id] = item  # ordered by id: the last one wins
        stats: Counter[str] = Counter()
        rows: list[dict[str, Any]] = []
        for item_id, item in latest.items():
            if item.verdict not in ("accept", "edit"):
                stats["rejected"] += 1
                continue
            logged = self.logged(item_id)
            if logged is None or not logged.ticket.strip():
                stats["skipped_no_ticket"] += 1
                continue
            reply = self.clean(item.final_text or item.text, logged.customer_id).strip()
            if not reply:
                stats["skipped_empty"] += 1
                continue
            stats["accepted" if item.verdict == "accept" else "edited"] += 1
            rows.append(
                {
                    "user": self.clean(logged.ticket, logged.customer_id),
                    "assistant": reply,
                    "intent": logged.intent,
                    "category": logged.category,
                    "verdict": item.verdict,
                    "suggestion_id": item_id,
                    "feedback_id": item.id,
                }
            )
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".csv":
            with out.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(["instruction", "intent", "category", "response"])
                for r in rows:
                    writer.writerow(safe_row([r["user"], r["intent"], r["category"], r["assistant"]]))
        else:
            system = cs_system_prompt(shop_name)
            with out.open("w", encoding="utf-8") as fh:
                for r in rows:
                    example = {
                        "id": example_id("cs", r["user"], r["assistant"]),
                        "task": "cs",
                        "system": system,
                        "user": r["user"],
                        "assistant": r["assistant"],
                        "meta": {
                            k: r[k] for k in ("intent", "category", "verdict", "suggestion_id", "feedback_id")
                        },
                        "messages": [
                            {"role": "system", "content": system},
                            {"role": "user", "content": r["user"]},
                            {"role": "assistant", "content": r["assistant"]},
                        ],
                    }
                    fh.write(json.dumps(example, ensure_ascii=False) + "\n")
        return {"path": str(out), "written": len(rows), **dict(stats)}


def _same(final: str, shown: str, cleaned_final: str) -> bool:
    norm = " ".join
    return norm(final.split()) == norm(shown.split()) or norm(cleaned_final.split()) == norm(shown.split())
