"""Conversation understanding: a follow-up message plus what was shown becomes one standalone request.

The model's part (the `rewrite` task adapter) is a short *intent* line under a small grammar,
`cheaper ref=1`, `refine color=blue`, `best measure=rating`, `stock ref=2`, `compare ref=1,3`, because
a 135M model can learn to classify and copy a word reliably but not to do arithmetic or recall ids.
`resolve` turns the intent into a `TurnRequest` using the conversation state and the catalogue's data
(prices, categories, ids), so every number in the request comes from data, never from the model. The
rules in `followup.py` are the fallback, mapped into the same `TurnRequest` by `from_followup`, so the
service executes one kind of request whoever understood the message. Both read the same plain cues
(`followup.Cues`: positions, price bounds and directions, superlatives); where the message states one
outright and the model's line contradicts it, `arbitrate` lets the message win, since a small model
misreads wordings it was not trained on ("25 or more" as a cap) but the words themselves do not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from assistant.chat.followup import (
    ConversationState,
    Cues,
    FollowUp,
    asked_attribute,
    asks_for_a_kind,
    price_bound,
    read_cues,
)
from assistant.errors import BadInput
from assistant.grounding.answers import best_by
from retrieval.filters import Filters
from retrieval.query import parse_query
from retrieval.text import tokenize

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


_DIGITS = re.compile(r"\d+(?:[.,]\d{1,2})?")
# Words that point at or ask about a shown product without naming it ("tell me more about the ...").
_POINTING = frozenset(
    tokenize(
        """show me more on about tell details detail see look like love want get buy order the this that
        what how is are any left still have stock available sold out please can i it in now today one
        let check view info information interested curious open specs option than alternative similar
        instead range""",
        keep_stopwords=True,
    )
)


_STOCKY = re.compile(r"\b(?:left|in stock|available|sold out)\b", re.I)


def shown_named(message: str, state: ConversationState | None, lookup: Callable[[str], Any]) -> int | None:
    """The position of the one shown product the message names by words of its title that no other
    shown title has ("the Beacon headlamp", "any Tube handles left?"), when the rest of the message
    points, asks or states a cue ("a cheaper option than the Sea scrub?"); None when it names none
    or several, or also says another shown product's words, a shown colour or brand, or more than two
    other words (a new search). One word the product is only described by (a tag, its colour, its
    brand) names it only after "the" or in a stock question ("only rechargeable?" narrows the list;
    "ones" always asks for a kind)."""
    if state is None or asks_for_a_kind(message):
        return None
    records = [lookup(pid) for pid in state.product_ids]
    titles = [set(tokenize(p.title)) if p is not None else set() for p in records]
    rest = message
    for phrase in read_cues(message, len(records)).phrases:
        rest = rest.replace(phrase, " ", 1)
    said = set(tokenize(rest))
    owned = []
    for i, words in enumerate(titles):
        elsewhere = set().union(*(t for j, t in enumerate(titles) if j != i))
        owned.append((said & words) - elsewhere)
    named = [i for i, own in enumerate(owned) if own]
    if len(named) != 1:
        return None
    i = named[0]
    product = records[i]
    others = set().union(*(t for j, t in enumerate(titles) if j != i))
    facets = {
        t
        for p in records
        if p is not None
        for text in (p.color or "", getattr(p, "brand", "") or "")
        for t in tokenize(text)
    }
    extra = said - titles[i] - _POINTING - set(tokenize(product.category or ""))
    if extra & (others | facets) or len(extra) > 2:
        return None  # about something else too, or a refinement of the kind
    described = {
        t
        for text in [*getattr(product, "tags", ()), product.color or "", getattr(product, "brand", "") or ""]
        for t in tokenize(text)
    }
    # "only waterproof?" narrows the list; "the waterproof one", "any waterproof left?" point at one
    pointed = re.search(r"\bthe\b", message, re.I) or _STOCKY.search(message)
    if len(owned[i]) == 1 and owned[i] <= described and not pointed:
        return None
    return i + 1


def arbitrate(
    intent: Intent,
    message: str,
    state: ConversationState,
    lookup: Callable[[str], Any],
    schema: Any = None,
    faq_answers: Callable[[str], bool] | None = None,
    named: Callable[[str], str | None] | None = None,
) -> Intent:
    """The model's line, corrected where the message states something outright that the line
    contradicts (`followup.Cues`). A small model confuses these on wordings it was not trained on;
    the words themselves are unambiguous:
    - positions said: "the first or the fourth?" compares #1 and #4, "the fourth one" is #4;
    - a price direction: "costs too much" is cheaper than what it points at, "on a tighter budget"
      cheaper, never pricier;
    - a price bound's side ("25 or more" is a minimum) and its number (never one the message lacks);
    - a superlative over the shown products ("which costs the least?");
    - a shown product named by part of its title ("the Beacon headlamp"), a kind ("2-person ones")
      that is no single product, a category none of the shown products is in (a fresh search);
    - words the line says the message does not (a brand the catalogue lacks is a plain word), and a
      pointer it does not ("anything that costs less?" is cheaper than all shown, not than #1);
    - a stock or attribute question about a catalogue product the message names in full (`named`).
    With `faq_answers` (whether the shop's policy side answers a message), a refinement that adds only
    free words to a question the policy side answers is that policy question ("international
    shipping?"), and a policy line it cannot answer, for a message stating a product follow-up or
    naming a brand or colour, is that follow-up. Order lines are left as they are: that route checks
    itself. Raises IntentError when nothing of the line survives (the rules answer instead)."""
    if intent.op == "order":
        return intent
    cues = read_cues(message, len(state.product_ids))
    product_cue = bool(cues.positions or cues.numbers or cues.direction or cues.superlative)
    op: str = intent.op
    args = dict(intent.args)
    if op == "policy":
        if faq_answers is None or faq_answers(message):
            return intent
        facets = _facets(message, schema)
        if not (product_cue or facets):
            return intent
        op, args = "refine", facets
    args = _said_args(args, message, schema)
    said = [str(p) for p in cues.positions]
    if not said and args.get("ref", "named") != "named":
        _positions(args["ref"], len(state.product_ids))  # a pointer past the list: the line does not fit
    if not said and asks_for_a_kind(message) and op in {"pick", "stock", "attribute", "compare"}:
        raise IntentError(f"{intent.line()!r}: 'ones' asks for a kind of product, not one shown")
    if not said and op != "search" and _other_kind(message, state, lookup, schema):
        return Intent(op="search")
    filtered = bool({"color", "brand", "max", "min"} & args.keys())
    if not said and op in {"cheaper", "pricier"} and "," not in args.get("ref", ","):
        titles = [_words(p.title) for p in shown_records(state, lookup)]
        if not any(_words(message) & t for t in titles):
            args.pop("ref")  # no position said, no shown product named: than all of them
    if len(said) >= 2:
        op, args = "compare", {"ref": ",".join(sorted(said, key=int))}
    elif said:
        ref = said[0]
        attribute = asked_attribute(message)
        if cues.direction is not None:
            op, args = cues.direction, {"ref": ref}
        elif op in {"pick", "stock", "attribute", "cheaper", "pricier"}:
            args["ref"] = ref
            if op in {"pick", "cheaper", "pricier"} and cues.stock:
                op, args = "stock", {"ref": ref}
            elif op in {"pick", "cheaper", "pricier"} and attribute is not None:
                op, args = "attribute", {"ref": ref, "attr": attribute}  # "what is #2 priced at?"
        elif op == "best" and cues.superlative is None:  # "is the first one rated well?"
            attr = "rating" if args.get("measure") == "rating" else "price"
            op, args = "attribute", {"ref": ref, "attr": attr}
        elif op in {"refine", "search"} and not filtered:
            op, args = _about(ref, cues, attribute)
    elif cues.superlative is not None and not cues.numbers:
        op, args = "best", {"measure": cues.superlative}
    elif cues.numbers and op != "search":
        args = {k: v for k, v in args.items() if k in {"color", "brand", "add"}} if op == "refine" else {}
        op = "refine"
        if cues.price_max is not None:
            args["max"] = f"{cues.price_max:g}"
        if cues.price_min is not None:
            args["min"] = f"{cues.price_min:g}"
    elif cues.direction is not None and (
        op in {"cheaper", "pricier"} or (op == "refine" and not ({"color", "brand"} & args.keys()))
    ):
        op, args = cues.direction, {k: v for k, v in args.items() if k == "ref"}  # the model's pointer stays
        if "ref" not in args and (position := shown_named(message, state, lookup)) is not None:
            args["ref"] = str(position)  # "a cheaper option than the Sea scrub?"
    elif op in {"search", "refine"} and not filtered:
        position = shown_named(message, state, lookup)
        attribute = asked_attribute(message)
        if position is not None:
            op, args = _about(str(position), cues, attribute)
        elif (cues.stock or attribute) and named is not None and named(message) is not None:
            op, args = _about("named", cues, attribute)  # "do you have any Relaxed Fit Chino left?"
        elif op == "refine" and args and not product_cue and faq_answers is not None and faq_answers(message):
            op, args = "policy", {}  # free words the FAQ answers: "can you send to germany"
    if op == "refine" and not args:
        raise IntentError(f"the refinement {intent.line()!r} keeps nothing the message says")
    return Intent.model_validate({"op": op, "args": args})


def _said_args(args: dict[str, str], message: str, schema: Any) -> dict[str, str]:
    """The line's arguments that the message backs: a price bound is a number it says, a brand or
    colour one the catalogue has (else it is a plain word), a refinement word one it uses."""
    out = dict(args)
    stated = {round(float(n.replace(",", ".")), 2) for n in _DIGITS.findall(message)}
    for key in ("max", "min"):
        if key in out:
            try:
                value = round(float(out[key]), 2)
            except ValueError:
                value = -1.0
            if value not in stated:
                out.pop(key)
    if schema is not None:
        for key, known in (("brand", _is_brand), ("color", _is_colour)):
            word = out.get(key, "").replace("_", " ")
            if word and not known(word, schema):
                out.pop(key)
                out.setdefault("add", word.replace(" ", "_"))
    if "add" in out:
        said = set(tokenize(message, keep_stopwords=True))
        kept = [w for w in out["add"].split("_") if w and set(tokenize(w, keep_stopwords=True)) <= said]
        if kept:
            out["add"] = "_".join(kept)
        else:
            out.pop("add")
    word = out.get("add", "").replace("_", " ")
    if word and schema is not None:  # a brand or colour written as a plain word is that facet
        if "brand" not in out and _is_brand(word, schema):
            out.pop("add")
            out["brand"] = next(
                b for k, b in schema.brands.items() if k == word.lower() or k.startswith(word.lower() + " ")
            ).replace(" ", "_")
        elif "color" not in out and _is_colour(word, schema):
            out.pop("add")
            out["color"] = word.lower().replace(" ", "_")
    return out


def _is_brand(word: str, schema: Any) -> bool:
    low = word.lower()
    return any(b == low or b.startswith(low + " ") for b in schema.brands)


def _is_colour(word: str, schema: Any) -> bool:
    low = word.lower()
    return low in schema.colors or all(w in schema.colour_words for w in low.split())


def _facets(message: str, schema: Any) -> dict[str, str]:
    """The brand and colour a message names, as the catalogue writes them ("what about Corefield?")."""
    if schema is None:
        return {}
    found = parse_query(message, schema).filters
    args = {}
    if found.brands:
        args["brand"] = found.brands[0].replace(" ", "_")
    if found.colors:
        args["color"] = found.colors[0].replace(" ", "_")
    return args


def _other_kind(message: str, state: ConversationState, lookup: Callable[[str], Any], schema: Any) -> bool:
    """Whether the message names a category none of the shown products is in ("any rain outerwear?"
    after boots): a fresh search. A word inside a compound ("home-workout"), in a shown title ("the
    Trailside bag" among sleeping bags) or before "ones" ("camping ones": a kind of what was shown)
    is no category name."""
    if schema is None or not state.product_ids or asks_for_a_kind(message):
        return False
    shown = {
        _singular(w) for p in shown_records(state, lookup) for w in re.findall(r"[a-z]+", p.title.lower())
    }
    words = {_singular(w) for w in re.findall(r"[a-z][a-z'-]*", message.lower())} - shown
    named = {c for key, c in schema.categories.items() if _singular(key) in words}
    return bool(named - set(shown_categories(state, lookup)))


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _about(ref: str, cues: Cues, attribute: str | None) -> tuple[str, dict[str, str]]:
    """The request about one shown product: its stock, a field of it, or the product itself."""
    if cues.stock:
        return "stock", {"ref": ref}
    if attribute is not None:
        return "attribute", {"ref": ref, "attr": attribute}
    return "pick", {"ref": ref}


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
    faq_answers: Callable[[str], bool] | None = None,
) -> TurnRequest:
    """The standalone request for an intent, with ids, prices and categories taken from the state and
    the catalogue (`lookup(id)` gives a product record, `named(message)` the product the message names,
    `schema` the catalogue's colours and brands). `grounded`: the line is first checked against what
    the message says (`arbitrate`, with `faq_answers` for policy questions) and the catalogue
    (`ground`); the gold of an evaluation is resolved as written. Raises IntentError when the intent
    does not fit what was shown (a ref past the list, say)."""
    state = state or ConversationState()
    if grounded:
        intent = arbitrate(intent, message, state, lookup, schema, faq_answers, named)
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
    if follow is not None and len(set(follow.compare)) >= 2:
        return TurnRequest(
            op="compare", product_ids=follow.compare, note=follow.note, query=state.query if state else ""
        )
    if follow is not None and follow.product_id is not None:
        return _about_request(follow.product_id, follow.note, follow.stock, follow.attribute)
    if routed is not None and routed.op == "policy" and follow is not None and follow.filters is not None:
        routed = None  # every word is a facet or a filler ("got stuff from Tidewalk?"): a refinement
    position = shown_named(message, state, lookup) if follow is None else None
    if position is not None and state is not None:
        cues = read_cues(message, len(state.product_ids))
        price = state.prices[position - 1] if position <= len(state.prices) else None
        if cues.direction is not None and price is not None:  # "a cheaper option than the Sea scrub?"
            bound = price_bound([price], cheaper=cues.direction == "cheaper")
            data = {**state.filters.model_dump(), **bound}
            data["categories"] = data.get("categories") or shown_categories(state, lookup)
            return TurnRequest(
                op=cues.direction,  # type: ignore[arg-type]
                query=state.query,
                filters=Filters.model_validate(data),
                note=f"{cues.direction} than #{position}",
            )
        return _about_request(
            state.product_ids[position - 1], f"you named #{position}", cues.stock, asked_attribute(message)
        )
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


def _about_request(pid: str, note: str, stock: bool, attribute: str | None) -> TurnRequest:
    """The rules' request about one shown product: its stock, a field of it, or the product."""
    if stock:
        return TurnRequest(op="stock", product_ids=[pid], note=note)
    if attribute is not None:
        return TurnRequest(op="attribute", product_ids=[pid], attribute=attribute, note=note)
    return TurnRequest(op="pick", product_ids=[pid], note=note)


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
