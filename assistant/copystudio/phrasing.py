"""Attribute facts as varied sentences: one sentence per attribute, its phrasing chosen by a hash of the
product id and key from `prompts/copy/reference_fact.j2`, kept only if the claim checker supports it and
it mentions its attribute. Two users: the copy training targets (`finetune.copy_targets`), so the adapter
sees many phrasings and learns no single template, and the copy service's English facts from data, so a
catalogue's descriptions do not all repeat "Key: value." in the same words.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

_KINDS = {
    "brand": "brand",
    "category": "category",
    "colour": "colour",
    "color": "colour",
    "size": "size",
    "ideal for": "ideal_for",
    "occasion": "occasion",
    "type": "type",
    "pattern": "pattern",
    "pack of": "pack",
}
_ADJECTIVE = re.compile(r"(?:safe|proof|resistant|able|ible|ous|ic|ed|free)$")
_YES_NO = re.compile(r"^(yes|no)\b[\s,:;-]*(.*)$", re.IGNORECASE)


def stable_int(key: str) -> int:
    """A number from a string, the same on every machine and run (`hash()` is salted per process): the
    phrasing and closing choices of a product stay put between a preview and its batch export."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)


def _pick(product_id: str, key: str, salt: int = 0) -> int:
    return stable_int(f"copy-ref:{product_id}:{key}:{salt}")


def _words_value(value: str) -> str:
    """A value as it reads inside a sentence: words lower-cased, codes and quantities as given."""
    return " ".join(w if re.search(r"\d", w) else w.lower() for w in value.split())


# Values no sentence should show: "NA - NA month", "this product is sold as M by the brand".
_UNSHOWABLE = re.compile(r"^\s*n/?a\b|\bthis product\b|\bby the brand\b", re.IGNORECASE)


def showable(value: str) -> bool:
    """Whether a value may be shown as a fact at all: not "NA", "none", "NA - NA month" or a note
    about the listing ("this product is sold as ..."), which read as noise in any phrasing."""
    from assistant.grounding.claims import is_no_value

    return bool(value.strip()) and not _UNSHOWABLE.search(value) and not is_no_value(value)


def fact_kind(key: str, value: str) -> tuple[str, str]:
    """The phrasing kind of an attribute and the value the sentence shows: "Luminous: Yes" is a
    feature the product has ("luminous"), "Date display: Yes, Day And Date Display" too ("day and date
    display"), "Chronograph: No" one it lacks; a value that repeats its key ("Sleeve: Full Sleeve") is
    a feature; materials, fabrics and numbers have their own phrasings; the rest are specs."""
    k = re.sub(r"\s+", " ", key).strip().lower()
    v = _words_value(value)
    yes_no = _YES_NO.match(v)
    if yes_no and k not in _KINDS:
        rest = yes_no.group(2).strip(" ()")
        answer = yes_no.group(1).lower()
        if answer == "yes" and rest:
            return "yes", rest
        thing = re.sub(r"\s+included$", "", k)  # "Belt included: No" is a belt it lacks
        if thing != k:
            return answer, thing
        return (answer + "_adj" if _ADJECTIVE.search(k) else answer), k
    if k == "ideal for" and "'s" in v:
        return "ideal_for_possessive", v
    if k in _KINDS:
        return _KINDS[k], v
    if "/" in k:
        return "is", v
    if re.search(r"\b(?:for|with|in|on)$", k):
        return "for", v
    if "material" in k or k in ("fabric", "lining"):
        return "material", v
    key_words = [w for w in re.findall(r"[a-z]+", k) if len(w) > 2]
    if key_words and all(w in v.split() for w in key_words):  # "Sleeveless" is not a sleeve feature
        return "feature", v
    if re.search(r"\d", v):
        return "measure", v
    return "spec", v


def attribute_sentence(
    product_id: str,
    key: str,
    value: str,
    attributes: Mapping[str, str],
    brands: Iterable[str] = (),
    checker: Any = None,
    acronyms: bool = False,
    subject: bool = True,
) -> str:
    """One sentence mentioning the attribute (see `fact_kind`), phrased by a hash of the product id and
    key, that the claim checker supports; "" if no phrasing passes both. `checker`: the product's
    `ClaimChecker` where the caller has one (built from `attributes` and `brands` otherwise).
    `acronyms`: all-capital words of the value ("US 7-13", "LED") keep their case, as a shop's own
    copy should; the training targets lower-case them (Flipkart capitalises whole values).
    `subject`: two hashed thirds of "It ..." sentences name the product instead (`_with_subject`);
    false keeps "It", for a caller whose text already used that subject (`named_subject`)."""
    from assistant.grounding.claims import ClaimChecker, mentions
    from prompts import render

    if not showable(value):
        return ""
    checker = checker or ClaimChecker(attributes, brands)
    kind, shown = fact_kind(key, value)
    if acronyms:
        capitals = {w.lower(): w for w in value.split() if len(w) > 1 and w.isalpha() and w.isupper()}
        shown = " ".join(capitals.get(w, w) for w in shown.split())
    k = re.sub(r"\s+", " ", key).strip().lower()
    first = _pick(product_id, k)
    for step in range(8):  # the hashed phrasing first, then the others in turn
        sentence = render("copy/reference_fact", "en", kind=kind, key=k, value=shown, pick=first + step)
        sentence = sentence[:1].upper() + sentence[1:]
        if mentions(sentence, key, value) and not checker.check(sentence).unsupported:
            return _with_subject(sentence, product_id, k, attributes, checker) if subject else sentence
    return ""


