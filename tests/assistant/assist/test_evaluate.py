"""`eval suggest`: the metrics on a scripted retriever, and the command on the Bitext data."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from assistant.assist.evaluate import evaluate_suggest
from assistant.assist.service import SuggestService
from assistant.config import AssistSettings
from retrieval.search import FAQHit, FAQResults
from tests.assistant.assist.conftest import entry
from tests.conftest import SHARED_DATA

A, B, C = entry("a"), entry("b"), entry("c")


class ByQuestion:
    """Scripted hits per question text."""

    def __init__(self, script):
        self.script = script

    def run(self, query, *, top_k=3):
        hits = [FAQHit(e, 1.0, d) for e, d in self.script[query]][:top_k]
        return FAQResults(hits, bool(hits), 0.5)


def test_metrics_follow_the_definitions(orders):
    script = {
        "q1": [(A, 0.9), (B, 0.4)],  # right at rank 1
        "q2": [(B, 0.8), (A, 0.6)],  # right at rank 2
        "q3": [(C, 0.45), (A, 0.3)],  # right only below the threshold: no suggestion at 0.5
        "q4": [(C, 0.7)],  # wrong
    }
    labels = [("q1", "a"), ("q2", "a"), ("q3", "c"), ("q4", "b")]
    service = SuggestService(ByQuestion(script), orders, settings=AssistSettings(min_confidence=0.5))
    result = evaluate_suggest(service, labels, thresholds=[0.0, 0.65])
    assert result["questions"] == 4 and result["threshold"] == 0.5
    assert result["coverage"] == 0.75  # q3 has nothing at or above 0.5
    assert result["top1_accuracy"] == 0.25 and result["top3_accuracy"] == 0.5
    assert result["accuracy_at_coverage"] == round(1 / 3, 4)
    curve = {row["threshold"]: row for row in result["curve"]}
    assert set(curve) == {0.0, 0.5, 0.65}
    assert curve[0.0]["coverage"] == 1.0 and curve[0.0]["top1_accuracy"] == 0.5  # q1, q3
    assert curve[0.5]["top1_accuracy"] == result["top1_accuracy"]  # the curve agrees with the run
    assert curve[0.65]["coverage"] == 0.75 and curve[0.65]["top3_accuracy"] == 0.25  # q2's A (0.6) drops
    assert result["latency_p95_ms"] >= result["latency_p50_ms"] >= 0


BITEXT = SHARED_DATA / "cs"


@pytest.mark.slow
@pytest.mark.skipif(
    not (BITEXT / "faq.csv").exists(), reason=f"Bitext data is not at {BITEXT} (../shared/data)"
)
def test_eval_suggest_command_on_bitext(tmp_path, monkeypatch):
    from assistant.cli.main import cli
    from tests.conftest import shared_cache

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOPASSIST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOPASSIST_MODEL_CACHE", str(shared_cache()))
    with (BITEXT / "questions_dev.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    questions = tmp_path / "q.csv"
    with questions.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows[:1] + rows[1::86])  # 61 labelled questions
    args = ["eval", "suggest", "--faq", str(BITEXT / "faq.csv"), "--questions", str(questions)]
    args += ["--max-questions", "40", "--examples", str(questions), "--json", str(tmp_path / "r.json")]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["questions"] == 40 and result["intents"] == 27
    # the evaluated questions are never their own examples; the other 21 are
    assert result["examples_dropped_overlap"] == 40 and result["examples"] == 21
    assert not result["index"]["cached"]
    rows = result["curve"]
    assert all(a["coverage"] >= b["coverage"] for a, b in zip(rows, rows[1:], strict=False))
    assert all(r["top3_accuracy"] >= r["top1_accuracy"] for r in rows)
    assert "coverage" in first.output and "accuracy_at_coverage" in first.output
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and json.loads((tmp_path / "r.json").read_text())["index"]["cached"]
    bad = CliRunner().invoke(cli, [*args[:-2], "--thresholds", "0.2,x"])
    assert bad.exit_code == 2 and "comma-separated" in bad.output
