"""The "Insights" tab: what customers ask, what was refused, how answers are rated, how fast.

A view over the shop's turn log (`assistant.stores.turns.TurnLog`, joined with the chat thumbs of
the feedback store): plots of turns per route per day and of the refusal and handoff rates, thumbs
per route, and tables of the most frequent unanswered questions and of latency percentiles, for
the last 7, 30 or 90 days. "Export CSV" writes the turns and every summary as one CSV, on demand
(a busy shop's 90 days of turns are too many to write on every refresh).

Customer messages are untrusted text: they are only ever shown in Dataframe columns of datatype
"str" (rendered as text, never as markdown or HTML); the only markdown on the tab holds numbers.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.stores.turns import TurnLog, window_start

if TYPE_CHECKING:
    import pandas as pd

    from assistant.shop import Shop

WINDOWS = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90}
DEFAULT_WINDOW = "Last 30 days"
EXPORT_KEEP_S = 600  # Gradio serves its own copy of an export; ours only has to outlive the reply
UNANSWERED_COLUMNS = ["count", "question", "example", "last_day"]
LATENCY_COLUMNS = ["route", "turns", "p50_ms", "p95_ms", "p99_ms"]


@dataclass
class Insights:
    """Everything the tab shows for one window, as the DataFrames its components take."""

    totals: str
    routes: pd.DataFrame  # day, route, turns (a zero for each route on each day without turns)
    rates: pd.DataFrame  # day, rate (%), kind ("refusal" / "handoff")
    thumbs: pd.DataFrame  # route, thumbs, verdict ("up" / "down")
    unanswered: pd.DataFrame
    latency: pd.DataFrame


def insights(turns: TurnLog, days: int) -> Insights:
    import pandas as pd

    since = window_start(days)
    per_day = turns.rates_per_day(since)
    thumbs = turns.thumbs_per_route(since)
    total = sum(r["turns"] for r in per_day)
    refused = sum(r["refused"] for r in per_day)
    handoffs = sum(r["handoffs"] for r in per_day)
    up, down = sum(r["up"] for r in thumbs), sum(r["down"] for r in thumbs)
    share = (lambda n: f"{100 * n / total:.1f}%") if total else (lambda n: "n/a")
    totals = (
        f"**{total}** turns since {since} · refusal rate **{share(refused)}** · "
        f"handoff rate **{share(handoffs)}** · thumbs **{up}** up / **{down}** down"
    )

    days_index = pd.date_range(since, datetime.now(UTC).date(), freq="D", name="day")
    counts = pd.DataFrame(turns.turns_per_route_day(since), columns=["day", "route", "turns"])
    counts["day"] = pd.to_datetime(counts["day"])
    routes = (
        counts.pivot_table(index="day", columns="route", values="turns", aggfunc="sum")
        .reindex(days_index, fill_value=0)
        .fillna(0)
        .astype(int)
        .reset_index()
        .melt(id_vars="day", var_name="route", value_name="turns")
    )
    rates = pd.DataFrame(
        [
            {"day": r["day"], "rate": round(100 * r[f"{kind}_rate"], 1), "kind": kind}
            for r in per_day
            for kind in ("refusal", "handoff")
        ],
        columns=["day", "rate", "kind"],
    )
    rates["day"] = pd.to_datetime(rates["day"])
    votes = pd.DataFrame(
        [{"route": r["route"], "thumbs": r[v], "verdict": v} for r in thumbs for v in ("up", "down")],
        columns=["route", "thumbs", "verdict"],
    )
    return Insights(
        totals=totals,
        routes=routes,
        rates=rates,
        thumbs=votes,
        unanswered=pd.DataFrame(turns.unanswered(since), columns=UNANSWERED_COLUMNS),
        latency=pd.DataFrame(turns.latency_per_route(since), columns=LATENCY_COLUMNS),
    )


def build_tab(shop: Shop) -> None:
    """Add this tab's components; called inside `with gr.Tab(...)`. Refreshes on page load, on a
    change of the window and on the button."""
    import gradio as gr

    turns = shop.turns
    downloads = Path(tempfile.mkdtemp(prefix="shopassist-insights-"))  # a folder Gradio may serve

    def refresh(window: str) -> tuple[Any, ...]:
        found = insights(turns, WINDOWS.get(window, WINDOWS[DEFAULT_WINDOW]))
        return found.totals, found.routes, found.rates, found.thumbs, found.unanswered, found.latency

    def export(window: str) -> str:
        days = WINDOWS.get(window, WINDOWS[DEFAULT_WINDOW])
        for old in downloads.glob("*.csv"):  # earlier exports, already copied by Gradio
            with contextlib.suppress(FileNotFoundError):  # another session's export removed it
                if old.stat().st_mtime < time.time() - EXPORT_KEEP_S:
                    old.unlink()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        return str(turns.export_csv(downloads / f"insights-{days}d-{stamp}.csv", window_start(days)))

    with gr.Row():
        window = gr.Radio(list(WINDOWS), value=DEFAULT_WINDOW, label="Window", elem_id="insights-window")
        refresh_button = gr.Button("Refresh", elem_id="insights-refresh", scale=0)
        export_button = gr.Button("Export CSV", elem_id="insights-export", scale=0)
    totals = gr.Markdown(elem_id="insights-totals")
    with gr.Row():
        routes = gr.LinePlot(
            x="day",
            y="turns",
            color="route",
            title="Turns per route per day",
            elem_id="insights-routes",
        )
        rates = gr.LinePlot(
            x="day",
            y="rate",
            color="kind",
            title="Refusal and handoff rate per day (%)",
            elem_id="insights-rates",
        )
    with gr.Row():
        thumbs = gr.BarPlot(
            x="route", y="thumbs", color="verdict", title="Thumbs per route", elem_id="insights-thumbs"
        )
        latency = gr.Dataframe(
            headers=LATENCY_COLUMNS,
            datatype=["str", "number", "number", "number", "number"],
            label="Latency per route (whole turn, ms)",
            interactive=False,
            elem_id="insights-latency",
        )
    unanswered = gr.Dataframe(
        headers=UNANSWERED_COLUMNS,
        datatype=["number", "str", "str", "str"],
        label="Most frequent unanswered questions (refused, or nothing found), grouped",
        interactive=False,
        wrap=True,
        elem_id="insights-unanswered",
    )
    csv_file = gr.File(label="Download CSV", interactive=False, elem_id="insights-csv")
    outputs = [totals, routes, rates, thumbs, unanswered, latency]
    gr.on(None, refresh, inputs=[window], outputs=outputs, api_visibility="private")
    refresh_button.click(refresh, inputs=[window], outputs=outputs, api_visibility="private")
    export_button.click(export, inputs=[window], outputs=[csv_file], api_visibility="private")
