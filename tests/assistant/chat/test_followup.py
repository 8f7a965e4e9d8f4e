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


@pytest.mark.parametrize(
    ("message", "low", "high"),
    [
        ("30 dollars or above", 30, None),
        ("$45 and up", 45, None),
        ("no less than 70", 70, None),
        ("nothing pricier than 90", None, 90),  # a negated bound is a cap
        ("not above 120 please", None, 120),
        ("keep it to 50 or under", None, 50),
        ("65 tops", None, 65),
        ("somewhere between 20 and 60", 20, 60),
        ("a 3-person tent", None, None),  # a spec, not a price
        ("over 500 ml", None, None),
        ("under 50 in blue?", None, 50),  # "in" starts the colour, not a unit
    ],
)
def test_price_bounds_take_their_side_from_the_words_around_the_number(message, low, high):
    from assistant.chat.followup import price_bounds

    assert price_bounds(message)[:2] == (low, high)


@pytest.mark.parametrize(
    ("message", "said"),
    [
        ("how does #2 stack up against #3?", (2, 3)),
        ("second vs third", (2, 3)),
        ("option 2 please", (2,)),
        ("the last one looks nice", (3,)),
        ("and the third?", (3,)),
        ("the first time I bought boots they leaked", ()),  # "first" orders something else
        ("second hand boots?", ()),
    ],
)
def test_positions_are_the_shown_products_pointed_at(message, said):
    from assistant.chat.followup import read_cues

    assert read_cues(message, 3).positions == said


@pytest.mark.parametrize(
    ("message", "direction", "superlative"),
    [
        ("that one is way too pricey", "cheaper", None),
        ("hmm, over my budget", "cheaper", None),
        ("I can spend more, show me something more upscale", "pricier", None),
        ("what's the lowest cost one here?", None, "cheapest"),
        ("which is most costly?", None, "priciest"),
        ("which of them is rated the highest", None, "rating"),
    ],
)
def test_price_directions_and_superlatives_are_read_from_plain_words(message, direction, superlative):
    from assistant.chat.followup import read_cues

    cues = read_cues(message, 3)
    assert (cues.direction, cues.superlative) == (direction, superlative)


def test_rules_read_comparisons_pointed_prices_bounds_and_kinds(schema):
    compare = resolve_followup("how does #1 stack up against #3?", STATE, schema)
    assert compare is not None and compare.compare == ["A", "C"]
    cheaper = resolve_followup("the second one is too pricey for me", STATE, schema)
    assert cheaper is not None and cheaper.kind == "cheaper" and cheaper.filters.price_max == 59.98
    low = resolve_followup("30 dollars or above", STATE, schema)
    assert low is not None and low.filters.price_min == 30 and low.filters.price_max == 100
    stock = resolve_followup("is #2 still available?", STATE, schema)
    assert stock is not None and stock.product_id == "B" and stock.stock
    made = resolve_followup("who makes the first one?", STATE, schema)
    assert made is not None and made.product_id == "A" and made.attribute == "brand"
    # "ones" stands for the kind shown: a narrower search of it, not a fresh one
    kind = resolve_followup("lightweight ones please", STATE, schema)
    assert kind is not None and kind.query == "waterproof boots lightweight" and kind.filters.price_max == 100
    brand = resolve_followup("I prefer Tidewalk, anything of theirs?", STATE, schema)
    assert brand is not None and brand.filters.brands == ["Tidewalk"]
    colour = resolve_followup("would these come in black", STATE, schema)
    assert colour is not None and colour.filters.colors == ["black"]
    # generic words for products narrow nothing: the facet they name does
    assert resolve_followup("got Tidewalk stuff?", STATE, schema).filters.brands == ["Tidewalk"]
    assert resolve_followup("black versions?", STATE, schema).filters.colors == ["black"]
    assert resolve_followup("budget sleeping bags", STATE, schema) is None  # new product words
