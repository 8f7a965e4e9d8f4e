"""The rewrite task's intent grammar and its resolution against what was shown (no model needed)."""

from types import SimpleNamespace

import pytest

from assistant.chat.followup import ConversationState, FollowUp
from assistant.chat.understanding import (
    INTENT_PATTERN,
    Intent,
    IntentError,
    TurnRequest,
    from_followup,
    parse_intent,
    resolve,
)
from retrieval.filters import Filters

CATALOG = {
    "B1": SimpleNamespace(
        id="B1", title="Ridgeline Boot", category="footwear", price=149.99, rating=4.7, color="brown"
    ),
    "B2": SimpleNamespace(
        id="B2", title="Switchback Boot", category="footwear", price=89.99, rating=4.3, color="grey"
    ),
    "B3": SimpleNamespace(
        id="B3", title="Puddle Boot", category="footwear", price=59.99, rating=4.8, color="navy"
    ),
}
STATE = ConversationState(
    query="waterproof boots", product_ids=["B1", "B2", "B3"], prices=[149.99, 89.99, 59.99], last="products"
)


def _resolve(line: str, message: str = "msg", named=lambda m: None) -> TurnRequest:
    return resolve(parse_intent(line), message, STATE, CATALOG.get, named)


@pytest.mark.parametrize(
    "line",
    [
        "search",
        "cheaper ref=1",
        "refine color=light_blue max=80",
        "best measure=rating",
        "compare ref=1,3",
        "stock ref=named",
    ],
)
def test_grammar_accepts_intent_lines(line):
    import re

    assert re.fullmatch(INTENT_PATTERN, line)
    assert parse_intent(line + "\nextra text").line() == line


@pytest.mark.parametrize(
    "text, needle",
    [
        ("The cheapest one is boots", "not an intent line"),
        ("pick", "needs ref"),
        ("best measure=colour", "unknown measure"),
        ("search color=blue", "takes no"),
        ("attribute ref=1 attr=weight", "unknown attribute"),
        ("", "not an intent line"),
    ],
)
def test_grammar_refuses_what_does_not_fit(text, needle):
    with pytest.raises(IntentError, match=needle):
        parse_intent(text)


def test_prices_and_ids_come_from_the_state_not_the_model():
    cheaper = _resolve("cheaper")
    assert cheaper.filters.price_max == 59.98 and cheaper.filters.categories == ["footwear"]
    assert _resolve("cheaper ref=2", "cheaper than #2?").filters.price_max == 89.98
    assert _resolve("pricier").filters.price_min == 150.0
    assert _resolve("pick ref=2").product_ids == ["B2"]
    best = _resolve("best measure=rating")
    assert best.product_ids == ["B3"] and best.measure == "rating"
    assert _resolve("best measure=cheapest").product_ids == ["B3"]
    assert _resolve("compare ref=1,3").product_ids == ["B1", "B3"]
    blue = _resolve("refine color=light_blue max=80", "light blue ones under 80?")
    assert (
        blue.filters.colors == ["light blue"]
        and blue.filters.price_max == 80
        and blue.query == "waterproof boots"
    )
    assert _resolve("stock ref=named", named=lambda m: "B9").product_ids == ["B9"]


@pytest.mark.parametrize(
    "line, why",
    [
        ("pick ref=4", "not one of the 3"),
        ("compare ref=2,2", "two different"),
        ("stock ref=named", "names no product"),
    ],
)
def test_intents_that_do_not_fit_the_state_are_refused(line, why):
    with pytest.raises(IntentError, match=why):
        _resolve(line)


def test_requests_compare_by_meaning():
    rules = from_followup(
        FollowUp(query="waterproof boots", filters=Filters(price_max=59.98), note="refined the last search"),
        "cheaper ones?",
        STATE,
        CATALOG.get,
    )
    assert rules.filters.categories == ["footwear"]  # the rules keep the product type too
    assert rules.key() == _resolve("cheaper").key()  # a cheaper search is a refinement with a bound
    assert _resolve("pick ref=1").key() != _resolve("pick ref=2").key()
    assert from_followup(None, "when will it arrive?", STATE, CATALOG.get, order_followup=True).op == "order"
    assert Intent(op="stock", args={"ref": "2"}).line() == "stock ref=2"


def test_data_settles_references_by_name_and_the_type_of_a_refinement_word():
    from retrieval.filters import CatalogSchema

    schema = CatalogSchema(
        brands={"ridgeback trail co.": "Ridgeback Trail Co."},
        colors={"grey": "grey", "black/red": "black/red"},
    )
    # the model said #1, but the message names the Puddle boot (shown third)
    assert _resolve("stock ref=1", "is the puddle boot sold out?").product_ids == ["B3"]
    assert _resolve("stock ref=1", "is the first one sold out?").product_ids == ["B1"]  # positions stay
    named = resolve(
        parse_intent("stock ref=2"), "is the Frostline parka in stock?", STATE, CATALOG.get, lambda m: "P7"
    )
    assert named.product_ids == ["P7"]  # names no shown product but a catalogue one
    red = resolve(parse_intent("refine add=red"), "any red ones?", STATE, CATALOG.get, lambda m: None, schema)
    assert red.filters.colors == ["red"] and red.query == "waterproof boots"
    brand = resolve(
        parse_intent("refine add=Ridgeback"), "Ridgeback ones?", STATE, CATALOG.get, lambda m: None, schema
    )
    assert brand.filters.brands == ["Ridgeback Trail Co."]
    kept = resolve(
        parse_intent("refine add=lightweight"), "lightweight?", STATE, CATALOG.get, lambda m: None, schema
    )
    assert kept.query == "waterproof boots lightweight" and not kept.filters.colors


