"""Training and held-out data for the `rewrite` and `answer` tasks, made from any shop's own data.

A follow-up turn is generated from a catalogue (and FAQ): a first product search shows 2-4
products of one kind, then the customer asks something about them ("cheaper ones?", "is the second
one in stock?", "which is best rated?", "compare the first and third", a policy question, an order
follow-up). The gold intent line and the gold answer are computed from the records, never written
by hand, so the data is right by construction and any shop can rebuild its adapters
(`shopassist finetune --task rewrite|answer --data products.csv --data faq.csv`).

The phrasings are templates; every fourth template of each kind is *held out*: it never appears in
training, and the held-out turns (`heldout_turns`, their own seed) use only those and the held-out
quarter of the FAQ entries, so the evaluation measures understanding of new wordings, not recall.
"""

from __future__ import annotations

import csv
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.chat.followup import ConversationState
from assistant.chat.understanding import Intent, best_of, state_lines
from finetune.data import BuiltData, DataError, Example, load_copy_products
from prompts.tasks import answer_facts, answer_messages, example_id, rewrite_messages

ORD = {1: "first", 2: "second", 3: "third", 4: "fourth"}

# (template, op-line pattern). Slots: {ord} {n} {color} {brand} {max} {min} {tag} {short} {title}
# {ord2} {n2} {item}. Every fourth template (index % 4 == 3) of each list is held out.
T: dict[str, list[str]] = {
    "refine_color": [
        "in {color}?",
        "do you have them in {color}?",
        "any {color} ones?",
        "what about {color}?",
        "got any in {color}",
        "show me {color} ones",
        "{color} please",
        "are there {color} options?",
        "I'd prefer {color}",
        "same but {color}?",
        "only {color} ones",
        "do they come in {color}?",
    ],
    "refine_brand": [
        "any from {brand}?",
        "only {brand} please",
        "do you have {brand} ones?",
        "what about {brand}?",
        "show me the {brand} ones",
        "just {brand}",
        "anything by {brand}?",
        "I like {brand}, any of theirs?",
    ],
    "refine_max": [
        "under {max}?",
        "anything below {max} dollars?",
        "less than ${max}?",
        "show me ones under {max}",
        "my budget is {max}",
        "max {max} dollars",
        "up to {max}?",
        "something under ${max} please",
        "nothing over {max}",
        "can you keep it below {max}?",
        "under {max} bucks?",
        "at most {max}",
    ],
    "refine_min": [
        "over {min}?",
        "above {min} dollars",
        "more than ${min} please",
        "show me ones over {min}",
        "at least {min}",
        "something above ${min}?",
        "anything over {min} dollars",
        "{min} or more",
    ],
    "refine_add": [
        "any {tag} ones?",
        "only {tag} please",
        "do you have {tag} ones?",
        "what about {tag} ones?",
        "show me {tag} options",
        "I need it {tag}",
        "are any of them {tag}?",
        "{tag} ones?",
    ],
    "cheaper": [
        "cheaper ones?",
        "anything cheaper?",
        "something less expensive?",
        "got more affordable ones?",
        "too pricey, anything cheaper?",
        "those are too expensive",
        "lower priced options?",
        "something on a tighter budget?",
        "do you have anything cheaper",
        "cheaper please",
        "these cost too much",
        "less expensive ones?",
    ],
    "cheaper_ref": [
        "something cheaper than the {ord} one",
        "cheaper than the {ord}?",
        "anything less expensive than #{n}?",
        "I like the {ord} one but it costs too much",
        "cheaper than number {n}?",
        "any cheaper alternative to the {ord} one?",
        "something like #{n} but cheaper",
        "a cheaper option than the {short}?",
    ],
    "pricier": [
        "anything more expensive?",
        "higher-end ones?",
        "show me pricier options",
        "something fancier?",
        "more expensive ones?",
        "better quality ones?",
        "do you have pricier ones",
        "premium options?",
    ],
    "pick": [
        "the {ord} one",
        "tell me more about the {ord} one",
        "what about #{n}?",
        "more on the {short}",
        "I like the {ord} one",
        "details on number {n}",
        "{ord}?",
        "show me the {short}",
        "the {ord} please",
        "can I see #{n}",
        "what about the {short}?",
        "more about number {n}",
    ],
    "best_rating": [
        "which of those has the best rating?",
        "which one is rated highest?",
        "best reviewed of these?",
        "which is the top rated one",
        "which do people rate best?",
        "highest rated?",
        "which has the best reviews?",
        "which one has the highest rating?",
    ],
    "best_cheapest": [
        "which is the cheapest?",
        "what's the least expensive one?",
        "lowest price of those?",
        "which costs the least?",
        "cheapest of these?",
        "which one is the most affordable?",
        "which is lowest priced?",
        "the cheapest one?",
    ],
    "best_priciest": [
        "which is the most expensive?",
        "the priciest one?",
        "which costs the most?",
        "most expensive of these?",
        "which one has the highest price?",
        "which is priciest?",
        "the most expensive one?",
        "which of those costs most?",
    ],
    "stock": [
        "is the {ord} one in stock?",
        "is #{n} available?",
        "can I buy the {ord} one now?",
        "do you have the {short} in stock?",
        "is the {ord} available?",
        "is number {n} in stock?",
        "is the {short} sold out?",
        "any {short} left?",
        "is the {ord} one sold out?",
        "do you still have #{n}?",
        "is the {short} available right now?",
        "can I order number {n} today?",
    ],
    "stock_named": [
        "is the {title} in stock?",
        "do you have the {title} available?",
        "is the {title} sold out?",
        "can I buy the {title} now?",
        "any {title} left?",
        "is the {title} available?",
        "do you still have the {title}?",
        "is the {title} in stock right now?",
    ],
    "attr_material": [
        "what is the {ord} one made of?",
        "what material is #{n}?",
        "what's the {short} made from?",
        "material of the {ord} one?",
        "what is number {n} made of?",
        "what fabric is the {short}?",
        "what's the {ord} made of?",
        "is the {short} leather or what?",
    ],
    "attr_color": [
        "what colour is the {ord} one?",
        "what color is #{n}?",
        "which colour is the {short}?",
        "colour of the {ord} one?",
        "what color does number {n} come in?",
        "what shade is the {short}?",
        "is the {ord} one black?",
        "what color is the {short}?",
    ],
    "attr_size": [
        "what sizes does the {ord} one come in?",
        "what size is #{n}?",
        "sizes for the {short}?",
        "which sizes does number {n} have?",
        "how big is the {short}?",
        "what size is the {ord} one?",
        "does the {ord} one come in my size?",
        "size range of the {short}?",
    ],
    "attr_brand": [
        "who makes the {ord} one?",
        "what brand is #{n}?",
        "which brand is the {short}?",
        "brand of the {ord} one?",
        "who is the maker of number {n}?",
        "what brand makes the {short}?",
        "who makes #{n}?",
        "is the {ord} one a good brand?",
    ],
    "attr_price": [
        "how much is the {ord} one?",
        "what does #{n} cost?",
        "price of the {short}?",
        "how much does number {n} cost?",
        "what's the price of the {ord}?",
        "how much for the {short}?",
        "cost of the {ord} one?",
        "what is #{n} priced at?",
    ],
    "attr_rating": [
        "how is the {ord} one rated?",
        "what rating does #{n} have?",
        "is the {short} well reviewed?",
        "rating of number {n}?",
        "how many stars is the {ord} one?",
        "what do people think of the {short}?",
        "how good are the reviews for #{n}?",
        "is the {ord} one rated well?",
    ],
    "compare": [
        "compare the {ord} and {ord2}",
        "what's the difference between #{n} and #{n2}?",
        "the {ord} or the {ord2} one?",
        "which is better, the {ord} or the {ord2}?",
        "{ord} vs {ord2}?",
        "how do number {n} and number {n2} compare?",
        "#{n} or #{n2}?",
        "compare #{n} with #{n2}",
        "difference between the {ord} and the {ord2} one?",
        "should I get the {ord} or the {ord2}?",
        "can you compare the {ord} and the {ord2} ones?",
        "{ord} one versus {ord2} one?",
    ],
    "order": [
        "when will it arrive?",
        "when will the {item} arrive?",
        "has it shipped yet?",
        "what's the tracking number?",
        "where is it now?",
        "when does the {item} get here?",
        "is the {item} on its way?",
        "any update on the delivery?",
        "when can I expect it?",
        "has the {item} been delivered?",
        "which carrier is it with?",
        "is it delivered yet?",
    ],
    "search": [
        "actually, show me {query}",
        "do you have {query}?",
        "I need {query}",
        "{query}",
        "what about {query} instead?",
        "now I'm looking for {query}",
        "show me some {query}",
        "can you find {query}",
        "switching topics, {query}?",
        "something else: {query}",
        "I also want {query}",
        "any {query}?",
    ],
}
_HELD = 3  # template index % 4 == _HELD is held out


