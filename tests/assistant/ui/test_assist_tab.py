"""The "Agent assist" tab in a real browser: paste a ticket, see a sourced suggestion with its policy
steps, accept it and see the feedback confirmed (the `ui_page` fixture runs `shopassist ui`)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_agent_assist_tab_suggests_and_takes_feedback(console_page, tmp_path):
    page = console_page
    page.get_by_role(
        "tab", name="Agent assist"
    ).click()  # Gradio 6: <button role="tab" id="tab-assist-button">
    page.wait_for_selector("#assist-ticket textarea", state="visible", timeout=60_000)
    page.locator("#assist-ticket textarea").fill("I want a refund for my order")
    page.locator("#assist-suggest").click()
    card = page.locator("#assist-card-0 .assist-card")
    card.wait_for(timeout=120_000)
    faq_sources = card.locator(".assist-src-faq").all_inner_texts()
    assert any(s.startswith(("faq: faq-refunds", "faq: faq-returns")) for s in faq_sources), faq_sources
    steps = card.locator(".assist-steps li").all_inner_texts()
    assert steps and steps[0].startswith("Pull up Account")
    assert "{{Customer Name}}" in card.locator(".assist-ph").inner_text()  # no customer chosen
    reply = page.locator("#assist-text-0 textarea").input_value()
    assert reply.startswith("Hi {{Customer Name}},")
    page.locator("#assist-accept-0").click()
    confirmed = page.locator("#assist-fb-0 .assist-ok")
    confirmed.wait_for(timeout=60_000)
    assert "Accepted" in confirmed.inner_text() and confirmed.get_attribute("data-verdict") == "accept"
    page.screenshot(path=str(tmp_path / "assist.png"), full_page=True)
