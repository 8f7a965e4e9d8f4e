"""The README's run command brings the UI up, and a real browser gets product cards back.

The `ui_server`/`ui_page` fixtures (tests/assistant/conftest.py) start `shopassist ui` (what
`make run` runs) with the real models and drive Debian's Chromium through Playwright.
"""

from __future__ import annotations

import pytest

from tests.assistant.conftest import _browser_page, started_ui

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


@pytest.fixture(scope="module")
def zh_ui(tmp_path_factory: pytest.TempPathFactory):
    """`make run SHOP=zh`: the Chinese demo shop in a home of its own (scripted engine: the model does
    not write Chinese, so a Chinese turn never asks it)."""
    pytest.importorskip("jieba", reason="the languages extra is not installed")
    home = tmp_path_factory.mktemp("zh-ui")
    settings = {"SHOPASSIST_SHOP__DEMO": "zh", "SHOPASSIST_GENERATOR__ENGINE": "fake"}
    with started_ui(home, timeout=300, **settings) as url:
        yield url


def test_the_chinese_shop_shows_a_chinese_app_and_answers_in_chinese(zh_ui, tmp_path):
    for page in _browser_page(zh_ui, "", "#message textarea", locale="zh-CN"):
        assert (
            page.locator("#message textarea").get_attribute("placeholder")
            == "可以咨询商品、配送、退换货或您的订单……"
        )
        assert page.locator("#send").inner_text().strip() == "发送"
        assert "青禾生活 购物助手" in page.locator("body").inner_text()
        assert "助手找到的商品会显示在这里。" in page.locator("#product-cards").inner_text()
        box = page.locator("#message textarea")
        box.fill("防水的登山鞋")
        box.press("Enter")
        page.wait_for_selector("#product-cards .card", timeout=120_000)
        page.wait_for_function("document.querySelector('#chat').innerText.includes('[QH-')", timeout=120_000)
        chat = page.locator("#chat").inner_text()
        assert "我的语言模型暂时还不能用中文撰写回复" in chat and "以下是符合条件的商品：" in chat
        assert "防水徒步登山鞋" in chat and "¥699.00" in chat
        prices = page.locator("#product-cards .card .price").all_inner_texts()
        assert prices and all(p.startswith("¥") for p in prices)
        page.screenshot(path=str(tmp_path / "shopper-zh.png"), full_page=True)
        assert (tmp_path / "shopper-zh.png").stat().st_size > 10_000
