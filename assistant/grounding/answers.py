"""Checks a short answer's claims against the product records, not only its words.

The word-level verifier (`verify`) accepts "The Puddle Jumper Rain Boot is the cheapest" when every
word is in the facts, even if another shown product is cheaper. Here the claims that matter to a
shopper are tied to the product they are about and compared with its record:
- a price written right after a product's title must be that product's price;
- "in stock" / "out of stock" (and a leading Yes/No to a stock question) must match the record;
- a superlative (cheapest, most expensive, best rated) must name the product that really is that
  among the products shown; "X is cheaper" / "X is rated higher" in a comparison likewise;
- a rating written after a title must be that product's rating;
- an answer about an attribute must state the asked attribute's value ("It comes in 8 x 10 ft." is
  true of a rug but does not answer "is it a good brand?").
Products are duck-typed records with id, title, price, rating and in_stock.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from prompts.tasks import ranked_by

_NUMBER = re.compile(r"\d+(?:\.\d+)?")

# The phrasing of short answers: words that carry no fact of their own, or whose claim `check_answer`
# checks against the records (stock, superlatives, comparisons). The word-level verifier reads them
# as a source beside the facts, so "Yes, the X is available right now" is not dropped for "yes".
ANSWER_WORDS = """yes no sorry unfortunately good news great here are is it its has have comes come made by
costs cost priced at the a an of and but for against while in on right now moment at present currently
stock available unavailable sold out left cheapest cheaper least most expensive pricier priciest lowest
highest price priced affordable best rated rating rate higher lower better reviewed out options option
matches match found i we there these those this that which one two both ones"""
_OUT = re.compile(r"\b(?:out of stock|sold out|not available|unavailable|none left)\b", re.I)
_IN = re.compile(r"\b(?:in stock|available)\b", re.I)
_CHEAPEST = re.compile(r"\b(?:cheapest|least expensive|lowest price|lowest-priced|most affordable)\b", re.I)
_PRICIEST = re.compile(r"\b(?:most expensive|priciest|highest price|highest-priced)\b", re.I)
_BEST_RATED = re.compile(r"\b(?:best rat(?:ed|ing)|highest rat(?:ed|ing)|top rated|best reviewed)\b", re.I)
_CHEAPER = re.compile(r"\b(?:is|it's) (?:the )?cheaper\b", re.I)
_RATED_HIGHER = re.compile(r"\b(?:is|and) rated higher\b", re.I)
_PRICE_AFTER = re.compile(r"^\s*(?:USD|EUR|GBP|dollars)\b", re.I)
_PRICE_BEFORE = re.compile(r"(?:\$|\bcosts?|\bat|\bprice(?:d at)?|\bfor)\s*$", re.I)
_RATING_AFTER = re.compile(r"^\s*(?:out of 5|/5|stars?)\b", re.I)
_RATING_BEFORE = re.compile(r"\brated\s*$", re.I)


def _mentions(text: str, products: Sequence[Any]) -> list[tuple[int, Any]]:
    """(position, product) for each title in the text, longest titles first so a title that
    contains another ("Trail Boot" in "Switchback Trail Boot") is read as the longer one."""
    lowered = text.lower()
    found: list[tuple[int, int, Any]] = []
    taken: list[tuple[int, int]] = []
    for p in sorted(products, key=lambda p: -len(p.title)):
        start = lowered.find(p.title.lower())
        while start >= 0:
            end = start + len(p.title)
            if not any(s < end and start < e for s, e in taken):
                found.append((start, end, p))
                taken.append((start, end))
            start = lowered.find(p.title.lower(), end)
    return [(s, p) for s, _, p in sorted(found, key=lambda x: x[0])]


def _states(text: str, value: str) -> bool:
    """Whether `text` states `value`: one of its words of three or more characters, or a number."""
    words = {w for w in re.findall(r"[^\W_]+", value.lower()) if len(w) >= 3 or w.isdigit()}
    said = set(re.findall(r"[^\W_]+", text.lower()))
    return not words or bool(words & said)


def _subject(text: str, at: int, mentions: list[tuple[int, Any]]) -> Any | None:
    """The product named last before position `at` (the claim's subject)."""
    before = [p for s, p in mentions if s < at]
    return before[-1] if before else (mentions[0][1] if mentions else None)


def check_answer(
    text: str,
    products: Sequence[Any],
    *,
    kind: str,
    shown: Sequence[Any] | None = None,
    subject: Any | None = None,
    states: str | None = None,
) -> list[str]:
    """What in `text` contradicts the records (empty: nothing). `products` are the records the answer
    may talk about; `shown` the list a superlative ranges over (default: `products`); `kind` is the
    answer task's kind (stock, attribute, best:rating, compare, list, policy); `subject` the product
    an answer that names none ("It is the cheapest, at 44.99 USD.") is about: the one card shown
    with it (default: the only product of a stock or attribute answer); `states` the value an
    attribute answer must state (the asked field's, from the record)."""
    if kind == "policy":
        return []
    if states and not _states(text, states):
        return [f"does not state the asked value ({states})"]
    shown = list(shown if shown is not None else products)
    problems: list[str] = []
    about_ids = {p.id for p in products}
    everyone = list(products) + [p for p in shown if p.id not in about_ids]
    mentions = _mentions(text, everyone)  # any shown title, so naming the wrong product is seen
    single = len(products) == 1 and kind in {"stock", "attribute"}
    if single:
        problems += [
            f"names the {p.title}, not the product asked about" for _, p in mentions if p.id not in about_ids
        ]
    if subject is None and single:
        subject = products[0]
    if not mentions and subject is not None:
        mentions = [(-1, subject)]  # "Yes, it is in stock.": the product on the card is the subject
    if not mentions:
        return ["names none of the products it is about"]
    for start, product in mentions:
        after = 0 if start < 0 else start + len(product.title)
        tail = text[after : after + 60]
        # a named product's claim ends at the next clause; an answer about "it" is about it throughout
        clause = (
            r"[;!?]\s|\.\s" if start < 0 else r"[;!?]\s|\.\s|, |\band\b|\bfor the\b|\bagainst\b|\bwhile\b"
        )
        tail = re.split(clause, tail)[0]
        for match in _NUMBER.finditer(tail):
            problem = _number_problem(
                float(match.group(0)), tail[: match.start()], tail[match.end() :], product
            )
            if problem:
                problems.append(f"{match.group(0)}: {problem}")
    for pattern, in_stock in ((_OUT, False), (_IN, True)):
        for match in pattern.finditer(text):
            if in_stock and _OUT.search(text[max(0, match.start() - 7) : match.end() + 9]):
                continue  # "available" inside "not available"
            subject = _subject(text, match.start(), mentions)
            if subject is not None and bool(subject.in_stock) != in_stock:
                problems.append(f"says the {subject.title} is {'in' if in_stock else 'out of'} stock")
    if kind == "stock":
        first = text.strip().split(" ", 1)[0].strip(",.!:").lower()
        subject = mentions[0][1]
        if (
            first == "yes"
            and not subject.in_stock
            or first in {"no", "sorry", "unfortunately"}
            and subject.in_stock
        ):
            problems.append(
                f"answers {first!r} but the {subject.title} is {'in' if subject.in_stock else 'out of'} stock"
            )
    for pattern, measure in ((_CHEAPEST, "cheapest"), (_PRICIEST, "priciest"), (_BEST_RATED, "rating")):
        for match in pattern.finditer(text):
            subject = _nearest(text, match.start(), mentions)
            truth = best_by(shown, measure)
            if subject is not None and truth is not None and subject.id != truth.id:
                problems.append(f"calls the {subject.title} the {match.group(0)}; that is the {truth.title}")
    if kind == "compare":
        pair = list(products)
        for pattern, measure in ((_CHEAPER, "cheapest"), (_RATED_HIGHER, "rating")):
            for match in pattern.finditer(text):
                subject = _subject(text, match.start(), mentions)
                truth = best_by(pair, measure)
                if subject is not None and truth is not None and subject.id != truth.id:
                    problems.append(f"says the {subject.title} {match.group(0).split(' ', 1)[1]}; it is not")
    return problems


def _number_problem(value: float, before: str, after: str, product: Any) -> str | None:
    """A number written about a product: a price must be its price, a rating its rating, and any
    other number must appear in its record (a size like "3 oz", a model number in the title)."""
    if _RATING_AFTER.match(after) or _RATING_BEFORE.search(before):
        if _RATING_AFTER.match(after) and value == 5 and before.rstrip().endswith("out of"):
            return None
        ok = product.rating is not None and abs(value - product.rating) < 0.005
        return None if ok else f"not the rating of the {product.title}"
    if _PRICE_AFTER.match(after) or _PRICE_BEFORE.search(before):
        ok = product.price is not None and abs(value - product.price) < 0.005
        return None if ok else f"not the price of the {product.title}"
    if before.rstrip().lower().endswith("out of") and value == 5:
        return None
    own = " ".join(
        str(getattr(product, f, "") or "") for f in ("title", "size", "material", "color", "description")
    )
    known = {float(n) for n in _NUMBER.findall(own)}
    return None if value in known else f"not in the record of the {product.title}"


def _nearest(text: str, at: int, mentions: list[tuple[int, Any]]) -> Any | None:
    """The title closest to a superlative word ("the cheapest is the X" or "the X is the cheapest")."""
    if not mentions:
        return None
    return min(mentions, key=lambda m: abs(m[0] - at))[1]


def best_by(products: Sequence[Any], measure: str) -> Any | None:
    """The product that is best by `measure` (rating, cheapest, priciest), from its record; ties go to
    the first shown. The chat service, this checker and the answer facts (`prompts.tasks.ranked_by`)
    share the definition."""
    ranked = ranked_by(products, measure)
    return ranked[0] if ranked else None
