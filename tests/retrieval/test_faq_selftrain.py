"""Self-training the FAQ router on unlabelled questions (retrieval.faq_selftrain), with hashing
embeddings: the logic, not the accuracy on real questions (`eval faq-selftrain` measures that)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.faq_selftrain import (
    SelfTrainConfig,
    evaluate_self_training,
    hub_corrected,
    self_train,
    view_scores,
)
from retrieval.schema import FAQEntry
from tests.conftest import HashEmbedding

ENTRIES = [
    FAQEntry(
        id="cancel_order", question="cancel order", answer="You can cancel an order from its details page."
    ),
    FAQEntry(id="track_refund", question="track refund", answer="See the status of a refund under Returns."),
    FAQEntry(
        id="change_address",
        question="change shipping address",
        answer="Edit the shipping address in My Account.",
    ),
]
WORDS = {
    "cancel_order": [
        "cancel my order",
        "cancel purchase order",
        "want to cancel the order",
        "cancel order now",
    ],
    "track_refund": ["refund status", "where is my refund", "track the refund", "status of refund money"],
    "change_address": ["change my address", "new shipping address", "edit address", "shipping address wrong"],
}
QUESTIONS = [
    (f"{text} {extra}", intent)
    for intent, texts in WORDS.items()
    for text in texts
    for extra in ("please", "today", "asap", "thanks", "help me", "quickly")
]


def test_self_training_labels_most_questions_right_and_keeps_more_each_round():
    result = self_train(ENTRIES, [q for q, _ in QUESTIONS], HashEmbedding())
    gold = dict(QUESTIONS)
    right = sum(gold[q] == entry for q, entry in result.labels)
    assert result.questions == len(QUESTIONS) and len(result.rounds) == 2
    assert result.rounds[0] < result.rounds[1] == len(result.labels)  # a third, then two thirds
    assert right / len(result.labels) >= 0.9
    assert {entry for _, entry in result.labels} == {e.id for e in ENTRIES}


def test_too_few_questions_or_entries_give_no_labels():
    assert self_train(ENTRIES[:1], ["cancel my order"], HashEmbedding()).labels == []
    assert self_train(ENTRIES, ["", "  "], HashEmbedding()).labels == []
    # An entry whose share of questions is under min_questions gets none.
    few = self_train(ENTRIES, ["cancel my order please", "refund status today"], HashEmbedding())
    assert few.labels == []
    one_round = self_train(
        ENTRIES, [q for q, _ in QUESTIONS], HashEmbedding(), SelfTrainConfig(shares=(1.0,), min_questions=1)
    )
    assert one_round.rounds == [len(set(q for q, _ in QUESTIONS))]  # every question, routed cold


def test_a_bare_intent_name_is_read_through_question_templates():
    embed = HashEmbedding()
    ask = np.asarray(embed(["how do I cancel order"]), dtype=np.float32)
    bare = view_scores([ENTRIES[0]], ask, embed)[0, 0]
    asked = view_scores([ENTRIES[0].model_copy(update={"question": "How do I cancel order?"})], ask, embed)[
        0, 0
    ]
    assert bare != asked  # the bare name is averaged over templates, a real question is used as is


def test_hub_correction_lowers_an_entry_near_every_question():
    scores = np.array([[0.50, 0.55], [0.10, 0.60], [0.12, 0.62], [0.11, 0.61]], dtype=np.float32)
    assert scores[0].argmax() == 1  # the hub (entry 1) wins question 0 on raw similarity
    corrected = hub_corrected(scores, k=3)
    assert corrected[0].argmax() == 0
    np.testing.assert_allclose(corrected[:, 0], 2 * scores[:, 0] - np.mean([0.50, 0.12, 0.11]), atol=1e-6)


def test_evaluation_reads_other_folds_only_and_reports_label_precision():
    result = evaluate_self_training(ENTRIES, QUESTIONS, HashEmbedding(), folds=2, pool_sizes=(10, None))
    rows = {r["mode"]: r for r in result["rows"]}
    assert set(rows) == {"cold", "self-trained on 10", "self-trained on all others"}
    full = rows["self-trained on all others"]
    assert full["unlabelled_per_fold"] == len(QUESTIONS) // 2 and full["labels_per_fold"] > 0
    assert full["label_precision"] >= 0.9 and full["accuracy@1"] >= rows["cold"]["accuracy@1"]
    assert rows["cold"]["labels_per_fold"] == 0 and rows["cold"]["label_precision"] is None
    with pytest.raises(ValueError, match="at least 2 folds"):
        evaluate_self_training(ENTRIES, QUESTIONS, HashEmbedding(), folds=1)
    with pytest.raises(ValueError, match="missing from the FAQ"):
        evaluate_self_training(ENTRIES, [("hi", "greeting")], HashEmbedding())
