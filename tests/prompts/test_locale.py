"""Localized rendering (issue 21): the gettext catalogues are complete and in step with the templates,
Chinese and German render with their own prices and dates, and English stays as it was."""

import re
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

import prompts

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "prompts" / "locale"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _read(path: Path):
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        return read_po(f)


def _strings(value):
    return [value] if isinstance(value, str) else list(value)


def test_the_template_lists_every_message_the_sources_use():
    """`pybabel extract` (babel.cfg) over the templates and the UI finds exactly the .pot's messages:
    a new customer-facing text cannot ship without a catalogue entry."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = {
        message[2] if isinstance(message[2], str) else message[2][0]
        for message in extract_from_dir(str(ROOT), method_map, options_map)
        if message[0].startswith(("prompts", "assistant"))
    }
    listed = {m.id if isinstance(m.id, str) else m.id[0] for m in _read(LOCALE / "messages.pot") if m.id}
    assert found == listed, "run the commands in prompts/locale/README.md"


@pytest.mark.parametrize("lang", ["zh", "de"])
def test_every_message_has_a_checked_translation(lang):
    template = {m.id: m for m in _read(LOCALE / "messages.pot") if m.id}
    catalog = _read(LOCALE / lang / "LC_MESSAGES" / "messages.po")
    translated = {m.id: m for m in catalog if m.id}
    assert set(translated) == set(template)
    for msgid, message in translated.items():
        assert not message.fuzzy, msgid
        strings = _strings(message.string)
        assert strings and all(s.strip() for s in strings), f"{lang}: no translation of {msgid!r}"
        expected = set().union(*(PLACEHOLDER.findall(m) for m in _strings(msgid)))
        for s in strings:
            found = set(PLACEHOLDER.findall(s))
            # A plural form may leave out the count (Chinese has one form for all counts).
            assert found == expected or (message.pluralizable and found <= expected), (lang, msgid, s)
            assert "%" not in PLACEHOLDER.sub("", s), (lang, msgid, s)  # no stray format characters


def test_catalogues_compile_in_memory_and_unknown_locales_are_english():
    assert prompts.locales() == {"en", "zh", "de"}
    assert prompts.catalogue_locale("zh-CN") == "zh" and prompts.catalogue_locale("de_AT") == "de"
    assert prompts.catalogue_locale("fr") == "en" and prompts.catalogue_locale(None) == "en"
    assert prompts.translations("zh").gettext("Send") == "发送"
    assert prompts.translations("fr").gettext("Send") == "Send"
    assert not list(LOCALE.rglob("*.mo"))  # compiled when loaded, never committed


def test_prices_numbers_and_dates_per_locale():
    assert prompts.money(1299.0, "CNY", "zh") == "¥1,299.00"
    assert prompts.money(1299.5, "EUR", "de") == "1.299,50\xa0€"
    assert prompts.money(1299.5, "USD", "en") == "1299.50 USD"  # English as before
    assert prompts.money(None, "USD", "de") == "kein Preis angegeben"
    assert prompts.number(4.5, "de") == "4,5" and prompts.number(4.5, "en") == "4.5"
    assert prompts.date("2026-03-02", "zh") == "2026年3月2日"
    assert prompts.date("2026-03-02", "de") == "02.03.2026"
    assert prompts.date("2026-03-02", "en") == "2026-03-02" and prompts.date("soon", "de") == "soon"


def _order(**values):
    item = SimpleNamespace
    order = dict(
        order_id="QH-ORD-60001",
        placed_at="2026-03-02",
        status="shipped",
        estimated_delivery="2026-03-09",
        delivered_at=None,
        carrier="顺丰",
        tracking_number="SF123",
        items=[item(quantity=1, title="防水徒步登山鞋"), item(quantity=2, title="羊毛袜")],
        total=1299.5,
    )
    return SimpleNamespace(**{**order, **values})


def test_order_rows_in_chinese_and_german():
    orders = [_order(), _order(order_id="QH-ORD-60002", status="delivered", delivered_at="2026-03-05")]
    zh = prompts.render("chat/order_status", "zh", orders=orders, currency="CNY").splitlines()
    assert zh[0] == (
        "- 订单 QH-ORD-60001（2026年3月2日）：已发货，预计 2026年3月9日 送达；顺丰 运单号 SF123。"
        "商品：防水徒步登山鞋 × 1、羊毛袜 × 2。合计 ¥1,299.50。[QH-ORD-60001]"
    )
    assert "已签收，已于 2026年3月5日 签收" in zh[1]
    de = prompts.render("chat/order_status", "de", orders=orders, currency="EUR").splitlines()
    assert de[0] == (
        "- Bestellung QH-ORD-60001 (02.03.2026): versandt, voraussichtliche Zustellung am 09.03.2026; "
        "Sendungsnummer bei 顺丰: SF123. Artikel: 1 × 防水徒步登山鞋, 2 × 羊毛袜. Gesamt 1.299,50\xa0€. [QH-ORD-60001]"
    )
    en = prompts.render("chat/order_status", orders=orders[:1], currency="USD")
    assert en == (
        "- Order QH-ORD-60001 (2026-03-02): shipped, estimated delivery 2026-03-09; 顺丰 tracking SF123. "
        "Items: 1 x 防水徒步登山鞋, 2 x 羊毛袜. Total 1299.50 USD. [QH-ORD-60001]"
    )


@pytest.mark.parametrize(
    ("lang", "refuse", "handoff", "stock", "price"),
    [
        (
            "zh",
            "抱歉，我在 青禾生活 的商品和政策信息中没有找到这个问题的答案",
            "好的。我正在把这段对话转给 青禾生活 的客服人员",
            "防水徒步登山鞋目前缺货 [QH-1001]。",
            "防水徒步登山鞋的价格是 ¥699.00 [QH-1001]。",
        ),
        (
            "de",
            "Entschuldigung, dazu habe ich in den Produkt- und Richtlinieninformationen von 青禾生活 keine Antwort",
            "Gern. Ich gebe dieses Gespräch an das Team von 青禾生活 weiter",
            "防水徒步登山鞋 ist derzeit nicht vorrätig [QH-1001].",
            "防水徒步登山鞋 kostet 699,00\xa0CN¥ [QH-1001].",
        ),
    ],
)
def test_refusal_handoff_and_product_lines_in_chinese_and_german(lang, refuse, handoff, stock, price):
    product = {"title": "防水徒步登山鞋", "id": "QH-1001"}
    assert prompts.render("chat/refuse", lang, shop="青禾生活").startswith(refuse)
    assert prompts.render("chat/handoff", lang, shop="青禾生活").startswith(handoff)
    assert prompts.render("chat/stock", lang, in_stock=False, **product) == stock
    assert (
        prompts.render("chat/attribute", lang, attribute="price", value=699.0, currency="CNY", **product)
        == price
    )


def test_card_lines_per_locale_and_english_as_before():
    card = SimpleNamespace(
        title="Ridgeline Boot",
        brand="Ridgeback",
        price=129.0,
        currency="USD",
        rating=4.5,
        in_stock=False,
        color="brown",
        size="US 7-13",
        material="",
        id="HP-1001",
    )
    english = (
        "- **Ridgeline Boot** by Ridgeback: 129.00 USD, rated 4.5/5 (out of stock); brown, US 7-13 [HP-1001]"
    )
    assert prompts.render("chat/card_line", card=card) == english
    assert prompts.render("chat/card_line", "zh", card=card) == (
        "- **Ridgeline Boot**（Ridgeback）：US$129.00，评分 4.5/5（缺货）；brown、US 7-13 [HP-1001]"
    )
    assert prompts.render("chat/card_line", "de", card=card) == (
        "- **Ridgeline Boot** von Ridgeback: 129,00\xa0$, bewertet mit 4,5/5 (nicht vorrätig); brown, US 7-13 [HP-1001]"
    )


def test_filter_phrases_in_english_are_the_filters_own():
    from retrieval.filters import Filters

    f = Filters(price_min=10, price_max=99.5, brands=["A", "B"], colors=["red"], min_rating=4, in_stock=True)
    assert prompts.render("chat/filters", filters=f).splitlines() == f.describe()
    assert prompts.render("chat/filters", "de", filters=f).splitlines() == [
        "Preis 10–99,5",
        "Marke A/B",
        "Farbe red",
        "Bewertung ≥ 4",
        "vorrätig",
    ]


def test_translating_sets_the_locale_for_its_block_and_thread_only():
    seen: dict[str, str] = {}

    def other() -> None:
        seen["other"] = prompts.render("chat/no_orders")

    with prompts.translating("de"):
        assert prompts.render("chat/no_orders") == "In Ihrem Konto sehe ich noch keine Bestellungen."
        assert prompts.render("chat/no_orders", "zh") == "您的账户中还没有订单。"  # an explicit locale wins
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert seen["other"] == "I don't see any orders on your account yet."
    assert prompts.render("chat/no_orders") == "I don't see any orders on your account yet."
    # Model prompts stay English whatever the turn's locale.
    with prompts.translating("zh"):
        messages = prompts.render_messages("chat/intro", system="S", kind="products", question="q")
    assert messages[1]["content"] == 'Products for: "warm winter jacket"'


def test_copy_template_in_german():
    text = prompts.render(
        "copy/template",
        "de",
        lead="",
        title="Ridgeline Boot",
        brand="Ridgeback",
        audience="",
        liked_category="",
        liked_brand="",
        tone="friendly",
        form="prose",
        facts=[("Colour", "brown", ""), ("Size", "US 7-13", "")],
        count=1,
    )
    assert text == (
        "Entdecken Sie Ridgeline Boot von Ridgeback. Es ist in brown erhältlich. Größe: US 7-13. "
        "Eine unkomplizierte Wahl für jeden Tag."
    )
