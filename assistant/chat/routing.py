"""Policy or product, when a message names a product or brand: two scores, one comparison.

"can I return the Switchback boots after 3 weeks?" names a product but asks about a policy; "is the
Frostline snow boot in stock?" asks about that one product. Product search ranks both as product
queries (the name matches a title best), so before searching the chat compares two scores, each a
nearest-phrasing similarity computed with the product's name taken out (a name's rare words pull an
embedding towards products, whatever is asked about them):

- policy: the FAQ search on the message without the name's rare words (category words such as
  "headphones" stay: policies differ by category), plus `POLICY_WORD_BONUS` when the message uses a
  policy word: one the FAQ's own questions and examples use and no product's title, brand, category
  or tags does ("return", "warranty", "shipping"). The vocabulary follows the shop's FAQ, not a list;
- lookup: the nearest of a few phrasings per product aspect (`ASPECTS`: stock, colour, size...), on
  the message without any of the product's title words.

Names come from the catalogue itself (`NameIndex`): the product whose title's rare words the message
uses most, or a brand's coined name, whatever filter the turn has in force. A message that is only
catalogue words ("Ridgeback boots", "Switchback Waterproof Trail Boot") is a search and not decided
here. The rules are the aspect registry and the numbers beside it; everything else is data.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from retrieval.schema import FAQEntry, Product
from retrieval.search import FAQResults
from retrieval.text import STOPWORDS, stem, tokenize

# What a question about one product asks, each as a few phrasings with the product as "it".
ASPECTS: dict[str, tuple[str, ...]] = {
    "stock": (
        "is it in stock",
        "is it available",
        "do you have it in stock",
        "is it sold out",
        "is it out of stock",
    ),
    "color": ("what colour is it", "what color is it", "which colors does it come in"),
    "size": ("what sizes does it come in", "what size is it", "how big is it"),
    "material": ("what is it made of", "what material is it", "what fabric is it"),
    "price": ("how much is it", "what does it cost", "what is the price of it"),
    "rating": ("what is its rating", "how is it rated", "what are its reviews like"),
    "brand": ("who makes it", "what brand is it"),
}
# A title word in at most this many titles (and in no FAQ phrasing: "long", "free") names products;
# commoner words ("boot") only add weight to a product a rare word named.
DISTINCT_TITLES = 2
# A product is named by this share of its title's word weight ("the Switchback boots" 0.53, "the
# Cirrus tent" 0.43), or by NAME_MIN when the rare word is the title's last, the kind of product
# ("the headlamp": 0.26 of "Beacon 400 Rechargeable Headlamp"). A lone modifier is no name: "snow"
# in "is it going to snow this weekend?" (Frostline Waterproof Snow Boot, 0.31), or "rate" (Heart
# Rate Chest Strap, 0.26) in "what's the exchange rate from euros to dollars today?".
NAME_CLEAR = 0.4
NAME_MIN = 0.25
# The least similarity to an aspect phrasing for a stock or attribute answer (a bare "in red" is a
# refinement, ~0.55; the questions of tests/data/chat/policy_product.jsonl score 0.79 or more).
LOOKUP_MIN = 0.65
# Policy: the FAQ's own confident decision, or (with a clear name) at least this similarity, the
# bonus below included.
POLICY_MIN = 0.55
POLICY_WORD_BONUS = 0.15
# A word in more than this share of the FAQ's entries (and more than two: "what", "order") says
# little about which policy is asked, so it is no policy word.
POLICY_WORD_SHARE = 0.25

# Words of a bare product search besides the catalogue's own ("show me the Ridgeback boots").
_SEARCH_FILLER = frozenset(
    tokenize("a an the and or of for with in some any please show me find i want need", True)
)
_WORD = re.compile(r"[A-Za-z0-9]+(?:['.][A-Za-z0-9]+)*")

Op = Literal["policy", "stock", "attribute"]


@dataclass(frozen=True)
class Named:
    """What a message names: one product (or none), a brand by its coined name (or none), the share
    of the title's word weight it names, the message without the name's rare words (what the FAQ is
    searched with) and without any of its title's words (what the aspects are compared with)."""

    product_id: str | None
    brand: str | None
    strength: float
    masked: str
    bare: str


@dataclass(frozen=True)
class Signals:
    """The two scores for one message that names something, and what they were computed from."""

    named: Named
    policy: float  # nearest FAQ phrasing's similarity, plus the policy-word bonus
    policy_confident: bool  # the FAQ's own decision on that nearest entry
    policy_words: tuple[str, ...]
    lookup: float  # similarity to the nearest aspect phrasing (0 without a named product)
    aspect: str | None
    faq: FAQResults