def _split_templates(kind: str, heldout: bool) -> list[str]:
    items = T[kind]
    return [t for i, t in enumerate(items) if (i % 4 == _HELD) == heldout]


@dataclass
class Turn:
    """One generated follow-up: the state shown, the message, the gold intent and gold answer."""

    kind: str
    message: str
    state: ConversationState
    intent: Intent
    answer: str | None = None
    answer_kind: str | None = None
    facts: list[str] = field(default_factory=list)
    faq_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def last(self) -> str:
        """What the turn before was about, as the rewrite prompt says it."""
        return self.state.last


_NOT_NOUNS = frozenset(
    [
        "set",
        "pair",
        "pack",
        "lb",
        "oz",
        "qt",
        "in",
        "cm",
        "mm",
        "m",
        "kg",
        "l",
        "ml",
        "of",
        "with",
        "and",
        "for",
    ]
)


def _short(title: str) -> str:
    """How a shopper names a shown product: its first word and its noun (the last real word)."""
    words = title.split()
    nouns = [w for w in words[1:] if w.isalpha() and w.lower() not in _NOT_NOUNS]
    return f"{words[0]} {nouns[-1].lower()}" if len(words) > 2 and nouns else title


def _query_for(products: Sequence[Any]) -> str:
    tags = [t for p in products for t in p.tags if ": " not in t]
    # sorted first: a max over a set would break ties by hash order, which changes per process
    common = max(sorted(set(tags)), key=tags.count) if tags else products[0].category
    return f"{common} {products[0].category}".strip() if common != products[0].category else common


