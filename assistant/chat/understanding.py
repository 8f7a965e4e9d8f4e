"""Conversation understanding: a follow-up message plus what was shown becomes one standalone request.

The model's part (the `rewrite` task adapter) is a short *intent* line under a small grammar,
`cheaper ref=1`, `refine color=blue`, `best measure=rating`, `stock ref=2`, `compare ref=1,3`, because
a 135M model can learn to classify and copy a word reliably but not to do arithmetic or recall ids.
`resolve` turns the intent into a `TurnRequest` using the conversation state and the catalogue's data
(prices, categories, ids), so every number in the request comes from data, never from the model. The
rules in `followup.py` are the fallback, mapped into the same `TurnRequest` by `from_followup`, so the
service executes one kind of request whoever understood the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from assistant.chat.followup import ConversationState, FollowUp, price_bound
from assistant.errors import BadInput
from assistant.grounding.answers import best_by
from retrieval.filters import Filters

Op = Literal[
    "search",
    "refine",
    "cheaper",
    "pricier",
    "pick",
    "best",
    "stock",
    "attribute",
    "compare",
    "policy",
    "order",
]
OPS: tuple[str, ...] = (
    "search", "refine", "cheaper", "pricier", "pick", "best", "stock", "attribute", "compare", "policy", "order",
)  # fmt: skip
Measure = Literal["rating", "cheapest", "priciest"]
ATTRIBUTES: tuple[str, ...] = ("material", "color", "size", "brand", "price", "rating", "category")
# Which arguments each operation takes (the grammar); `ref` is a position in the shown list or "named".
_ARGS: dict[str, frozenset[str]] = {
    "search": frozenset(),
    "refine": frozenset({"color", "brand", "max", "min", "add"}),
    "cheaper": frozenset({"ref"}),
    "pricier": frozenset({"ref"}),
    "pick": frozenset({"ref"}),
    "best": frozenset({"measure"}),
    "stock": frozenset({"ref"}),
    "attribute": frozenset({"ref", "attr"}),
    "compare": frozenset({"ref"}),
    "policy": frozenset(),
    "order": frozenset(),
}
_REQUIRED: dict[str, frozenset[str]] = {
    "pick": frozenset({"ref"}),
    "best": frozenset({"measure"}),
    "stock": frozenset({"ref"}),
    "attribute": frozenset({"ref", "attr"}),
    "compare": frozenset({"ref"}),
}
# The whole line: an op, then key=value pairs; values are single tokens (words joined by "_").
INTENT_PATTERN = (
    r"(search|refine|cheaper|pricier|pick|best|stock|attribute|compare|policy|order)"
    r"( (ref|color|brand|max|min|add|measure|attr)=[A-Za-z0-9_.,&'-]{1,40}){0,4}"
)
_LINE = re.compile(INTENT_PATTERN)


class IntentError(BadInput):
    """The model's intent line does not fit the grammar or the state; the rules answer instead."""


class Intent(BaseModel):
    """What the rewrite adapter writes: an operation and its arguments, nothing computed."""

    op: Op
    args: dict[str, str] = Field(default_factory=dict)

    def line(self) -> str:
        parts = [self.op] + [f"{k}={v}" for k, v in self.args.items()]
        return " ".join(parts)


class TurnRequest(BaseModel):
    """The standalone request a turn executes, whoever understood it (model or rules)."""

    op: Op = Field(description="What the customer wants done")
    query: str = Field(default="", description="Product search text (search, refine, cheaper, pricier)")
    filters: Filters = Field(default_factory=Filters, description="Filters in force for the search")
    product_ids: list[str] = Field(
        default_factory=list,
        description="Products the request is about (pick, best, stock, attribute, compare)",
    )
    measure: Measure | None = Field(default=None, description="For best: rating, cheapest or priciest")
    attribute: str | None = Field(default=None, description="For attribute: which field is asked about")
    note: str = Field(default="", description="Why these products (shown on the card)")
    brand: str | None = Field(
        default=None, description="For policy: a brand the message names, shown with the answer"
    )
    source: Literal["model", "rules"] = Field(default="rules", description="Who understood the message")

    def key(self) -> tuple[Any, ...]:
        """What must match for two requests to mean the same thing (the evaluation compares this)."""
        f = self.filters
        searchy = self.op in {"refine", "cheaper", "pricier"}
        return (
            "refine" if searchy else self.op,  # a cheaper search is a refinement with a price bound
            tuple(sorted(self.product_ids)) if not searchy else (),
            self.measure,
            self.attribute if self.op == "attribute" else None,
            (
                None if f.price_max is None else round(f.price_max, 2),
                None if f.price_min is None else round(f.price_min, 2),
                tuple(sorted(c.lower() for c in f.colors)),
                tuple(sorted(b.lower() for b in f.brands)),
                tuple(sorted(c.lower() for c in f.categories)),
            )
            if searchy
            else None,
        )


