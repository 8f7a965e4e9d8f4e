"""The drafts evaluation's own fact count (independent of the checker it evaluates)."""

from __future__ import annotations

from finetune.draft_eval import invented


def test_step_numbers_and_placeholders_are_not_facts_but_amounts_and_contacts_are():
    text = "Hi {{Customer Name}},\n\n1. Open order {{Order Number}}.\n2. Pay the 15 USD fee.\nCall +1 415 555 0100."
    found = invented(text, "Open your order to pay.")
    assert "15" in found and any("555" in x for x in found)
    assert "1" not in found and "2" not in found
    assert invented("1. Refunds take 5 days.", "Refunds take 5 days.") == []
