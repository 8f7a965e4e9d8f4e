"""The drafts evaluation: its own fact count (independent of the checker it evaluates) and its overrides."""

from __future__ import annotations

import pytest

from assistant.assist.service import SuggestService
from assistant.config import AssistSettings
from assistant.generation.fake import FakeGenerator
from finetune.data import Example
from finetune.draft_eval import invented, run_drafts
from tests.assistant.assist.conftest import StubFAQ, entry, orders  # noqa: F401 - orders is a fixture


def test_step_numbers_and_placeholders_are_not_facts_but_amounts_and_contacts_are():
    text = "Hi {{Customer Name}},\n\n1. Open order {{Order Number}}.\n2. Pay the 15 USD fee.\nCall +1 415 555 0100."
    found = invented(text, "Open your order to pay.")
    assert "15" in found and any("555" in x for x in found)
    assert "1" not in found and "2" not in found
    assert invented("1. Refunds take 5 days.", "Refunds take 5 days.") == []
    # a sentence's full stop is not part of the address it ends with
    assert invented("Write to support@example.com.", "Email support@example.com, or call.") == []
    assert invented("Write to help@example.org.", "Email support@example.com, or call.") == [
        "help@example.org"
    ]


def test_the_candidates_override_reaches_the_service_and_is_checked(orders):  # noqa: F811
    refund = entry("faq-refunds-method", "refunds", "Refunds go back to the original payment method.")
    gen = FakeGenerator()
    service = SuggestService(
        StubFAQ([(refund, 0.8)]), orders, settings=AssistSettings(), generator=lambda: gen
    )
    ex = Example(
        "t1",
        "draft",
        "",
        "",
        "Refunds go back to the card you paid with.",
        meta={"ticket": "refund?", "intent": refund.id},
    )
    out = run_drafts(service, [ex], {"t1": ex.assistant}, ["adapter"], adapter=None, candidates=2)
    assert len(gen.requests) == 2 and out["configs"]["adapter"]["late"] == 0
    (record,) = out["configs"]["adapter"]["records"]  # per ticket: what the averages hide
    assert record["ticket"] == "refund?" and record["reference"] == ex.assistant
    assert record["top_intent"] == refund.id and record["reply"]
    assert service.settings.draft_candidates == 3  # the service's own settings come back
    with pytest.raises(ValueError, match="candidates must be 1 to 8"):
        run_drafts(service, [ex], {"t1": ex.assistant}, ["adapter"], adapter=None, candidates=0)


def test_rouge_of_the_drafting_alone_counts_only_model_written_top_suggestions(orders):  # noqa: F811
    refund = entry("faq-refunds-method", "refunds", "Refunds go back to the original payment method.")
    draft = "I understand you want your money back. Refunds go back to the original payment method you used."
    service = SuggestService(
        StubFAQ([(refund, 0.8)]),
        orders,
        settings=AssistSettings(draft_candidates=1),
        generator=lambda: FakeGenerator([draft]),
    )
    ex = Example("t1", "draft", "", "", draft, meta={"ticket": "refund?", "intent": refund.id})
    out = run_drafts(service, [ex], {"t1": draft}, ["template", "adapter"], adapter=None)["configs"]
    assert out["template"]["model_top"] == 0 and out["template"]["rouge_l_model_top"] == 0.0
    assert out["adapter"]["model_top"] == 1
    # the top suggestion is the draft under its greeting: close to the reference, above the template
    assert (
        out["adapter"]["rouge_l_model_top"] == out["adapter"]["rouge_l_top"] > out["template"]["rouge_l_top"]
    )
