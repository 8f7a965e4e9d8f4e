"""Generated FAQ questions: parsed, cleaned, and kept only when they still find their own entry."""

from __future__ import annotations

import re
from pathlib import Path

from assistant.chat.faq_questions import FAQQuestionWriter, parse_questions
from assistant.generation.fake import FakeGenerator
from retrieval.datasets import load_labelled_questions
from retrieval.schema import FAQEntry
from tests.conftest import HashEmbedding

ENTRIES = [
    FAQEntry(id="cancel_order", question="cancel order", answer="Open your order and press Cancel order."),
    FAQEntry(id="track_order", question="track order", answer="The tracking link is in your shipping email."),
]

REPLIES = {
    "cancel order": (
        "1. how do I cancel my order\n- please cancel my order\nTopic: cancel order\nok\n"
        "where is the tracking link of my shipping email"
    ),
    "track order": '* where is my order tracking link\n2) track order\n"can I track my order?"',
}


def scripted(request) -> str:
    topic = re.search(r"Topic: (.+)", request.messages[-1].content)
    assert topic is not None
    return REPLIES[topic.group(1)]


def test_bullets_numbers_and_quotes_are_removed():
    assert parse_questions('1. a b\n- c d\n\n  * "e f"  \n3) g') == ["a b", "c d", "e f", "g"]


def test_questions_are_cleaned_deduplicated_and_round_trip_filtered(tmp_path: Path):
    generator = FakeGenerator(default=scripted)
    writer = FAQQuestionWriter(generator, requests_per_entry=2, keep_top=1, workers=2)
    result = writer.run(ENTRIES, HashEmbedding())
    assert sorted(result.questions) == [
        ("can I track my order?", "track_order"),
        ("how do I cancel my order", "cancel_order"),
        ("please cancel my order", "cancel_order"),
        ("where is my order tracking link", "track_order"),
    ]
    assert result.generated == 16  # 8 lines per entry pair of requests, before cleaning
    assert result.dropped == {
        "length": 2,  # "ok" twice
        "copied the prompt": 4,  # "Topic: ..." twice, "track order" (the entry's own name) twice
        "duplicate": 5,
        "routed to another entry": 1,  # a cancel-order question about the tracking link
    }
    # each request asks about one entry, sampled, with its own seed
    assert len({r.seed for r in generator.requests}) == 4
    assert all(r.temperature > 0 for r in generator.requests)
    out = tmp_path / "examples.csv"
    result.write_csv(out)
    assert sorted(load_labelled_questions(out)) == sorted(result.questions)


def test_cli_writes_examples_and_refuses_an_empty_faq(cli_env: Path, monkeypatch):
    from click.testing import CliRunner

    import assistant.shop
    from assistant.cli.main import cli

    monkeypatch.setattr(
        assistant.shop, "embedding_function", lambda settings, cache=True, faq=False: HashEmbedding()
    )
    faq = cli_env / "faq.csv"
    faq.write_text(
        "intent,category,answer\n"
        "cancel_order,ORDER,Open your order and press Cancel order.\n"
        "track_order,ORDER,The tracking link is in your shipping email.\n"
    )
    out = cli_env / "examples.csv"
    run = CliRunner().invoke(
        cli, ["faq-questions", "--faq", str(faq), "--out", str(out), "--requests-per-entry", "1"]
    )
    assert run.exit_code == 0, run.output
    assert "questions written by fake" in run.output and "wrote" in run.output
    assert out.read_text().splitlines()[0] == "question,intent"
    before = out.read_text()
    empty = cli_env / "empty.csv"
    empty.write_text("intent,category,answer\n")
    run = CliRunner().invoke(cli, ["faq-questions", "--faq", str(empty), "--out", str(out)])
    assert run.exit_code != 0 and "no FAQ entries" in run.output
    assert out.read_text() == before  # nothing already written is lost
