"""Agent feedback: verdicts stored with their ticket, the per-intent report, and the training export
(PII scrubbed, readable by the fine-tuning data builder); on SQLite and on a shared PostgreSQL
database alike."""

from __future__ import annotations

import csv
import json

import pytest

from assistant.assist.feedback import AssistFeedback, FeedbackError
from assistant.assist.protocol import Ticket
from assistant.stores.feedback import FeedbackItem, FeedbackStore
from tests.assistant.assist.conftest import entry
from tests.assistant.stores import postgres

REFUND = entry("faq-refunds-method", "refunds", "Refunds go back to the original payment method.")
TRACK = entry("faq-orders-tracking", "orders", "When your order ships, we email you the tracking number.")
TICKET = "Where is HP-ORD-50004? Mail me at maya.t@example.com or call (503) 555-0182."


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request):
    """None (the SQLite file), or a fresh database in the test run's throwaway PostgreSQL cluster."""
    if request.param == "sqlite":
        yield None
        return
    reason = postgres.unavailable()
    if reason:
        pytest.skip(reason)
    from assistant.stores import db

    yield postgres.shared_cluster().new_database()
    db.dispose_engines()


@pytest.fixture
def feedback(tmp_path, orders, database_url):
    return AssistFeedback(FeedbackStore(tmp_path / "feedback.db", database_url=database_url), orders)


@pytest.fixture
def shown(make_service, feedback):
    service, _ = make_service([(TRACK, 0.9), (REFUND, 0.7)])
    result = service.run(Ticket(text=TICKET, customer_id="C1001"))
    feedback.record(result, "C1001")
    return result


def test_suggestions_are_logged_scrubbed(feedback, shown):
    top = shown.suggestions[0]
    assert "Maya Thornton" in top.text and "9400984708073826424682" in top.text  # shown to the agent
    logged = feedback.logged(top.id)
    assert logged is not None and logged.intent == "faq-orders-tracking" and logged.customer_id == "C1001"
    stored = logged.ticket + logged.text
    for secret in ("maya.t@example.com", "555-0182", "HP-ORD-50004", "Maya", "9400984708073826424682"):
        assert secret not in stored
    assert "{{Customer Name}}" in logged.text and "{{Tracking Number}}" in logged.text


def test_accept_edit_reject_are_stored_and_reported(feedback, shown):
    track, refund = shown.suggestions
    accepted = feedback.give(track.id, "accept")
    assert (
        accepted.kind == "suggest"
        and accepted.verdict == "accept"
        and accepted.intent == "faq-orders-tracking"
    )
    assert accepted.final_text == accepted.text  # accepted as shown
    edited = feedback.give(
        refund.id, "edit", "Hi Maya Thornton, refunds take 5-7 days. Call me at (503) 555-0182."
    )
    assert edited.verdict == "edit"
    assert "Maya" not in edited.final_text and "555-0182" not in edited.final_text
    unchanged = feedback.give(track.id, "edit", track.text)  # the agent's box still holds the shown text
    assert unchanged.verdict == "accept"
    feedback.give(refund.id, "reject", comment="wrong intent")
    report = feedback.report()
    assert report["total"]["n"] == 4 and report["total"]["accept"] == 2
    by_intent = {row["intent"]: row for row in report["intents"]}
    assert by_intent["faq-orders-tracking"]["accept_rate"] == 1.0
    assert (
        by_intent["faq-refunds-method"]["edit"] == 1 and by_intent["faq-refunds-method"]["reject_rate"] == 0.5
    )


def test_bad_verdicts_get_clear_errors(feedback, shown):
    with pytest.raises(FeedbackError, match="no suggestion 'sug-nope'"):
        feedback.give("sug-nope", "accept")
    with pytest.raises(FeedbackError, match="needs the text"):
        feedback.give(shown.suggestions[0].id, "edit", "   ")


def test_report_of_other_kinds(feedback):
    feedback.store.add(FeedbackItem(kind="chat", item_id="r1", verdict="up", intent="faq"))
    feedback.store.add(FeedbackItem(kind="chat", item_id="r2", verdict="down", intent="faq"))
    report = feedback.report("chat")
    assert report["total"] == {"n": 2, "up": 1, "down": 1, "up_rate": 0.5, "down_rate": 0.5}
    assert feedback.report("suggest")["total"]["n"] == 0


def test_export_is_scrubbed_chat_jsonl_and_finetune_csv(tmp_path, feedback, shown):
    track, refund = shown.suggestions
    feedback.give(track.id, "reject")
    feedback.give(track.id, "accept")  # the latest verdict counts
    feedback.give(refund.id, "edit", "Maya, your refund for HP-ORD-50004 goes to maya.t@example.com's card.")
    # a verdict through the generic route (POST /v1/feedback) carries the name: the export removes it
    other = shown.suggestions[1].model_copy(update={"id": "sug-generic"})
    feedback.record(shown.model_copy(update={"suggestions": [other]}), "C1001")
    feedback.store.add(
        FeedbackItem(
            kind="suggest", item_id="sug-generic", verdict="edit", final_text="Dear Maya Thornton, done."
        )
    )
    feedback.store.add(FeedbackItem(kind="suggest", item_id="sug-unlogged", verdict="accept", text="Hi."))
    stats = feedback.export(tmp_path / "out.jsonl", "Harbor & Pine")
    assert stats["written"] == 3 and stats["edited"] == 2 and stats["accepted"] == 1
    assert stats["skipped_no_ticket"] == 1
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    blob = json.dumps(lines)
    for secret in ("Maya", "maya.t@example.com", "HP-ORD-50004", "555-0182", "9400984708073826424682"):
        assert secret not in blob
    first = lines[0]
    assert first["task"] == "cs" and [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    assert first["user"] == first["messages"][1]["content"] and "{{Order Number}}" in first["user"]
    assert {line["meta"]["intent"] for line in lines} == {"faq-orders-tracking", "faq-refunds-method"}

    from finetune.data import build_cs

    feedback.export(tmp_path / "out.csv", "Harbor & Pine")
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert len(rows) == 3 and set(rows[0]) == {"instruction", "intent", "category", "response"}
    built = build_cs(tmp_path / "out.csv", "Harbor & Pine")  # what `shopassist finetune --task cs` reads
    assert len(built.examples) == 3 and all("Maya" not in ex.assistant for ex in built.examples)
