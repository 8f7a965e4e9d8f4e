"""Facts as varied sentences: the product's noun as subject, yes/no kinds, and the service's English
facts and closings varying across a catalogue (distinct-2 of the copy eval)."""

from __future__ import annotations

from assistant.copystudio.phrasing import (
    FACT_KINDS,
    attribute_sentence,
    fact_kind,
    named_subject,
    product_noun,
    stock_pairs,
    stock_share,
)
from assistant.copystudio.protocol import CopyControls, CopyRequest
from assistant.copystudio.service import CopyService
from assistant.generation.fake import FakeGenerator


def test_the_noun_is_the_last_singular_title_word_before_any_qualifier():
    assert product_noun("swag 670038 analog watch - for boys") == "watch"
    assert product_noun("car cover for maruti swift") == "cover"
    assert product_noun("abc women's casual") == ""  # an adjective, not a noun
    assert product_noun("Ridgeline Waterproof Hiking Boot") == "boot"
    assert product_noun("carlton boots") == ""  # never "This boots"
    assert product_noun("sony headphones (black)") == ""


def test_included_and_one_word_values_read_as_sentences():
    assert fact_kind("Belt included", "No") == ("no", "belt")
    assert fact_kind("Sleeve", "Sleeveless") == ("spec", "sleeveless")
    assert fact_kind("Sleeve", "Full Sleeve") == ("feature", "full sleeve")
    assert "not belt included" not in attribute_sentence("p", "Belt included", "No", {"Belt included": "No"})


def test_a_named_subject_is_checked_and_can_be_turned_off():
    attributes = {
        "Title": "swag 670038 analog watch",
        "Colour": "Brown",
        "Type": "Analog",
        "Occasion": "Casual",
    }
    named = [
        attribute_sentence(f"p{i}", key, attributes[key], attributes)
        for i in range(12)
        for key in ("Colour", "Type", "Occasion")
    ]
    assert {named_subject(s, attributes) for s in named} >= {"This watch", "The watch", ""}
    plain = [
        attribute_sentence(f"p{i}", key, attributes[key], attributes, subject=False)
        for i in range(12)
        for key in ("Colour", "Type", "Occasion")
    ]
    assert not any(named_subject(s, attributes) for s in plain)


def _catalogue(n: int) -> dict[str, dict[str, str]]:
    colours = ["Brown", "Black", "Blue", "Red", "Green", "Grey"]
    return {
        f"W{i}": {
            "Title": f"model {i} analog watch",
            "Category": "watches",
            "Colour": colours[i % len(colours)],
            "Ideal for": "Boys",
            "Dial shape": "Round",
            "Occasion": "Casual",
        }
        for i in range(n)
    }


def test_english_facts_are_sentences_and_closings_vary_across_products():
    products = _catalogue(12)
    service = CopyService(FakeGenerator(), languages=("en",))
    texts = [
        service.run(CopyRequest(attributes=attrs, controls=CopyControls(tone="friendly"))).text
        for attrs in products.values()
    ]
    assert not any("Ideal for: Boys." in t or "Dial shape: Round." in t for t in texts)
    assert len({t.split(". ")[-1] for t in texts}) >= 3  # not every text ends with the same closing
    technical = service.run(
        CopyRequest(attributes=products["W0"], controls=CopyControls(tone="technical"))
    ).text
    assert "Dial shape: Round." in technical  # a spec sheet keeps its labels


def test_the_stock_phrasing_covers_every_kind_and_phrasing_of_the_template():
    from prompts import render

    pairs = [("Brand", "Acme"), ("Colour", "Blue"), ("Ideal for", "Women's"), ("Luminous", "Yes"),
             ("Chronograph", "No"), ("Water resistant", "No"), ("Belt included", "No"), ("Sole material", "Rubber"),
             ("Suitable for", "Kids"), ("Precious/artificial jewellery", "Precious"), ("Heel height", "2 inch"),
             ("Sleeve", "Full Sleeve"), ("Closure", "Laced"), ("Pack of", "2")]  # fmt: skip
    assert {fact_kind(k, v)[0] for k, v in pairs} <= set(FACT_KINDS)
    for kind in FACT_KINDS:

        def phrasings(picks: range, kind: str = kind) -> set[str]:
            return {
                render("copy/reference_fact", "en", kind=kind, key="qqq", value="zzz", pick=p) for p in picks
            }

        assert all("zzz" in s.lower() for s in phrasings(range(16))), kind
        assert phrasings(range(64)) == phrasings(range(16)), f"{kind}: more phrasings than stock_pairs reads"
    assert ("welcome", "addition") in stock_pairs() and stock_share("A welcome addition to the shelf.") > 0.5
