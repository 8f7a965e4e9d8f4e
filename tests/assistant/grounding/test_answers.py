"""Short answers are checked against the records: the claims, not only the words."""

from types import SimpleNamespace

import pytest

from assistant.grounding.answers import best_by, check_answer


def _p(pid, title, price, rating, in_stock=True, size=""):
    return SimpleNamespace(
        id=pid,
        title=title,
        price=price,
        rating=rating,
        in_stock=in_stock,
        size=size,
        material="",
        color="",
        description="",
    )


A = _p("A", "Ridgeline Hiking Boot", 149.99, 4.7)
B = _p("B", "Frostline Snow Boot", 129.99, 4.8, in_stock=False)
C = _p("C", "Puddle Rain Boot", 59.99, 4.2, size="US 6-12")
SHOWN = [A, B, C]


@pytest.mark.parametrize(
    "text, about, kind",
    [
        ("The cheapest is the Puddle Rain Boot at 59.99 USD.", [C], "best:cheapest"),
        ("The Frostline Snow Boot has the best rating, 4.8 out of 5.", [B], "best:rating"),
        ("Sorry, the Frostline Snow Boot is out of stock right now.", [B], "stock"),
        ("Yes, the Ridgeline Hiking Boot is in stock.", [A], "stock"),
        ("Yes, it is in stock.", [A], "stock"),
        ("It costs 59.99 USD.", [C], "attribute"),
        ("The Puddle Rain Boot comes in US 6-12.", [C], "attribute"),
        (
            "The Puddle Rain Boot is cheaper at 59.99 USD; the Ridgeline Hiking Boot costs 149.99 USD and is rated higher.",
            [A, C],
            "compare",
        ),
    ],
)
def test_true_answers_pass(text, about, kind):
    assert check_answer(text, about, kind=kind, shown=SHOWN) == []


@pytest.mark.parametrize(
    "text, about, kind, needle",
    [
        (
            "The cheapest is the Ridgeline Hiking Boot at 149.99 USD.",
            [A],
            "best:cheapest",
            "Puddle Rain Boot",
        ),
        ("The Ridgeline Hiking Boot has the best rating, 4.7 out of 5.", [A], "best:rating", "Frostline"),
        ("Yes, the Frostline Snow Boot is in stock.", [B], "stock", "stock"),
        ("The Ridgeline Hiking Boot is out of stock.", [A], "stock", "out of stock"),
        ("The Puddle Rain Boot costs 49.99 USD.", [C], "attribute", "not the price"),
        ("The Puddle Rain Boot is rated 4.9 out of 5.", [C], "attribute", "not the rating"),
        (
            "The Ridgeline Hiking Boot is cheaper at 149.99 USD; the Puddle Rain Boot costs 59.99 USD.",
            [A, C],
            "compare",
            "it is not",
        ),
        ("It is a great boot.", [A, B], "compare", "names none"),
        ("Yes, it is in stock.", [B], "stock", "out of stock"),
        ("It costs 49.99 USD.", [C], "attribute", "not the price"),
        ("Yes, the Ridgeline Hiking Boot is in stock.", [B], "stock", "not the product asked about"),
    ],
)
def test_false_claims_are_caught(text, about, kind, needle):
    problems = check_answer(text, about, kind=kind, shown=SHOWN)
    assert problems and any(needle in p for p in problems), problems


def test_best_by_reads_the_records():
    assert (
        best_by(SHOWN, "cheapest") is C and best_by(SHOWN, "priciest") is A and best_by(SHOWN, "rating") is B
    )
    assert best_by([], "rating") is None


def test_an_answer_about_the_card_may_say_it():
    assert (
        check_answer("It is the cheapest, at 59.99 USD.", SHOWN, kind="best:cheapest", shown=SHOWN, subject=C)
        == []
    )
    wrong = check_answer(
        "It is the cheapest, at 49.99 USD.", SHOWN, kind="best:cheapest", shown=SHOWN, subject=C
    )
    assert wrong and "not the price" in wrong[0]
    named = check_answer(
        "The Ridgeline Hiking Boot is the cheapest.", SHOWN, kind="best:cheapest", shown=SHOWN, subject=C
    )
    assert named and "Puddle Rain Boot" in named[0]
    assert check_answer(
        "The Puddle Rain Boot costs 59.99 USD, is cheaper and is rated higher.", [A, C], kind="compare"
    )
    assert check_answer("The Puddle Rain Boot costs 59.99 USD and is cheaper.", [A, C], kind="compare") == []


def test_an_attribute_answer_must_state_the_asked_value():
    """A true fact about another attribute does not answer the question (the size for "a good brand?")."""
    rug = _p("R", "Harbor Jute Rug", 89.0, 4.1, size="8 x 10 ft")
    rug.brand = "Driftwood Loom"
    off = check_answer("It comes in 8 x 10 ft.", [rug], kind="attribute", states="Driftwood Loom")
    assert off == ["does not state the asked value (Driftwood Loom)"]
    assert (
        check_answer("It is made by Driftwood Loom.", [rug], kind="attribute", states="Driftwood Loom") == []
    )
    assert check_answer("It costs 89.00 USD.", [rug], kind="attribute", states="89.00") == []
    assert check_answer("It costs 89 USD.", [rug], kind="attribute", states="89.00") == []
    assert check_answer("It costs 79 USD.", [rug], kind="attribute", states="89.00")