def _read_faq(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"id", "question", "answer"} <= set(rows[0]):
        raise DataError(f"{path}: an FAQ file needs id, question and answer columns")
    return rows


def _first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.!?])(\s|$)", text.strip())
    return match.group(1) if match else text.strip()


class DialogueMaker:
    """Generates follow-up turns over one shop's products, FAQ and order items."""

    def __init__(self, products: Sequence[Any], faq: Sequence[dict[str, str]], seed: int = 0) -> None:
        self.products = [p for p in products if p.title and p.category]
        if len(self.products) < 4:
            raise DataError("the rewrite and answer tasks need a catalogue of at least 4 products")
        self.by_id = {p.id: p for p in self.products}
        self.by_category: dict[str, list[Any]] = defaultdict(list)
        for p in self.products:
            self.by_category[p.category].append(p)
        self.categories = [c for c, ps in self.by_category.items() if len(ps) >= 2]
        self.faq = list(faq)
        self.rng = random.Random(seed)
        # The answers' wording draws from its own stream, so editing an answer template never
        # changes which rewrite examples are drawn (nor their fingerprint).
        self.phrasing = random.Random(seed + 7919)
        self.colors = sorted({p.color.split("/")[0].strip().lower() for p in self.products if p.color})
        self.brands = sorted({p.brand for p in self.products if p.brand})

    def lookup(self, pid: str) -> Any:
        return self.by_id.get(pid)

    def _shown(self) -> tuple[list[Any], ConversationState]:
        category = self.rng.choice(self.categories)
        pool = self.by_category[category]
        k = min(len(pool), self.rng.choice((2, 3, 4, 4)))
        shown = self.rng.sample(pool, k)
        query = _query_for(shown)
        state = ConversationState(
            query=query, product_ids=[p.id for p in shown], prices=[p.price for p in shown], last="products"
        )
        return shown, state

    def turn(self, kind: str, heldout: bool) -> Turn | None:
        rng = self.rng
        template = rng.choice(_split_templates(kind, heldout))
        shown, state = self._shown()
        n = rng.randrange(1, len(shown) + 1)
        target = shown[n - 1]
        slots: dict[str, Any] = {"n": n, "ord": ORD[n], "short": _short(target.title), "title": target.title}
        args: dict[str, str] = {}
        op = kind.split("_")[0]
        answer: str | None = None
        answer_kind: str | None = None
        facts: list[str] = []
        if kind == "refine_color":
            color = rng.choice(self.colors)
            slots["color"], args["color"], op = color, color.replace(" ", "_"), "refine"
        elif kind == "refine_brand":
            brand = rng.choice(self.brands)
            if " " in brand and rng.random() < 0.5:
                return None
            slots["brand"], args["brand"], op = brand, brand.replace(" ", "_"), "refine"
        elif kind in {"refine_max", "refine_min"}:
            value = rng.choice((20, 25, 30, 40, 50, 60, 75, 80, 100, 120, 150, 200, 250, 300))
            key = kind.split("_")[1]
            slots[key], args[key], op = value, str(value), "refine"
        elif kind == "refine_add":
            tags = sorted(
                {
                    t
                    for p in self.by_category[target.category]
                    for t in p.tags
                    if ": " not in t and " " not in t
                }
            )
            tags = [t for t in tags if t.lower() not in state.query.lower()]
            if not tags:
                return None
            tag = rng.choice(tags)
            slots["tag"], args["add"], op = tag, tag, "refine"
        elif kind == "cheaper_ref":
            args["ref"], op = str(n), "cheaper"
        elif kind in {"pick", "stock", "compare"} or kind.startswith("attr_"):
            args["ref"] = str(n)
            if kind.startswith("attr_"):
                attr = kind.split("_")[1]
                if attr in {"material", "size", "color", "brand"} and not getattr(target, attr, ""):
                    return None
                if attr == "rating" and target.rating is None:
                    return None
                op, args["attr"] = "attribute", attr
                answer_kind, facts = "attribute", answer_facts("attribute", [target], attr)
                answer = _attribute_answer(target, attr, self.phrasing)
            elif kind == "stock":
                answer_kind, facts = "stock", answer_facts("stock", [target])
                answer = _stock_answer(target, self.phrasing)
            elif kind == "compare":
                if len(shown) < 2:
                    return None
                m = rng.choice([i for i in range(1, len(shown) + 1) if i != n])
                a, b = sorted((n, m))
                slots.update(n=a, ord=ORD[a], n2=b, ord2=ORD[b])
                args["ref"] = f"{a},{b}"
                pair = [shown[a - 1], shown[b - 1]]
                answer_kind, facts = "compare", answer_facts("compare", pair)
                answer = _compare_answer(pair, self.phrasing)
                if answer is None:
                    return None
        elif kind == "stock_named":
            others = [p for p in self.products if p.id not in state.product_ids]
            target = rng.choice(others)
            slots["title"] = target.title
            op, args["ref"] = "stock", "named"
            answer_kind, facts = "stock", answer_facts("stock", [target])
            answer = _stock_answer(target, self.phrasing)
        elif kind.startswith("best_"):
            measure = kind.split("_")[1]
            op, args["measure"] = "best", measure
            pid = best_of(shown, measure)
            if pid is None or len(shown) < 2:
                return None
            values = [p.rating if measure == "rating" else p.price for p in shown]
            if values.count(self.by_id[pid].rating if measure == "rating" else self.by_id[pid].price) > 1:
                return None  # a tie: no single right answer
            answer_kind = f"best:{measure}"
            facts = answer_facts(answer_kind, shown)
            answer = _best_answer(self.by_id[pid], measure, self.phrasing)
        elif kind == "order":
            item = rng.choice(self.products)
            slots["item"] = item.title.split()[-1].lower()
            state = ConversationState(last="order")
            op = "order"
        elif kind == "search":
            other = rng.choice([c for c in self.categories if c != target.category])
            slots["query"] = _query_for(
                rng.sample(self.by_category[other], min(2, len(self.by_category[other])))
            )
            op = "search"
        message = template.format(**slots)
        if args.get("ref", "").isdigit() and "{short}" in template and _ambiguous(shown, target):
            return None  # two shown products share the name a shopper would use
        intent = Intent.model_validate({"op": op, "args": args})
        return Turn(kind, message, state, intent, answer, answer_kind, facts, meta={"template": template})

    def policy_turn(self, heldout: bool) -> Turn | None:
        """A policy question asked in the middle of a product conversation (op `policy`) and its
        short answer: the first sentence of the FAQ answer, which the facts hold word for word."""
        faq = [r for r in self.faq if (int(example_id(r["id"])[:4], 16) % 4 == _HELD) == heldout]
        if not faq:
            return None
        row = self.rng.choice(faq)
        phrasings = [row["question"]] + [e.strip() for e in row.get("examples", "").split("|") if e.strip()]
        message = self.rng.choice(phrasings)
        _, state = self._shown()
        if self.rng.random() < 0.3:
            state = ConversationState(last="faq")
        facts = [row["answer"]]
        return Turn(
            "policy",
            message,
            state,
            Intent(op="policy"),
            _first_sentence(row["answer"]),
            "policy",
            facts,
            faq_id=row["id"],
        )

    def list_turn(self, heldout: bool) -> Turn:
        """The introduction of a result list: how many, and the cheapest, from the shown records."""
        shown, state = self._shown()
        pid = best_of(shown, "cheapest")
        facts = answer_facts("list", shown)
        if pid is None:
            answer = f"Here are {len(shown)} options."
        else:
            p = self.by_id[pid]
            answer = self.phrasing.choice(LIST_ANSWERS).format(n=len(shown), title=p.title, price=_price(p))
        return Turn("list", state.query, state, Intent(op="search"), answer, "list", facts)


