"""PII scrubbing: one place that replaces personal data with typed placeholders.

Fine-tuning data, logs and feedback exports all pass through `scrub` before anything is written or
trained on, so a model never learns (and a log never keeps) a customer's email, phone, card number,
street address or order id. Placeholders use the `{{Name}}` form of the Bitext replies, so a scrubbed
text is still a valid training target and the assistant fills the slot at answer time.

The patterns favour precision on shop text: prices (`$1,299.00`), dates, product ids (`HP-TNT-001`)
and short numbers are left alone; a digit run is a card only if it passes the Luhn check.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

EMAIL = "{{Email}}"
PHONE = "{{Phone Number}}"
CARD = "{{Card Number}}"
ADDRESS = "{{Street Address}}"
ORDER = "{{Order Number}}"

PLACEHOLDERS: dict[str, str] = {
    "email": EMAIL,
    "phone": PHONE,
    "card": CARD,
    "address": ADDRESS,
    "order": ORDER,
}


def luhn_ok(digits: str) -> bool:
    """The card-number checksum; it keeps random long numbers (order ids, EANs) from counting as cards."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# 13-19 digits, optionally grouped by single spaces or dashes (4-4-4-4, 4-6-5 for Amex).
_CARD_RE = re.compile(r"(?<![\w.,-])\d(?:[ -]?\d){12,18}(?![\w-]|[.,]\d)")
# Shop order ids as the shop writes them ("HP-ORD-50001"), in any case: customers type them too (the
# chat looks orders up with this); and an order/purchase word followed by a number.
ORDER_ID_PATTERN = re.compile(r"\b[A-Z]{2,4}-ORD-\d{3,}\b", re.IGNORECASE)
_ORDER_REF_RE = re.compile(
    r"(?P<lead>\b(?:order|purchase|invoice)(?:\s+(?:number|num|no\.?|id|ref(?:erence)?))?\s*"
    r"(?:\s*(?::|is|was))?\s*)(?P<num>#?\s?[A-Z0-9]*\d[A-Z0-9-]{3,})\b",
    re.IGNORECASE,
)
_ORDER_HASH_RE = re.compile(r"(?<![\w&])#\s?\d{4,}\b")
# Phones: international (+44 20 7946 0958), North American ((555) 123-4567, 555.123.4567),
# or a run of 10-13 digits in groups. Dates (2026-11-28) and prices never match: they have fewer
# digits, a currency sign, or decimals.
_PHONE_RE = re.compile(
    r"(?<![\w$€£.,/-])"
    r"(?:"
    r"\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{2,4}){1,4}"  # +CC ...
    r"|\(\d{3}\)\s?\d{3}[\s.-]?\d{4}"  # (555) 123-4567
    r"|\d{3}[.-]\d{3}[.-]\d{4}"  # 555-123-4567
    r"|\d{3}\s\d{3}\s\d{4}"  # 555 123 4567
    r"|0\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}"  # 07700 900123, 020 7946 0958
    r"|1[\s.-]?8\d{2}[\s.-]?\d{3}[\s.-]?\d{4}"  # 1-800-555-0199
    r")"
    r"(?:\s?(?:x|ext\.?)\s?\d{1,5})?"
    r"(?![\w-]|[.,]\d)"
)
# A bare digit run is a phone number only right after a word that says so ("call 5551234567").
_PHONE_CONTEXT_RE = re.compile(
    r"\b(?:call|phone|tel|telephone|mobile|cell|text|whatsapp|sms|fax)(?:\s+(?:me|us|number|no\.?))?"
    r"\s*(?:at|on|is|:)?\s*(?P<num>\+?\d{7,15})\b",
    re.IGNORECASE,
)
_STREET_TYPES = (
    r"street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|terrace|"
    r"crescent|close|square|sq|parkway|pkwy|highway|hwy|circle|cir|trail|row|gardens|mews|alley"
)
# "221B Baker Street", "1600 Pennsylvania Ave NW, Apt 4", "12 rue ..."-style numbers first.
_ADDRESS_RE = re.compile(
    r"\b\d{1,6}[A-Za-z]?(?:-\d{1,4})?\s+(?:[A-Z][a-z'.]+\s+|[0-9]{1,3}(?:st|nd|rd|th)\s+){1,4}"
    rf"(?:{_STREET_TYPES})\b\.?"
    r"(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b)?"
    r"(?:,?\s+(?:apt|apartment|suite|ste|unit|flat|floor)\.?\s*#?\s*[A-Za-z0-9-]+)?",
    re.IGNORECASE,
)
_STREET_TYPE_SET = set(_STREET_TYPES.split("|"))
_ADDRESS_NAME_RE = re.compile(r"^(?:[A-Z][A-Za-z'.]*|\d{1,3}(?:st|nd|rd|th))$")