def parse_intent(text: str) -> Intent:
    """The intent in the model's output, checked against the grammar (first line only)."""
    line = (text or "").strip().splitlines()[0].strip() if (text or "").strip() else ""
    if not _LINE.fullmatch(line):
        raise IntentError(f"not an intent line: {line[:80]!r}")
    op, *pairs = line.split(" ")
    args: dict[str, str] = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        if key not in _ARGS[op] or key in args:
            raise IntentError(f"{op} takes no {key!r} here: {line!r}")
        args[key] = value
    missing = _REQUIRED.get(op, frozenset()) - args.keys()
    if missing:
        raise IntentError(f"{op} needs {', '.join(sorted(missing))}: {line!r}")
    if "measure" in args and args["measure"] not in ("rating", "cheapest", "priciest"):
        raise IntentError(f"unknown measure {args['measure']!r}")
    if "attr" in args and args["attr"] not in ATTRIBUTES:
        raise IntentError(f"unknown attribute {args['attr']!r}")
    return Intent.model_validate({"op": op, "args": args})


def _positions(value: str, count: int) -> list[int]:
    out = []
    for part in value.split(","):
        if not part.isdigit() or not 1 <= int(part) <= count:
            raise IntentError(f"ref {part!r} is not one of the {count} products shown")
        out.append(int(part) - 1)
    return out


def _number(value: str) -> float:
    try:
        number = float(value)
    except ValueError as exc:
        raise IntentError(f"not a price: {value!r}") from exc
    if not 0 <= number <= 1e7:
        raise IntentError(f"price out of range: {value!r}")
    return number


_POSITIONAL = re.compile(
    r"\b(?:first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th|one|two|three|four)\b|#\s*\d|\bnumber\s*\d|\bno\.?\s*\d",
    re.I,
)
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "for",
        "with",
        "and",
        "in",
        "on",
        "is",
        "are",
        "it",
        "its",
        "this",
        "that",
        "one",
        "ones",
    ]
)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP and len(w) > 1}


def ground(
    intent: Intent,
    message: str,
    state: ConversationState,
    lookup: Callable[[str], Any],
    named: Callable[[str], str | None],
    schema: Any = None,
) -> Intent:
    """Settle what data can settle better than a small model: a product referred to by name (not by
    position) is the shown one whose title shares the most words with the message, or a catalogue
    product the message names; a refinement word is a colour or a brand when the catalogue has it as
    one. The operation stays the model's."""
    args = dict(intent.args)
    ref = args.get("ref", "")
    if ref and "," not in ref and not _POSITIONAL.search(message):
        said = _words(message)
        overlap = [
            len(said & _words(p.title)) if p is not None else 0 for p in map(lookup, state.product_ids)
        ]
        top = max(overlap, default=0)
        if top and overlap.count(top) == 1:
            args["ref"] = str(overlap.index(top) + 1)
        elif not top and named(message) is not None:
            args["ref"] = "named"
    if schema is not None and intent.op == "refine":
        for key in ("add", "color", "brand"):
            word = args.get(key, "").replace("_", " ").lower()
            if not word:
                continue
            colour = next((c for c in schema.colors if word in re.split(r"[/ ,-]+", c) or word == c), None)
            brand = next(
                (b for b in schema.brands.values() if b.lower() == word or b.lower().startswith(word + " ")),
                None,
            )
            if colour is not None and "color" not in args:
                args.pop(key)
                args["color"] = word.replace(" ", "_")
            elif brand is not None and "brand" not in args:
                args.pop(key)
                args["brand"] = brand.replace(" ", "_")
    return Intent.model_validate({"op": intent.op, "args": args})


