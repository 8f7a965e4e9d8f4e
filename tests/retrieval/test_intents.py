import pytest

from retrieval.intents import IntentClassifier

TRAIN = [
    ("where is my refund", "track_refund"),
    ("has my refund been processed yet", "track_refund"),
    ("status of my money back", "track_refund"),
    ("i want my money back", "get_refund"),
    ("how do i get a refund", "get_refund"),
    ("request a refund for my order", "get_refund"),
    ("cancel my order please", "cancel_order"),
    ("i need to cancel a purchase", "cancel_order"),
    ("how can i cancel order 123", "cancel_order"),
]


def test_learns_intents_and_tolerates_typos():
    clf = IntentClassifier().fit([t for t, _ in TRAIN], [i for _, i in TRAIN])
    assert clf.rank("cancell my purchse", 1)[0][0] == "cancel_order"
    assert clf.rank("wheres my refnd", 1)[0][0] == "track_refund"
    ranked = clf.rank("i want a refund", 3)
    assert [label for label, _ in ranked][0] == "get_refund" and len(ranked) == 3


def test_needs_two_intents():
    with pytest.raises(ValueError, match="at least two intents"):
        IntentClassifier().fit(["a", "b"], ["x", "x"])
