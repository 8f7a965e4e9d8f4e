"""Reply metrics: ROUGE-L and format adherence, and the side-by-side runner on a scripted generator."""

import pytest

from assistant.grounding.replies import invented_contacts
from finetune.data import Example
from finetune.evaluate import eval_replies, reply_format, rouge_l


def test_rouge_l():
    assert rouge_l("the cat sat on the mat", "the cat sat on the mat") == 1.0
    assert rouge_l("", "x") == 0.0
    assert rouge_l("the cat on mat", "the cat sat on the mat") == pytest.approx(
        2 * 1.0 * (4 / 6) / (1 + 4 / 6)
    )


EX = Example(
    "1",
    "cs",
    "You help Harbor & Pine customers.",
    "How do I cancel?",
    "Go to {{Order History}} or call {{Customer Support Phone Number}} to cancel your order today.",
)


def test_reply_format():
    good = reply_format(
        "Open {{Order History}} and cancel; or call {{Customer Support Phone Number}} now please.", EX
    )
    assert good["format_ok"] and good["placeholders_kept"] == 1.0
    bad = reply_format(
        "Call 555-123-4567 or mail help@shop.com or see www.shop.com for help with cancelling.", EX
    )
    assert bad["invented_contacts"] == 3 and not bad["format_ok"]
    assert not reply_format("Ok.", EX)["length_ok"]


def test_contacts_in_the_prompt_are_not_invented():
    assert invented_contacts("write to jo@x.io", "my email is jo@x.io") == []


def test_eval_replies_side_by_side():
    from assistant.generation.fake import FakeGenerator

    tuned = "Go to {{Order History}} or call {{Customer Support Phone Number}} to cancel your order."
    gen = FakeGenerator(default=lambda r: tuned if r.adapter == "cs-lora" else "base reply")
    result = eval_replies(gen, [EX], [None, "cs-lora"])
    assert {r.adapter for r in gen.requests} == {None, "cs-lora"} and all(
        r.temperature == 0 for r in gen.requests
    )
    assert set(result["models"]) == {"base", "cs-lora"}
    assert result["models"]["cs-lora"]["rouge_l"] > result["models"]["base"]["rouge_l"]
