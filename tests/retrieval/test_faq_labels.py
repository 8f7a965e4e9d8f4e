"""Labels for the FAQ router: one per (source, ref), the latest wins, and entries gain them as
example phrasings (a re-assigned question moves)."""

from __future__ import annotations

import pytest

from retrieval.faq_labels import FAQLabel, LabelError, LabelStore, check_entries, with_labels
from retrieval.schema import FAQEntry

ENTRIES = [
    FAQEntry(
        id="returns",
        question="What is your return policy?",
        answer="30 days.",
        examples=["can i return this"],
    ),
    FAQEntry(id="shipping", question="How long does shipping take?", answer="3-5 days."),
]


def test_a_label_is_one_clean_phrasing():
    label = FAQLabel.make("  can I send\n it back | after  a month? ", "returns", "operator", "t1")
    assert label.question == "can I send it back / after a month?"
    assert len(FAQLabel.make("x" * 5000, "returns", "suggest", "s1").question) == 500


def test_store_keeps_one_label_per_source_and_ref_and_the_latest_wins(tmp_path):
    store = LabelStore(tmp_path / "labels.jsonl")
    assert store.all() == [] and store.counts() == {}
    first = [
        FAQLabel.make("is it too late to send back", "returns", "chat", "r1"),
        FAQLabel.make("when does it arrive", "shipping", "operator", "t7"),
    ]
    assert len(store.add(first)) == 2
    assert store.add(first) == []  # harvesting the same feedback again stores nothing
    moved = store.add([FAQLabel.make("when does it arrive", "returns", "operator", "t7")])
    assert [label.entry_id for label in moved] == ["returns"] and moved[0].created
    assert [(label.ref, label.entry_id) for label in store.all()] == [("r1", "returns"), ("t7", "returns")]
    assert store.counts() == {"returns": {"chat": 1, "operator": 1}}
    (tmp_path / "labels.jsonl").write_text('{"question": ""}\n')
    with pytest.raises(LabelError, match="labels.jsonl:1"):
        store.all()


def test_entries_gain_labels_as_examples_and_a_moved_question_leaves_its_old_entry():
    synced = with_labels(ENTRIES, [FAQLabel.make("when does it arrive", "shipping", "operator", "t7")])
    assert synced[1].examples == ["when does it arrive"] and synced[0].examples == ["can i return this"]
    moved = with_labels(synced, [FAQLabel.make("When does it arrive", "returns", "operator", "t7")])
    assert moved[0].examples == ["can i return this", "When does it arrive"] and moved[1].examples == []
    # A label repeating the entry's question or an example adds nothing; unknown entries are skipped.
    same = with_labels(
        ENTRIES,
        [
            FAQLabel.make("what is your return policy?", "returns", "chat", "r1"),
            FAQLabel.make("anything", "gone", "chat", "r2"),
        ],
    )
    assert [e.examples for e in same] == [["can i return this"], []]


def test_labels_naming_unknown_entries_are_refused_by_check():
    check_entries([FAQLabel.make("q", "returns", "chat", "r")], {e.id: e for e in ENTRIES})
    with pytest.raises(LabelError, match="unknown FAQ entry: nope"):
        check_entries([FAQLabel.make("q", "nope", "chat", "r")], ["returns", "shipping"])


def test_a_self_training_run_replaces_the_last_ones_guesses_and_people_win(tmp_path):
    store = LabelStore(tmp_path / "labels.jsonl")
    store.add([FAQLabel.make("when does it arrive", "shipping", "operator", "t7")])
    guesses = [
        FAQLabel.make("can i still return it", "returns", "traffic", "traffic:a"),
        FAQLabel.make("When does it arrive", "returns", "traffic", "traffic:b"),  # a wrong guess
    ]
    assert store.replace_source("traffic", guesses) == 2
    assert store.counts() == {"returns": {"traffic": 2}, "shipping": {"operator": 1}}
    # The person's label of the same question wins over the guess, whatever their order.
    synced = with_labels(ENTRIES, list(reversed(store.all())))
    assert synced[0].examples == ["can i return this", "can i still return it"]
    assert synced[1].examples == ["when does it arrive"]
    # The next run's guesses replace the last run's whole; the operator's label stays.
    assert (
        store.replace_source(
            "traffic", [FAQLabel.make("how fast is shipping", "shipping", "traffic", "traffic:c")]
        )
        == 1
    )
    assert [(label.source, label.question) for label in store.all()] == [
        ("operator", "when does it arrive"),
        ("traffic", "how fast is shipping"),
    ]
    assert store.replace_source("traffic", []) == 0 and [label.source for label in store.all()] == [
        "operator"
    ]