def _ambiguous(shown: Sequence[Any], target: Any) -> bool:
    return sum(1 for p in shown if _short(p.title) == _short(target.title)) > 1


def _price(p: Any) -> str:
    return f"{p.price:.2f} {p.currency}"


# Short on purpose: every token is ~70 ms on a laptop CPU, and the answer must arrive within
# shop.model_budget_ms. A single-product answer says "it": its one product is its subject.
STOCK_IN = ["Yes, it is in stock.", "Yes, it is available right now.", "Good news: it is in stock."]
STOCK_OUT = ["Sorry, it is out of stock right now.", "No, it is out of stock at the moment."]
LIST_ANSWERS = [
    "{n} options; the cheapest is the {title} at {price}.",
    "The cheapest of these {n} is the {title} at {price}.",
]


def _stock_answer(p: Any, rng: random.Random) -> str:
    return rng.choice(STOCK_IN if p.in_stock else STOCK_OUT)


def _attribute_answer(p: Any, attr: str, rng: random.Random) -> str:
    return {
        "material": f"It is made of {p.material}.",
        "color": f"It comes in {p.color}.",
        "size": f"It comes in {p.size}.",
        "brand": f"It is made by {p.brand}.",
        "price": f"It costs {_price(p)}." if p.price is not None else "It has no listed price.",
        "rating": f"It is rated {p.rating:g} out of 5." if p.rating is not None else "It has no rating yet.",
        "category": f"It is in {p.category}.",
    }[attr]


