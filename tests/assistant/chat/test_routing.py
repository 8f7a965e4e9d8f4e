"""Policy or product for messages naming a product or brand: names from the catalogue, policy words
from the FAQ, and the comparison of the two scores (fast, with a hashing embedding), then whole turns
on the demo shop (real MiniLM)."""

from __future__ import annotations

import pytest

from assistant.chat.routing import NameIndex, PolicyProductRouter
from retrieval.schema import FAQEntry, Product
from retrieval.search import FAQHit, FAQResults
from tests.conftest import HashEmbedding

PRODUCTS = {
    p.id: p
    for p in [
        Product(id="B1", title="Frostline Waterproof Snow Boot", brand="Tidewalk", price=79.99, stock=0),
        Product(id="B2", title="Switchback Waterproof Trail Boot", brand="Ridgeback Trail Co.", price=89.99),
        Product(id="B3", title="Summit Insulated Winter Boot", brand="Ridgeback Trail Co.", price=219.99),
        Product(id="L1", title="Beacon 400 Rechargeable Headlamp", brand="Trailbeam", price=39.99),
        Product(id="S1", title="Heart Rate Chest Strap", brand="Northpulse", price=49.99),
        Product(id="K1", title="Driftwood Leather Slide Sandal", brand="Cedar & Sole", price=55.0),
    ]
}
FAQ = {
    e.id: e
    for e in [
        FAQEntry(
            id="faq-returns",
            question="What is your return policy?",
            answer="Unused items can be returned within 30 days.",
            examples=["can i return this", "how long do i have to send it back"],
        ),
        FAQEntry(
            id="faq-warranty",
            question="What warranty do your products have?",
            answer="All products have a 1-year warranty.",
            examples=["is there a warranty", "how long is the guarantee"],
        ),
        FAQEntry(
            id="faq-stock",
            question="What does out of stock mean?",
            answer="Out of stock items cannot be ordered until restocked.",
            examples=["when will it be back in stock", "is this item available"],
        ),
    ]
}


def test_names_come_from_titles_rare_words_and_coined_brand_names():
    names = NameIndex(PRODUCTS, FAQ)
    frost = names.find("is the Frostline snow boot in stock?")
    assert frost is not None and frost.product_id == "B1" and frost.strength > 0.6
    assert frost.masked == "is the boot in stock?"  # the rare words go; "boot" says what kind it is
    assert frost.bare == "is the in stock?"
    assert names.find("do you have the headlamp?").product_id == "L1"  # the kind of product, alone
    brand = names.find("what's the warranty on Ridgeback boots?")
    assert brand is not None and brand.product_id is None and brand.brand == "Ridgeback Trail Co."
    assert brand.masked == "what's the warranty on boots?"
    # A lone modifier is no name, and a title word that is a common English word is no brand.
    assert names.find("is it going to snow this weekend?") is None
    assert names.find("what's the exchange rate today?") is None
    assert names.find("driftwood for the fireplace") is None or names.find("driftwood").brand is None
    # Two products with the same rare words and nothing to tell them apart: neither is named.
    assert names.find("waterproof boots") is None


def test_policy_words_are_the_faqs_own_and_neither_catalogue_nor_aspect_words():
    names = NameIndex(PRODUCTS, FAQ)
    assert {"return", "warranty", "guarantee"} <= names.policy_words
    assert not {"stock", "available", "boot", "waterproof"} & names.policy_words
    assert names.only_catalogue_words("show me the Ridgeback boots")
    assert not names.only_catalogue_words("how much are the Switchback boots?")


def _router(dense: dict[str, float]):
    """A router whose FAQ answers `dense[entry]` for any text (the nearest entry first)."""

    def faq(text: str) -> FAQResults:
        ranked = sorted(dense.items(), key=lambda kv: -kv[1])
        hits = [FAQHit(FAQ[e], s, s) for e, s in ranked]
        return FAQResults(hits, bool(hits) and hits[0].dense >= 0.6, 0.6)

    return PolicyProductRouter(lambda: PRODUCTS, lambda: FAQ, faq, HashEmbedding())


def test_a_policy_question_naming_a_product_is_a_policy_answer_with_the_product():
    decision = _router({"faq-returns": 0.7}).decide("can I return the Switchback boots after 3 weeks?")
    assert decision is not None and decision.op == "policy"
    assert decision.product_id == "B2" and decision.query == "can I return the boots after 3 weeks?"
    # Not confident, but close with a policy word and a clear name: still the policy.
    assert _router({"faq-returns": 0.45}).decide("can I return the Switchback boots?").op == "policy"
    brand = _router({"faq-warranty": 0.8}).decide("what's the warranty on Ridgeback boots?")
    assert brand.op == "policy" and brand.product_id is None and brand.brand == "Ridgeback Trail Co."


def test_a_stock_or_attribute_question_about_a_named_product_is_about_that_product():
    router = _router({"faq-stock": 0.5})
    stock = router.decide("is the Frostline snow boot in stock?")
    assert stock is not None and (stock.op, stock.product_id, stock.aspect) == ("stock", "B1", "stock")
    colour = router.decide("what colour is the Summit winter boot?")
    assert colour is not None and (colour.op, colour.product_id, colour.aspect) == (
        "attribute",
        "B3",
        "color",
    )
    # A stock question the FAQ also answers confidently: the nearer phrasing decides.
    assert _router({"faq-stock": 0.9}).decide("is the Frostline snow boot in stock?").op == "stock"


