"""The README's run command brings the UI up, and a real browser gets product cards back.

The `ui_server`/`ui_page` fixtures (tests/assistant/conftest.py) start `shopassist ui` (what
`make run` runs) with the real models and drive Debian's Chromium through Playwright.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_browser_asks_a_product_question_and_sees_cards(ui_page, tmp_path):
    page = ui_page
    box = page.locator("#message textarea")
    box.fill("waterproof boots under 100")
    box.press("Enter")
    page.wait_for_selector("#product-cards .card", timeout=120_000)
    page.wait_for_function("document.querySelector('#chat').innerText.includes('[HP-')", timeout=120_000)
    titles = page.locator("#product-cards .card .title").all_inner_texts()
    ids = [
        page.locator("#product-cards .card").nth(i).get_attribute("data-product-id")
        for i in range(len(titles))
    ]
    page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)
    assert titles and all("Boot" in t for t in titles)
    from assistant.shop import demo_shop_dir
    from retrieval.catalog import load_products

    catalogue = {p.id: p for p in load_products(demo_shop_dir() / "products.csv").items}
    assert all(i in catalogue and catalogue[i].price <= 100 for i in ids)
    assert (tmp_path / "chat.png").stat().st_size > 10_000


def test_a_message_sent_while_a_turn_is_still_streaming_is_answered(ui_page):
    """The first turn's facts are on screen and its model sentence still pending when the second
    message is sent: the box is free at once, nothing typed is lost, and both turns are answered."""
    page = ui_page
    box = page.locator("#message textarea")
    box.fill("waterproof boots")
    box.press("Enter")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('[HP-')", timeout=120_000)
    box.fill("What is your return policy?")
    box.press("Enter")
    page.wait_for_function("document.querySelector('#message textarea').value === ''", timeout=10_000)
    page.wait_for_function(
        "document.querySelector('#chat').innerText.includes('within 30 days of delivery')", timeout=120_000
    )
    text = page.locator("#chat").inner_text()
    assert "waterproof boots" in text and "What is your return policy?" in text
    assert text.index("[HP-") < text.index("within 30 days of delivery")  # in the order they were sent
