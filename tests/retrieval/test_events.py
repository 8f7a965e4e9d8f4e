"""Shopper events as judgements for the learned ranker (retrieval.events)."""

from __future__ import annotations

import pytest

from retrieval.events import Event, click_rates, judgements, load_events, query_id
from retrieval.rows import CatalogError


def test_the_strongest_event_grades_a_product_and_a_thumbs_down_vetoes_it():
    events = [
        Event("Running Shoe", "p1", "impression"),
        Event("running  shoe", "p1", "click"),
        Event("running shoe", "p1", "purchase"),
        Event("running shoe", "p2", "impression"),
        Event("running shoe", "p3", "click"),
        Event("running shoe", "p3", "feedback_down"),
        Event("pan", "p9", "cart"),
        Event("pan", "gone", "purchase"),
    ]
    queries, qrels, unknown = judgements(events, ["p1", "p2", "p3", "p9"])
    shoe = query_id("running shoe")
    assert queries == {shoe: "running shoe", query_id("PAN"): "pan"}  # typed twice: one query
    assert qrels[shoe] == {"p1": 3.0, "p2": 0.0, "p3": 0.0} and qrels[query_id("pan")] == {"p9": 2.0}
    assert unknown == 1  # a product removed since is left out and counted


def test_events_load_from_csv_and_json_lines_and_bad_rows_say_where(tmp_path):
    csv_file = tmp_path / "events.csv"
    csv_file.write_text("query,product_id,event,position\nboots,p1,click,2\nboots,p2,impression,1\n")
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text('{"query": "boots", "product_id": "p1", "event": "cart"}\n\n')
    assert [(e.event, e.position) for e in load_events(csv_file)] == [("click", 2), ("impression", 1)]
    assert load_events(jsonl) == [Event("boots", "p1", "cart")]
    (tmp_path / "bad.csv").write_text("query,product_id,event\nboots,p1,like\n")
    with pytest.raises(CatalogError, match=r"bad.csv:2: event 'like' is not one of"):
        load_events(tmp_path / "bad.csv")
    (tmp_path / "pos.csv").write_text("query,product_id,event,position\nboots,p1,click,top\n")
    with pytest.raises(CatalogError, match=r"pos.csv:2: position 'top' must be a rank"):
        load_events(tmp_path / "pos.csv")
    (tmp_path / "cols.csv").write_text("q,product_id\nboots,p1\n")
    with pytest.raises(CatalogError, match="missing: event, query"):
        load_events(tmp_path / "cols.csv")
    (tmp_path / "bad.jsonl").write_text('{"query": "boots", "product_id": "", "event": "click"}\n')
    with pytest.raises(CatalogError, match="bad.jsonl:1: query and product_id must not be empty"):
        load_events(tmp_path / "bad.jsonl")


def _shown(query: str, product: str, position: int, times: int, clicks: int) -> list[Event]:
    return [Event(query, product, "impression", position)] * times + [
        Event(query, product, "click", position)
    ] * clicks


def test_with_positions_a_click_counts_only_when_it_beats_position_bias():
    # Rank 1 draws half its impressions as clicks on average, rank 5 one in ten: one click in ten
    # showings at rank 1 is less than an average product there gets, one in three at rank 5 more.
    events = (
        _shown("drill", "top-but-wrong", 1, 10, 1)
        + _shown("saw", "top-and-right", 1, 10, 9)
        + _shown("drill", "low-but-right", 5, 3, 1)
        + _shown("saw", "low-filler", 5, 17, 1)
        + _shown("drill", "carted", 1, 2, 0)
        + [Event("drill", "carted", "cart", 1)]
        + _shown("drill", "liked", 1, 10, 1)
        + [Event("drill", "liked", "feedback_up")]
    )
    assert click_rates(events) == {1: pytest.approx(11 / 32), 5: pytest.approx(2 / 20)}
    _, qrels, _ = judgements(events)
    drill, saw = query_id("drill"), query_id("saw")
    # A cart and a thumbs-up are deliberate: position bias does not explain them away.
    assert qrels[drill] == {"top-but-wrong": 0.0, "low-but-right": 1.0, "carted": 2.0, "liked": 1.0}
    assert qrels[saw] == {"top-and-right": 1.0, "low-filler": 0.0}
    _, every_click, _ = judgements(events, debias_prior=None)
    assert every_click[drill]["top-but-wrong"] == 1.0 and every_click[saw]["low-filler"] == 1.0


def test_a_log_grading_too_few_queries_is_refused_before_any_training():
    from retrieval.datasets import SearchSet
    from retrieval.events import MIN_EVENT_QUERIES, TooFewEventQueries, check_event_queries, train_from_events

    class NoSearch:  # training must not start: no candidate is ever asked for
        def training_candidates(self, query):
            raise AssertionError("trained on a log that is too small")

    small = SearchSet([], {"q1": "shoe"}, {"q1": {"p1": 1.0}})
    with pytest.raises(TooFewEventQueries, match=f"grade 1 queries; .* fewer than {MIN_EVENT_QUERIES}"):
        train_from_events(NoSearch(), small)
    check_event_queries(MIN_EVENT_QUERIES)  # enough: no error
    with pytest.raises(TooFewEventQueries, match="--min-queries 0"):
        check_event_queries(2, 3)
