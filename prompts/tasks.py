"""How each fine-tuned task's messages are built, in one place for training and serving.

An adapter only works if it is served the exact turns it was trained on, so `finetune` (which
writes the training examples) and the services (which call the adapter) both build them here; the
wording lives in `tasks/*.j2`. Nothing here imports the assistant or torch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from prompts import render


def example_id(*parts: str) -> str:
    """A stable id from an example's source fields (not its row number, which moves on edits)."""
    raw = "\x1f".join(p.strip() for p in parts)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def cs_system_prompt(shop_name: str) -> str:
    return render("tasks/cs_system", shop=shop_name)


def copy_system_prompt(shop_name: str) -> str:
    return render("tasks/copy_system", shop=shop_name)


def product_attributes(product: Any) -> dict[str, str]:
    """The attributes a description may draw on, from a `retrieval.schema.Product` (duck-typed)."""
    attrs: dict[str, str] = {"Title": product.title}
    for label, value in (
        ("Brand", product.brand),
        ("Category", product.category),
        ("Colour", product.color),
        ("Material", product.material),
        ("Size", getattr(product, "size", "")),
    ):
        if value:
            attrs[label] = str(value)
    if product.price is not None:
        attrs["Price"] = f"{product.price:g} {product.currency}"
    specs = [t for t in product.tags if ": " in t]
    for tag in specs:
        key, value = tag.split(": ", 1)
        key = key.strip().capitalize()
        known_keys = {k.lower() for k in attrs} | {"color"}
        known_values = {v.lower() for v in attrs.values()}
        if key.lower() not in known_keys and value.strip() and value.strip().lower() not in known_values:
            attrs[key] = value.strip()
    plain = [t for t in product.tags if ": " not in t]
    if plain:
        attrs["Tags"] = ", ".join(plain)
    return attrs


def attributes_text(attrs: Mapping[str, str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in attrs.items())


def copy_user_prompt(attrs: Mapping[str, str], *, tone: str = "", length: str = "", form: str = "") -> str:
    """The copy task's user turn: the controls (when given) and the attributes as data lines."""
    return render("tasks/copy_user", attributes=dict(attrs), tone=tone, length=length, form=form)


def rewrite_messages(rows: list[Mapping[str, Any]], last: str, message: str) -> list[dict[str, str]]:
    """The rewrite task's turns: the shown products (see `assistant.chat.understanding.state_lines`)
    and the customer's message; the adapter answers with one intent line."""
    return [
        {"role": "system", "content": render("tasks/rewrite_system")},
        {"role": "user", "content": render("tasks/rewrite_user", rows=rows, last=last, message=message)},
    ]


# The fields each kind of answer needs: a shorter prompt is a faster answer on a CPU.
ANSWER_FIELDS: dict[str, tuple[str, ...]] = {
    "stock": ("stock",),
    "attribute": (),  # the asked attribute alone, added by answer_facts
    "best:rating": ("rating",),
    "best:cheapest": ("price",),
    "best:priciest": ("price",),
    "compare": ("price", "rating", "stock"),
    "list": ("price",),
}


def product_fact(product: Any, fields: tuple[str, ...]) -> str:
    """One product as an answer fact: its title, then the named fields from its record."""
    bits = []
    for name in fields:
        if name == "price":
            bits.append(
                f"price {product.price:.2f} {product.currency}"
                if product.price is not None
                else "price not listed"
            )
        elif name == "rating":
            bits.append(f"rated {product.rating:g} out of 5" if product.rating is not None else "no rating")
        elif name == "stock":
            bits.append("in stock" if product.in_stock else "out of stock")
        elif name == "color":
            bits.append(f"colour {product.color or 'not listed'}")
        else:
            bits.append(f"{name} {getattr(product, name, '') or 'not listed'}")
    return f"{product.title}: {'; '.join(bits)}" if bits else product.title


# What "best" means for each superlative: the record field and whether a higher value wins. The one
# definition the answer facts and the checker (`assistant.grounding.answers.best_by`) share.
MEASURES: dict[str, tuple[str, bool]] = {
    "cheapest": ("price", False),
    "priciest": ("price", True),
    "rating": ("rating", True),
}


def ranked_by(products: Sequence[Any], measure: str) -> list[Any]:
    """The products that have a value for `measure`, best first; ties keep their shown order."""
    field, high_first = MEASURES[measure]
    known = [p for p in products if getattr(p, field, None) is not None]
    return sorted(known, key=lambda p: getattr(p, field), reverse=high_first)


# Comparison facts go cheaper first, and a superlative gets the fact lines of its answer alone (the
# top value, ties included): the records decide which product is cheapest, the model says it. With
# every shown product's line, unordered or best first, the 135M answer adapter named a wrong product
# or price in 28 and 26 of 130 held-out answers (the checker caught each). The checker still ranges
# over every shown product.
def _ranked(kind: str, products: list[Any]) -> list[Any]:
    measure = (
        "cheapest" if kind == "compare" else kind.removeprefix("best:") if kind.startswith("best:") else ""
    )
    if measure not in MEASURES:
        return products
    field = MEASURES[measure][0]
    ranked = ranked_by(products, measure)
    if kind == "compare" or not ranked:
        return ranked + [p for p in products if getattr(p, field, None) is None]
    return [p for p in ranked if getattr(p, field) == getattr(ranked[0], field)]


def answer_facts(kind: str, products: list[Any], attribute: str | None = None) -> list[str]:
    fields = ANSWER_FIELDS.get(kind, ("price",))
    if kind == "attribute" and attribute:
        fields = (attribute,)
    lines = [product_fact(p, fields) for p in _ranked(kind, products)]
    return [f"{len(products)} products shown", *lines] if kind == "list" else lines


def answer_messages(facts: list[str], ask: str, question: str) -> list[dict[str, str]]:
    """The answer task's turns: facts rendered from data, what kind of answer, and the question."""
    return [
        {"role": "system", "content": render("tasks/answer_system")},
        {"role": "user", "content": render("tasks/answer_user", facts=facts, ask=ask, question=question)},
    ]


def draft_messages(ticket: str, answer: str) -> list[dict[str, str]]:
    """The draft task's turns (agent assist): the shop's FAQ answer and the ticket; the adapter
    answers with the reply an agent may send. Order facts are not here: they are rendered from
    data under the draft, so the model never restates an order."""
    return [
        {"role": "system", "content": render("tasks/draft_system")},
        {"role": "user", "content": render("tasks/draft_user", answer=answer, ticket=ticket)},
    ]