@dataclass(frozen=True)
class Decision:
    """A policy answer with the named product or brand as context, or one product's stock or
    attribute answer; `query` is the text the FAQ was searched with."""

    op: Op
    product_id: str | None
    brand: str | None
    aspect: str | None
    query: str
    signals: Signals


class NameIndex:
    """The catalogue's titles and brands by their words, and the FAQ's policy words; built once per
    catalogue version and FAQ."""

    def __init__(self, products: Mapping[str, Product], faq: Mapping[str, FAQEntry]) -> None:
        self.products = products
        self.faq = faq
        titles = {pid: frozenset(tokenize(p.title)) for pid, p in products.items()}
        df: Counter[str] = Counter(t for words in titles.values() for t in words)
        n = max(len(titles), 1)
        self.idf = {t: math.log((n + 1) / c) for t, c in df.items()}
        self.titles = titles
        # Each title's words in order: a message holding a whole title names that product, however
        # common its words ("the Cotton Yoga Strap").
        self.sequences = {pid: tuple(tokenize(p.title)) for pid, p in products.items()}
        self.mass = {pid: sum(self.idf[t] for t in words) or 1.0 for pid, words in titles.items()}
        # The title's last word, what kind of product it is ("headlamp"), when it is a word.
        self.kind = {
            pid: next((t for t in reversed(tokenize(p.title)) if t.isalpha() and len(t) > 1), "")
            for pid, p in products.items()
        }
        per_entry = [{t for text in (e.question, *e.examples) for t in tokenize(text)} for e in faq.values()]
        asked = set().union(*per_entry)
        entry_df: Counter[str] = Counter(t for words in per_entry for t in words)
        self.distinct = {t for t, c in df.items() if c <= DISTINCT_TITLES and t not in asked}
        self.by_word: dict[str, list[str]] = {}
        for pid, words in titles.items():
            for t in words & self.distinct:
                if not t.isdigit():
                    self.by_word.setdefault(t, []).append(pid)
        # Every word that describes a product: a message of these alone is a search.
        self.catalogue_words = set(df)
        for p in products.values():
            self.catalogue_words.update(tokenize(" ".join([p.brand, p.category, *p.tags])))
        aspect_words = {t for phrasings in ASPECTS.values() for text in phrasings for t in tokenize(text)}
        most = max(2.0, POLICY_WORD_SHARE * len(per_entry))
        common = {t for t, c in entry_df.items() if c > most} | STOPWORDS
        self.policy_words = frozenset(asked - self.catalogue_words - aspect_words - common)
        # A brand is named by its full name, or by its first word when no title uses that word
        # (a coined name: "Ridgeback", not "Driftwood").
        self.brands: dict[tuple[str, ...], str] = {}
        for brand in sorted({p.brand for p in products.values() if p.brand}):
            key = tuple(tokenize(brand))
            if key:
                self.brands[key] = brand
                if key[0] not in df and len(key[0]) > 3:
                    self.brands.setdefault(key[:1], brand)

    def find(self, message: str) -> Named | None:
        """The product and brand the message names, if any (None: it names neither)."""
        words = tokenize(message)
        said = set(words)
        mass: dict[str, float] = {}
        for pid in {pid for t in said & self.by_word.keys() for pid in self.by_word[t]}:
            mass[pid] = sum(self.idf[t] for t in said & self.titles[pid])
        ranked = sorted(mass.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
        product = None
        if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1] + 1e-9):
            pid, weight = ranked[0]
            share = weight / self.mass[pid]
            if share >= NAME_CLEAR or (share >= NAME_MIN and self.kind.get(pid) in said & self.distinct):
                product = pid
        whole = None
        if product is None:
            whole = self._whole_title(words)
            if whole is not None:
                product = whole
                mass[whole] = self.mass[whole]
        brand_words: tuple[str, ...] = ()
        for key in sorted(self.brands, key=len, reverse=True):
            if _contains(words, key):
                brand_words = key
                break
        brand = self.brands.get(brand_words) if brand_words else None
        if product is None and brand is None:
            return None
        rare = set(brand_words)
        every = set(brand_words)
        strength = 0.0
        if product is not None:
            rare |= said & self.titles[product] & self.distinct
            if product == whole and not rare - set(brand_words):  # common words only: all but the kind
                rare |= self.titles[product] - {self.kind.get(product, "")}
            every |= said & self.titles[product]
            strength = mass[product] / self.mass[product]
        return Named(product, brand, round(strength, 4), _without(message, rare), _without(message, every))

    def _whole_title(self, words: Sequence[str]) -> str | None:
        """The product whose whole title (two words or more) the message holds: the longest such
        title, when one is longest."""
        found = sorted(
            (
                (len(seq), pid)
                for pid, seq in self.sequences.items()
                if len(seq) >= 2 and _contains(words, seq)
            ),
            reverse=True,
        )
        if not found or (len(found) > 1 and found[0][0] == found[1][0]):
            return None
        return found[0][1]

    def only_catalogue_words(self, message: str) -> bool:
        """Whether the message is catalogue words and fillers alone ("show me Ridgeback boots"): a
        search. Stop-words count here ("how much are the Quietwave headphones?" asks something)."""
        return set(tokenize(message, keep_stopwords=True)) <= self.catalogue_words | _SEARCH_FILLER


