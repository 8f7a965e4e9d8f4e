"""The operator's insights (issue 18): served turns are logged with the reply id that thumbs refer
to, and the console's Insights tab shows, in a real browser, the numbers a direct query of the
stores gives for a seeded log, with customer text shown as text and a formula-safe CSV download.

The real retrieval with the scripted generator (`demo_shop_real`), an API app with its own home
(`app_with`), served by uvicorn for Debian's Chromium through Playwright (skipped without it)."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from assistant.stores.feedback import FeedbackStore
from assistant.stores.turns import TurnLog, window_start
from assistant.ui.mount import mount_apps
from tests.assistant.api.conftest import LOCAL, app_with, live_server
from tests.assistant.conftest import _browser_page
from tests.assistant.stores.test_turns import FORMULA, MARKUP, SEED, seed

pytestmark = pytest.mark.slow


def _own_turns(demo_shop_real: Any, tmp_path: Path) -> tuple[Any, Any, TurnLog]:
    """An API app over the demo shop whose turn log and feedback store live in `tmp_path`."""
    app, shop = app_with(demo_shop_real, tmp_path)
    shop.turns = TurnLog(tmp_path / "turns.db", feedback_db=tmp_path / "f.db")  # app_with's feedback file
    return app, shop, shop.turns


def _rows(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def test_a_chat_turn_is_logged_and_its_thumb_joins_it(demo_shop_real, tmp_path):
    app, _, turns = _own_turns(demo_shop_real, tmp_path)
    client = TestClient(app, client=LOCAL)
    reply = client.post("/v1/chat", json={"message": "waterproof boots under 100"})
    assert reply.status_code == 200
    body = reply.json()
    logged = _rows(turns.path, "SELECT response_id, surface, route, action, latency_ms FROM turns")
    assert len(logged) == 1
    response_id, surface, route, action, latency_ms = logged[0]
    assert (response_id, surface, route, action) == (body["id"], "api", body["route"], body["action"])
    assert latency_ms > 0
    thumb = client.post("/v1/feedback", json={"kind": "chat", "item_id": body["id"], "verdict": "down"})
    assert thumb.status_code == 200
    assert turns.thumbs_per_route() == [{"route": body["route"], "up": 0, "down": 1, "up_share": 0.0}]


def test_streamed_and_openai_turns_are_logged_with_their_surface(demo_shop_real, tmp_path):
    app, _, turns = _own_turns(demo_shop_real, tmp_path)
    client = TestClient(app, client=LOCAL)
    streamed = client.post("/v1/chat", json={"message": "what is your return policy?", "stream": True})
    assert streamed.status_code == 200 and "event: done" in streamed.text
    done = streamed.text.split("event: done", 1)[1].split("data: ", 1)[1].split("\n", 1)[0]
    openai = client.post(
        "/v1/chat/completions", json={"model": "shop", "messages": [{"role": "user", "content": "hi there"}]}
    )
    assert openai.status_code == 200
    openai_streamed = client.post(
        "/v1/chat/completions",
        json={"model": "shop", "stream": True, "messages": [{"role": "user", "content": "linen shirt"}]},
    )
    last = [line for line in openai_streamed.text.splitlines() if '"finish_reason": "stop"' in line]
    assert openai_streamed.status_code == 200 and len(last) == 1
    logged = _rows(turns.path, "SELECT response_id, surface, first_text_ms FROM turns ORDER BY id")
    assert [(r[0], r[1]) for r in logged] == [
        (json.loads(done)["response"]["id"], "api"),
        (openai.json()["shopassist"]["id"], "openai"),
        (json.loads(last[0].removeprefix("data: "))["shopassist"]["id"], "openai"),
    ]
    assert logged[0][2] > 0 and logged[2][2] > 0  # the streams' first text was timed


def test_a_shopper_app_turn_is_logged_with_surface_ui(demo_shop_real, tmp_path):
    app, shop, turns = _own_turns(demo_shop_real, tmp_path)
    with TestClient(mount_apps(app, shop, bind_host="127.0.0.1"), client=LOCAL) as client:
        call = client.post(
            "/ui/gradio_api/call/respond", json={"data": ["linen shirt", None, "(any)", "(any)", False, None]}
        )
        assert call.status_code == 200
        result = client.get(f"/ui/gradio_api/call/respond/{call.json()['event_id']}")
        assert "event: complete" in result.text
    (row,) = turns.rows()
    assert row["surface"] == "ui" and row["message"] == "linen shirt" and row["latency_ms"] > 0


@pytest.fixture
def insights_page(
    demo_shop_real: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, TurnLog]]:
    """The console's Insights tab, open in Chromium, over a seeded turn log and feedback store."""
    monkeypatch.setenv("TZ", "UTC")  # the plots' days in the browser are the log's UTC days
    app, shop, turns = _own_turns(demo_shop_real, tmp_path)
    seed(turns, FeedbackStore(turns.feedback_db))
    mounted = mount_apps(app, shop, bind_host="127.0.0.1")
    with live_server(mounted) as base:
        for page in _browser_page(base, "/console/", "[role=tab]"):
            page.get_by_role("tab", name="Insights").click()
            page.wait_for_function(
                "document.querySelector('#insights-totals')?.innerText.includes('turns since')",
                timeout=60_000,
            )
            yield page, turns


