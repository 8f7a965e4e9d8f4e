"""Unsupported-claim check for product copy: facts in the text that the attributes do not back.

Small on purpose (issue 7 grows it): a claim is a number with its unit, a colour, a material or a
brand name found in the copy; it is supported when the same thing appears in the attributes. Words
are compared lower-cased, numbers by value, so "1.0 inch" matches "1 inch".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

COLOURS = frozenset(
    [
        "black",
        "white",
        "red",
        "blue",
        "green",
        "yellow",
        "orange",
        "purple",
        "pink",
        "brown",
        "grey",
        "gray",
        "beige",
        "navy",
        "maroon",
        "gold",
        "silver",
        "cream",
        "ivory",
        "teal",
        "turquoise",
        "olive",
        "khaki",
        "tan",
        "burgundy",
        "charcoal",
        "violet",
        "magenta",
        "lavender",
        "peach",
        "mustard",
        "multicolor",
        "multicolour",
    ]
)
MATERIALS = frozenset(
    [
        "cotton",
        "polyester",
        "leather",
        "suede",
        "nylon",
        "wool",
        "silk",
        "linen",
        "denim",
        "rayon",
        "viscose",
        "spandex",
        "lycra",
        "acrylic",
        "canvas",
        "rubber",
        "plastic",
        "steel",
        "aluminium",
        "aluminum",
        "wood",
        "wooden",
        "bamboo",
        "glass",
        "ceramic",
        "porcelain",
        "brass",
        "copper",
        "iron",
        "gold",
        "silver",
        "metal",
        "fleece",
        "cashmere",
        "merino",
        "synthetic",
        "foam",
        "mesh",
        "velvet",
        "satin",
        "chiffon",
        "jute",
        "polycarbonate",
        "polypropylene",
        "pvc",
        "eva",
        "latex",
        "stainless",
    ]
)
_UNITS = (
    r"mm|cm|m|km|in|inch|inches|ft|feet|g|kg|mg|lb|lbs|oz|ml|l|litre|liter|litres|liters|w|kw|v|mah|gb|tb|mb|"
    r"hz|ghz|mp|%|pcs|pieces|pack|days|months|years|hours|year|month|day|hour|rs|inr|usd|\$|₹"
)
_NUMBER_RE = re.compile(rf"(?<![\w.])(\d+(?:[.,]\d+)?)\s*({_UNITS})?(?![\w])", re.IGNORECASE)
_WORD_RE = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Claim:
    kind: str  # number | colour | material | brand
    text: str


def _numbers(text: str) -> set[float]:
    out = set()
    for m in _NUMBER_RE.finditer(text):
        try:
            out.add(float(m.group(1).replace(",", "")))
        except ValueError:
            continue
    return out


def extract_claims(copy: str, known_brands: Iterable[str] = ()) -> list[Claim]:
    """Numbers (with unit), colours, materials and known brand names mentioned in the copy."""
    lower = copy.lower()
    claims = [Claim("number", m.group(0).strip()) for m in _NUMBER_RE.finditer(copy)]
    words = set(_WORD_RE.findall(lower))
    claims += [Claim("colour", w) for w in sorted(words & COLOURS)]
    claims += [Claim("material", w) for w in sorted(words & MATERIALS)]
    for brand in sorted({b.strip().lower() for b in known_brands if len(b.strip()) >= 3}):
        if re.search(rf"(?<!\w){re.escape(brand)}(?!\w)", lower):
            claims.append(Claim("brand", brand))
    return claims


def unsupported_claims(
    copy: str, attributes: Mapping[str, str], known_brands: Iterable[str] = ()
) -> list[Claim]:
    """Claims in the copy with no support in the attributes (keys and values both count)."""
    source = " ".join(f"{k} {v}" for k, v in attributes.items()).lower()
    source_words = set(_WORD_RE.findall(source))
    source_numbers = _numbers(source)
    out = []
    for claim in extract_claims(copy, known_brands):
        if claim.kind == "number":
            value = _numbers(claim.text)
            supported = bool(value) and value <= source_numbers
        elif claim.kind == "brand":
            supported = claim.text in source
        else:
            supported = claim.text in source_words
        if not supported:
            out.append(claim)
    return out


def attribute_coverage(
    copy: str, attributes: Mapping[str, str], skip: Iterable[str] = ("Price", "Tags")
) -> float:
    """Share of attribute values the copy mentions (a multi-word value counts when half its words do)."""
    lower = copy.lower()
    words = set(_WORD_RE.findall(lower))
    skip_set = {s.lower() for s in skip}
    scored = 0
    hit = 0.0
    for key, value in attributes.items():
        if key.lower() in skip_set or not value.strip():
            continue
        scored += 1
        v_words = [w for w in _WORD_RE.findall(value.lower()) if len(w) > 2]
        if value.lower() in lower:
            hit += 1
        elif v_words:
            hit += 1 if sum(w in words for w in v_words) / len(v_words) >= 0.5 else 0
        elif _numbers(value) and _numbers(value) <= _numbers(copy):
            hit += 1
    return hit / scored if scored else 1.0