def _contains(words: Sequence[str], key: tuple[str, ...]) -> bool:
    n = len(key)
    return any(tuple(words[i : i + n]) == key for i in range(len(words) - n + 1))


def _without(message: str, hidden: set[str]) -> str:
    """The message without the words whose stems are `hidden` (the name), spacing tidied."""
    kept = _WORD.sub(lambda m: "" if stem(m.group(0).lower()) in hidden else m.group(0), message)
    return re.sub(r"\s+([?.!,])", r"\1", re.sub(r"\s{2,}", " ", kept)).strip()


class PolicyProductRouter:
    """Decides between a policy answer and a one-product answer for messages that name something.

    `products()` gives the live catalogue (by id), `entries()` the FAQ entries, `faq(text)` the FAQ
    search's results and `embed` the embedding function the FAQ is searched with, so both scores
    are the same kind of number."""

    def __init__(
        self,
        products: Callable[[], Mapping[str, Product]],
        entries: Callable[[], Mapping[str, FAQEntry]],
        faq: Callable[[str], FAQResults],
        embed: Callable[[list[str]], Any],
    ) -> None:
        self._products = products
        self._entries = entries
        self._faq = faq
        self._embed = embed
        self._lock = threading.Lock()
        self._names: NameIndex | None = None
        self._aspects: tuple[list[str], np.ndarray] | None = None

    def names(self) -> NameIndex:
        """The name index of the live catalogue and FAQ (rebuilt when either is replaced)."""
        products, entries = self._products(), self._entries()
        with self._lock:
            names = self._names
            if names is None or names.products is not products or names.faq is not entries:
                names = self._names = NameIndex(products, entries)
            return names

    def named_product(self, message: str) -> str | None:
        """The one product the message names, if any."""
        named = self.names().find(message)
        return named.product_id if named is not None else None

    def _vectors(self, texts: list[str]) -> np.ndarray:
        vectors = np.asarray(self._embed(texts), dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)

    def _aspect(self, text: str) -> tuple[str | None, float]:
        """The aspect whose phrasing is nearest to `text`, and that similarity."""
        if self._aspects is None:
            labels = [a for a, phrasings in ASPECTS.items() for _ in phrasings]
            self._aspects = labels, self._vectors([p for ps in ASPECTS.values() for p in ps])
        labels, matrix = self._aspects
        sims = matrix @ self._vectors([text or "it"])[0]
        best = int(np.argmax(sims))
        return labels[best], float(sims[best])

    def signals(self, message: str) -> Signals | None:
        """Both scores for a message that names a product or brand and asks something about it;
        None when it names nothing, or is only catalogue words (a search)."""
        names = self.names()
        named = names.find(message)
        if named is None or names.only_catalogue_words(message) or not tokenize(named.masked):
            return None
        faq = self._faq(named.masked)
        words = tuple(sorted(set(tokenize(message)) & names.policy_words))
        policy = (faq.hits[0].dense if faq.hits else 0.0) + (POLICY_WORD_BONUS if words else 0.0)
        aspect, lookup = self._aspect(named.bare) if named.product_id is not None else (None, 0.0)
        return Signals(named, round(policy, 4), faq.confident, words, round(lookup, 4), aspect, faq)

    def decide(self, message: str) -> Decision | None:
        """A policy answer when the FAQ answers (confidently, or close enough with a policy word) and
        is at least as close as any aspect; else a one-product answer when the name and an aspect
        are clear; else None (search as usual)."""
        s = self.signals(message)
        if s is None:
            return None
        named = s.named
        clear = named.brand is not None or named.strength >= NAME_CLEAR
        answers = bool(s.faq.hits) and (s.policy_confident or (clear and s.policy >= POLICY_MIN))
        if answers and s.policy >= s.lookup:
            return Decision("policy", named.product_id, named.brand, None, named.masked, s)
        if named.product_id is not None and s.lookup >= LOOKUP_MIN:
            op: Op = "stock" if s.aspect == "stock" else "attribute"
            return Decision(op, named.product_id, named.brand, s.aspect, named.masked, s)
        return None
