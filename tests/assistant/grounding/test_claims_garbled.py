"""Claims a small model's copy carried past the checker (found by bench/copy_faithfulness.py): a garbled
code ("670o" for style code 670038), a colour or material inside a hyphenated word, an ordinal; and
the honest text around them that must still pass."""

import pytest

from assistant.grounding.claims import ClaimChecker

TOP = {
    "Title": "Kittens Girls Printed Top",
    "Brand": "Kittens",
    "Colour": "Pink",
    "Material": "PU",
    "Style Code": "670038",
    "Resolution": "4 K",
    "Pack": "Pack of 3",
    "Age": "13 years",
}


def unsupported(copy: str, attrs: dict | None = None) -> list[tuple[str, str]]:
    return [(c.kind, c.text) for c in ClaimChecker(attrs or TOP).check(copy).unsupported]


@pytest.mark.parametrize(
    "copy, claim",
    [
        ("A pink top, style 670o, for girls.", "670o"),  # digits and letters: a code the data lacks
        ("Style code 670038x.", "670038x"),
        ("Ideal for 5G phones.", "5G"),
        ("The 67038 print.", "67038"),  # a digit dropped from the style code
        ("The 670 print.", "670"),  # the code cut short
    ],
)
def test_a_garbled_code_or_number_is_flagged(copy, claim):
    assert unsupported(copy) == [("number", claim)]


def test_the_reason_names_the_number_it_garbles():
    check = ClaimChecker(TOP).check("A top, style 670o. The 67038 print.")
    assert [c.reason for c in check.unsupported] == [
        "670o is not in the attributes (they say 670038)",
        "67038 is not in the attributes (they say 670038)",
    ]


@pytest.mark.parametrize(
    "copy",
    [
        "Style code 670038, in pink.",
        "Sharp 4K output.",  # "4 K" in the attributes
        "A 3pack of tops.",  # "Pack of 3"
        "A top for her 13th birthday.",  # "13 years"
        "A 2-in-1 top with a pink print.",
    ],
)
def test_codes_and_ordinals_the_attributes_hold_pass(copy):
    assert unsupported(copy, {**TOP, "Type": "2 in 1"}) == []


def test_an_ordinal_the_attributes_lack_is_flagged():
    assert unsupported("A gift for a 16th birthday.") == [("number", "16th")]


@pytest.mark.parametrize(
    "copy, claim",
    [
        ("A jet-black top.", ("colour", "black")),
        ("A pink-and-white top.", ("colour", "white")),
        ("A cream-coloured top.", ("colour", "cream")),
        ("Steel-grey trim.", ("colour", "grey")),
        ("A leather-bound diary.", ("material", "leather")),
        ("A cotton-rich blend.", ("material", "cotton")),
    ],
)
def test_a_colour_or_material_inside_a_hyphenated_word_is_a_claim(copy, claim):
    assert unsupported(copy) == [claim]


@pytest.mark.parametrize(
    "copy",
    [
        "A pink-toned top with a button-down collar.",
        "Crystal-clear print, ready for a black-tie party.",
        "Leather-look straps and a non-metal clasp.",
        "Pink-and-pink stripes.",
    ],
)
def test_hyphenated_idioms_and_lookalikes_pass(copy):
    assert unsupported(copy) == []