def resolve(
    intent: Intent,
    message: str,
    state: ConversationState | None,
    lookup: Callable[[str], Any],
    named: Callable[[str], str | None],
    schema: Any = None,
    *,
    grounded: bool = True,
) -> TurnRequest:
    """The standalone request for an intent, with ids, prices and categories taken from the state and
    the catalogue (`lookup(id)` gives a product record, `named(message)` the product the message names,
    `schema` the catalogue's colours and brands). Raises IntentError when the intent does not fit what
    was shown (a ref past the list, say)."""
    state = state or ConversationState()
    if grounded:
        intent = ground(intent, message, state, lookup, named, schema)
    ids = state.product_ids
    args = intent.args
    op = intent.op
    if op in {"search", "policy", "order"}:
        return TurnRequest(op=op, query=message if op == "search" else "", source="model")
    if op in {"pick", "stock", "attribute", "compare"}:
        if args.get("ref") == "named":
            pid = named(message)
            if pid is None:
                raise IntentError("the message names no product in the catalogue")
            chosen = [pid]
        else:
            chosen = [ids[i] for i in _positions(args["ref"], len(ids))]
        if op == "compare" and len(set(chosen)) < 2:
            raise IntentError("a comparison needs two different products")
        note = "the product you named" if args.get("ref") == "named" else f"you asked about #{args['ref']}"
        return TurnRequest(
            op=op,
            product_ids=chosen,
            attribute=args.get("attr"),
            note=note,
            query=state.query,
            source="model",
        )
    if op == "best":
        measure = args["measure"]
        pick = best_of(shown_records(state, lookup), measure)
        if pick is None:
            raise IntentError(f"none of the shown products has a {measure}")
        return TurnRequest(
            op="best",
            product_ids=[pick],
            measure=measure,  # type: ignore[arg-type]
            note=f"the {measure_words(measure)} of the {len(ids)} shown",
            source="model",
        )
    # refine / cheaper / pricier: a new search over the same kind of product
    data = state.filters.model_dump()
    query = state.query
    if op in {"cheaper", "pricier"}:
        if "ref" in args:
            prices = [state.prices[i] for i in _positions(args["ref"], len(ids)) if i < len(state.prices)]
        else:
            prices = list(state.prices)
        known = [p for p in prices if p is not None]
        if not known:
            raise IntentError("the shown products have no prices to compare with")
        data.update(price_bound(known, cheaper=op == "cheaper"))
    else:
        if "color" in args:
            data["colors"] = [args["color"].replace("_", " ")]
        if "brand" in args:
            data["brands"] = [args["brand"].replace("_", " ")]
        if "max" in args:
            data["price_max"] = _number(args["max"])
            if data.get("price_min") is not None and data["price_min"] > data["price_max"]:
                data["price_min"] = None
        if "min" in args:
            data["price_min"] = _number(args["min"])
            if data.get("price_max") is not None and data["price_max"] < data["price_min"]:
                data["price_max"] = None
        if "add" in args:
            query = f"{query} {args['add'].replace('_', ' ')}".strip()
    if not data.get("categories"):
        data["categories"] = shown_categories(state, lookup)
    try:
        filters = Filters.model_validate(data)
    except ValidationError as exc:
        raise IntentError(f"the filters do not fit: {exc.errors()[0]['msg']}") from exc
    note = {"cheaper": "cheaper than shown", "pricier": "pricier than shown"}.get(
        op, "refined the last search"
    )
    return TurnRequest(op=op, query=query, filters=filters, note=note, source="model")


def shown_records(state: ConversationState | None, lookup: Callable[[str], Any]) -> list[Any]:
    """The records of the products shown last, in order (a product gone from the catalogue is left out)."""
    return [p for p in map(lookup, state.product_ids if state else []) if p is not None]


def shown_categories(state: ConversationState | None, lookup: Callable[[str], Any]) -> list[str]:
    """The categories of the shown products: what "cheaper ones?" / "in blue?" keep searching in."""
    return sorted({p.category for p in shown_records(state, lookup) if p.category})


def best_of(products: Sequence[Any], measure: str) -> str | None:
    """The id of the product that is best by `measure`, from its record (ties: the first shown)."""
    best = best_by(products, measure)
    return best.id if best is not None else None


def measure_words(measure: str) -> str:
    return {"rating": "best rated", "cheapest": "cheapest", "priciest": "most expensive"}[measure]


def from_followup(
    follow: FollowUp | None,
    message: str,
    state: ConversationState | None,
    lookup: Callable[[str], Any],
    *,
    routed: TurnRequest | None = None,
    order_followup: bool = False,
) -> TurnRequest:
    """Today's rules as a `TurnRequest`: the fallback when the model is absent, late or invalid.
    `routed` is what the policy/product signals decided for a message naming a product or brand
    (`assistant.chat.routing`); a pointer at a shown product or a superlative comes first."""
    if order_followup:
        return TurnRequest(op="order")
    if follow is not None and follow.superlative is not None and state is not None:
        pick = best_of(shown_records(state, lookup), follow.superlative)
        if pick is not None:
            return TurnRequest(
                op="best",
                product_ids=[pick],
                measure=follow.superlative,  # type: ignore[arg-type]
                note=follow.note,
            )
    if follow is not None and follow.product_id is not None:
        return TurnRequest(op="pick", product_ids=[follow.product_id], note=follow.note)
    if routed is not None:
        return routed
    if follow is not None and follow.filters is not None:
        filters = follow.filters
        kinds = shown_categories(state, lookup) if not filters.categories else []
        if kinds:
            filters = filters.model_copy(update={"categories": kinds})
        op: Op = (
            "cheaper" if follow.kind == "cheaper" else "pricier" if follow.kind == "pricier" else "refine"
        )
        return TurnRequest(op=op, query=follow.query or message, filters=filters, note=follow.note)
    return TurnRequest(op="search", query=message)


def state_lines(state: ConversationState | None, lookup: Callable[[str], Any]) -> list[Mapping[str, Any]]:
    """The shown products as the rewrite prompt lists them (position, title, colour, price)."""
    rows: list[Mapping[str, Any]] = []
    for i, pid in enumerate((state.product_ids if state else [])[:6], start=1):
        p = lookup(pid)
        if p is None:
            continue
        price = f"{p.price:g}" if p.price is not None else "-"
        rows.append({"n": i, "title": p.title, "color": p.color or "-", "price": price})
    return rows
