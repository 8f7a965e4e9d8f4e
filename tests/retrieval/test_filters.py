import pytest
from pydantic import ValidationError

from retrieval.filters import CatalogSchema, FacetArrays, FilterError, Filters
from retrieval.schema import Product

CATALOG = [
    Product(
        id="1",
        title="Road shoe",
        price=74.99,
        brand="Stridewell",
        category="footwear",
        color="red",
        rating=4.3,
        stock=5,
    ),
    Product(
        id="2",
        title="Trail shoe",
        price=129.99,
        brand="Stridewell",
        category="footwear",
        color="black/red",
        stock=0,
    ),
    Product(
        id="3",
        title="Daypack",
        price=49.0,
        brand="Drifter",
        category="bags",
        color="blue",
        rating=3.9,
        stock=2,
    ),
]
SCHEMA = CatalogSchema.from_products(CATALOG)


def test_where_clause_and_python_predicate_agree():
    f = Filters(price_max=100, colors=["red"], brands=["stridewell"])
    assert f.to_where(SCHEMA) == {
        "$and": [
            {"price": {"$lte": 100.0}},
            {"price": {"$gte": 0.0}},
            {"brand_lc": {"$in": ["stridewell"]}},
            {"color_lc": {"$in": ["black/red", "red"]}},
        ]
    }
    assert [p.id for p in CATALOG if f.matches(p)] == ["1"]


def test_colour_word_matches_combined_colours():
    f = Filters(colors=["red"])
    assert [p.id for p in CATALOG if f.matches(p)] == ["1", "2"]


def test_a_colour_of_several_words_needs_them_all_in_every_implementation():
    products = [
        Product(id="a", title="Boot A", price=10, color="Dark Brown"),
        Product(id="b", title="Boot B", price=10, color="dark brown/tan"),
        Product(id="c", title="Boot C", price=10, color="brown"),
        Product(id="d", title="Boot D", price=10, color="dark grey"),
    ]
    schema = CatalogSchema.from_products(products)
    f = Filters(colors=["dark brown"])
    assert schema.colour_values("dark brown") == ["dark brown", "dark brown/tan"]
    assert f.to_where(schema) == {"color_lc": {"$in": ["dark brown", "dark brown/tan"]}}
    assert [p.id for p in products if f.matches(p)] == ["a", "b"]
    assert list(FacetArrays(products).mask(f)) == [True, True, False, False]
    assert [p.id for p in products if Filters(colors=["brown"]).matches(p)] == ["a", "b", "c"]


def test_in_stock_and_rating():
    assert [p.id for p in CATALOG if Filters(in_stock=True).matches(p)] == ["1", "3"]
    assert [p.id for p in CATALOG if Filters(min_rating=4).matches(p)] == ["1"]


def test_unknown_values_are_errors_listing_known_ones():
    with pytest.raises(FilterError, match="unknown brand 'Acme'; the catalogue has: Drifter, Stridewell"):
        Filters(brands=["Acme"]).to_where(SCHEMA)
    with pytest.raises(FilterError, match="unknown colour 'green'"):
        Filters(colors=["green"]).to_where(SCHEMA)


def test_bad_filter_values_and_fields_are_rejected():
    with pytest.raises(ValidationError, match="price_min 50.0 is above price_max 10.0"):
        Filters(price_min=50, price_max=10)
    with pytest.raises(ValidationError):
        Filters(price_max=-1)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Filters.model_validate({"warranty": "2y"})


def test_ui_filters_win_over_parsed_ones():
    parsed = Filters(price_max=100, colors=["red"])
    merged = parsed.merged(Filters(price_max=50))
    assert merged.price_max == 50 and merged.colors == ["red"]


def test_unknown_price_never_passes_a_price_filter():
    unpriced = Product(id="9", title="Mystery box")
    assert Filters().matches(unpriced)
    assert not Filters(price_max=10).matches(unpriced)
    assert not Filters(price_min=0).matches(unpriced)