def test_searches_and_unnamed_questions_are_left_to_the_usual_routing():
    router = _router({"faq-returns": 0.9})
    assert router.decide("Switchback Waterproof Trail Boot") is None  # the name alone: a search
    assert router.decide("Ridgeback boots") is None
    assert router.decide("can I return this?") is None  # names nothing
    assert _router({"faq-returns": 0.3}).decide("is the Switchback sturdy?") is None  # neither score


@pytest.fixture
def chat(demo_shop_real):
    from assistant.chat.service import ChatOptions, ChatService
    from assistant.generation.fake import FakeGenerator

    return ChatService(
        demo_shop_real.index, FakeGenerator(), demo_shop_real.orders, ChatOptions(shop_name="Harbor & Pine")
    )


@pytest.mark.slow
def test_policy_answer_names_the_product_after_the_policy(chat):
    from assistant.chat.protocol import ChatRequest

    response = chat.respond(ChatRequest(message="can I return the Switchback boots after 3 weeks?"))
    assert response.route == "faq" and response.citations[0].id == "faq-returns-window"
    assert [p.id for p in response.products] == ["HP-1002"]
    text = response.text
    assert text.index("[faq-returns-window]") < text.index(
        "You asked about Switchback Waterproof Trail Boot [HP-1002]."
    )
    assert "89.99 USD" in text  # its card line, from the catalogue
    brand = chat.respond(ChatRequest(message="what's the warranty on Ridgeback boots?"))
    assert brand.route == "faq" and not brand.products
    assert "You asked about Ridgeback Trail Co. products." in brand.text


@pytest.mark.slow
def test_named_product_answers_from_its_record_even_when_a_filter_hides_it(chat):
    from assistant.chat.protocol import ChatRequest
    from retrieval.filters import Filters

    hidden = Filters(price_max=100, in_stock=True)  # the Summit costs 219.99
    stock = chat.respond(ChatRequest(message="is the Summit winter boot in stock?", filters=hidden))
    assert [p.id for p in stock.products] == ["HP-1003"]
    assert "Summit Insulated Winter Boot is in stock [HP-1003]." in stock.text
    gone = chat.respond(ChatRequest(message="is the Frostline snow boot in stock?", filters=hidden))
    assert "Frostline Waterproof Snow Boot is out of stock right now [HP-1008]." in gone.text
    colour = chat.respond(ChatRequest(message="what colour is the Tempo Elite Running Shoe?"))
    assert colour.request is not None and colour.request["op"] == "attribute"
    first, second = colour.text.split("\n\n")[1:3]
    assert first == "Tempo Elite Running Shoe comes in red [HP-1011]."
    assert second == "Tempo Elite Running Shoe is in stock [HP-1011]."


@pytest.mark.slow
def test_product_searches_stay_searches(chat):
    from assistant.chat.protocol import ChatRequest

    for message in (
        "Ridgeback boots",
        "headlamp",
        "insulated winter boots",
        "Featherlight down jacket in red",
    ):
        response = chat.respond(ChatRequest(message=message))
        assert response.route == "products" and len(response.products) > 1, message


@pytest.mark.parametrize(
    ("attribute", "value", "said"),
    [
        ("color", "red", "Tempo Elite Running Shoe comes in red [HP-1011]."),
        ("size", "US 7-13", "Tempo Elite Running Shoe comes in size US 7-13 [HP-1011]."),
        ("material", "knit mesh", "Tempo Elite Running Shoe is made of knit mesh [HP-1011]."),
        ("price", 129.9, "Tempo Elite Running Shoe costs 129.90 USD [HP-1011]."),
        ("rating", 4.7, "Tempo Elite Running Shoe is rated 4.7 out of 5 [HP-1011]."),
        ("brand", "Stridewell", "Tempo Elite Running Shoe is made by Stridewell [HP-1011]."),
        ("color", "", "Tempo Elite Running Shoe has no colour listed [HP-1011]."),
        ("rating", None, "Tempo Elite Running Shoe has no rating listed [HP-1011]."),
    ],
)
def test_the_attribute_line_says_the_field_from_the_record(attribute, value, said):
    import prompts

    line = prompts.render(
        "chat/attribute",
        title="Tempo Elite Running Shoe",
        id="HP-1011",
        attribute=attribute,
        value=value,
        currency="USD",
    )
    assert line == said


def test_a_whole_title_names_its_product_however_common_its_words():
    """No word of "Cotton Yoga Strap" is rare (each is in three titles), but the whole title is a name."""
    products = {
        p.id: p
        for p in [
            Product(id="Y1", title="Cotton Yoga Strap", price=12.0),
            Product(id="Y2", title="Cotton Yoga Mat", price=30.0),
            Product(id="Y3", title="Cotton Travel Strap", price=9.0),
            Product(id="Y4", title="Yoga Tote Strap", price=25.0),
        ]
    }
    names = NameIndex(products, FAQ)
    named = names.find("could I order the cotton yoga strap today?")
    assert named is not None and named.product_id == "Y1" and named.strength == 1.0
    assert named.masked == "could I order the strap today?"  # what kind it is stays for the FAQ
    assert names.find("cotton yoga things") is None  # part of a title of common words names nothing
