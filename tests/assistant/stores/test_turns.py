"""The turn log behind the operator's insights (issue 18): every summary matches a direct SQL query
of the two stores written here (not the log's own queries), messages are stored scrubbed, the CSV
export neutralises formulas, and a failing write never escapes the recording call. On SQLite files
and on a shared PostgreSQL database alike (the `database_url` fixture)."""

from __future__ import annotations

import csv
import logging
import sqlite3
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from assistant.chat.protocol import ChatResponse, VerifierReport
from assistant.stores.feedback import FeedbackItem, FeedbackStore
from assistant.stores.turns import TurnLog, normalize_question, window_start

FORMULA = '=HYPERLINK("http://evil.example/x","click me")'
MARKUP = '<b id="xss">bold</b> [link](http://evil.example)'
# (days ago, route, action, confidence, message, latency s, first text s, thumbs)
SEED: list[tuple[int, str, str, float, str, float, float | None, tuple[str, ...]]] = [
    (40, "products", "answer", 0.8, "wool socks", 0.9, 0.2, ("up",)),  # outside a 30-day window
    (3, "products", "answer", 0.8, "waterproof boots under 100", 1.2, 0.3, ("up",)),
    (3, "faq", "answer", 0.9, "What is your return policy?", 0.4, 0.1, ("up",)),
    (3, "unknown", "refuse", 0.1, "Do you ship to Norway?", 0.3, None, ("down",)),
    (2, "unknown", "refuse", 0.2, "do you ship to norway", 0.35, None, ()),
    (2, "products", "answer", 0.0, "boots in size 60", 0.9, 0.5, ("down",)),  # nothing found
    (2, "handoff", "handoff", 1.0, "I want to talk to a person", 0.05, None, ()),
    (1, "products", "answer", 0.7, "rain jacket for kids", 2.5, 0.8, ("up", "down")),
    (1, "unknown", "refuse", 0.1, "DO YOU SHIP TO NORWAY!!", 0.28, None, ()),
    (1, "unknown", "refuse", 0.15, "Is there a discount code 2024?", 0.31, None, ()),
    (0, "unknown", "refuse", 0.12, "is there a discount code 2025", 0.33, None, ()),
    (
        0,
        "order",
        "answer",
        0.9,
        "where is HP-ORD-50001? mail jane.doe@example.com or +1 415 555 0100",
        0.6,
        0.2,
        ("up",),
    ),
    (0, "unknown", "refuse", 0.05, FORMULA, 0.2, None, ()),
    (0, "unknown", "refuse", 0.05, MARKUP, 0.22, None, ()),
    (0, "products", "answer", 0.85, "linen shirt", 1.8, 0.4, ()),
]


def seed(turns: TurnLog, feedback: FeedbackStore) -> list[ChatResponse]:
    """The SEED turns, recorded at noon UTC of their day, with their thumbs; plus feedback that
    must not count: a thumb on a reply that is not in the log, a suggestion verdict on a reply id."""
    today = datetime.now(UTC).date()
    responses = []
    for ago, route, action, confidence, message, latency, first, thumbs in SEED:
        response = ChatResponse(
            text="reply",
            route=route,  # type: ignore[arg-type]
            action=action,  # type: ignore[arg-type]
            confidence=confidence,
            verifier=VerifierReport(fallback=route == "faq", model_unavailable="down" if ago == 1 else None),
        )
        at = datetime.combine(today - timedelta(days=ago), time(12), UTC)
        assert turns.record(response, message, "api", latency, first, at=at)
        for verdict in thumbs:
            feedback.add(FeedbackItem(kind="chat", item_id=response.id, verdict=verdict))  # type: ignore[arg-type]
        responses.append(response)
    feedback.add(FeedbackItem(kind="chat", item_id="not-a-logged-reply", verdict="up"))
    feedback.add(FeedbackItem(kind="suggest", item_id=responses[1].id, verdict="accept"))
    return responses


@pytest.fixture
def stores(tmp_path: Path, database_url: str | None) -> tuple[TurnLog, FeedbackStore, list[ChatResponse]]:
    feedback = FeedbackStore(tmp_path / "feedback.db", database_url=database_url)
    # the feedback file beside it, as in a shop's home (or both tables in the one shared database)
    turns = TurnLog(tmp_path / "turns.db", database_url=database_url)
    return turns, feedback, seed(turns, feedback)


