"""Conversation memory for follow-ups: "cheaper ones?", "in blue?", "what about the second one?".

The reply text is never parsed for this. Each product turn returns a `ConversationState` (the
query, the filters in force, the products shown, in order) and the client sends it back with the
next message (the UI keeps it in its session, API clients echo it), so the API stays stateless
and a follow-up resolves against exactly what the customer saw. Prose history is not sent: every
turn costs the same however long the chat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from retrieval.filters import CatalogSchema, Filters
from retrieval.query import parse_query
from retrieval.text import tokenize


class ConversationState(BaseModel):
    query: str = Field(default="", description="The last product search, filters taken out")
    filters: Filters = Field(
        default_factory=Filters, description="Filters in force in the last product search"
    )
    product_ids: list[str] = Field(default_factory=list, description="Products shown last, in display order")
    prices: list[float | None] = Field(default_factory=list, description="Their prices, same order")
    last: str = Field(
        default="", description="What the last turn was about: products, order or faq (empty: unknown)"
    )


_ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
    "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "last": -1,
}  # fmt: skip
_ORD = "|".join(_ORDINALS)
# A position said as a number ("#4", "number 4", "option 4") or an ordinal word; an ordinal word points
# at a shown product when an article or a noun like "one" goes with it ("the fourth", "fourth one"),
# when the message is the ordinal alone ("first?"), or when two are set against each other
# ("second vs fourth"): "first time buying boots" points at nothing.
_POINTER = re.compile(
    rf"(?:#\s*|\bnumber\s*|\bno\.\s*|\b(?:option|item|product|choice)\s+)(?P<num>[1-9])\b"
    rf"|(?P<the>\bthe\s+)?\b(?P<ord>{_ORD})\b(?P<noun>\s+(?:one|option|item|product|pick|choice)\b)?",
    re.I,
)
# "the first time", "the last week": an ordinal before these words orders something else.
_NOT_POINTED = re.compile(
    r"\s+(?:time|times|day|days|week|weeks|month|months|year|years|night|thing|things|step|steps|place|"
    r"order|orders|purchase|try|half|impression|date|minute|hour|chance)\b",
    re.I,
)
_ALONE = re.compile(rf"^\s*(?:and\s+|what about\s+|how about\s+)?(?:the\s+)?(?:{_ORD})\s*[?.!]*\s*$", re.I)
_CHEAPER = re.compile(
    r"\b(?:cheaper|less expensive|lower[- ]priced?|lower[- ]cost|more affordable|less (?:pricey|pricy|costly)"
    r"|inexpensive|budget[- ]friendly|(?:tight|tighter|smaller|lower|limited|low) budget|on a budget"
    r"|too (?:expensive|pricey|pricy|costly|steep|dear)|(?:costs?|is|are|priced|seems?) (?:\w+ )?too (?:much|high)"
    r"|too much money|(?:over|above|out of|beyond) (?:my|our|the) (?:budget|price range)"
    r"|(?:can't|cannot|can not) afford|spend less|costs? less)\b",
    re.I,
)
_PRICIER = re.compile(
    r"\b(?:more expensive|pricier|higher[- ]end|high[- ]end|fancier|better quality|higher quality|premium"
    r"|upscale|luxury|luxurious|top[- ]of[- ]the[- ]line|splurge|spend more|costs? more"
    r"|(?:bigger|larger|higher) budget)\b",
    re.I,
)
# Words that carry no product meaning in a follow-up ("what about any in blue?", "do they come in
# red?", "I like Tidewalk, any of theirs?").
_FILLER = frozenset(
    re.findall(
        r"\w+",
        """what about how any anything ones one those these them they do you have got show me some other
        options option in a an the please only just and or with also instead maybe is are there
        something cheaper pricier expensive less more lower higher priced affordable end fancier
        better quality come comes came like prefer theirs their from by made same but premium stuff
        things items products version versions kind kinds type types style styles bit little lot way
        really very quite keep stay stick""",
    )
)
# "X ones?", "any X ones?": "ones" stands for the kind shown, so X narrows it (a refinement, not
# a fresh search for X).
_ONES = re.compile(r"\bones\b", re.I)


def asks_for_a_kind(message: str) -> bool:
    """Whether the message asks for a kind of product ("waterproof ones?"), not one product."""
    return bool(_ONES.search(message))


_SUPERLATIVE = re.compile(
    r"\b(?P<rating>(?:best|highest|top)[- ]rated|best rating|highest rating|best[- ]reviewed|best reviews"
    r"|rated (?:the )?(?:best|highest))\b"
    r"|\b(?P<cheap>cheapest|least expensive|lowest[- ]priced?|lowest price|lowest cost|least costly"
    r"|most affordable|costs? (?:the )?least)\b"
    r"|\b(?P<dear>most expensive|priciest|highest[- ]priced?|highest price|most costly|costs? (?:the )?most)\b",
    re.I,
)
_AMONG = re.compile(r"\b(?:of|among)\s+(?:those|these|them|the ones|the options)\b|\b(?:which|what)\b", re.I)

# Price bounds said outright. Which side a number bounds is in the words around it: "25 or more",
# "at least 25", "over 25" are a minimum; "25 or less", "under 25", "nothing over 25" a maximum (a
# negated "over" is a cap). A number followed by a unit or a hyphen is a spec ("2-person", "5 mm").
_AMOUNT = r"\$?\s?(?P<{g}>\d+(?:[.,]\d{{1,2}})?)(?![\d.,]*\d)(?:\s?(?:dollars?|usd|bucks|\$))?"
_SPEC = (
    r"(?!\s?(?:-|x\b|mm|cm|m\b|l\b|ml|oz|lbs?|kg|g\b|qt|ft|inch|inches|person|people|pack|pcs|pieces?"
    r"|%|°|degrees?|hours?|h\b|w\b|watts?|mah|gb|tb|k\b|stars?|ply|piece))"
)
_NEGATED = r"(?:nothing|none|not|no(?:thing)?|never)\s+"
_MAX_BEFORE = (
    rf"{_NEGATED}(?:over|above|more than|higher than|pricier than|past)|no more than|not more than|under|below"
    r"|less than|at most|up to|max(?:imum)?(?: of)?|within|cheaper than|(?:budget|limit|cap)(?: is| of)?|tops"
)
_MIN_BEFORE = (
    rf"{_NEGATED}(?:under|below|less than|cheaper than)|no less than|not less than|over|above|more than"
    r"|at least|min(?:imum)?(?: of)?|starting (?:at|from)|from \$|upwards of|north of|pricier than"
)
_MAX_AFTER = (
    r"or (?:less|under|below|lower|cheaper)|and (?:under|below|less)|max(?:imum)?\b|tops|at (?:the )?most"
)
_MIN_AFTER = (
    r"or (?:more|above|over|higher|up|pricier)|and (?:up|above|over|more|higher)|\+|plus\b|minimum|at least"
)
_BOUND = re.compile(
    rf"\bbetween\s+{_AMOUNT.format(g='low')}\s*(?:and|-|to)\s*{_AMOUNT.format(g='high')}{_SPEC}"
    rf"|\b(?P<maxb>{_MAX_BEFORE})\s*{_AMOUNT.format(g='max1')}{_SPEC}"
    rf"|\b(?P<minb>{_MIN_BEFORE})\s*{_AMOUNT.format(g='min1')}{_SPEC}"
    rf"|{_AMOUNT.format(g='max2')}{_SPEC}\s*(?:{_MAX_AFTER})"
    rf"|{_AMOUNT.format(g='min2')}{_SPEC}\s*(?:{_MIN_AFTER})",
    re.I,
)
_STOCK_WORDS = re.compile(
    r"\b(?:in stock|out of stock|sold out|available|availability|left|still have|back in stock|restock\w*"
    r"|(?:buy|order|get) (?:\w+ ){1,3}(?:now|today|right away))\b",
    re.I,
)


def _amount(text: str) -> float:
    return float(text.replace(",", "."))


@dataclass(frozen=True)
class Cues:
    """What a follow-up says outright, read the same way for the rules and against the model's line:
    the shown positions it points at, price bounds it states, a price direction relative to what was
    shown, and a superlative over the shown products. Each is a plain linguistic signal, not a guess."""

    positions: tuple[int, ...] = ()  # 1-based, in range, in the order said, each once
    price_min: float | None = None
    price_max: float | None = None
    bound_text: tuple[str, ...] = ()  # the phrases the bounds were read from
    phrases: tuple[str, ...] = ()  # every phrase a cue was read from (bounds, direction, superlative)
    direction: str | None = None  # "cheaper" or "pricier" than what was shown (or than a position)
    superlative: str | None = None  # "rating", "cheapest" or "priciest", asked over the shown products
    stock: bool = False  # asks whether something can be had ("left", "sold out", "available")

    @property
    def numbers(self) -> tuple[float, ...]:
        return tuple(v for v in (self.price_min, self.price_max) if v is not None)


def positions(message: str, count: int) -> list[int]:
    """The shown positions (1-based) the message points at, in the order said, each once; "last" is
    the count. Out-of-range positions are dropped."""
    found: list[int] = []
    bare: list[int] = []
    for m in _POINTER.finditer(message):
        if m.group("num"):
            pos = int(m.group("num"))
        else:
            if _NOT_POINTED.match(message, m.end()) and not m.group("noun"):
                continue
            value = _ORDINALS[m.group("ord").lower()]
            pos = count if value == -1 else value
            if not (m.group("the") or m.group("noun")):
                bare.append(pos)
                continue
        found.append(pos)
    if _ALONE.match(message) or len(set(bare)) + len(set(found)) >= 2:
        found += bare  # "first?", "second vs fourth?"
        found.sort(key=lambda p: _first_mention(message, p, count))
    out: list[int] = []
    for pos in found:
        if 1 <= pos <= count and pos not in out:
            out.append(pos)
    return out


def _first_mention(message: str, pos: int, count: int) -> int:
    for m in _POINTER.finditer(message):
        value = int(m.group("num")) if m.group("num") else _ORDINALS[m.group("ord").lower()]
        if (count if value == -1 else value) == pos:
            return m.start()
    return len(message)


def price_bounds(message: str) -> tuple[float | None, float | None, list[str]]:
    """The price minimum and maximum the message states ("40 or more", "nothing over 80", "between 20
    and 50"), and the phrases they were read from."""
    low: float | None = None
    high: float | None = None
    spans: list[str] = []
    for m in _BOUND.finditer(message):
        if m.group("low"):
            a, b = _amount(m.group("low")), _amount(m.group("high"))
            low, high = min(a, b), max(a, b)
        elif m.group("max1") or m.group("max2"):
            high = _amount(m.group("max1") or m.group("max2"))
        else:
            low = _amount(m.group("min1") or m.group("min2"))
        spans.append(m.group(0))
    return low, high, spans


def read_cues(message: str, count: int) -> Cues:
    """The cues of a follow-up against `count` shown products (see `Cues`)."""
    low, high, spans = price_bounds(message)
    cheaper, pricier = _CHEAPER.search(message), _PRICIER.search(message)
    direction = None
    if bool(cheaper) != bool(pricier):
        direction = "cheaper" if cheaper else "pricier"
    superlative = None
    best = _SUPERLATIVE.search(message)
    if best and (_AMONG.search(message) or len(tokenize(message)) <= 4):
        superlative = "rating" if best.group("rating") else "cheapest" if best.group("cheap") else "priciest"
    found = [m.group(0) for m in (cheaper if direction else None, pricier if direction else None, best) if m]
    return Cues(
        positions=tuple(positions(message, count)),
        price_min=low,
        price_max=high,
        bound_text=tuple(spans),
        phrases=(*spans, *found),
        direction=direction,
        superlative=superlative,
        stock=bool(_STOCK_WORDS.search(message)),
    )


@dataclass
class FollowUp:
    """A resolved follow-up: a product the customer pointed at (and what they ask about it), shown
    products set side by side, the best of the shown products by a measure (picked from the
    catalogue's data by the caller), or a refined search."""

    product_id: str | None = None
    query: str | None = None
    filters: Filters | None = None
    note: str = ""
    superlative: str | None = None  # "rating", "cheapest" or "priciest", over state.product_ids
    kind: str = "refine"  # for a refined search: "refine", "cheaper" or "pricier"
    compare: list[str] = field(default_factory=list)  # two or more shown products, in the order said
    stock: bool = False  # for product_id: whether it can be had
    attribute: str | None = None  # for product_id: the field asked about


def price_bound(prices: list[float], *, cheaper: bool) -> dict[str, float | None]:
    """Filters for "cheaper" (below the lowest of these prices) or "pricier" (above the highest);
    the opposite bound goes. One rule for the fallback rules and the rewrite adapter's requests."""
    if cheaper:
        return {"price_max": round(min(prices) - 0.01, 2), "price_min": None}
    return {"price_min": round(max(prices) + 0.01, 2), "price_max": None}


def resolve_followup(message: str, state: ConversationState | None, schema: CatalogSchema) -> FollowUp | None:
    """The follow-up this message is, against the last product turn; None for a fresh question."""
    if state is None or not state.product_ids:
        return None
    ids = state.product_ids
    cues = read_cues(message, len(ids))
    if len(cues.positions) >= 2:  # "the first or the fourth?", "#2 vs #3"
        said = ", ".join(f"#{p}" for p in cues.positions)
        return FollowUp(compare=[ids[p - 1] for p in cues.positions], note=f"you compared {said}")
    if cues.positions:
        index = cues.positions[0] - 1
        price = state.prices[index] if index < len(state.prices) else None
        if price is not None and cues.direction:  # "cheaper than the first one", "it costs too much"
            cheaper = cues.direction == "cheaper"
            merged = {**state.filters.model_dump(), **price_bound([price], cheaper=cheaper)}
            return FollowUp(
                query=state.query,
                filters=Filters.model_validate(merged),
                note=f"{cues.direction} than #{index + 1}",
                kind=cues.direction,
            )
        return FollowUp(
            product_id=ids[index],
            note=f"you asked about #{index + 1}",
            stock=cues.stock,
            attribute=asked_attribute(message),
        )
    if cues.superlative is not None:
        best = _SUPERLATIVE.search(message)
        said = best.group(0).lower() if best else cues.superlative
        return FollowUp(superlative=cues.superlative, note=f"the {said} of the {len(ids)} shown")
    rest = message
    for phrase in cues.phrases:  # read here: the parser below reads the rest, and no cue is a new word
        rest = rest.replace(phrase, " ", 1)
    parsed = parse_query(rest, schema)
    update = parsed.filters.model_dump(exclude_defaults=True)
    if cues.price_min is not None:
        update["price_min"] = cues.price_min
    if cues.price_max is not None:
        update["price_max"] = cues.price_max
    prices = [p for p in state.prices if p is not None]
    kind = "refine"
    if cues.direction == "cheaper" and prices and cues.price_max is None:
        update.update(price_bound(prices, cheaper=True))
        kind = "cheaper"
    elif cues.direction == "pricier" and prices and cues.price_min is None:
        update.update(price_bound(prices, cheaper=False))  # the old cap goes
        kind = "pricier"
    named = {w for phrase in parsed.matched for w in tokenize(phrase)}  # colours, brands: now filters
    leftover = [w for w in tokenize(parsed.text) if w not in _FILLER and w not in named]
    query = state.query
    if leftover:
        if not _ONES.search(message) or len(leftover) > 2:
            return None  # new product words: a fresh search, not a refinement of the last one
        # "hip-pack ones?": a narrower kind of what was shown
        words = [w for w in re.findall(r"[\w'-]+", parsed.text) if set(tokenize(w)) & set(leftover)]
        query = f"{state.query} {' '.join(words)}".strip()
    elif not update:
        return None
    merged = state.filters.model_dump()
    merged.update(update)
    low, high = merged.get("price_min"), merged.get("price_max")
    if low is not None and high is not None and low > high:  # "cheaper" after "over 100": new bound wins
        merged["price_min" if "price_max" in update else "price_max"] = None
    return FollowUp(
        query=query, filters=Filters.model_validate(merged), note="refined the last search", kind=kind
    )


# What a question about one product asks, by the words that ask it; the first said wins.
_ATTRIBUTE_WORDS: dict[str, str] = {
    "brand": r"brand|who makes|maker|made by|manufactur\w*",
    "material": r"made (?:of|from|out of)|materials?|fabric",
    "color": r"colou?rs?|shade",
    "size": r"sizes?|how big|how large|dimensions",
    "price": r"how much|price|priced|cost",
    "rating": r"rated|ratings?|reviews?|reviewed|stars",
}
_ATTRIBUTE = re.compile("|".join(rf"\b(?P<{k}>{v})\b" for k, v in _ATTRIBUTE_WORDS.items()), re.I)


def asked_attribute(message: str) -> str | None:
    """The product field a question about one product asks for ("who makes it": brand), if any."""
    m = _ATTRIBUTE.search(message)
    return m.lastgroup if m else None