def _best_answer(p: Any, measure: str, rng: random.Random) -> str:
    """The chosen product's card is shown with the answer, so "it" names it (and keeps it short)."""
    if measure == "rating":
        return rng.choice(
            ["It has the best rating, {r:g} out of 5.", "It is the best rated, at {r:g} out of 5."]
        ).format(r=p.rating)
    word = "cheapest" if measure == "cheapest" else "most expensive"
    return rng.choice(["It is the {w}, at {pr}.", "It is the {w} of these, at {pr}."]).format(
        w=word, pr=_price(p)
    )


def _compare_answer(pair: Sequence[Any], rng: random.Random) -> str | None:
    a, b = pair
    if a.price is None or b.price is None or a.price == b.price:
        return None
    cheap, dear = (a, b) if a.price < b.price else (b, a)
    top: Any = None
    if a.rating is not None and b.rating is not None and a.rating != b.rating:
        top = a if a.rating > b.rating else b
    if top is cheap:  # short: it must fit the budget; the price right after the title is checked
        return f"The {cheap.title} costs {_price(cheap)}, is cheaper and is rated higher."
    return f"The {cheap.title} costs {_price(cheap)} and is cheaper."


# How many turns of each kind one build makes (scaled by `size`): the mix the adapters learn.
MIX = {
    "refine_color": 8, "refine_brand": 5, "refine_max": 8, "refine_min": 4, "refine_add": 6,
    "cheaper": 8, "cheaper_ref": 6, "pricier": 5, "pick": 10, "best_rating": 6, "best_cheapest": 6,
    "best_priciest": 4, "stock": 8, "stock_named": 6, "attr_material": 4, "attr_color": 3,
    "attr_size": 3, "attr_brand": 3, "attr_price": 3, "attr_rating": 3, "compare": 8, "order": 6,
    "search": 8, "policy": 8,
}  # fmt: skip