def query(store: TurnLog | FeedbackStore, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """`sql` (with `?` parameters) straight through the database's own driver, not the store's code."""
    url = store.database_url
    if url is None:
        db = sqlite3.connect(store.path)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        return [tuple(r) for r in conn.execute(sql.replace("?", "%s"), args).fetchall()]


SINCE = window_start(30)


def test_turns_per_route_per_day_match_sql(stores):
    turns, _, _ = stores
    direct = query(turns, "SELECT day, route, COUNT(id) FROM turns WHERE day >= ? GROUP BY route, day", SINCE)
    got = turns.turns_per_route_day(SINCE)
    assert {(r["day"], r["route"], r["turns"]) for r in got} == set(direct)
    assert len(got) == len(direct)
    assert sum(r["turns"] for r in got) == len(SEED) - 1  # the 40-day-old turn is outside the window
    assert len(turns.turns_per_route_day(window_start(90))) == len(got) + 1


def test_refusal_and_handoff_rates_match_sql(stores):
    turns, _, _ = stores
    got = {r["day"]: r for r in turns.rates_per_day(SINCE)}
    days = [d for (d,) in query(turns, "SELECT DISTINCT day FROM turns WHERE day >= ?", SINCE)]
    assert sorted(got) == sorted(days) and len(days) == 4
    for day in days:
        actions = [a for (a,) in query(turns, "SELECT action FROM turns WHERE day = ?", day)]
        assert got[day]["turns"] == len(actions)
        assert got[day]["refusal_rate"] == pytest.approx(actions.count("refuse") / len(actions))
        assert got[day]["handoff_rate"] == pytest.approx(actions.count("handoff") / len(actions))
    two_days_ago = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()
    assert got[two_days_ago]["handoffs"] == 1 and got[two_days_ago]["refused"] == 1


def test_unanswered_questions_are_grouped_with_counts_and_the_latest_example(stores):
    turns, _, _ = stores
    got = turns.unanswered(SINCE)
    (unanswered,) = query(
        turns,
        "SELECT COUNT(*) FROM turns WHERE day >= ? AND (action = 'refuse' OR "
        "(route IN ('products', 'faq') AND confidence = 0.0))",
        SINCE,
    )[0]
    assert sum(g["count"] for g in got) == unanswered == 8
    by_example = {g["example"]: g for g in got}
    assert by_example["DO YOU SHIP TO NORWAY!!"]["count"] == 3  # case and punctuation do not split
    assert by_example["is there a discount code 2025"]["count"] == 2  # nor do the digits
    assert by_example["boots in size 60"]["count"] == 1  # a product search that found nothing
    assert got[0]["example"] == "DO YOU SHIP TO NORWAY!!"  # the most frequent first
    assert not any("person" in g["example"] for g in got)  # a handoff is not an unanswered question


def test_normalized_questions():
    assert normalize_question("Do you ship to Norway?") == normalize_question("do you SHIP to norway!!")
    assert normalize_question("order 123, please") == normalize_question("Order 45") == "order #"
    assert normalize_question("is it?") == "is it"  # stop-words alone: kept, not an empty key


def test_thumbs_per_route_match_a_join_of_the_two_stores(stores):
    turns, feedback, _ = stores
    routes = dict(query(turns, "SELECT response_id, route FROM turns WHERE day >= ?", SINCE))
    votes = query(feedback, "SELECT item_id, verdict FROM feedback WHERE kind = 'chat'")
    expected: dict[str, Counter[str]] = defaultdict(Counter)
    for item_id, verdict in votes:
        if item_id in routes:
            expected[routes[item_id]][verdict] += 1
    got = {r["route"]: r for r in turns.thumbs_per_route(SINCE)}
    assert {route: (c["up"], c["down"]) for route, c in expected.items()} == {
        route: (r["up"], r["down"]) for route, r in got.items()
    }
    assert got["products"]["up"] == 2 and got["products"]["down"] == 2  # one reply rated twice
    assert got["products"]["up_share"] == pytest.approx(0.5)
    all_thumbs = sum(len(thumbs) for *_, thumbs in SEED)
    assert sum(r["up"] + r["down"] for r in turns.thumbs_per_route()) == all_thumbs  # no stray ones


def test_thumbs_without_a_feedback_store_are_empty(tmp_path):
    turns = TurnLog(tmp_path / "turns.db")
    assert turns.record(
        ChatResponse(text="x", route="faq", action="answer", confidence=0.9), "hi", "api", 0.1
    )
    assert turns.thumbs_per_route() == []
    assert not (tmp_path / "feedback.db").exists()  # reading created no empty feedback store


def test_latency_percentiles_match_numpy_over_sql(stores):
    turns, _, _ = stores
    got = {r["route"]: r for r in turns.latency_per_route(SINCE)}
    routes = [r for (r,) in query(turns, "SELECT DISTINCT route FROM turns WHERE day >= ?", SINCE)]
    assert sorted(got) == sorted(routes)
    for route in routes:
        values = [
            v
            for (v,) in query(
                turns, "SELECT latency_ms FROM turns WHERE route = ? AND day >= ?", route, SINCE
            )
        ]
        assert got[route]["turns"] == len(values)
        for q in (50, 95, 99):
            assert got[route][f"p{q}_ms"] == pytest.approx(np.percentile(values, q), abs=0.05)
    assert got["products"]["p50_ms"] == pytest.approx(1500.0)  # 900, 1200, 1800, 2500 ms


def test_stored_rows_keep_ids_flags_and_timings_and_no_contact_details(stores):
    turns, _, responses = stores
    rows = turns.rows()
    assert [r["response_id"] for r in rows] == [r.id for r in responses]
    order = next(r for r in rows if r["route"] == "order")
    assert "jane.doe" not in order["message"] and "555" not in order["message"]
    assert "{{Email}}" in order["message"] and "{{Phone Number}}" in order["message"]
    assert "HP-ORD-50001" in order["message"]  # order ids stay, as in the logs
    assert order["latency_ms"] == 600.0 and order["first_text_ms"] == 200.0 and order["surface"] == "api"
    assert all(r["fallback"] == (r["route"] == "faq") for r in rows)
    assert sum(r["model_unavailable"] for r in rows) == 3
    columns = {c["name"] for c in sa.inspect(turns.db.engine).get_columns("turns")}
    assert not any("customer" in c or "email" in c for c in columns)


def test_csv_export_has_every_section_and_neutralises_formulas(stores, tmp_path):
    turns, _, _ = stores
    out = turns.export_csv(tmp_path / "out" / "insights.csv", SINCE)
    rows = list(csv.reader(out.open(encoding="utf-8", newline="")))
    titles = [r[0] for r in rows if r and r[0].startswith("# ")]
    assert titles == [
        "# turns",
        "# turns per route per day",
        "# refusal and handoff rate per day",
        "# unanswered questions",
        "# thumbs per route",
        "# latency per route",
    ]
    cells = [c for r in rows for c in r]
    assert "'" + FORMULA in cells  # in the turns and as the unanswered example: text, not a formula
    assert not any(c.startswith(("=", "+", "@")) for c in cells)
    assert sum(1 for r in rows if len(r) == 13 and r[0].isdigit()) == len(SEED) - 1  # the window's turns


def test_a_failing_write_does_not_raise_and_warns(tmp_path, caplog):
    (tmp_path / "blocked").write_text("a file where the log's folder should be")
    turns = TurnLog(tmp_path / "blocked" / "turns.db")
    response = ChatResponse(text="x", route="faq", action="answer", confidence=0.9)
    with caplog.at_level(logging.WARNING, logger="shopassist"):
        assert turns.record(response, "hello", "api", 0.1) is False
    assert "could not log the chat turn" in caplog.text


def test_prune_deletes_turns_older_than_the_retention(tmp_path):
    turns = TurnLog(tmp_path / "turns.db")
    today = datetime.now(UTC).date()
    for ago in (100, 10):
        at = datetime.combine(today - timedelta(days=ago), time(12), UTC)
        turns.record(
            ChatResponse(text="x", route="faq", action="answer", confidence=0.9), "q", "ui", 0.1, at=at
        )
    assert turns.prune(older_than_days=90) == 1
    assert [r["day"] for r in turns.rows()] == [(today - timedelta(days=10)).isoformat()]


def test_window_start_counts_today():
    assert window_start(7, today=date(2025, 3, 10)) == "2025-03-04"
