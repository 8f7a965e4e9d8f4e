"""Copy training targets a shop would publish (issue 16): marketplace boilerplate out, key attributes in.

Flipkart descriptions wrap a little merchant prose in page furniture: "key features of X ..." lists,
"price: rs. 950", "specifications of X ... field value field value" runs, "buy X online at rs.N ... only
at flipkart.com", shipping, cash-on-delivery and genuine-product lines. The claim checker passes most of
it (the price equals the attribute), so an adapter trained on it writes spec runs and garbled numbers.
`marketplace_prose` keeps the prose alone. `attribute_sentences` renders the key attributes the prose
leaves out as short sentences (phrasings in `prompts/copy/reference_fact.j2`, chosen by a hash of the
product id and key, so no single template is learned); each is kept only if the claim checker
supports it and it mentions its attribute, so a target built from them passes the checker by
construction and mentions every key attribute it can.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from assistant.copystudio.phrasing import attribute_sentence, each_subject_once, fact_kind

__all__ = [
    "attribute_complete",
    "attribute_sentence",
    "attribute_sentences",
    "fact_kind",
    "marketplace_prose",
]

# -- boilerplate -----------------------------------------------------------------------------------
# Where the page's spec block (or its feedback widget, or its legal note) starts, the prose has ended.
_TAIL = re.compile(
    r",?\s*(?:specifications of\b|was this product (?:information|specification) helpful|please note\s*:)",
    re.IGNORECASE,
)
_PRICE = re.compile(r"\bprice\s*:\s*(?:rs\.?|inr|₹)\s*[\d,]+(?:\.\d+)?", re.IGNORECASE)
_KEY_FEATURES = re.compile(r"^\s*key features of\b", re.IGNORECASE)
# "TITLE - buy TITLE online at rs.N ..." / "buy TITLE for rs.N online." / "flipkart.com: buy ...".
_BUY = re.compile(r"(?:^|\s-\s|[.:]\s|\s\.\s)buy\b", re.IGNORECASE)
_BOILERPLATE = re.compile(
    r"\b(?:buy|flipkart|online|genuine products?|replacement guarantee|free shipping|free delivery|"
    r"cash on delivery|shop online|huge collection|great discounts?|best prices?|"
    r"thanks for your vote|write your feedback|warranty summary|in the box|sales package|feedback|"
    r"contact us|any quer(?:y|ies)|customer (?:care|service|support)|courier|dispatch(?:ed)?|"
    r"we provide|our store|our seller)\b"
    r"|\b(?:rs\.?|inr)\s*[\d,]+|₹\s*\d|\bprice\s*:",
    re.IGNORECASE,
)
# "dust capacity: 0.7 l" / "features: ..." / "type - mobile speaker": a field label opening a fragment.
_LABEL = re.compile(r"^[a-z][a-z /&()'-]{0,30}\s*:\s*\S", re.IGNORECASE)
_LABELS = re.compile(r"\b[a-z][a-z /&'-]{0,30}\s*:\s", re.IGNORECASE)
# Fragment boundaries: sentence ends, " - " joins, bullets, numbered items "(1)", "1." and lines.
_SPLIT = re.compile(r"(?<=[.!?])\s+|\s+-\s+|\s*[•*▪►]\s*|\s*\(\d{1,2}\)\s*|\s+\d{1,2}\.\s+|\n+|\.,")
# A fragment that reads as a sentence has at least one of these (a bare feature list has none).
_FUNCTION_WORDS = (
    "the a an is are was this it its it's has have had with you your will be can made makes our these "
    "that which to gives keeps lets adds offers comes looks feel feels"
)
_FUNCTION = frozenset(_FUNCTION_WORDS.split())
_MIN_FRAGMENT_WORDS = 4


def _dedupe_lines(text: str) -> str:
    """The page often repeats its prose paragraph verbatim on the next line: keep each line once."""
    seen: set[str] = set()
    lines = []
    for line in text.splitlines():
        key = re.sub(r"\s+", " ", line).strip().lower()
        if key and key not in seen:
            seen.add(key)
            lines.append(line.strip())
    return "\n".join(lines)


def _fragments(text: str) -> list[str]:
    text = re.sub(r"([a-z]{2})\.([a-z]{2,})", r"\1. \2", text)  # "interiors.this curtain" -> two sentences
    return [f.strip(" \t,;:-") for f in _SPLIT.split(text) if f and f.strip(" \t,;:-")]


def _is_prose(fragment: str, title: str) -> bool:
    words = re.findall(r"[a-z0-9']+", fragment.lower())
    if len(words) < _MIN_FRAGMENT_WORDS or not _FUNCTION.intersection(words):
        return False
    if _BOILERPLATE.search(fragment) or _LABEL.match(fragment) or len(_LABELS.findall(fragment)) >= 2:
        return False
    return not (title and fragment.lower().strip(" .") in title.lower())  # the title, or part of it


def _sentence(fragment: str) -> str:
    fragment = re.sub(r"\s+", " ", fragment).strip()
    fragment = re.sub(r"\bi\b", "I", fragment)
    fragment = fragment[:1].upper() + fragment[1:]
    return fragment if fragment[-1:] in ".!?" else fragment.rstrip(",;:") + "."


def marketplace_prose(text: str, title: str = "") -> str:
    """The merchant's prose in a marketplace description, without the page around it: the spec block
    ("specifications of ..." onward), "key features of ..." lists, "price: rs. N" and any price in
    rupees, "buy ... online" lines, shipping / cash on delivery / genuine products / replacement
    guarantee lines, runs of "field: value" pairs and bare feature lists. Repeated paragraphs are kept
    once and sentences start with a capital. "" when no prose is left."""
    text = _dedupe_lines(text or "")
    tail = _TAIL.search(text)
    if tail:
        text = text[: tail.start()]
    price = _PRICE.search(text)
    if price:
        text = text[price.end() :]  # before the price: the title, or the key-features list
    elif _KEY_FEATURES.match(text):
        text = ""  # a key-features list with no prose after it
    buy = _BUY.search(text)
    if buy and buy.start() < max(200, len(text) // 2):
        text = text[buy.start() :]  # before "buy": the title again
    kept: list[str] = []
    seen: set[str] = set()
    for fragment in _fragments(text):
        key = fragment.lower()
        if key not in seen and _is_prose(fragment, title):
            seen.add(key)
            kept.append(_sentence(fragment))
    return " ".join(kept)


def attribute_sentences(
    product_id: str,
    attributes: Mapping[str, str],
    text: str = "",
    brands: Iterable[str] = (),
    spec_count: int = 3,
) -> list[str]:
    """Sentences for the key attributes (`assistant.copystudio.service.key_attributes_of`) that `text`
    does not mention yet, in the attributes' order."""
    from assistant.grounding.claims import key_attributes, mentions

    brands = list(brands)
    facts = [
        (k, v)
        for k, v in key_attributes(attributes, spec_count).items()
        if not (text and mentions(text, k, v))
    ]
    sentences = each_subject_once(
        facts,
        attributes,
        lambda k, v, subject: attribute_sentence(product_id, k, v, attributes, brands, subject=subject),
    )
    return [s for s in sentences if s]