def make_turns(maker: DialogueMaker, *, heldout: bool, size: int) -> list[Turn]:
    out: list[Turn] = []
    for kind, weight in MIX.items():
        made = 0
        tries = 0
        while made < weight * size and tries < weight * size * 5:
            tries += 1
            turn = maker.policy_turn(heldout) if kind == "policy" else maker.turn(kind, heldout)
            if turn is not None:
                out.append(turn)
                made += 1
    maker.rng.shuffle(out)
    return out


def load_shop(paths: Iterable[str | Path]) -> tuple[list[Any], list[dict[str, str]]]:
    """Products and FAQ rows from the given files (an FAQ file is told by its question,answer header)."""
    products_paths, faq_rows = [], []
    for p in map(Path, paths):
        if not p.exists():
            raise DataError(f"{p} does not exist; pass the shop's products and FAQ files with --data")
        header = p.read_text(encoding="utf-8").split("\n", 1)[0] if p.suffix == ".csv" else ""
        if {"question", "answer"} <= {h.strip() for h in header.split(",")}:
            faq_rows += _read_faq(p)
        else:
            products_paths.append(p)
    return load_copy_products(products_paths), faq_rows


def rewrite_example(turn: Turn, lookup: Any) -> Example:
    msgs = rewrite_messages(state_lines(turn.state, lookup), turn.last, turn.message)
    user = msgs[1]["content"]
    return Example(
        example_id("rewrite", user),
        "rewrite",
        msgs[0]["content"],
        user,
        turn.intent.line(),
        meta={"kind": turn.kind},
    )


def answer_example(turn: Turn) -> Example | None:
    if turn.answer is None or turn.answer_kind is None:
        return None
    msgs = answer_messages(turn.facts, turn.answer_kind, turn.message)
    user = msgs[1]["content"]
    return Example(
        example_id("answer", user), "answer", msgs[0]["content"], user, turn.answer, meta={"kind": turn.kind}
    )


def build_dialogue_task(task: str, paths: Sequence[Path], size: int = 12, seed: int = 0) -> BuiltData:
    """The training examples of `task` ("rewrite" or "answer") from the shop files, training templates only."""
    products, faq = load_shop(paths)
    maker = DialogueMaker(products, faq, seed=seed)
    turns = make_turns(maker, heldout=False, size=size)
    for _ in range(size * 12):
        turns.append(maker.list_turn(heldout=False))
    data = BuiltData(task, [], sources=[str(p) for p in paths])
    seen: set[str] = set()
    for turn in turns:
        ex = rewrite_example(turn, maker.lookup) if task == "rewrite" else answer_example(turn)
        if ex is None or (task == "rewrite" and turn.kind == "list"):
            continue
        if ex.id in seen:
            data.skipped["duplicate"] += 1
            continue
        seen.add(ex.id)
        data.examples.append(ex)
    if not data.examples:
        raise DataError(f"no {task} examples could be made from {', '.join(map(str, paths))}")
    return data


def heldout_turns(paths: Sequence[Path], size: int = 4, seed: int = 1234) -> tuple[DialogueMaker, list[Turn]]:
    """The fixed held-out turns (held-out templates and FAQ entries, their own seed): never trained on."""
    products, faq = load_shop(paths)
    maker = DialogueMaker(products, faq, seed=seed)
    turns = make_turns(maker, heldout=True, size=size)
    return maker, turns
