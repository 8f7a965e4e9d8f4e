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
    assert _resolve("cheaper ref=2").filters.price_max == 89.98
    assert _resolve("pricier").filters.price_min == 150.0
    assert _resolve("pick ref=2").product_ids == ["B2"]
    best = _resolve("best measure=rating")
    assert best.product_ids == ["B3"] and best.measure == "rating"
    assert _resolve("best measure=cheapest").product_ids == ["B3"]
    assert _resolve("compare ref=1,3").product_ids == ["B1", "B3"]
    blue = _resolve("refine color=light_blue max=80")
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