@dataclass(frozen=True)
class Finding:
    """One piece of PII: its kind, where it is, and the text it replaces."""

    kind: str
    start: int
    end: int
    text: str


def _card(m: re.Match[str]) -> bool:
    # Card networks' first digits (2 and 5 Mastercard, 3 Amex/Diners, 4 Visa, 6 Discover); an
    # EAN-13 barcode starting 8 or 9 can pass the Luhn check by chance.
    digits = re.sub(r"\D", "", m.group(0))
    if len(digits) == 13 and not digits.startswith("4"):
        return False
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits)


_FULL_STREET_WORDS = {
    "street",
    "avenue",
    "road",
    "lane",
    "drive",
    "boulevard",
    "parkway",
    "highway",
    "terrace",
}


def _address(m: re.Match[str]) -> bool:
    # "12 main street" is an address in any case; with an abbreviation ("12 Elm St") the street
    # name must be capitalised, so "buy 2 red st" or "3 day way" stay as they are.
    words = m.group(0).split()
    street_words = [w for w in words[1:] if w.lower().rstrip(".,") in _STREET_TYPE_SET]
    if street_words and street_words[0].lower().rstrip(".,") in _FULL_STREET_WORDS:
        return True
    return all(_ADDRESS_NAME_RE.match(w.rstrip(",")) for w in words[1 : words.index(street_words[0])])


def _phone(m: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", m.group(0).split("x")[0].split("ext")[0])
    return 7 <= len(digits) <= 15


_Rule = tuple[str, re.Pattern[str], Callable[[re.Match[str]], bool] | None, str | None]
# Order matters: earlier rules win where spans overlap (an email's digits are not a phone).
_RULES: list[_Rule] = [
    ("email", _EMAIL_RE, None, None),
    ("order", ORDER_ID_PATTERN, None, None),
    ("order", _ORDER_REF_RE, None, "num"),
    ("card", _CARD_RE, _card, None),
    ("phone", _PHONE_RE, _phone, None),
    ("phone", _PHONE_CONTEXT_RE, None, "num"),
    ("address", _ADDRESS_RE, _address, None),
    ("order", _ORDER_HASH_RE, None, None),
]


def find_pii(text: str, kinds: set[str] | None = None) -> list[Finding]:
    """Non-overlapping PII spans in text order; `kinds` limits which kinds are looked for."""
    taken: list[Finding] = []
    for kind, pattern, check, group in _RULES:
        if kinds is not None and kind not in kinds:
            continue
        for m in pattern.finditer(text):
            if check is not None and not check(m):
                continue
            start, end = m.span(group or 0)
            if any(start < f.end and f.start < end for f in taken):
                continue
            taken.append(Finding(kind, start, end, text[start:end]))
    return sorted(taken, key=lambda f: f.start)


def scrub(text: str, kinds: set[str] | None = None) -> str:
    """The text with each PII span replaced by its typed placeholder (e.g. `{{Email}}`)."""
    out, pos = [], 0
    for f in find_pii(text, kinds):
        out.append(text[pos : f.start])
        out.append(PLACEHOLDERS[f.kind])
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def scrub_counts(text: str) -> tuple[str, Counter[str]]:
    """Scrubbed text plus how many of each kind were replaced (for data-build reports)."""
    found = find_pii(text)
    return scrub(text), Counter(f.kind for f in found)
