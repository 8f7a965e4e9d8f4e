"""The FAQ router's learning curve: labels only from the pool side of a hash split, accuracy per
labels-per-entry count for the dense and learned routers, and the latency of each."""

from __future__ import annotations

import pytest

from retrieval.faq_learning import held_out, labels_per_entry, learning_curve, split_questions
from retrieval.schema import FAQEntry
from tests.conftest import SHARED_DATA, HashEmbedding

ENTRIES = [
    FAQEntry(id="refund", question="get refund", answer="Refunds take 5 days."),
    FAQEntry(id="track", question="track order", answer="Use the tracking link."),
    FAQEntry(id="cancel", question="cancel order", answer="Press cancel in your orders."),
]
WORDS = {
    "refund": ["money back", "refund please", "reimburse me", "want my money", "refund status"],
    "track": [
        "where is my parcel",
        "track package",
        "delivery status",
        "parcel location",
        "shipment tracking",
    ],
    "cancel": ["cancel purchase", "stop my order", "do not send it", "cancel it now", "call off my order"],
}
QUESTIONS = [(f"{w} {n}", intent) for intent, words in WORDS.items() for w in words for n in range(8)]


def test_the_split_is_by_text_and_labels_come_from_the_pool_only():
    pool, rest = split_questions(QUESTIONS)
    assert pool and rest and not {q for q, _ in pool} & {q for q, _ in rest}
    assert all(held_out(q) for q, _ in rest) and held_out("Money back 1") == held_out("money  back 1")
    three = labels_per_entry(pool, 3)
    assert {label.entry_id for label in three} == set(WORDS)
    assert all(sum(label.entry_id == e for label in three) == 3 for e in WORDS)
    assert {label.question for label in labels_per_entry(pool, 1)} <= {label.question for label in three}
    assert {label.question for label in three} <= {q for q, _ in pool}


def test_learning_curve_reports_each_router_per_count_and_their_latency():
    result = learning_curve(ENTRIES, QUESTIONS, HashEmbedding(), counts=(0, 3, 10), latency_questions=10)
    assert [row["per_entry"] for row in result["curve"]] == [0, 3, 10]
    assert [row["labels"] for row in result["curve"]] == [0, 9, 30]
    first, last = result["curve"][0], result["curve"][-1]
    assert last["dense@1"] >= first["dense@1"] and last["learned@1"] > first["learned@1"]
    assert last["learned@1"] >= 0.9  # the questions share words with their intent's labels
    assert first["served"] == "dense" and last["served"] == "learned"  # the default gate: 10 per entry
    asked = result["evaluated"]
    assert asked + result["latency"]["questions"] == result["held_out_questions"]
    assert result["latency"]["dense_p50_ms"] > 0 and result["latency"]["learned_p95_ms"] > 0
    with pytest.raises(ValueError, match="missing from the FAQ"):
        learning_curve(ENTRIES, [("hi", "greet")], HashEmbedding())


@pytest.mark.slow
def test_labels_lift_routing_on_bitext():
    """On Bitext, 10 labelled questions per entry lift both routers over the cold FAQ (a small slice
    of the held-out questions; `shopassist eval faq-curve` runs the whole curve)."""
    data = SHARED_DATA / "cs"
    if not (data / "faq.csv").exists():
        pytest.skip(f"Bitext is not in {data} (see ../shared/data/README.md)")
    from retrieval.datasets import load_intent_faq, load_labelled_questions
    from retrieval.embeddings import MiniLMEmbeddingFunction

    result = learning_curve(
        load_intent_faq(data / "faq.csv"),
        load_labelled_questions(data / "questions_dev.csv"),
        MiniLMEmbeddingFunction(),
        counts=(0, 10),
        max_questions=150,
        latency_questions=20,
    )
    cold, taught = result["curve"]
    assert taught["dense@1"] > cold["dense@1"] and taught["learned@1"] > cold["learned@1"]
    assert taught["learned@1"] >= 0.9
