"""The shopper app's own text follows the shop's locale (issue 21); shop content in it stays escaped.
The whole Chinese app, in a browser, is `test_shopper.py::test_the_chinese_shop_shows_a_chinese_app...`."""

from assistant.chat.protocol import ProductCard
from assistant.ui.shopper import render_cards

CARD = ProductCard(
    id="QH-1008", title="<b>雪地靴</b>", price=459.0, currency="CNY", brand="雪原", rating=4.6, in_stock=False
)


def test_cards_show_prices_and_stock_in_the_shops_language():
    zh = render_cards([CARD], "zh")
    assert "<div class='price'>¥459.00</div>" in zh and "<div class='oos'>缺货</div>" in zh
    assert "&lt;b&gt;雪地靴&lt;/b&gt;" in zh and "<b>" not in zh  # shop content is data
    de = render_cards([CARD], "de")
    assert "459,00\xa0CN¥" in de and "nicht vorrätig" in de
    en = render_cards([CARD])
    assert "<div class='price'>459.00 CNY</div>" in en and "out of stock" in en


def test_the_empty_panel_is_translated_and_unknown_locales_are_english():
    assert "助手找到的商品会显示在这里。" in render_cards([], "zh-CN")
    assert "Products the assistant finds appear here." in render_cards([], "fr")
