"""Follow-ups resolve against the structured state of the last product turn, never the reply text."""

import pytest

from assistant.chat.followup import ConversationState, resolve_followup
from assistant.shop import demo_shop_dir
from retrieval.catalog import load_products
from retrieval.filters import CatalogSchema, Filters


@pytest.fixture(scope="module")
def schema():
    return CatalogSchema.from_products(load_products(demo_shop_dir() / "products.csv").items)


STATE = ConversationState(
    query="waterproof boots",
    filters=Filters(price_max=100),
    product_ids=["A", "B", "C"],
    prices=[94.99, 59.99, None],
)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("what about the second one?", "B"),
        ("is the 2nd option waterproof", "B"),
        ("tell me more about #3", "C"),
        ("number 1 please", "A"),
        ("the last one", "C"),
        ("first?", "A"),
        ("And the third one, is it warm?", "C"),
    ],
)
def test_references_pick_the_shown_product(schema, message, expected):
    follow = resolve_followup(message, STATE, schema)
    assert follow is not None and follow.product_id == expected


def test_out_of_range_or_no_state_is_not_a_reference(schema):
    assert resolve_followup("the fifth one", STATE, schema) is None
    assert resolve_followup("the second one", None, schema) is None
    assert resolve_followup("the second one", ConversationState(), schema) is None
    assert resolve_followup("first time buying boots, any tips?", STATE, schema) is None


@pytest.mark.parametrize(
    ("message", "check"),
    [
        ("cheaper ones?", lambda f: f.price_max == 59.98),
        ("anything less expensive?", lambda f: f.price_max == 59.98),
        ("in black?", lambda f: f.colors == ["black"] and f.price_max == 100),
        ("any under $50?", lambda f: f.price_max == 50),
        ("only in stock ones", lambda f: f.in_stock and f.price_max == 100),
        ("more expensive ones", lambda f: f.price_min == 95.0 and f.price_max is None),
    ],
)
def test_refinements_keep_the_query_and_merge_filters(schema, message, check):
    follow = resolve_followup(message, STATE, schema)
    assert follow is not None and follow.query == "waterproof boots" and follow.product_id is None
    assert check(follow.filters), follow.filters


@pytest.mark.parametrize("message", ["do you have tents under 200?", "what is your return policy", "hello"])
def test_fresh_questions_are_not_follow_ups(schema, message):
    assert resolve_followup(message, STATE, schema) is None


@pytest.mark.slow
def test_multi_turn_follow_ups_through_the_chat_service(demo_shop_real):
    from assistant.chat.protocol import ChatRequest
    from assistant.chat.service import ChatOptions, ChatService
    from assistant.generation.fake import FakeGenerator

    chat = ChatService(
        demo_shop_real.index, FakeGenerator(), demo_shop_real.orders, ChatOptions(shop_name="Harbor & Pine")
    )
    first = chat.respond(ChatRequest(message="waterproof boots"))
    assert first.route == "products" and first.state.product_ids == [p.id for p in first.products]
    cheapest = min(p.price for p in first.products)
    cheaper = chat.respond(ChatRequest(message="cheaper ones?", state=first.state))
    assert cheaper.route == "products"
    assert cheaper.products and all(p.price < cheapest for p in cheaper.products)
    kinds = {p.category for p in first.products}
    assert {p.category for p in cheaper.products} <= kinds  # still boots, not gloves or a dry bag
    blue = chat.respond(ChatRequest(message="in blue?", state=first.state))
    assert blue.route == "products" and {p.category for p in blue.products} <= kinds
    second = chat.respond(ChatRequest(message="what about the second one?", state=first.state))
    assert [p.id for p in second.products] == [first.products[1].id]
    assert second.citations[0].id == first.products[1].id
    assert second.state == first.state  # pointing at a product keeps the list to point into
    fresh = chat.respond(ChatRequest(message="camping stove", state=first.state))
    assert fresh.state.query != first.state.query


@pytest.mark.slow
def test_superlatives_comparisons_and_named_stock_questions_answer_from_the_data(demo_shop_real):
    """Rules that the rewrite task will take over (issue 14) and stay as its fallback: each answer is
    picked and rendered from the catalogue, so it is right whatever the model writes."""
    from assistant.chat.protocol import ChatRequest
    from assistant.chat.service import ChatOptions, ChatService
    from assistant.generation.fake import FakeGenerator

    chat = ChatService(
        demo_shop_real.index, FakeGenerator(), demo_shop_real.orders, ChatOptions(shop_name="Harbor & Pine")
    )
    catalogue = demo_shop_real.index.products.products
    first = chat.respond(ChatRequest(message="waterproof boots"))
    shown = [catalogue[p.id] for p in first.products]

    best = chat.respond(ChatRequest(message="Which of those has the best rating?", state=first.state))
    top = max((p for p in shown if p.rating is not None), key=lambda p: p.rating)
    assert best.action == "answer" and [p.id for p in best.products] == [top.id]
    cheapest = chat.respond(ChatRequest(message="which one is the cheapest?", state=first.state))
    assert [p.id for p in cheapest.products] == [min(shown, key=lambda p: p.price).id]

    first_price = first.products[0].price
    cheaper = chat.respond(
        ChatRequest(message="Something cheaper than the first one you showed", state=first.state)
    )
    assert cheaper.products and first.products[0].id not in [p.id for p in cheaper.products]
    assert all(p.price < first_price for p in cheaper.products)

    frost = catalogue["HP-1008"]
    stock = chat.respond(ChatRequest(message=f"Is the {frost.title} in stock?"))
    assert [p.id for p in stock.products] == ["HP-1008"]
    said = "in stock" if frost.in_stock else "out of stock right now"
    assert f"{frost.title} is {said} [HP-1008]." in stock.text.split("\n\n")[:2]
