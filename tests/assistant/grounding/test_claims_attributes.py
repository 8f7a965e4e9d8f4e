"""`assistant.grounding.claims` re-exports the copy studio's checker, so earlier imports keep working."""

from assistant.grounding.claims import ClaimChecker, attribute_coverage, extract_claims, unsupported_claims

ATTRS = {
    "Title": "Ridgeline Hiking Boot",
    "Brand": "Ridgeback",
    "Colour": "brown",
    "Material": "full-grain leather",
    "Heel height": "1 inch",
    "Price": "149.99 USD",
}


def test_supported_copy_has_no_unsupported_claims():
    copy = "The Ridgeback Ridgeline is a brown leather hiking boot with a 2.54 cm heel, yours for 149.99 USD."
    assert unsupported_claims(copy, ATTRS, ["Ridgeback", "Stridewell"]) == []


def test_invented_facts_are_flagged_by_kind_with_spans():
    copy = "A black suede boot by Stridewell, waterproof to 5 m, weighs 900 g."
    bad = unsupported_claims(copy, ATTRS, ["Ridgeback", "Stridewell"])
    kinds = sorted((c.kind, c.text) for c in bad)
    assert (
        ("colour", "black") in kinds and ("material", "suede") in kinds and ("brand", "Stridewell") in kinds
    )
    assert (
        ("number", "5 m") in kinds
        and ("number", "900 g") in kinds
        and ("certification", "waterproof") in kinds
    )
    assert all(copy[c.start : c.end] == c.text for c in bad)


def test_extract_claims_ignores_words_inside_words():
    assert not [c for c in extract_claims("redwood trails and goldfinch song") if c.kind == "colour"]


def test_attribute_coverage_counts_key_attributes():
    assert (
        attribute_coverage("A brown full-grain leather boot by Ridgeback with a 1 inch heel.", ATTRS) == 1.0
    )
    assert attribute_coverage("A boot.", ATTRS) == 0.0
    assert ClaimChecker(ATTRS).key == {
        "Brand": "Ridgeback",
        "Colour": "brown",
        "Material": "full-grain leather",
        "Heel height": "1 inch",
    }
