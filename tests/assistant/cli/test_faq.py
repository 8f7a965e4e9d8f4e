"""`shopassist faq ...`: the router's learning loop on the demo shop with hashing embeddings (no
model): served turns and feedback in, labels out, and the FAQ index synced with them."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from assistant.cli.main import cli
from tests.conftest import HashEmbedding


@pytest.fixture
def shop(cli_env, monkeypatch):
    """The demo shop in the CLI's home, with three logged turns and feedback on them."""
    monkeypatch.setattr(
        "assistant.shop.embedding_function", lambda settings, cache=True, faq=False: HashEmbedding()
    )
    from assistant.assist.feedback import AssistFeedback
    from assistant.assist.protocol import Suggestion, Suggestions
    from assistant.chat.protocol import ChatResponse, Citation
    from assistant.config import load_settings
    from assistant.shop import Shop
    from assistant.stores.feedback import FeedbackItem, FeedbackStore

    shop = Shop(load_settings())
    shop.ensure_ready()

    def turn(message: str, route: str, action: str, cited: str | None = None) -> ChatResponse:
        response = ChatResponse(
            text=f"Policy text [{cited}]" if cited else "Sorry, I can't help with that.",
            action=action,
            route=route,
            confidence=0.9 if cited else 0.0,
            citations=[Citation(id=cited, kind="faq", title=cited)] if cited else [],
        )
        assert shop.turns.record(response, message, "api", 0.05)
        return response

    liked = turn("can i send my boots back after two weeks", "faq", "answer", "faq-returns-window")
    disliked = turn("do you price match amazon", "faq", "answer", "faq-shipping-free")
    turn("do you do gift cards for christmas", "unknown", "refuse")
    turn("christmas gift cards?", "unknown", "refuse")
    turn("I want a human", "handoff", "handoff")
    store = FeedbackStore.from_settings(shop.settings)
    # The widget sends the route as intent and the reply's text: the entry comes from its citation.
    store.add(FeedbackItem(kind="chat", item_id=liked.id, verdict="up", text=liked.text, intent="faq"))
    store.add(
        FeedbackItem(kind="chat", item_id=disliked.id, verdict="down", text=disliked.text, intent="faq")
    )
    assist = AssistFeedback(store, shop.orders)
    shown = Suggestion(
        id="s-1", rank=1, text="Here is how returns work.", intent="faq-returns-how-to", confidence=0.8
    )
    assist.record(
        Suggestions(
            ticket_id="T-1", suggestions=[shown], threshold=0.5, ticket_scrubbed="how do I ship a return?"
        )
    )
    assist.give("s-1", "accept")
    return shop


def faq(*args: str):
    return CliRunner().invoke(cli, ["faq", *args])


def printed_json(result) -> dict:
    """The JSON a command printed after its text (`--json -`)."""
    assert result.exit_code == 0, result.output
    return json.loads(result.output[result.output.index("{\n") :])


def test_unanswered_lists_refused_handed_off_and_disliked_questions_grouped_newest_first(shop):
    result = faq("unanswered", "--json", "queue.json")
    assert result.exit_code == 0, result.output
    groups = json.loads((shop.settings.home.parent / "queue.json").read_text())["groups"]
    firsts = [g["questions"][0]["question"] for g in groups]
    assert firsts[0] == "I want a human"  # the newest
    gift = next(g for g in groups if "gift" in g["questions"][0]["question"])
    assert [q["question"] for q in gift["questions"]] == [
        "christmas gift cards?",
        "do you do gift cards for christmas",
    ]  # one group (shared words under the hashing embedding), newest first
    assert "do you price match amazon" in firsts and all("boots back" not in q for q in firsts)
    whys = {q["why"] for g in groups for q in g["questions"]}
    assert whys == {"refused", "handed off", "answer rated down"}
    assert "ids: " in result.output


def test_assign_learn_and_labels_close_the_loop(shop):
    queue = printed_json(faq("unanswered", "--json", "-"))
    gift = next(g for g in queue["groups"] if "gift" in g["questions"][0]["question"])
    assigned = faq("assign", ",".join(gift["ids"]), "faq-payment-gift-cards")
    assert assigned.exit_code == 0, assigned.output
    assert "2 label(s) stored" in assigned.output
    again = faq("assign", ",".join(gift["ids"]), "faq-payment-gift-cards")
    assert "0 label(s) stored, 2 already known" in again.output
    unknown = faq("assign", gift["ids"][0], "faq-nope")
    assert unknown.exit_code == 1 and "unknown FAQ entry: faq-nope" in unknown.output
    left = faq("unanswered").output
    assert "gift" not in left  # assigned questions leave the queue

    learned = faq("learn", "--json", "learn.json")
    assert learned.exit_code == 0, learned.output
    summary = json.loads((shop.settings.home.parent / "learn.json").read_text())
    # The thumbs-up (question from the turn log, entry from the reply's citation) and the accepted
    # suggestion (its ticket and intent); the disliked answer teaches nothing.
    assert summary["collected"] == 2 and summary["labels"] == 4 and summary["documents_embedded"] > 0
    shop.index.faq.refresh()
    entries = shop.index.faq.entries
    assert "can i send my boots back after two weeks" in entries["faq-returns-window"].examples
    assert "how do I ship a return?" in entries["faq-returns-how-to"].examples
    assert "christmas gift cards?" in entries["faq-payment-gift-cards"].examples
    assert "do you price match amazon" not in entries["faq-shipping-free"].examples
    # Learning again stores nothing new and changes no document.
    twice = printed_json(faq("learn", "--json", "-"))
    assert twice["new"] == 0 and twice["documents_embedded"] == 0

    table = faq("labels")
    assert table.exit_code == 0
    assert any(
        line.startswith("faq-payment-gift-cards") and " 2 " in f"{line} "
        for line in table.output.splitlines()
    )