def named_subject(sentence: str, attributes: Mapping[str, str]) -> str:
    """ "This watch" / "The watch" where `_with_subject` named the product, else "": a text uses each
    such subject once, since two "The boot comes in ..." sentences repeat a 4-gram."""
    noun = product_noun(_title(attributes))
    for subject in (f"This {noun} ", f"The {noun} "):
        if noun and sentence.startswith(subject):
            return subject.strip()
    return ""


def each_subject_once(
    facts: Iterable[tuple[str, str]], attributes: Mapping[str, str], phrase: Callable[[str, str, bool], str]
) -> list[str]:
    """The facts' sentences, `phrase(key, value, subject)`, with each named subject ("The boot ...")
    used once: a second "The boot comes in ..." would repeat a 4-gram, so that fact keeps "It"."""
    out: list[str] = []
    used: set[str] = set()
    for key, value in facts:
        sentence = phrase(key, value, True)
        named = named_subject(sentence, attributes)
        if named and named in used:
            sentence = phrase(key, value, False)
            named = named_subject(sentence, attributes)
        used.add(named)
        out.append(sentence)
    return out


# The phrasing kinds of `reference_fact.j2` (see `fact_kind`).
FACT_KINDS = [
    "brand",
    "category",
    "colour",
    "material",
    "size",
    "ideal_for",
    "ideal_for_possessive",
    "occasion",
    "type",
    "pattern",
    "yes",
    "yes_adj",
    "no",
    "no_adj",
    "for",
    "is",
    "pack",
    "feature",
    "measure",
    "spec",
]


@lru_cache(maxsize=1)
def stock_pairs() -> frozenset[tuple[str, str]]:
    """The word pairs of every fact phrasing without its key and value ("welcome addition", "part of",
    "comes in"): the adapter learned them from its targets, so the copy it writes leans on them."""
    from prompts import render

    out: set[tuple[str, str]] = set()
    for kind in FACT_KINDS:
        for pick in range(16):
            words = _pair_words(
                render("copy/reference_fact", "en", kind=kind, key="qqq", value="zzz", pick=pick)
            )
            out.update(p for p in zip(words, words[1:], strict=False) if "qqq" not in p and "zzz" not in p)
    return frozenset(out)


def _pair_words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z'-]*", text.lower())


def stock_share(text: str) -> float:
    """The share of the text's word pairs that are stock phrasing (`stock_pairs`): among candidates
    that pass the checker, the one that reads less like the fact templates is preferred, so a
    catalogue's descriptions do not all open "A welcome addition to the ... shelf"."""
    words = _pair_words(text)
    pairs = list(zip(words, words[1:], strict=False))
    stock = stock_pairs()
    return sum(p in stock for p in pairs) / len(pairs) if pairs else 0.0


def _title(attributes: Mapping[str, str]) -> str:
    return next((v for k, v in attributes.items() if k.lower() == "title"), "")


# Product nouns a sentence may name as its subject ("This watch ..."): a closed list, since a title's
# last word is as often a colour, a model name or an adjective ("... casual", "... for maruti swift").
_NOUN_WORDS = """top watch ring dress mug charger shirt t-shirt cover freshener bag sweater showpiece light speaker
    necklace bottle kurta kurti clutch box mangalsutra waistcoat ball sweatshirt conditioner fan polish
    sticker skirt shampoo diwan pyjama necktie tie bulb keyboard backpack knife case connector belt
    curtain towel bedsheet cap game glass cleaner controller jumpsuit duster pendant holder headset vase
    shelf kadhai bed bell pot dungaree sensor mixer cardigan bracelet stole pillow suit pen oven cable
    jacket umbrella bangle chain kada styler player casserole raincoat frame mount scarf protector lamp
    kaftan massager cream bowl pencil organizer tunic bat wallpaper walker sipper antenna boot shoe
    sandal slipper sneaker tent headlamp lantern stove chair table bench blanket basket beanie hat
    hoodie parka peacoat poncho vest windbreaker henley tee tote daypack duffel hammock kettle grinder
    dripper diffuser candle camera comforter cleanser moisturizer serum scrub smartwatch mask roller
    panel spinner filter"""
_NOUNS = frozenset(_NOUN_WORDS.split())


def product_noun(title: str) -> str:
    """The product's noun from its title, for a sentence's subject ("This watch ..."): the last word
    of the title's first part ("swag 670038 analog watch - for boys" -> "watch", "car cover for maruti
    swift" -> "cover") if it is a known singular product noun (`_NOUNS`); "" otherwise, so the
    sentence keeps "It" and never reads "This casual" or "This boots"."""
    head = re.split(r"\s+-\s+|[(,|]|\s+for\s+", (title or "").lower())[0]
    words = [w for w in head.split() if re.fullmatch(r"[a-z][a-z-]+", w)]
    return words[-1] if words and words[-1] in _NOUNS else ""


def _with_subject(
    sentence: str, product_id: str, key: str, attributes: Mapping[str, str], checker: Any
) -> str:
    """Sentences all opening "It ..." read as a list: two hashed thirds of them name the product
    ("This watch has ...", "The watch comes in ..."), kept only if the checker still passes."""
    if not sentence.startswith("It "):
        return sentence
    noun = product_noun(_title(attributes))
    choice = _pick(product_id, key, salt=1) % 3
    if not noun or choice == 2:
        return sentence
    named = ("This " if choice == 0 else "The ") + noun + sentence[2:]
    return named if not checker.check(named).unsupported else sentence
