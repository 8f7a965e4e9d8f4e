"""Conversation memory for follow-ups: "cheaper ones?", "in blue?", "what about the second one?".

The reply text is never parsed for this. Each product turn returns a `ConversationState` (the
query, the filters in force, the products shown, in order) and the client sends it back with the
next message (the UI keeps it in its session, API clients echo it), so the API stays stateless
and a follow-up resolves against exactly what the customer saw. Prose history is not sent: every
turn costs the same however long the chat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    "fifth": 5, "5th": 5, "last": -1,
}  # fmt: skip
_ORD = "|".join(_ORDINALS)
_REFERENCE = re.compile(
    rf"\b(?:the\s+)?(?P<ord>{_ORD})\s+(?:one|option|item|product|pick|choice)\b"
    rf"|(?:\bnumber|\bno\.?|#)\s*(?P<num>[1-9])\b"
    rf"|^\s*(?:and\s+|what about\s+|how about\s+)?(?:the\s+)?(?P<alone>{_ORD})\s*\??\s*$",
    re.I,
)
_CHEAPER = re.compile(
    r"\b(?:cheaper|less expensive|lower[- ]priced?|more affordable|something cheaper)\b", re.I
)
_PRICIER = re.compile(r"\b(?:more expensive|pricier|higher[- ]end|fancier|better quality)\b", re.I)
# Words that carry no product meaning in a follow-up ("what about any in blue?").
_FILLER = frozenset(
    re.findall(
        r"\w+",
        """what about how any anything ones one those these them they do you have got show me some other
        options option in a an the please only just and or with also instead maybe is are there
        something cheaper pricier expensive less more lower higher priced affordable end fancier
        better quality""",
    )
)


_SUPERLATIVE = re.compile(
    r"\b(?P<rating>(?:best|highest|top)[- ]rated|best rating|highest rating|best reviewed)\b"
    r"|\b(?P<cheap>cheapest|least expensive|lowest[- ]priced?|lowest price)\b"
    r"|\b(?P<dear>most expensive|priciest|highest[- ]priced?|highest price)\b",
    re.I,
)
_AMONG = re.compile(r"\b(?:of|among)\s+(?:those|these|them|the ones|the options)\b|\b(?:which|what)\b", re.I)


@dataclass
class FollowUp:
    """A resolved follow-up: a product the customer pointed at, the best of the shown products by
    a measure (picked from the catalogue's data by the caller), or a refined search."""

    product_id: str | None = None
    query: str | None = None
    filters: Filters | None = None
    note: str = ""
    superlative: str | None = None  # "rating", "cheapest" or "priciest", over state.product_ids
    kind: str = "refine"  # for a refined search: "refine", "cheaper" or "pricier"


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
    ref = _REFERENCE.search(message)
    if ref:
        word = ref.group("ord") or ref.group("alone")
        position = _ORDINALS[word.lower()] if word else int(ref.group("num"))
        ids = state.product_ids
        if position == -1 or 1 <= position <= len(ids):
            index = len(ids) - 1 if position == -1 else position - 1
            price = state.prices[index] if index < len(state.prices) else None
            cheaper, pricier = _CHEAPER.search(message), _PRICIER.search(message)
            if price is not None and (cheaper or pricier):  # "cheaper than the first one"
                merged = {**state.filters.model_dump(), **price_bound([price], cheaper=bool(cheaper))}
                return FollowUp(
                    query=state.query,
                    filters=Filters.model_validate(merged),
                    note=f"{'cheaper' if cheaper else 'pricier'} than #{index + 1}",
                    kind="cheaper" if cheaper else "pricier",
                )
            return FollowUp(product_id=ids[index], note=f"you asked about #{index + 1}")
    best = _SUPERLATIVE.search(message)
    if best and (_AMONG.search(message) or len(tokenize(message)) <= 4):
        kind = "rating" if best.group("rating") else "cheapest" if best.group("cheap") else "priciest"
        return FollowUp(
            superlative=kind, note=f"the {best.group(0).lower()} of the {len(state.product_ids)} shown"
        )
    parsed = parse_query(message, schema)
    update = parsed.filters.model_dump(exclude_defaults=True)
    prices = [p for p in state.prices if p is not None]
    kind = "refine"
    if _CHEAPER.search(message) and prices:
        update.update(price_bound(prices, cheaper=True))
        kind = "cheaper"
    elif _PRICIER.search(message) and prices:
        update.update(price_bound(prices, cheaper=False))  # the old cap goes
        kind = "pricier"
    named = {w for phrase in parsed.matched for w in tokenize(phrase)}  # colours, brands: now filters
    leftover = [w for w in tokenize(parsed.text) if w not in _FILLER and w not in named]
    if not update or leftover:
        return None  # new product words: a fresh search, not a refinement of the last one
    merged = state.filters.model_dump()
    merged.update(update)
    low, high = merged.get("price_min"), merged.get("price_max")
    if low is not None and high is not None and low > high:  # "cheaper" after "over 100": new bound wins
        merged["price_min" if "price_max" in update else "price_max"] = None
    return FollowUp(
        query=state.query, filters=Filters.model_validate(merged), note="refined the last search", kind=kind
    )