def test_assign_from_a_file_and_moving_a_question(shop):
    (shop.settings.home.parent / "a.csv").write_text(
        "question,entry_id\nis my order insured,faq-shipping-lost-package\n"
    )
    assert "1 label(s) stored" in faq("assign", "--file", "a.csv").output
    (shop.settings.home.parent / "a.csv").write_text(
        "question,entry_id\nis my order insured,faq-contact-email\n"
    )
    assert "1 label(s) stored" in faq("assign", "--file", "a.csv").output
    assert faq("learn").exit_code == 0
    shop.index.faq.refresh()
    entries = shop.index.faq.entries
    assert "is my order insured" in entries["faq-contact-email"].examples
    assert "is my order insured" not in entries["faq-shipping-lost-package"].examples
    bad = faq("assign", "t1")
    assert bad.exit_code == 2 and "QUESTION_IDS and ENTRY_ID, or --file" in bad.output


def test_a_re_ingested_faq_file_keeps_what_was_learned(shop):
    """The FAQ file carries no labels: ingesting it again (an operator's edit) must not undo them."""
    queue = printed_json(faq("unanswered", "--json", "-"))
    gift = next(g for g in queue["groups"] if "gift" in g["questions"][0]["question"])
    assert faq("assign", ",".join(gift["ids"]), "faq-payment-gift-cards").exit_code == 0
    assert faq("learn").exit_code == 0
    report = shop.ingest(sources=("faq",), prune=True)
    assert report.faq_stats is not None and report.faq_stats.embedded == 0  # nothing changed
    shop.index.faq.refresh()
    assert "christmas gift cards?" in shop.index.faq.entries["faq-payment-gift-cards"].examples


def test_the_label_file_and_the_router_gate_are_settings(cli_env, tmp_path, monkeypatch):
    from assistant.config import load_settings
    from assistant.shop import Shop, label_store

    monkeypatch.setattr(
        "assistant.shop.embedding_function", lambda settings, cache=True, faq=False: HashEmbedding()
    )
    monkeypatch.setenv("SHOPASSIST_RETRIEVAL__FAQ_LABELS", str(tmp_path / "labels.jsonl"))
    monkeypatch.setenv("SHOPASSIST_RETRIEVAL__FAQ_ROUTER_MIN_EXAMPLES", "2.5")
    settings = load_settings()
    assert label_store(settings).path == tmp_path / "labels.jsonl"
    assert Shop(settings).index.faq.min_examples == 2.5


def test_self_train_labels_unlabelled_questions_and_people_win(shop):
    home = shop.settings.home.parent
    asked = {
        "faq-payment-gift-cards": [
            "gift card pay",
            "pay with gift card",
            "gift card at checkout",
            "use a gift card",
        ],
        "faq-account-delete": [
            "delete account",
            "delete my account now",
            "account delete please",
            "how delete account",
        ],
        "faq-payment-cod": [
            "cash on delivery",
            "pay cash on delivery",
            "cash delivery ok",
            "delivery cash pay",
        ],
    }
    # Self-training keeps up to a third of the questions per entry on average: a demo FAQ of ~40
    # entries needs a few hundred questions before any entry keeps the three it needs.
    tails = [
        f"{a} {b}"
        for a in ("please", "today", "thanks", "now", "asap")
        for b in ("hi", "hello", "hey", "ok", "sir", "again", "soon", "folks")
    ]
    lines = [f"{q} {tail}" for qs in asked.values() for q in qs for tail in tails]
    (home / "asked.txt").write_text("\n".join(lines) + "\n")
    faq(
        "assign",
        "--file",
        _write(home / "a.csv", "question,entry_id\ngift card pay please hi,faq-payment-cod\n"),
    )
    summary = printed_json(faq("self-train", "--questions", str(home / "asked.txt"), "--json", "-"))
    # The turn log's two FAQ-routed questions and the file's, less the one a person labelled.
    assert summary["questions"] == len(lines) + 2 - 1 and summary["labels"] > 0
    from assistant.shop import label_store

    traffic = [label for label in label_store(shop.settings).all() if label.source == "traffic"]
    assert len(traffic) == summary["labels"] and "gift card pay please hi" not in {
        t.question for t in traffic
    }
    shop.index.faq.refresh()
    examples = shop.index.faq.entries["faq-account-delete"].examples
    assert any("delete" in example for example in examples)
    assert (
        "gift card pay please hi" in shop.index.faq.entries["faq-payment-cod"].examples
    )  # the person's call
    again = printed_json(faq("self-train", "--questions", str(home / "asked.txt"), "--json", "-"))
    assert (
        again["labels"] == summary["labels"] and again["documents_embedded"] == 0
    )  # same guesses, no change
    few = faq("self-train", "--questions", _write(home / "few.txt", "delete account\n"), "--dry-run")
    assert few.exit_code == 0 and "labels: 0" in few.output and "questions for an FAQ of" in few.output
    bad = faq("self-train", "--questions", _write(home / "b.csv", "id,body\n1,hello\n"))
    assert bad.exit_code == 1 and "needs a question, instruction, message or text column" in bad.output


def _write(path, text: str) -> str:
    path.write_text(text)
    return str(path)
