"""`shopassist suggest` and `shopassist feedback ...` through click's runner."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from assistant.cli.main import cli


@pytest.fixture
def env(cli_env):
    return cli_env


def test_bad_input_is_a_usage_error_before_anything_loads(env):
    runner = CliRunner()
    empty = runner.invoke(cli, ["suggest", "   "])
    assert empty.exit_code == 2 and "The ticket is empty" in empty.output
    assert not (env / "home" / "chroma").exists()  # refused before the store or a model was opened
    bad = runner.invoke(cli, ["suggest", "refund", "--min-confidence", "1.5"])
    assert bad.exit_code == 2 and "--min-confidence" in bad.output
    assert runner.invoke(cli, ["feedback", "report"]).output.strip() == "no suggest feedback yet"
    unknown = runner.invoke(cli, ["feedback", "give", "sug-nope", "accept"])
    assert unknown.exit_code == 2 and "no suggestion 'sug-nope'" in unknown.output
    kind = runner.invoke(cli, ["feedback", "report", "--kind", "thumbs"])
    assert kind.exit_code == 2 and "suggest" in kind.output


def test_bad_policy_file_is_named(env):
    (env / "p.json").write_text("{}")
    result = CliRunner().invoke(
        cli, ["suggest", "refund"], env={"SHOPASSIST_ASSIST__POLICIES": str(env / "p.json")}
    )
    assert result.exit_code == 1 and "p.json" in result.output and "lacks the key(s)" in result.output
    assert not (env / "home" / "chroma").exists()


@pytest.mark.slow
def test_suggest_then_feedback_report_and_export(env):
    runner = CliRunner()
    result = runner.invoke(
        cli, ["suggest", "I want a refund for HP-ORD-50005", "--customer", "C1001", "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    top = body["suggestions"][0]
    assert top["steps"] and "1ZELX79R0388141251" not in result.output  # C1002's order stays hidden
    assert any("HP-ORD-50005 is not on this customer's account" in n for n in body["notes"])
    printed = runner.invoke(cli, ["suggest", "I want a refund for my order"])
    assert "required steps: 1. Pull up Account" in printed.output and "sources: faq:" in printed.output
    given = runner.invoke(
        cli, ["feedback", "give", top["id"], "edit", "--text", "Hi Maya, done. maya@example.com"]
    )
    assert given.exit_code == 0 and "edit" in given.output
    report = json.loads(runner.invoke(cli, ["feedback", "report", "--json"]).output)
    assert report["total"]["n"] == 1 and report["intents"][0]["intent"] == top["intent"]
    out = env / "train.jsonl"
    exported = runner.invoke(cli, ["feedback", "export", "--out", str(out)])
    assert exported.exit_code == 0 and "wrote 1 examples" in exported.output
    line = json.loads(out.read_text())
    assert "maya@example.com" not in out.read_text() and "Maya" not in out.read_text()
    assert line["assistant"].startswith("Hi {{Customer Name}}, done.")


def test_eval_drafts_compares_configurations_on_held_out_tickets(env, monkeypatch):
    """The fake engine's text is no reply: every suggestion keeps its template, and the run says why.
    The index lives in its own cached home, but the engine is built from the user's settings, so an
    adapter trained into the user's home (`--adapter`) is the one the engine loads."""
    import assistant.shop
    from tests.conftest import HashEmbedding

    monkeypatch.setattr(
        assistant.shop, "embedding_function", lambda settings, cache=True, faq=False: HashEmbedding()
    )
    homes = []
    real_create = assistant.shop.create_generator

    def create(name, **kwargs):
        homes.append(kwargs["settings"].home)
        return real_create(name, **kwargs)

    monkeypatch.setattr(assistant.shop, "create_generator", create)
    faq = env / "faq.csv"
    faq.write_text(
        "intent,category,answer\n"
        "cancel_order,ORDER,You can cancel an order from your order details page.\n"
        "track_order,ORDER,Your order's tracking link is in your order details.\n"
    )
    replies = env / "replies.csv"
    rows = ["instruction,intent,category,response"]
    for n in range(80):
        intent = ("cancel_order", "track_order")[n % 2]
        word = "cancel" if n % 2 == 0 else "track"
        rows.append(
            f'"please {word} my order number {n}",{intent},ORDER,"Sure, open your order details to {word} it."'
        )
    replies.write_text("\n".join(rows) + "\n")
    out = env / "drafts.json"
    args = ["eval", "drafts", "--data", str(replies), "--data", str(faq), "--max-tickets", "5"]
    result = CliRunner().invoke(
        cli, [*args, "--configs", "template,adapter", "--adapter", "draft-lora-test", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["tickets"] == 5 and data["adapter"] == "draft-lora-test"
    assert homes and all("eval-suggest" not in str(h) for h in homes)
    template, adapter = data["configs"]["template"], data["configs"]["adapter"]
    assert template["model_written_share"] == adapter["model_written_share"] == 0.0
    assert adapter["why_not_model"] and not template["why_not_model"]
    bad = CliRunner().invoke(cli, [*args, "--configs", "magic"])
    assert bad.exit_code != 0 and "unknown magic" in bad.output
