import pytest

from retrieval.filters import CatalogSchema
from retrieval.query import parse_query

SCHEMA = CatalogSchema(
    brands={"stridewell": "Stridewell", "ridgeback trail co.": "Ridgeback Trail Co.", "tidewalk": "Tidewalk"},
    categories={"footwear": "footwear", "bags": "bags", "camping": "camping"},
    colors={"red": "red", "black/red": "black/red", "blue": "blue", "navy": "navy"},
)


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("waterproof boots under 100", "waterproof boots", {"price_max": 100.0}),
        ("waterproof boots under $100", "waterproof boots", {"price_max": 100.0}),
        ("boots below 80 dollars", "boots", {"price_max": 80.0}),
        ("headphones less than 50 bucks", "headphones", {"price_max": 50.0}),
        ("tent cheaper than $200", "tent", {"price_max": 200.0}),
        ("lamp no more than 45 usd", "lamp", {"price_max": 45.0}),
        ("boots max 120", "boots", {"price_max": 120.0}),
        ("jacket over $150", "jacket", {"price_min": 150.0}),
        ("jacket at least 60 dollars", "jacket", {"price_min": 60.0}),
        ("bags between $20 and $50", "bags", {"price_min": 20.0, "price_max": 50.0}),
        ("tent $100-$200", "tent", {"price_min": 100.0, "price_max": 200.0}),
        ("tent 100 to 200 dollars", "tent", {"price_min": 100.0, "price_max": 200.0}),
        ("gift around $25 for my dad", "gift for my dad", {"price_min": 20.0, "price_max": 30.0}),
        (
            "red stridewell running shoes under $80",
            "red stridewell running shoes",
            {"price_max": 80.0, "brands": ["Stridewell"], "colors": ["red"]},
        ),
        (
            "rain boots from tidewalk in navy",
            "rain boots from tidewalk in navy",
            {"brands": ["Tidewalk"], "colors": ["navy"]},
        ),
        ("sleeping bag 4 stars and up", "sleeping bag", {"min_rating": 4.0}),
        ("backpack rated 4.5+ in stock", "backpack", {"min_rating": 4.5, "in_stock": True}),
        ("show me the bags category under 30", "show me", {"price_max": 30.0, "categories": ["bags"]}),
        ("category: camping stove", "stove", {"categories": ["camping"]}),
    ],
)
def test_phrasings(query, text, expected):
    parsed = parse_query(query, SCHEMA)
    assert parsed.text == text
    assert parsed.filters.model_dump(exclude_defaults=True) == expected


@pytest.mark.parametrize(
    "query",
    [
        "power bank 20000 mah",
        "under 500 ml bottle",
        "tent for 2 person",
        "kettle 1.5 l",
        "32 oz bottle",
        "3 season tent",
    ],
)
def test_specs_are_not_prices(query):
    parsed = parse_query(query, SCHEMA)
    assert parsed.filters.price_min is None and parsed.filters.price_max is None
    assert parsed.text == query


def test_category_words_in_passing_are_hints_not_filters():
    parsed = parse_query("sleeping bags for winter", SCHEMA)
    assert parsed.filters.categories == []
    assert parsed.category_hints == ["bags"]


def test_unknown_brand_is_not_a_filter():
    parsed = parse_query("acme boots", SCHEMA)
    assert parsed.filters.brands == []


def test_reversed_range_is_normalised():
    parsed = parse_query("between $50 and $20", SCHEMA)
    assert (parsed.filters.price_min, parsed.filters.price_max) == (20.0, 50.0)
