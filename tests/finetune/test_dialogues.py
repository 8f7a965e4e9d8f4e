"""The rewrite/answer data builder: gold by construction, held-out wordings never trained on."""

from pathlib import Path

import pytest

from assistant.chat.understanding import parse_intent
from assistant.grounding.answers import ANSWER_WORDS, best_by, check_answer
from assistant.grounding.verify import verify
from finetune.dialogues import T, _split_templates, build_dialogue_task, heldout_turns
from finetune.tasks import TASKS

DEMO = TASKS["rewrite"].default_data()


@pytest.fixture(scope="module")
def rewrite_data():
    return build_dialogue_task("rewrite", DEMO, size=2)


def test_every_gold_intent_parses(rewrite_data):
    assert len(rewrite_data.examples) > 250
    for ex in rewrite_data.examples:
        assert parse_intent(ex.assistant).line() == ex.assistant
        assert "Message: " in ex.user


def test_heldout_wordings_never_reach_training(rewrite_data):
    _, turns = heldout_turns(DEMO, size=1)
    trained_templates = {t for kind in T for t in _split_templates(kind, heldout=False)}
    held = {t.meta["template"] for t in turns if "template" in t.meta}
    assert held and not held & trained_templates
    trained_messages = {ex.user.rsplit("Message: ", 1)[1] for ex in rewrite_data.examples}
    # a held-out wording can coincide with a trained one only by accident of slots (e.g. "{ord}?")
    overlap = [t.message for t in turns if t.message in trained_messages]
    assert len(overlap) <= len(turns) // 20, overlap


def test_gold_answers_pass_both_checks():
    maker, turns = heldout_turns(DEMO, size=1)
    names = sorted({p.brand for p in maker.products})
    checked = 0
    for t in turns:
        if not t.answer or t.answer_kind == "policy":
            continue
        shown = [maker.lookup(pid) for pid in t.state.product_ids]
        about = [p for p in maker.products if p.title in t.answer]
        if t.answer_kind in {"stock", "attribute"}:  # "it": the product of the one fact line
            about = [
                max(
                    (p for p in maker.products if t.facts[0].startswith(p.title + ":")),
                    key=lambda p: len(p.title),
                )
            ]
        if t.answer_kind.startswith("best") or t.answer_kind == "list":
            about = shown
        assert verify(t.answer, [*t.facts, t.message, ANSWER_WORDS], names, closed_vocabulary=True).ok, (
            t.answer
        )
        subject = best_by(shown, t.answer_kind.split(":")[1]) if t.answer_kind.startswith("best") else None
        assert check_answer(t.answer, about, kind=t.answer_kind, shown=shown, subject=subject) == [], t.answer
        checked += 1
    assert checked > 40


def test_a_shop_without_enough_products_is_told_what_is_missing(tmp_path: Path):
    from finetune.data import DataError

    small = tmp_path / "p.csv"
    small.write_text("id,title,price,category\nA1,Boot,10,shoes\n")
    with pytest.raises(DataError, match="at least 4 products"):
        build_dialogue_task("rewrite", [small])


def test_the_build_is_the_same_in_every_process():
    """The fingerprint names the data an adapter was trained on, so the build must not depend on
    the per-process hash order of strings (PYTHONHASHSEED)."""
    import os
    import subprocess
    import sys

    code = "from finetune.tasks import build_task_data; print(build_task_data('rewrite', None, 'x', None).fingerprint())"
    prints = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(prints) == 1, prints