SHOWN = {
    pid: SimpleNamespace(
        **vars(p),
        tags=tags,
        brand="Ridgeback Trail Co." if pid != "B3" else "Tidewalk",
    )
    for (pid, p), tags in zip(CATALOG.items(), (["hiking"], ["hiking", "lightweight"], ["rain"]), strict=True)
}
SCHEMA_KW = dict(
    brands={"ridgeback trail co.": "Ridgeback Trail Co.", "tidewalk": "Tidewalk"},
    categories={"footwear": "footwear", "outerwear": "outerwear", "boots": "boots"},
    colors={"brown": "brown", "grey": "grey", "navy": "navy"},
)


def _arbitrated(line: str, message: str, faq_answers=None, named=lambda m: None) -> TurnRequest:
    from retrieval.filters import CatalogSchema

    return resolve(
        parse_intent(line),
        message,
        STATE,
        SHOWN.get,
        named,
        CatalogSchema(**SCHEMA_KW),
        faq_answers=faq_answers,
    )


@pytest.mark.parametrize(
    ("line", "message", "expect"),
    [
        # a bound's side is in the words around its number, and the number must be said
        ("refine max=40", "40 dollars or above", ("refine", [], 40.0, None)),
        ("refine min=70", "nothing pricier than 70", ("refine", [], None, 70.0)),
        # an ordinal is no price: "the third one" is #3, and "too pricey" is cheaper than it
        ("refine min=3", "the third one is too pricey for me", ("cheaper", [], None, 59.98)),
        ("pick ref=2", "love the second one, but it's over my budget", ("cheaper", [], None, 89.98)),
        # two positions said are a comparison of those two
        ("best measure=priciest", "which is nicer, #1 or #3?", ("compare", ["B1", "B3"], None, None)),
        ("compare ref=1,2", "the first one versus the last one", ("compare", ["B1", "B3"], None, None)),
        # one position said: that product, and what is asked about it
        ("refine brand=2", "tell me about option 2", ("pick", ["B2"], None, None)),
        ("pick ref=1", "who is the manufacturer of the second one?", ("attribute", ["B2"], None, None)),
        ("pricier ref=3", "how much does #3 cost?", ("attribute", ["B3"], None, None)),
        ("best measure=rating", "are the reviews for the first one good?", ("attribute", ["B1"], None, None)),
        # a superlative over what was shown, and a direction the line got backwards
        ("search", "which one is the lowest cost?", ("best", ["B3"], None, None)),
        ("pricier", "anything easier on a low budget?", ("cheaper", [], None, 59.98)),
        # cheaper than a shown product named by part of its title: the name settles which one
        ("cheaper", "something less costly than the Switchback boot?", ("cheaper", [], None, 89.98)),
        ("cheaper ref=1", "a more affordable pick than the Puddle boot?", ("cheaper", [], None, 59.98)),
        # a shown product named by part of its title
        ("refine brand=Puddle", "let me see the Puddle boot", ("pick", ["B3"], None, None)),
        ("refine add=left", "are there still Switchback boots left?", ("stock", ["B2"], None, None)),
    ],
)
def test_what_the_message_states_outright_corrects_the_models_line(line, message, expect):
    turn = _arbitrated(line, message)
    op, ids, low, high = expect
    assert turn.op == op, turn
    if ids:
        assert sorted(turn.product_ids) == sorted(ids)
    if op in {"refine", "cheaper", "pricier"}:
        assert (turn.filters.price_min, turn.filters.price_max) == (low, high)


def test_words_the_message_does_not_back_are_dropped_and_kinds_are_no_single_product():
    # a brand the catalogue lacks is a plain word, kept only when the message says it
    assert _arbitrated("refine brand=Tidewalk", "only Tidewalk stuff").filters.brands == ["Tidewalk"]
    with pytest.raises(IntentError, match="keeps nothing"):
        _arbitrated("refine brand=Zorblax", "got anything of that brand I mentioned?")
    # "ones" is a kind of the shown products, not one of them
    with pytest.raises(IntentError, match="kind of product"):
        _arbitrated("pick ref=3", "any 3-season ones?")
    # a category none of the shown products is in: a fresh search
    assert _arbitrated("refine add=rain", "any rain jackets in outerwear?").op == "search"
    assert _arbitrated("refine add=lightweight", "lightweight footwear?").op == "refine"
    assert _arbitrated("refine add=outerwear", "got outerwear ones?").op == "refine"  # a kind of the shown
    price = _arbitrated("attribute ref=3 attr=price", "how much is the Puddle boot?")
    assert price.op == "attribute" and price.product_ids == ["B3"]  # "boot" is a shown title's word
    # a pointer the message does not make: cheaper than all of those shown
    assert _arbitrated("cheaper ref=1", "anything that costs less?").filters.price_max == 59.98
    # a stock question about a catalogue product named in full
    stock = _arbitrated(
        "refine add=parka", "any Frostline Down Parka left in the store?", named=lambda m: "P9"
    )
    assert stock.op == "stock" and stock.product_ids == ["P9"]