def _take_words(sentences: list[str], budget: int) -> list[str]:
    """Whole sentences from the start while they fit in `budget` words (at least the first)."""
    out: list[str] = []
    used = 0
    for s in sentences:
        n = len(s.split())
        if out and used + n > budget:
            break
        out.append(s)
        used += n
    return out


def attribute_complete(
    product_id: str,
    prose: str,
    attributes: Mapping[str, str],
    brands: Iterable[str] = (),
    *,
    max_words: int = 90,
    spec_count: int = 3,
) -> str:
    """The target: the supported prose (whole sentences, trimmed so prose and facts fit `max_words`)
    with sentences for the key attributes it leaves out placed after its first sentence, so they fall
    inside the words a medium draft has. Checked once more as a whole: any sentence the claim checker
    flags in context is dropped."""
    from assistant.grounding.claims import ClaimChecker
    from assistant.grounding.sentences import sentence_spans

    brands = list(brands)
    sentences = [s.text for s in sentence_spans(prose, lines=False)] if prose.strip() else []
    facts = attribute_sentences(product_id, attributes, prose, brands, spec_count)
    fact_words = sum(len(f.split()) for f in facts)
    kept = _take_words(sentences, max(25, max_words - fact_words)) if sentences else []
    # The facts the trimmed prose no longer mentions come back too.
    facts = attribute_sentences(product_id, attributes, " ".join(kept), brands, spec_count)
    parts = kept[:1] + facts + kept[1:]
    checker = ClaimChecker(attributes, brands)
    return " ".join(p for p in parts if not checker.check(p).unsupported)
