"""Query understanding: split a shopper's words into search text and structured filters.

"red trailstep running shoes under $80" becomes text "red trailstep running shoes" plus
{colors: [red], brands: [Trailstep], price_max: 80}. Brands, categories and colours are only
recognised when the catalogue has them (its `CatalogSchema`), so the parser never invents a filter
that would empty the result list. Prices are removed from the text because numbers only add noise
to lexical and dense matching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from retrieval.filters import CatalogSchema, Filters

_NUM = r"\$?\s?(\d++(?:[.,]\d{1,2})?+)(?![\d.,])\s?(?:k\b)?"
_CUR = r"(?:\s?(?:dollars?|usd|bucks|\$))?"
# A number followed by one of these is a spec, not a price ("under 500 ml").
_UNIT = r"(?!\s?(?:mah|wh?\b|watts?|l\b|litres?|liters?|ml|oz|cm|mm|m\b|kg|g\b|lbs?|in\b|inch|gb|tb|hours?|h\b|mins?|%|degrees?|°|person))"
_MAX_WORDS = r"(?:under|below|less than|cheaper than|no more than|not more than|at most|up to|max(?:imum)?|within|<=?|≤)"
_MIN_WORDS = r"(?:over|above|more than|at least|min(?:imum)?|starting at|from|>=?|≥)"

_BETWEEN = re.compile(rf"(?<![\w.$])(?:between\s+)?{_NUM}{_CUR}\s?(?:-|–|to|and)\s?{_NUM}{_CUR}{_UNIT}", re.I)
_MAX = re.compile(rf"(?:\b|(?<=[<≤]))(?:{_MAX_WORDS})\s*{_NUM}{_CUR}{_UNIT}", re.I)
_MIN = re.compile(rf"(?:\b|(?<=[>≥]))(?:{_MIN_WORDS})\s*{_NUM}{_CUR}{_UNIT}", re.I)
_AROUND = re.compile(rf"\b(?:around|about|roughly|approximately|~)\s*{_NUM}{_CUR}{_UNIT}", re.I)
_RATING = re.compile(
    r"\b(?:rated\s+)?(?:at least\s+)?([1-5](?:\.\d)?)\s?(?:\+(?:\s?stars?)?|\s?stars?\s?(?:and up|or more|\+|or better)?)",
    re.I,
)
_RATING_WORDS = re.compile(r"\b(?:rated|rating|stars?)\b", re.I)
_IN_STOCK = re.compile(r"\b(?:in stock|available now|available today|ships? now)\b", re.I)


def _num(text: str, thousands: bool = False) -> float:
    value = float(text.replace(",", "."))
    return value * 1000 if thousands else value


@dataclass
class ParsedQuery:
    text: str
    filters: Filters
    matched: list[str] = field(default_factory=list)  # the phrases that became filters
    category_hints: list[str] = field(default_factory=list)  # categories named in passing: boosts


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("es") and word[:-2].endswith(("s", "x", "ch", "sh")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def parse_query(query: str, schema: CatalogSchema | None = None) -> ParsedQuery:
    """Extract price, rating, stock, brand, category and colour filters from free text."""
    schema = schema or CatalogSchema()
    text = " " + query.strip() + " "
    matched: list[str] = []
    price_min: float | None = None
    price_max: float | None = None

    def cut(match: re.Match[str]) -> None:
        nonlocal text
        matched.append(match.group(0).strip())
        text = text.replace(match.group(0), " ", 1)

    has_price_context = bool(re.search(r"\$|dollars?|usd|bucks|price|cost|budget|cheap", query, re.I))
    m = _BETWEEN.search(text)
    if m and (has_price_context or re.search(r"\bbetween\b", m.group(0), re.I)):
        low, high = _num(m.group(1)), _num(m.group(2))
        price_min, price_max = min(low, high), max(low, high)
        cut(m)
    m = _MAX.search(text)
    if m:
        price_max = _num(m.group(1), m.group(0).lower().rstrip().endswith("k"))
        cut(m)
    m = _MIN.search(text)
    if m and (has_price_context or not re.match(r"from", m.group(0), re.I)):
        price_min = _num(m.group(1), m.group(0).lower().rstrip().endswith("k"))
        cut(m)
    m = _AROUND.search(text)
    if m and price_min is None and price_max is None and has_price_context:
        centre = _num(m.group(1))
        price_min, price_max = round(centre * 0.8, 2), round(centre * 1.2, 2)
        cut(m)

    min_rating: float | None = None
    m = _RATING.search(text)
    if m and (_RATING_WORDS.search(m.group(0)) or "+" in m.group(0)):
        min_rating = float(m.group(1))
        cut(m)

    in_stock = False
    m = _IN_STOCK.search(text)
    if m:
        in_stock = True
        cut(m)

    words = re.findall(r"[a-z0-9&'-]+", text.lower())
    lowered = " " + " ".join(words) + " "
    brands = [name for key, name in schema.brands.items() if f" {key} " in lowered]
    # A category word is only a hint ("sleeping bag" is not in "bags"); it becomes a hard filter
    # when the shopper names the category as such ("in the bags category", "category: bags").
    categories: list[str] = []
    hints: list[str] = []
    for key, name in schema.categories.items():
        explicit = re.search(
            rf"\b(?:category:?\s*{re.escape(key)}|(?:in )?(?:the )?{re.escape(key)} (?:category|section|department))\b",
            lowered,
        )
        if explicit:
            categories.append(name)
            spaced = r"[\s:]+".join(map(re.escape, explicit.group(0).split()))
            text = re.sub(spaced, " ", text, count=1, flags=re.I)
        elif any(_singular(w) == _singular(key) for w in words):
            hints.append(name)
    colours = sorted({w for w in words if w in schema.colour_words})
    matched += brands + categories + colours

    if price_min is not None and price_max is not None and price_min > price_max:
        price_min, price_max = price_max, price_min
    filters = Filters(
        price_min=price_min,
        price_max=price_max,
        brands=brands,
        categories=categories,
        colors=colours,
        min_rating=min_rating,
        in_stock=in_stock,
    )
    clean = re.sub(r"\s+", " ", text).strip(" ,.;")
    return ParsedQuery(text=clean or query.strip(), filters=filters, matched=matched, category_hints=hints)
