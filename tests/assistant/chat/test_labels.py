"""Router training data from feedback (latest verdict wins), and the operator's queue of
unanswered questions grouped by meaning, newest first."""

from __future__ import annotations

from assistant.chat.labels import (
    Unanswered,
    chat_labels,
    cited_entry,
    group_questions,
    operator_labels,
    suggestion_labels,
    turn_id,
    unanswered,
)
from assistant.stores.feedback import StoredFeedback
from tests.conftest import HashEmbedding

ENTRIES = {"faq-returns-window", "faq-shipping-free"}
TURNS = [
    {
        "id": 1,
        "response_id": "r1",
        "route": "faq",
        "action": "answer",
        "message": "can I send it back",
        "created": "d1",
    },
    {
        "id": 2,
        "response_id": "r2",
        "route": "faq",
        "action": "answer",
        "message": "free shipping?",
        "created": "d2",
    },
    {
        "id": 3,
        "response_id": "r3",
        "route": "unknown",
        "action": "refuse",
        "message": "gift cards for christmas",
        "created": "d3",
    },
    {
        "id": 4,
        "response_id": "r4",
        "route": "handoff",
        "action": "handoff",
        "message": "a human please",
        "created": "d4",
    },
    {
        "id": 5,
        "response_id": "r5",
        "route": "products",
        "action": "answer",
        "message": "boots",
        "created": "d5",
    },
    {
        "id": 6,
        "response_id": "r6",
        "route": "unknown",
        "action": "refuse",
        "message": "christmas gift cards?",
        "created": "d6",
    },
]


def fb(n: int, kind: str, item: str, verdict: str, text: str = "", intent: str = "") -> StoredFeedback:
    return StoredFeedback(
        id=n,
        created="",
        kind=kind,
        item_id=item,
        verdict=verdict,
        text=text,
        final_text="as sent" if verdict == "edit" else "",
        intent=intent,
    )


def test_a_thumbs_up_on_an_faq_reply_labels_its_question_with_the_cited_entry():
    feedback = [
        fb(1, "chat", "r1", "up", text="You can return items [faq-returns-window].", intent="faq"),
        fb(2, "chat", "r2", "up", text="no citation here", intent="faq-shipping-free"),
        fb(3, "chat", "r5", "up", text="- **Boot** [HP-1]", intent="products"),  # a product turn
        fb(4, "chat", "gone", "up", text="[faq-shipping-free]"),  # its turn was pruned: no question
    ]
    labels = chat_labels(feedback, TURNS, ENTRIES)
    assert [(lb.question, lb.entry_id, lb.source, lb.ref) for lb in labels] == [
        ("can I send it back", "faq-returns-window", "chat", "r1"),
        ("free shipping?", "faq-shipping-free", "chat", "r2"),
    ]
    changed_mind = feedback + [fb(9, "chat", "r1", "down", text="[faq-returns-window]")]
    assert [lb.ref for lb in chat_labels(changed_mind, TURNS, ENTRIES)] == ["r2"]
    assert (
        cited_entry(fb(1, "chat", "x", "up", text="[HP-1] then [faq-shipping-free]"), ENTRIES)
        == "faq-shipping-free"
    )


def test_accepted_or_edited_suggestions_label_their_ticket():
    tickets = {"s1": "my boots leak, can I send them back?", "s2": "is shipping free?", "s3": "x"}
    feedback = [
        fb(1, "suggest", "s1", "accept", intent="faq-returns-window"),
        fb(2, "suggest", "s2", "edit", intent="faq-shipping-free"),
        fb(3, "suggest", "s3", "accept", intent="faq-shipping-free"),
        fb(4, "suggest", "s3", "reject", intent="faq-shipping-free"),  # the latest verdict counts
        fb(5, "suggest", "s4", "accept", intent="faq-shipping-free"),  # no ticket logged
        fb(6, "suggest", "s5", "accept", intent="billing_issue"),  # not an entry of this FAQ
    ]
    labels = suggestion_labels(feedback, tickets.get, ENTRIES)
    assert [(lb.question, lb.entry_id, lb.source) for lb in labels] == [
        ("my boots leak, can I send them back?", "faq-returns-window", "suggest"),
        ("is shipping free?", "faq-shipping-free", "suggest"),
    ]


def test_the_queue_holds_refused_handed_off_and_disliked_questions_newest_first():
    feedback = [fb(1, "chat", "r2", "down", text="[faq-shipping-free]")]
    queue = unanswered(TURNS, feedback)
    assert [(q.id, q.why) for q in queue] == [
        ("t6", "refused"),
        ("t4", "handed off"),
        ("t3", "refused"),
        ("t2", "answer rated down"),
    ]
    assert [q.id for q in unanswered(TURNS, feedback, done={"t3", "t6"})] == ["t4", "t2"]
    groups = group_questions(queue)  # shared words
    assert [g.ids for g in groups] == [["t6", "t3"], ["t4"], ["t2"]] and groups[0].example.id == "t6"
    by_meaning = group_questions(queue, HashEmbedding())
    assert by_meaning[0].ids == ["t6", "t3"]
    assert group_questions([]) == []


def test_operator_labels_name_the_turns_and_report_unknown_ids():
    labels, missing = operator_labels(["t3", "6", "t99", "x"], "faq-shipping-free", TURNS)
    assert [(lb.question, lb.ref, lb.source) for lb in labels] == [
        ("gift cards for christmas", "t3", "operator"),
        ("christmas gift cards?", "t6", "operator"),
    ]
    assert missing == ["t99", "x"] and turn_id("T42") == 42 and turn_id("q-1") is None
    assert Unanswered("t1", "q", "", "refused").id == "t1"