def _expected(turns: TurnLog, days: int) -> dict[str, Any]:
    """The page's numbers, straight from the two SQLite files (not through TurnLog's queries)."""
    since = window_start(days)
    rows = _rows(
        turns.path, "SELECT response_id, day, route, action, latency_ms FROM turns WHERE day >= ?", since
    )
    route_of = {r[0]: r[2] for r in rows}
    votes = Counter(
        (route_of[i], v)
        for i, v in _rows(turns.feedback_db, "SELECT item_id, verdict FROM feedback WHERE kind = 'chat'")
        if i in route_of
    )
    actions = [r[3] for r in rows]
    per_day: dict[str, list[str]] = defaultdict(list)
    latency: dict[str, list[float]] = defaultdict(list)
    for _, day, route, action, ms in rows:
        per_day[day].append(action)
        latency[route].append(ms)
    return {
        "turns": len(rows),
        "refusal": f"{100 * actions.count('refuse') / len(rows):.1f}%",
        "handoff": f"{100 * actions.count('handoff') / len(rows):.1f}%",
        "up": sum(n for (_, v), n in votes.items() if v == "up"),
        "down": sum(n for (_, v), n in votes.items() if v == "down"),
        "per_route_day": Counter((_vega_day(r[1]), r[2]) for r in rows),
        "rates": {
            (_vega_day(day), kind): round(100 * acts.count(action) / len(acts), 1)
            for day, acts in per_day.items()
            for kind, action in (("refusal", "refuse"), ("handoff", "handoff"))
        },
        "thumbs": dict(votes),
        "p95": {r: round(float(np.percentile(v, 95)), 1) for r, v in latency.items()},
    }


def _vega_day(day: str) -> str:
    """An ISO day as Vega writes it in its marks' labels ("Dec 01, 2026")."""
    return date.fromisoformat(day).strftime("%b %d, %Y")


def _marks(page: Any, elem_id: str) -> list[dict[str, str]]:
    """A plot's data points as Vega labels them for screen readers ("day: Dec 01, 2026; turns: 2;
    route: faq"): what the plot drew, read back from the page."""
    page.wait_for_selector(
        f"#{elem_id} [aria-roledescription=visualization] [aria-label*='; ']", timeout=30_000
    )
    labels = page.eval_on_selector_all(
        f"#{elem_id} [aria-label]", "els => els.map(e => e.getAttribute('aria-label'))"
    )
    points = [dict(p.split(": ", 1) for p in label.split("; ")) for label in labels if "; " in label]
    return [dict(t) for t in {tuple(sorted(p.items())) for p in points}]  # a point can be drawn twice


def _table(page: Any, elem_id: str) -> list[list[str]]:
    """A Gradio Dataframe's shown rows as cell texts (its grid rows, not the hidden sizing table)."""
    rows = page.locator(f"#{elem_id} [role=row][data-index]")
    return [
        [c.strip() for c in rows.nth(i).locator("[role=gridcell]").all_inner_texts()]
        for i in range(rows.count())
    ]


@pytest.mark.integration
def test_the_insights_tab_shows_the_stores_numbers(insights_page, tmp_path):
    page, turns = insights_page
    expected = _expected(turns, 30)
    totals = page.locator("#insights-totals").inner_text()
    assert f"{expected['turns']} turns" in totals
    assert f"refusal rate {expected['refusal']}" in totals and f"handoff rate {expected['handoff']}" in totals
    assert f"thumbs {expected['up']} up / {expected['down']} down" in totals

    drawn = Counter()
    for point in _marks(page, "insights-routes"):
        drawn[(point["day"], point["route"])] += int(point["turns"])
    assert +drawn == expected["per_route_day"]  # the plot's non-zero points are the stores' counts
    rates = {(p["day"], p["kind"]): float(p["rate"]) for p in _marks(page, "insights-rates")}
    assert rates == pytest.approx(expected["rates"])
    thumbs = {(p["route"], p["verdict"]): int(p["thumbs"]) for p in _marks(page, "insights-thumbs")}
    assert {k: n for k, n in thumbs.items() if n} == expected["thumbs"]

    unanswered = _table(page, "insights-unanswered")
    assert unanswered[0][:1] == ["3"] and "DO YOU SHIP TO NORWAY!!" in unanswered[0]
    assert any(MARKUP in row for row in unanswered)  # the customer's markup, shown as text
    assert page.locator("#insights-unanswered b#xss, #insights-unanswered a[href*='evil']").count() == 0
    latency = {row[0]: row for row in _table(page, "insights-latency")}
    assert set(latency) == set(expected["p95"])
    for route, p95 in expected["p95"].items():
        assert float(latency[route][3]) == pytest.approx(p95)

    page.locator("#insights-export").click()
    link = page.locator("#insights-csv a[download]")
    link.wait_for(timeout=30_000)
    with page.expect_download() as download:
        link.click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert "'" + FORMULA.replace('"', '""') in exported and "\n=HYPERLINK" not in exported

    page.get_by_label("Last 90 days").check()
    page.wait_for_function(
        f"document.querySelector('#insights-totals').innerText.includes('{len(SEED)} turns')", timeout=30_000
    )
    page.get_by_label("Last 30 days").check()
    page.wait_for_function(
        f"document.querySelector('#insights-totals').innerText.includes('{expected['turns']} turns')",
        timeout=30_000,
    )
    shot = tmp_path / "insights.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"insights screenshot: {shot}")
    assert shot.stat().st_size > 20_000
