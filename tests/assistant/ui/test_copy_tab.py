"""The "Product copy" tab in a real browser: pick a product, generate, and see checked copy.

Runs against `shopassist ui` (the `ui_page` fixture: real models, headless Chromium). The final
copy must name the product's brand (rendered from data when the model leaves it out), carry no
claim marked unsupported, and show its outcome and coverage.
"""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def open_copy_tab(page):
    tab = page.locator("#tab-copy-button")
    if not tab.count():
        tab = page.get_by_role("tab", name="Product copy")
    tab.first.click()
    page.wait_for_selector("#copy-generate", state="visible", timeout=30_000)


def test_generate_copy_for_a_product(console_page, tmp_path):
    from assistant.shop import demo_shop_dir
    from retrieval.catalog import load_products

    catalogue = {p.id: p for p in load_products(demo_shop_dir() / "products.csv").items}
    product = catalogue["HP-1004"]
    page = console_page
    open_copy_tab(page)
    picker = page.locator("#copy-product input")
    picker.click()
    picker.fill("")
    picker.press_sequentially(product.title[:14])  # the list shows 100 items; typing filters it
    page.locator(f"#copy-product [role=option][aria-label$='({product.id})']").first.click()
    page.locator("#copy-form").get_by_text("bullets", exact=True).click()
    page.locator("#copy-generate").click()
    page.wait_for_selector("#copy-output .copy-text", timeout=180_000)
    page.wait_for_selector("#copy-report .copy-stats", timeout=30_000)
    text = page.locator("#copy-output .copy-text").inner_text()
    report = page.locator("#copy-report").inner_text()
    page.screenshot(path=str(tmp_path / "copy.png"), full_page=True)
    assert product.brand in text and f"- Size: {product.size}" in text
    assert page.locator("#copy-output mark.claim-bad").count() == 0
    assert page.locator("#copy-output mark.claim-ok").count() >= 3  # the facts are marked as backed
    assert re.search(r"outcome: (model|repaired|template)", report)
    coverage = int(re.search(r"coverage: (\d+)%", report).group(1))
    assert coverage >= 80
    assert "unsupported claims: 0" in report