def test_policy_lines_and_free_word_refinements_follow_the_faq():
    def yes(text):
        return True

    def no(text):
        return False

    # free words the FAQ answers confidently: a policy question in a product conversation
    assert _arbitrated("refine add=germany", "do you deliver to germany", yes).op == "policy"
    assert _arbitrated("refine add=germany", "do you deliver to germany", no).op == "refine"
    # a brand written as a plain word is that brand, whatever the policy side says about the words
    brand = _arbitrated("refine add=tidewalk", "got stuff from tidewalk?", yes)
    assert brand.op == "refine" and brand.filters.brands == ["Tidewalk"]
    # a policy line the FAQ cannot answer, for a message stating a product follow-up
    assert _arbitrated("policy", "the second one is too pricey", no).op == "cheaper"
    brand = _arbitrated("policy", "got Tidewalk stuff?", no)
    assert brand.op == "refine" and brand.filters.brands == ["Tidewalk"]
    assert _arbitrated("policy", "can I return the second one?", yes).op == "policy"
    assert _arbitrated("policy", "hmm, tell me a joke", no).op == "policy"  # the route checks itself
    assert _arbitrated("order", "when does the second one arrive?").op == "order"


def test_the_rules_answer_comparisons_stock_and_named_shown_products():
    follow = FollowUp(compare=["B1", "B3"], note="you compared #1, #3")
    assert from_followup(follow, "#1 or #3?", STATE, SHOWN.get).product_ids == ["B1", "B3"]
    stock = from_followup(FollowUp(product_id="B2", stock=True), "is #2 available?", STATE, SHOWN.get)
    assert stock.op == "stock" and stock.product_ids == ["B2"]
    named = from_followup(None, "is the Puddle boot still available?", STATE, SHOWN.get)
    assert named.op == "stock" and named.product_ids == ["B3"]
    assert from_followup(None, "rain ones?", STATE, SHOWN.get).op == "search"  # a kind, not one product
    # a message that is all facets and fillers is a refinement, even when the policy signals say policy
    refined = FollowUp(query="waterproof boots", filters=Filters(brands=["Tidewalk"]), note="refined")
    policy = TurnRequest(op="policy", query="got stuff from?")
    assert from_followup(refined, "got stuff from Tidewalk?", STATE, SHOWN.get, routed=policy).op == "refine"
    assert from_followup(None, "can I return Tidewalk stuff?", STATE, SHOWN.get, routed=policy).op == "policy"
    cheaper = from_followup(None, "a less costly choice than the Switchback boot?", STATE, SHOWN.get)
    assert cheaper.op == "cheaper" and cheaper.filters.price_max == 89.98
    assert cheaper.filters.categories == ["footwear"]


def _chat_with_line(shop, line: str):
    """The demo shop's chat with a rewrite adapter that always writes `line` (no model needed)."""
    from assistant.chat.service import ChatOptions, ChatService
    from assistant.generation.fake import FakeGenerator

    def reply(request):
        return line if request.adapter == "rewrite-lora" else "Here is what I found."

    options = ChatOptions(shop_name="Harbor & Pine", rewrite_adapter="rewrite-lora", rewrite_budget_ms=None)
    return ChatService(shop.index, FakeGenerator(default=reply), shop.orders, options)


@pytest.mark.slow
def test_the_models_line_is_checked_against_the_message_in_whole_turns(demo_shop_real):
    from assistant.chat.protocol import ChatRequest

    boots = _chat_with_line(demo_shop_real, "search").respond(
        ChatRequest(message="waterproof boots under 100")
    )
    state = boots.state
    prices = dict(zip(state.product_ids, state.prices, strict=True))

    def turn(line: str, message: str):
        return _chat_with_line(demo_shop_real, line).respond(ChatRequest(message=message, state=state))

    # an ordinal read as a price, then corrected: cheaper than the one pointed at
    cheaper = turn("refine min=2", "the 2nd one is a bit too pricey for me")
    assert cheaper.request["op"] == "cheaper" and cheaper.model.understood_by
    assert all(p.price < prices[state.product_ids[1]] for p in cheaper.products)
    # a shown product named by part of its title
    named = state.product_ids[-1]
    title = demo_shop_real.index.products.get(named).title
    pick = turn("search", f"tell me about the {title.split()[0]} one")
    assert pick.request["op"] == "pick" and pick.request["product_ids"] == [named]
    # a policy question naming a shown product: the policy answer, with the product as context
    policy = turn("refine add=fit", "can I return the Switchback boots if they don't fit?")
    assert policy.route == "faq" and policy.request["op"] == "policy"
    assert any(c.id.startswith("faq-returns") for c in policy.citations)
