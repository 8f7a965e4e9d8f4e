"""Claims in product copy, and whether the product's attributes back them.

A claim is any stretch of copy that names a value a shopper could hold the shop to: a quantity
with its unit, a percentage, a price, a colour, a material, a size, a brand, a certification or
rating, a warranty, who the product is for. Each carries its kind, its exact text and its character
span, so a UI can highlight it and a repair step can drop the sentence it sits in.

Checking is against the attributes only (keys and values, case-insensitive); numbers are compared
by value after unit normalization (1.5 L = 1500 ml, 6 ft = 72 in, 2 kg = 2000 g) within a 2%
tolerance, which absorbs the rounding of a conversion (1 in ~ 2.5 cm) but not a near-miss (1.4 L).

Policy decisions, each with a test:
- A general colour is supported by a shade of it ("blue" for navy, "red" for maroon); a shade is
  not supported by the general colour ("navy" when the attributes say blue is flagged): the copy
  may be vaguer than the data, never more specific.
- "water resistant" is supported by "waterproof", not the other way round; a feature whose
  attribute says "No" is unsupported.
- "leather" is not supported by faux/PU/synthetic leather; a material synonym (PU = polyurethane)
  is.
- A warranty must match in duration (12 months = 1 year); "2-year warranty" against a 1-year one
  is flagged.
- A size inside an attribute's range is supported (US 9 for US 7-13).
- Who a product is for (men, women, kids...) is checked against the attributes; only when the
  attributes say nothing about it may the merchant's own audience text support it.
- Brands are the catalogue's distinctive brand names (see `brand_lexicon`) plus well-known ones;
  a brand named anywhere in the attributes (the product's own, "compatible with LG") is supported.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.grounding.sentences import sentence_spans
from assistant.grounding.vocabulary import ALWAYS_OK


def _words(text: str) -> list[str]:
    return text.split()


ClaimKind = Literal[
    "number", "percent", "price", "colour", "material", "size", "brand", "certification", "warranty",
    "gender", "offer", "origin", "name", "feature", "package",
]  # fmt: skip
TOLERANCE = 0.02  # relative difference two quantities may have and still be "the same value"

# -- vocabularies ----------------------------------------------------------------------------------
# colour -> the general colour it is a shade of (itself for a general colour)
COLOUR_FAMILY: dict[str, str] = {
    **{c: c for c in _words("black white red blue green yellow orange purple pink brown grey gold silver")},
    "gray": "grey", "navy": "blue", "navy blue": "blue", "sky blue": "blue", "royal blue": "blue",
    "light blue": "blue", "dark blue": "blue", "teal": "blue", "turquoise": "blue", "aqua": "blue",
    "maroon": "red", "burgundy": "red", "crimson": "red", "wine": "red", "scarlet": "red",
    "charcoal": "grey", "dark grey": "grey", "light grey": "grey", "silver grey": "grey",
    "olive": "green", "mint": "green", "lime": "green", "dark green": "green", "sea green": "green",
    "tan": "brown", "coffee": "brown", "chocolate": "brown", "dark brown": "brown", "light brown": "brown",
    "khaki": "brown", "camel": "brown", "beige": "brown",
    "ivory": "white", "off white": "white", "off-white": "white", "cream": "white",
    "mustard": "yellow", "amber": "orange", "peach": "orange", "coral": "orange",
    "lavender": "purple", "violet": "purple", "lilac": "purple", "magenta": "pink", "fuchsia": "pink",
    "rose gold": "pink", "golden": "gold", "silver-tone": "silver",
    "multicolor": "multicolour", "multicolour": "multicolour", "multi-colour": "multicolour",
    "multi-color": "multicolour", "multi colour": "multicolour", "multi color": "multicolour",
    "multicoloured": "multicolour", "multicolored": "multicolour",
}  # fmt: skip
# material -> the group it belongs to (for "metal"/"wooden" claims); words that are rarely a
# material in copy ("iron" the verb, "net" weight, "cream" the product) are left out on purpose.
MATERIAL_GROUP: dict[str, str] = {
    **{m: "textile" for m in _words(
        "cotton polyester nylon wool silk linen denim rayon viscose spandex lycra elastane acrylic canvas "
        "fleece cashmere merino velvet satin chiffon georgette crepe chanderi khadi jute polyamide modal "
        "tencel lyocell hemp terry microfiber microfibre organza brocade muslin corduroy tweed jersey"
    )},
    **{m: "metal" for m in _words(
        "steel aluminium aluminum brass copper titanium zinc alloy platinum bronze"
    )},
    "stainless steel": "metal", "sterling silver": "metal", "cast iron": "metal", "wrought iron": "metal",
    "wood": "wood", "wooden": "wood", "bamboo": "wood", "teak": "wood", "sheesham": "wood",
    "rosewood": "wood", "mango wood": "wood", "oak": "wood", "pine wood": "wood", "mdf": "wood",
    "plywood": "wood", "engineered wood": "wood", "solid wood": "wood",
    "leather": "leather", "genuine leather": "leather", "full-grain leather": "leather",
    "full grain leather": "leather", "top-grain leather": "leather", "patent leather": "leather",
    "suede": "leather", "nubuck": "leather",
    "faux leather": "synthetic", "pu leather": "synthetic", "synthetic leather": "synthetic",
    "leatherette": "synthetic", "vegan leather": "synthetic", "artificial leather": "synthetic",
    "imitation leather": "synthetic", "pu": "synthetic", "polyurethane": "synthetic", "synthetic": "synthetic",
    "rubber": "rubber", "natural rubber": "rubber", "silicone": "rubber", "latex": "rubber", "eva": "rubber",
    "neoprene": "rubber", "tpr": "rubber",
    "plastic": "plastic", "abs": "plastic", "polycarbonate": "plastic", "polypropylene": "plastic",
    "pvc": "plastic", "acrylic glass": "plastic", "resin": "plastic",
    "glass": "glass", "tempered glass": "glass", "crystal": "glass", "ceramic": "ceramic",
    "porcelain": "ceramic", "stoneware": "ceramic", "terracotta": "ceramic", "marble": "stone",
    "granite": "stone", "foam": "foam", "memory foam": "foam", "mesh": "mesh", "down": "down",
    "gold": "metal", "silver": "metal", "metal": "metal", "metallic": "metal",
}  # fmt: skip
GENERIC_MATERIALS = {"metal": "metal", "metallic": "metal", "wood": "wood", "wooden": "wood"}
MATERIAL_SYNONYMS: dict[str, tuple[str, ...]] = {
    "pu": ("polyurethane", "pu leather"),
    "polyurethane": ("pu",),
    "aluminium": ("aluminum",),
    "aluminum": ("aluminium",),
    "lycra": ("spandex", "elastane"),
    "spandex": ("lycra", "elastane"),
    "elastane": ("lycra", "spandex"),
    "faux leather": ("pu", "synthetic leather", "pu leather", "leatherette"),
    "synthetic leather": ("pu", "faux leather", "pu leather", "leatherette"),
    "wooden": ("wood",),
    "wood": ("wooden",),
    "microfibre": ("microfiber",),
    "microfiber": ("microfibre",),
}
# A plain "leather" claim is not backed by an attribute that says the leather is imitation.
_NOT_REAL_LEATHER = re.compile(r"(?:faux|synthetic|pu|artificial|vegan|imitation|fake)\s*-?\s*leather")

# canonical certification/rating -> regex (case-insensitive unless the entry says otherwise)
CERTIFICATIONS: dict[str, str] = {
    "bpa-free": r"bpa[\s-]*free",
    "isi": r"isi(?:[\s-]*(?:mark(?:ed)?|certified|approved))?",
    "fda": r"(?:us[\s-]*)?fda(?:[\s-]*(?:approved|certified|compliant|grade))?",
    "bis": r"bis(?:[\s-]*(?:hallmark(?:ed)?|certified))?",
    "hallmark": r"hallmark(?:ed)?",
    "rohs": r"rohs(?:[\s-]*compliant)?",
    "fsc": r"fsc(?:[\s-]*certified)?",
    "oeko-tex": r"oeko[\s-]*tex(?:\s*(?:standard\s*)?100)?",
    "gots": r"gots(?:[\s-]*certified)?",
    "energy star": r"energy[\s-]*star",
    "waterproof": r"water[\s-]*proof",
    "water resistant": r"water[\s-]*resistan(?:t|ce)",
    "water repellent": r"water[\s-]*repellent",
    "dustproof": r"dust[\s-]*proof",
    "shockproof": r"shock[\s-]*proof",
    "hypoallergenic": r"hypo[\s-]*allergenic",
    "dermatologically tested": r"dermatologically[\s-]*tested",
    "organic": r"(?:certified[\s-]*)?organic",
    "vegan": r"vegan(?![\s-]*leather)",
    "cruelty-free": r"cruelty[\s-]*free",
    "paraben-free": r"paraben[\s-]*free",
    "lead-free": r"lead[\s-]*free",
    "nickel-free": r"nickel[\s-]*free",
    "non-toxic": r"non[\s-]*toxic",
    "aluminum-free": r"alumin(?:i)?um[\s-]*free",
}
_CASE_SENSITIVE_CERTS = {"ce": r"CE(?:[\s-]*(?:certified|marked|mark|approved))?", "ul": r"UL[\s-]*listed"}
# A claim of the key is also backed by an attribute stating one of the values (a stronger rating).
_CERT_IMPLIED_BY: dict[str, tuple[str, ...]] = {
    "water resistant": ("waterproof",),
    "water repellent": ("waterproof", "water resistant"),
    "hallmark": ("bis",),
    "bis": ("hallmark",),
}
GENDERS: dict[str, str] = {
    "men": "men", "man": "men", "mens": "men", "men's": "men", "gents": "men", "male": "men",
    "women": "women", "woman": "women", "womens": "women", "women's": "women", "ladies": "women",
    "lady": "women", "female": "women",
    "boys": "boys", "boy": "boys", "boy's": "boys", "boys'": "boys",
    "girls": "girls", "girl": "girls", "girl's": "girls", "girls'": "girls",
    "kids": "kids", "kid's": "kids", "kids'": "kids", "children": "kids", "children's": "kids",
    "unisex": "unisex",
}  # fmt: skip
# Shop promises a product description must not make up (they are policies, not attributes).
OFFERS: dict[str, str] = {
    "free shipping": r"free\s+(?:shipping|delivery)",
    "cash on delivery": r"cash\s+on\s+delivery|\bcod\b",
    "returns": r"(?:easy|free|hassle[\s-]*free)\s+returns?|\d+[\s-]*days?\s+(?:easy\s+)?(?:returns?|replacement|exchange)"
    r"|(?:return|replacement|exchange|refund)\s+polic(?:y|ies)|money[\s-]*back",
    "best price": r"(?:lowest|best|cheapest)\s+prices?",
    "genuine": r"(?:100%\s+)?(?:genuine|original|authentic)\s+products?",
    "discount": r"discount(?:ed)?|on\s+sale|special\s+offer|limited[\s-]+(?:time|period)\s+offer",
    "in stock": r"in\s+stock|ships?\s+(?:today|tomorrow|within)",
    "sold online": r"(?:buy|shop|order)\s+(?:[\w.-]+\s+){0,6}?online|online\s+in\s+india",
}
COUNTRIES = _words(
    "india china italy usa america japan germany france uk england britain korea vietnam bangladesh "
    "turkey thailand indonesia spain portugal sri lanka nepal pakistan mexico brazil canada australia"
)
_ORIGIN_RE = re.compile(
    r"(?:made|manufactured|produced|designed|crafted|handmade|hand[\s-]made|imported|sourced)\s+(?:in|from)\s+"
    r"(?:the\s+)?(" + "|".join(sorted(COUNTRIES, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
# Well-known brands a small model likes to name-drop; the catalogue's own are added per shop.
FAMOUS_BRANDS = _words(
    "nike adidas puma reebok asics skechers fila crocs converse vans levi's levis zara gucci prada "
    "chanel rolex casio titan fossil timex lacoste ray-ban apple samsung sony philips bosch panasonic "
    "lenovo asus acer xiaomi oneplus nokia motorola canon nikon maybelline lakme nivea loreal l'oreal "
    "tupperware ikea prestige milton pigeon gillette colgate"
) + ["new balance", "under armour", "tommy hilfiger", "calvin klein", "louis vuitton", "h&m"]
# Catalogue brands that are ordinary words are not brand claims when they appear in copy.
_COMMON_WORDS = frozenset(
    _words(
        "generic imported only regular slim prime mode classic royal fashion style home plush mineral "
        "vitamins suave oasis freelance turbo zebra glacier kings elegance traditions treasure sunrise "
        "galaxy pearl corona mars selfcare ski sumo allure caffeine zed oye redesign reinvent noor "
        "tuelip oner garnet asian bento kennel packman smart new best great super premium natural"
    )
) | {"regular fit", "skinny fit", "slim fit", "first choice", "love more", "i know", "done by none"}

_FAMOUS = frozenset(FAMOUS_BRANDS)
_COLOURS = frozenset(COLOUR_FAMILY)
_MATERIALS = frozenset(MATERIAL_GROUP)
_GENDER_WORDS = frozenset(GENDERS)

# -- units -----------------------------------------------------------------------------------------
# unit (lower-case) -> (dimension, factor to the dimension's base unit)
UNITS: dict[str, tuple[str, float]] = {
    **{u: ("length", 0.001) for u in ("mm", "millimetre", "millimetres", "millimeter", "millimeters")},
    **{u: ("length", 0.01) for u in ("cm", "cms", "centimetre", "centimetres", "centimeter", "centimeters")},
    **{u: ("length", 1.0) for u in ("m", "metre", "metres", "meter", "meters", "mtr", "mtrs")},
    **{u: ("length", 1000.0) for u in ("km", "kms", "kilometre", "kilometres", "kilometer", "kilometers")},
    **{u: ("length", 0.0254) for u in ("in", "inch", "inches", '"', "″")},
    **{u: ("length", 0.3048) for u in ("ft", "feet", "foot")},
    **{u: ("length", 0.9144) for u in ("yd", "yds", "yard", "yards")},
    **{u: ("mass", 1e-6) for u in ("mg", "milligram", "milligrams")},
    **{u: ("mass", 0.001) for u in ("g", "gm", "gms", "gram", "grams", "gramme", "grammes")},
    **{u: ("mass", 1.0) for u in ("kg", "kgs", "kilogram", "kilograms", "kilo", "kilos")},
    **{u: ("mass", 0.45359237) for u in ("lb", "lbs", "pound", "pounds")},
    **{u: ("mass", 0.028349523125) for u in ("oz", "ounce", "ounces")},
    **{u: ("volume", 0.001) for u in ("ml", "millilitre", "millilitres", "milliliter", "milliliters")},
    **{u: ("volume", 0.01) for u in ("cl",)},
    **{u: ("volume", 1.0) for u in ("l", "litre", "litres", "liter", "liters", "ltr", "ltrs")},
    **{u: ("volume", 0.0295735) for u in ("fl oz", "fl. oz", "fl.oz", "fluid ounce", "fluid ounces")},
    **{u: ("volume", 3.78541) for u in ("gal", "gallon", "gallons")},
    **{u: ("power", 1.0) for u in ("w", "watt", "watts")},
    **{u: ("power", 1000.0) for u in ("kw", "kilowatt", "kilowatts")},
    **{u: ("voltage", 1.0) for u in ("v", "volt", "volts")},
    **{u: ("charge", 1.0) for u in ("mah",)},
    **{u: ("data", 0.001) for u in ("mb",)},
    **{u: ("data", 1.0) for u in ("gb",)},
    **{u: ("data", 1000.0) for u in ("tb",)},
    **{u: ("frequency", 1.0) for u in ("hz",)},
    **{u: ("frequency", 1e3) for u in ("khz",)},
    **{u: ("frequency", 1e6) for u in ("mhz",)},
    **{u: ("frequency", 1e9) for u in ("ghz",)},
    **{u: ("pixels", 1.0) for u in ("mp", "megapixel", "megapixels")},
    **{u: ("time", 1.0) for u in ("sec", "secs", "second", "seconds")},
    **{u: ("time", 60.0) for u in ("min", "mins", "minute", "minutes")},
    **{u: ("time", 3600.0) for u in ("hr", "hrs", "hour", "hours")},
    **{u: ("time", 86400.0) for u in ("day", "days")},
    **{u: ("time", 604800.0) for u in ("week", "weeks")},
    **{u: ("time", 2629800.0) for u in ("month", "months")},
    **{u: ("time", 31557600.0) for u in ("year", "years", "yr", "yrs")},
    **{u: ("pieces", 1.0) for u in ("pc", "pcs", "piece", "pieces")},
    **{u: ("pairs", 1.0) for u in ("pair", "pairs")},
    **{u: ("karat", 1.0) for u in ("k", "kt", "karat", "karats")},
    **{u: ("carat", 1.0) for u in ("ct", "carat", "carats")},
    **{u: ("loudness", 1.0) for u in ("db",)},
    **{u: ("light", 1.0) for u in ("lm", "lumen", "lumens")},
    **{u: ("speed", 1.0) for u in ("rpm",)},
    **{u: ("temperature_c", 1.0) for u in ("°c", "° c", "degrees c", "degree celsius", "degrees celsius")},
    **{u: ("temperature_f", 1.0) for u in ("°f", "° f", "degrees f", "degrees fahrenheit")},
    **{u: ("threads", 1.0) for u in ("tc", "thread count")},
    **{u: ("gsm", 1.0) for u in ("gsm",)},
}  # fmt: skip
WORD_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "eighteen": 18,
    "twenty": 20, "twenty-four": 24, "thirty": 30, "sixty": 60, "ninety": 90,
}  # fmt: skip

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
# "in" only counts as inches at the end of a phrase ("6 in", "6 in x 4 in"), not in "2 in 1".
_UNIT_RE = rf"(?:{_UNIT_ALT})(?:(?<=[a-z])(?![a-z0-9])|(?<![a-z]))"
_NUMBER_WORDS_ALT = "|".join(sorted((w for w in WORD_NUMBERS if len(w) > 2), key=len, reverse=True))
_DURATION = rf"({_NUM}|{_NUMBER_WORDS_ALT}|a|an)\s*[-\s]?\s*(years?|yrs?|months?|weeks?|days?)(?:'s|’s|s')?"
_WARRANTY_RES = [
    re.compile(
        rf"(?<![\w.]){_DURATION}\s*[-\s]?\s*(?:(?:[a-z]+\s+){{0,3}})?(?:warranty|guarantee)", re.IGNORECASE
    ),
    re.compile(
        rf"(?:warranty|guarantee)\s+(?:period\s+)?(?:of\s+|for\s+)?(?:up\s+to\s+)?{_DURATION}", re.IGNORECASE
    ),
    re.compile(
        r"(?:life[\s-]*time|limited\s+lifetime)\s+(?:[a-z]+\s+){0,2}(?:warranty|guarantee)", re.IGNORECASE
    ),
    re.compile(r"(?:warranty|guarantee)(?!\s+(?:card|claim))", re.IGNORECASE),
]
_PRICE_RES = [
    re.compile(rf"(?:(?<![a-z])(?:rs\.?|inr|usd|eur|gbp)|₹|us\$|\$|€|£)\s*({_NUM})(?![\w])", re.IGNORECASE),
    re.compile(
        rf"(?<![\w.])({_NUM})\s*(?:rs\.?|inr|rupees?|usd|dollars?|eur|euros?|gbp)(?![\w])", re.IGNORECASE
    ),
]
_DIMS_RE = re.compile(
    rf"(?<![\w.])({_NUM})\s*({_UNIT_RE})?\s*[x×*]\s*({_NUM})\s*({_UNIT_RE})?"
    rf"(?:\s*[x×*]\s*({_NUM})\s*({_UNIT_RE})?)?(?![\w])",
    re.IGNORECASE,
)
_RANGE_RE = re.compile(
    rf"(?<![\w.])({_NUM})\s*({_UNIT_RE})?\s*(?:-|–|to)\s*({_NUM})\s*({_UNIT_RE})(?![\w])", re.IGNORECASE
)
_PERCENT_RE = re.compile(rf"(?<![\w.])({_NUM})\s*(?:%|percent|per\s+cent)", re.IGNORECASE)
_PACK_RE = re.compile(rf"(?:pack|set|box|bundle)\s+of\s+({_NUM}|{_NUMBER_WORDS_ALT})(?![\w])", re.IGNORECASE)
_QUANTITY_RE = re.compile(rf"(?<![\w.])({_NUM})\s*-?\s*({_UNIT_RE})", re.IGNORECASE)
_BARE_NUMBER_RE = re.compile(rf"(?<![\w.])({_NUM})(?![\w]|\.\d)")
# "13th birthday", "2nd generation": an ordinal is a number claim too (the bare-number pattern stops at
# the letters after it)
_ORDINAL_RE = re.compile(r"(?<![\w.])(\d{1,4})(?:st|nd|rd|th)(?![\w])", re.IGNORECASE)
# A token mixing digits and letters ("670o", "4K", "X200", "1080p"): a code or spec the copy may only
# repeat from the attributes. A small model garbles long codes ("670o" for style code 670038), and the
# number patterns above stop at the letters, so without this it would pass as no claim at all.
_CODE_RE = re.compile(r"(?<![\w.])(?=[\w.]*\d)(?=[\w.]*[a-z])[a-z\d]+(?:\.[a-z\d]+)*(?![\w])", re.IGNORECASE)
_LETTER_SIZE = r"(?:XXS|XS|S|M|L|XL|XXL|XXXL|[2-6]XL)"
_LETTER_SIZES_RE = re.compile(
    rf"\bsizes?\s*:?\s*({_LETTER_SIZE}(?:\s*(?:,|/|and|or|&|to|-)\s*{_LETTER_SIZE})*)\b", re.IGNORECASE
)
_LETTER_SIZE_RE = re.compile(rf"(?<![\w-]){_LETTER_SIZE}(?![\w-])", re.IGNORECASE)
_BIG_LETTER_SIZE_RE = re.compile(r"(?<![\w-])(?:XXS|XS|XL|XXL|XXXL|[2-6]XL)(?![\w-])")
_NUMERIC_SIZE_RE = re.compile(
    r"(?:\b(US|UK|EU|EUR)\s*|\b(?i:size)\s+)(\d+(?:\.5)?)(?:\s*(?:-|–|to)\s*(\d+(?:\.5)?))?(?![\w]|\.\d)"
)
_NAMED_SIZE_RE = re.compile(
    r"\b(california\s+king|super\s+king|queen|king|single|double|twin|free|one|plus)[\s-]+size[ds]?\b",
    re.IGNORECASE,
)
_WORD_RE = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


class Claim(BaseModel):
    """One value the copy names, where it is, and (once checked) whether the attributes back it."""

    model_config = ConfigDict(frozen=True)

    kind: ClaimKind = Field(description="What sort of value the claim names")
    text: str = Field(description="The claim exactly as it appears in the copy")
    start: int = Field(ge=0, description="Character offset of the claim in the copy")
    end: int = Field(ge=0, description="Offset just past the claim")
    value: str = Field(
        default="", description="Normalized value, e.g. 'volume=1.5' (litres) or 'colour=navy'"
    )
    supported: bool | None = Field(default=None, description="None until checked")
    reason: str = Field(
        default="", description="Why an unsupported claim is unsupported (what the data says)"
    )


class ClaimCheck(BaseModel):
    """A copy checked against one product's attributes."""

    claims: list[Claim] = Field(description="Every claim found, each marked supported or not")
    unsupported: list[Claim] = Field(description="The claims the attributes do not back")
    coverage: float = Field(ge=0.0, le=1.0, description="Share of key attributes the copy mentions")
    mentioned: list[str] = Field(description="Key attributes the copy mentions")
    missing: list[str] = Field(description="Key attributes the copy leaves out")

    @property
    def ok(self) -> bool:
        return not self.unsupported


@dataclass(frozen=True)
class Quantity:
    dimension: str
    value: float  # in the dimension's base unit
    raw: float  # the number as written
    unit: str


@dataclass
class _Found:
    kind: ClaimKind
    start: int
    end: int
    value: str
    quantities: tuple[Quantity, ...] = ()
    number: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# -- helpers ---------------------------------------------------------------------------------------
def normalize(text: str) -> str:
    """Lower-case, curly quotes straightened, hyphens between words and runs of spaces as one space."""
    text = text.lower().replace("’", "'").replace("–", "-")
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _to_number(raw: str) -> float | None:
    raw = raw.strip().lower()
    if raw in WORD_NUMBERS:
        return float(WORD_NUMBERS[raw])
    try:
        return float(raw.replace(",", ""))
    except ValueError:
        return None


def _quantity(number: str, unit: str | None) -> Quantity | None:
    value = _to_number(number)
    key = re.sub(r"\s+", " ", (unit or "").strip().lower())
    spec = UNITS.get(key)
    if value is None or spec is None:
        return None
    return Quantity(spec[0], value * spec[1], value, key)


def _unit_ok(text: str, unit_start: int, unit_end: int) -> bool:
    """Units that are also ordinary tokens count only where they read as units: "2 in 1" (or
    "2-in-1") is not two inches, "5G" and "4K" are not grams or karats, "18K gold" is."""
    unit = text[unit_start:unit_end]
    after = text[unit_end : unit_end + 16]
    if unit.lower() == "in":
        return (
            re.match(r"[\s-]+[a-z0-9]", after, re.IGNORECASE) is None
            or re.match(r"\s*[x×]", after) is not None
        )
    attached = unit_start > 0 and text[unit_start - 1].isdigit()
    if unit in ("G", "K") and attached:
        return unit == "K" and re.match(r"\s*(?:white |yellow |rose )?gold", after, re.IGNORECASE) is not None
    if unit.lower() in ("k", "kt"):
        return re.match(r"\s*(?:white |yellow |rose )?gold", after, re.IGNORECASE) is not None
    return True


def same_value(a: float, b: float, tolerance: float = TOLERANCE) -> bool:
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=1e-9)


def _phrase_in(phrase: str, text: str) -> bool:
    """Whole-word (or whole-phrase) containment on normalized text."""
    return re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", text) is not None


def _months(number: str, unit: str) -> float | None:
    value = _to_number(number)
    per = {"y": 12.0, "m": 1.0, "w": 12 / 52, "d": 12 / 365}.get(unit.lower()[:1])
    return None if value is None or per is None else value * per


# -- extraction ------------------------------------------------------------------------------------
def _add(found: list[_Found], item: _Found) -> None:
    """Keep the first claim for any stretch of text: extractors run most specific first."""
    if item.end > item.start and not any(item.start < f.end and f.start < item.end for f in found):
        found.append(item)


def _extract_warranties(text: str, found: list[_Found]) -> None:
    for k, rx in enumerate(_WARRANTY_RES):
        for m in rx.finditer(text):
            if k <= 1:
                months = _months(m.group(1), m.group(2))
                value = f"warranty={months:g} months" if months is not None else "warranty"
                _add(found, _Found("warranty", m.start(), m.end(), value, extra={"months": months}))
            elif k == 2:
                _add(
                    found,
                    _Found("warranty", m.start(), m.end(), "warranty=lifetime", extra={"lifetime": True}),
                )
            else:
                _add(found, _Found("warranty", m.start(), m.end(), "warranty"))


def _extract_certifications(text: str, found: list[_Found]) -> None:
    for m in re.finditer(r"(?<![\w])IP[X\d]\d(?![\w])", text, re.IGNORECASE):
        name = m.group(0).lower()
        _add(
            found, _Found("certification", m.start(), m.end(), f"certification={name}", extra={"name": name})
        )
    iso = r"(?<![\w])ISO[\s-]*(\d{3,5})(?::\d{4})?(?:[\s-]*certified)?(?![\w])"
    for m in re.finditer(iso, text, re.IGNORECASE):
        name = f"iso {m.group(1)}"
        _add(
            found, _Found("certification", m.start(), m.end(), f"certification={name}", extra={"name": name})
        )
    for table, flags in ((CERTIFICATIONS, re.IGNORECASE), (_CASE_SENSITIVE_CERTS, 0)):
        for name, pattern in table.items():
            for m in re.finditer(rf"(?<![\w]){pattern}(?![\w])", text, flags):
                # "not waterproof", "Organic: No" state the opposite: a claim the data must negate
                before, after = text[max(0, m.start() - 8) : m.start()], text[m.end() : m.end() + 12]
                negated = bool(_NEGATED_BEFORE.search(before) or _NEGATED_AFTER.match(after))
                value = f"certification={'not ' if negated else ''}{name}"
                _add(
                    found,
                    _Found(
                        "certification", m.start(), m.end(), value, extra={"name": name, "negated": negated}
                    ),
                )


_NEGATED_BEFORE = re.compile(r"\b(?:not|non|no)[\s-]*$", re.IGNORECASE)
_NEGATED_AFTER = re.compile(r"\s*:\s*(?:no|false|none)\b", re.IGNORECASE)


def _extract_sizes(text: str, found: list[_Found]) -> None:
    for m in _NAMED_SIZE_RE.finditer(text):
        name = re.sub(r"\s+", " ", m.group(1).lower())
        _add(found, _Found("size", m.start(), m.end(), f"size={name}", extra={"named": name}))
    for m in _NUMERIC_SIZE_RE.finditer(text):
        system = (m.group(1) or "SIZE").upper().replace("EUR", "EU")
        low = float(m.group(2))
        high = float(m.group(3)) if m.group(3) else low
        shown = f"{low:g}" + (f"-{high:g}" if high != low else "")
        _add(
            found,
            _Found(
                "size",
                m.start(),
                m.end(),
                f"size={system} {shown}",
                extra={"system": system, "range": (low, high)},
            ),
        )
    for m in _LETTER_SIZES_RE.finditer(text):
        offset = m.start(1)
        for s in _LETTER_SIZE_RE.finditer(m.group(1)):
            letter = s.group(0).upper()
            _add(
                found,
                _Found(
                    "size", offset + s.start(), offset + s.end(), f"size={letter}", extra={"letter": letter}
                ),
            )
    for m in _BIG_LETTER_SIZE_RE.finditer(text):
        _add(found, _Found("size", m.start(), m.end(), f"size={m.group(0)}", extra={"letter": m.group(0)}))


def _quantities_of(m: re.Match[str], text: str) -> tuple[Quantity, ...] | None:
    """(number, unit) group pairs of a dimension or range match; a missing unit borrows the last one."""
    groups = m.groups()
    pairs = [(groups[i], groups[i + 1], i + 1) for i in range(0, len(groups), 2) if groups[i]]
    last = next(((u, g) for n, u, g in reversed(pairs) if u), None)
    if last is None or not _unit_ok(text, m.start(last[1] + 1), m.end(last[1] + 1)):
        return None
    out = []
    for n, u, _ in pairs:
        q = _quantity(n, u or last[0])
        if q is None:
            return None
        out.append(q)
    return tuple(out)


def _extract_numbers(text: str, found: list[_Found]) -> None:
    for rx in _PRICE_RES:
        for m in rx.finditer(text):
            n = _to_number(m.group(1))
            if n is not None:
                _add(found, _Found("price", m.start(), m.end(), f"price={n:g}", number=n))
    for m in _PERCENT_RE.finditer(text):
        n = _to_number(m.group(1))
        if n is not None:
            _add(found, _Found("percent", m.start(), m.end(), f"percent={n:g}", number=n))
    for m in _PACK_RE.finditer(text):
        n = _to_number(m.group(1))
        if n is not None:
            _add(found, _Found("number", m.start(), m.end(), f"pack={n:g}", number=n, extra={"pack": True}))
    for rx in (_DIMS_RE, _RANGE_RE):
        for m in rx.finditer(text):
            qs = _quantities_of(m, text)
            if qs:
                value = f"{qs[0].dimension}=" + ("-" if rx is _RANGE_RE else " x ").join(
                    f"{q.value:g}" for q in qs
                )
                _add(found, _Found("number", m.start(), m.end(), value, quantities=qs))
    for m in _QUANTITY_RE.finditer(text):
        q = _quantity(m.group(1), m.group(2))
        if q is not None and _unit_ok(text, m.start(2), m.end(2)):
            _add(found, _Found("number", m.start(), m.end(), f"{q.dimension}={q.value:g}", quantities=(q,)))
    for m in _BARE_NUMBER_RE.finditer(text):
        n = _to_number(m.group(1))
        if n is not None:
            _add(found, _Found("number", m.start(), m.end(), f"number={n:g}", number=n))
    for m in _ORDINAL_RE.finditer(text):
        n = float(m.group(1))
        _add(found, _Found("number", m.start(), m.end(), f"number={n:g}", number=n))


def _extract_codes(text: str, found: list[_Found]) -> None:
    """Tokens of digits and letters the number patterns left (after units, sizes and ordinals)."""
    for m in _CODE_RE.finditer(text):
        code = m.group(0).lower()
        _add(found, _Found("number", m.start(), m.end(), f"code={code}", extra={"code": code}))


def _phrase_key(phrase: str) -> str:
    return re.sub(r"[\s-]+", "", phrase.lower().replace("’", "'"))


@lru_cache(maxsize=64)
def _vocabulary_regex(
    vocabulary: frozenset[str], compounds: bool = False
) -> tuple[re.Pattern[str], dict[str, str]]:
    """One alternation for a whole vocabulary (longest phrase first, so "navy blue" wins over
    "blue"), and the phrase each spelling stands for ("off white" and "off-white" alike). With
    `compounds`, a phrase is also found as part of a hyphenated word ("jet-black", "cream-coloured",
    "leather-bound"); else a hyphen ends a phrase only before "coloured", "toned", "plated"."""
    ordered = sorted(vocabulary, key=len, reverse=True)
    parts = [
        re.escape(p).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[\s-]?").replace("'", "['’]") for p in ordered
    ]
    if compounds:
        start, end = r"(?<![\w&'’])", r"(?![\w&]|['’]\w)"
    else:
        start, end = r"(?<![\w&'’-])", r"(?![\w&]|-(?!colou?r|ton|plat)|['’]\w)"
    pattern = re.compile(rf"{start}(?:{'|'.join(parts)}){end}", re.IGNORECASE)
    lookup: dict[str, str] = {}
    for phrase in ordered:
        lookup.setdefault(_phrase_key(phrase), phrase)
    return pattern, lookup


# Hyphenated words whose colour or material part names no colour or material of the product: idioms
# ("black-tie event", "crystal-clear sound", "button-down collar"), a look rather than the stuff
# ("leather-look", "wood-grain", "plastic-free", "non-metal"), a material naming a shade ("steel-grey").
_COMPOUND_IDIOMS = re.compile(
    r"black-tie|red-carpet|white-glove|blue-chip|gold-standard|silver-lining|red-hot|green-light|"
    r"white-collar|blue-collar|crystal-clear|.*\bdown\b.*",
    re.IGNORECASE,
)
_NOT_THE_MATERIAL_AFTER = re.compile(
    r"-(?:look|like|effect|inspired|feel|free|grain|print|style|finish|colou?r|ton|shade)", re.IGNORECASE
)
_NOT_THE_MATERIAL_BEFORE = re.compile(r"(?:\bnon|\banti|\bfaux|\bmock|\bimitation|\bfake)-$", re.IGNORECASE)


def _in_compound_idiom(text: str, start: int, end: int, kind: ClaimKind) -> bool:
    """Whether a colour or material found inside a hyphenated word is no claim (see `_COMPOUND_IDIOMS`)."""
    left = re.search(r"[\w-]*$", text[:start])
    right = re.match(r"[\w-]*", text[end:])
    before, after = left.group(0) if left else "", right.group(0) if right else ""
    if not before.endswith("-") and not after.startswith("-"):
        return False  # a word of its own
    if _COMPOUND_IDIOMS.fullmatch(before + text[start:end] + after):
        return True
    if kind != "material":
        return False
    shade = re.match(r"-([a-z]+)", after, re.IGNORECASE)
    return bool(
        _NOT_THE_MATERIAL_AFTER.match(after)
        or _NOT_THE_MATERIAL_BEFORE.search(before)
        or (shade and shade.group(1).lower() in COLOUR_FAMILY)
    )


def _extract_words(text: str, found: list[_Found], vocabulary: frozenset[str], kind: ClaimKind) -> None:
    if not vocabulary:
        return
    compounds = kind in ("colour", "material")
    pattern, lookup = _vocabulary_regex(vocabulary, compounds)
    for m in pattern.finditer(text):
        phrase = lookup.get(_phrase_key(m.group(0)))
        if phrase is None or (compounds and _in_compound_idiom(text, m.start(), m.end(), kind)):
            continue
        _add(found, _Found(kind, m.start(), m.end(), f"{kind}={phrase}", extra={"phrase": phrase}))


def _extract_offers(text: str, found: list[_Found]) -> None:
    for name, pattern in OFFERS.items():
        for m in re.finditer(rf"(?<![\w]){pattern}(?![\w])", text, re.IGNORECASE):
            _add(found, _Found("offer", m.start(), m.end(), f"offer={name}", extra={"name": name}))
    for m in _ORIGIN_RE.finditer(text):
        country = m.group(1).lower()
        _add(found, _Found("origin", m.start(), m.end(), f"origin={country}", extra={"country": country}))


def _extract_names(text: str, found: list[_Found]) -> None:
    """Capitalised words that do not start a sentence or line, and all-capital words anywhere:
    names of brands, products, places, people ("Deebabu", "Kenyan-based", "SHOGGAG"). Words the
    other extractors claimed are not repeated."""
    for sentence in sentence_spans(text, colon=True, capital_starts=True, bullets=False):
        words = list(re.finditer(r"[A-Za-z][\w'’&-]*", sentence.text))
        for k, w in enumerate(words):
            word = w.group(0)
            shouted = len(word) >= 3 and word.isupper()
            if (k > 0 or shouted) and word[:1].isupper() and word not in ALWAYS_OK and len(word) >= 2:
                start = sentence.start + w.start()
                _add(
                    found,
                    _Found("name", start, start + len(word), f"name={word.lower()}", extra={"word": word}),
                )


# Colour names that are more often something else (morning coffee, lavender oil, an orange): they
# are colour claims only where the text uses them as a colour ("in coffee", "coffee-coloured").
AMBIGUOUS_COLOURS = frozenset(
    _words(
        "coffee chocolate wine lime mint peach olive coral amber camel tan orange aqua mustard lavender violet lilac"
    )
)
_AS_COLOUR_AFTER = re.compile(
    r"\s*[-\s]?(?:colou?r(?:ed|s)?|shades?|tones?|hue|finish|dial|strap|\w+\s+colou?r)\b", re.I
)
_AS_COLOUR_BEFORE = re.compile(r"(?:\bin|\band|\bor|,|/)\s*$", re.IGNORECASE)


def _not_a_colour(text: str, f: _Found) -> bool:
    if f.extra.get("phrase") not in AMBIGUOUS_COLOURS:
        return False
    after, before = text[f.end : f.end + 24], text[max(0, f.start - 12) : f.start]
    return not (_AS_COLOUR_AFTER.match(after) or _AS_COLOUR_BEFORE.search(before))


def brand_set(brands: Iterable[str]) -> frozenset[str]:
    """Brand names as the extractor matches them (lower-case, no trailing full stop) plus the
    well-known ones."""
    return frozenset(b.strip().lower().rstrip(".") for b in brands if b.strip(" .")) | _FAMOUS


def _find(text: str, brands: frozenset[str] = frozenset(), names: bool = False) -> list[_Found]:
    """Every claim in `text`, in order of position. Earlier extractors win overlapping spans, so the
    "2" of "2-year warranty" is part of the warranty claim, not a number of its own. Names
    (capitalised words) are looked for in copy only, not in the attributes."""
    found: list[_Found] = []
    _extract_offers(text, found)
    _extract_warranties(text, found)
    _extract_certifications(text, found)
    _extract_sizes(text, found)
    _extract_numbers(text, found)
    _extract_codes(text, found)
    _extract_words(text, found, brands or _FAMOUS, "brand")
    _extract_words(text, found, _COLOURS, "colour")
    found[:] = [f for f in found if not (f.kind == "colour" and _not_a_colour(text, f))]
    _extract_words(text, found, _MATERIALS, "material")
    _extract_words(text, found, _GENDER_WORDS, "gender")
    if names:
        _extract_names(text, found)
    return sorted(found, key=lambda f: f.start)


def _claim(text: str, f: _Found, supported: bool | None = None, reason: str = "") -> Claim:
    return Claim(
        kind=f.kind, text=text[f.start : f.end], start=f.start, end=f.end, value=f.value,
        supported=supported, reason=reason,
    )  # fmt: skip


def extract(text: str, brands: Iterable[str] = ()) -> list[Claim]:
    """Every claim in `text` (unchecked), in order of position."""
    return [_claim(text, f) for f in _find(text, brand_set(brands), names=True)]


def _colour_name(phrase: str) -> str:
    """One spelling per colour: gray = grey, golden = gold, navy blue = navy, multi-colour = multicolour."""
    same = {
        "gray": "grey",
        "golden": "gold",
        "navy blue": "navy",
        "off-white": "off white",
        "silver-tone": "silver",
    }
    phrase = same.get(phrase, phrase)
    return "multicolour" if COLOUR_FAMILY.get(phrase) == "multicolour" else phrase


# -- the attributes side ---------------------------------------------------------------------------
def _clean_attributes(attributes: Mapping[str, Any]) -> dict[str, str]:
    return {str(k).strip(): str(v).strip() for k, v in attributes.items() if v is not None and str(v).strip()}


class AttributeFacts:
    """What one product's attributes state, read once with the same extractors as the copy, so
    both sides agree on what "1.5 L" or "navy" means."""

    def __init__(
        self, attributes: Mapping[str, Any], brands: Iterable[str] = (), audience: str = "", allowed: str = ""
    ) -> None:
        self.attributes = _clean_attributes(attributes)
        self.brands = brand_set(brands)
        self.text = normalize("\n".join(f"{k}: {v}" for k, v in self.attributes.items()))
        self.quantities: list[Quantity] = []
        self.numbers: set[float] = set()
        self.prices: set[float] = set()
        self.percents: set[float] = set()
        self.packs: set[float] = set()
        self.sizes: list[tuple[str, tuple[float, float]]] = []
        self.named_sizes: set[str] = set()
        self.letter_sizes: set[str] = set()
        self.certs: set[str] = set()
        self.negated: set[str] = set()
        self.warranty_months: set[float] = set()
        self.warranty_any = False
        self.warranty_lifetime = False
        self.genders: set[str] = set()
        for key, value in self.attributes.items():
            self._read(key, value)
        self.colours = {_colour_name(c) for c in COLOUR_FAMILY if _phrase_in(normalize(c), self.text)}
        self.audience_genders = {GENDERS[w] for w in _WORD_RE.findall(normalize(audience)) if w in GENDERS}
        self.words = set(_WORD_RE.findall(self.text))
        # The attributes with letters and digits joined where a space or hyphen parts them ("4 K", "X-200"),
        # so a code written together is found.
        self.joined = re.sub(r"(?<=\d)[\s-]+(?=[a-z])|(?<=[a-z])[\s-]+(?=\d)", "", self.text)
        # Names the merchant supplied (audience, shop name) and the templates' words in another language
        # may appear; they are not product facts. Any script's letters: "Qualität" is one word.
        self.allowed_words = set(re.findall(r"[^\W_]+(?:['’][^\W_]+)?", normalize(f"{audience} {allowed}")))

    def _read(self, key: str, value: str) -> None:
        line = f"{key}: {value}"
        for f in _find(line, self.brands):
            if f.kind == "number" and f.extra.get("pack") and f.number is not None:
                self.packs.add(f.number)
            elif f.kind == "number":
                self.quantities.extend(f.quantities)
            elif f.kind == "price" and f.number is not None:
                self.prices.add(f.number)
            elif f.kind == "percent" and f.number is not None:
                self.percents.add(f.number)
            elif f.kind == "certification":
                (self.negated if f.extra.get("negated") else self.certs).add(f.extra["name"])
            elif f.kind == "gender":
                self.genders.add(GENDERS[f.extra["phrase"]])
            elif f.kind == "size":
                self._read_size(f)
        self.numbers |= {n for n in (_to_number(x) for x in re.findall(_NUM, line)) if n is not None}
        k = key.lower()
        bare = _to_number(value) if re.fullmatch(_NUM, value.strip()) else None
        if k == "price":
            self.prices |= {n for n in (_to_number(x) for x in re.findall(_NUM, value)) if n is not None}
        if re.fullmatch(r"(?:pack|set)(?: of| size)?|number of (?:pieces|items)", k) and bare is not None:
            self.packs.add(bare)
        if "size" in k:
            self._read_size_value(value)
        if re.search(r"warrant|guarantee", line, re.IGNORECASE):
            self.warranty_any = self.warranty_any or not _NO_VALUE.fullmatch(value)
            for m in re.finditer(_DURATION, line, re.IGNORECASE):
                months = _months(m.group(1), m.group(2))
                if months is not None:
                    self.warranty_months.add(round(months, 3))
            self.warranty_lifetime = self.warranty_lifetime or bool(
                re.search(r"life\s*-?\s*time", line, re.I)
            )
        if re.fullmatch(r"no|false|not applicable|none", value.strip(), re.IGNORECASE):
            self.negated |= {f.extra["name"] for f in _find(key) if f.kind == "certification"}

    def _read_size(self, f: _Found) -> None:
        if "letter" in f.extra:
            self.letter_sizes.add(f.extra["letter"].upper())
        elif "range" in f.extra:
            self.sizes.append((f.extra["system"], f.extra["range"]))
        elif "named" in f.extra:
            self.named_sizes.add(f.extra["named"])

    def _read_size_value(self, value: str) -> None:
        """A size attribute's value may be bare: "9", "7-13", "L", "Queen"."""
        bare = re.fullmatch(r"\s*(\d+(?:\.5)?)\s*(?:(?:-|–|to)\s*(\d+(?:\.5)?))?\s*", value)
        if bare:
            low = float(bare.group(1))
            self.sizes.append(("SIZE", (low, float(bare.group(2)) if bare.group(2) else low)))
        for letter in re.findall(rf"(?<![\w-]){_LETTER_SIZE}(?![\w-])", value, re.IGNORECASE):
            self.letter_sizes.add(letter.upper())
        norm = normalize(value)
        self.named_sizes |= {
            w
            for w in ("queen", "king", "single", "double", "twin", "free", "one", "plus")
            if _phrase_in(w, norm)
        }

    # -- judgements ----------------------------------------------------------------------------
    def judge(self, f: _Found) -> tuple[bool, str]:
        """Whether the attributes back one claim, and if not, what they say instead."""
        if f.kind == "number":
            return self._judge_number(f)
        if f.kind in ("price", "percent"):
            assert f.number is not None
            pool = self.prices | self.numbers if f.kind == "price" else self.percents
            ok = any(same_value(f.number, p, 0.005) for p in pool)
            return ok, "" if ok else _say(f.kind, sorted(self.prices if f.kind == "price" else self.percents))
        if f.kind == "colour":
            return self._judge_colour(f.extra["phrase"])
        if f.kind == "material":
            return self._judge_material(f.extra["phrase"])
        if f.kind == "brand":
            ok = _phrase_in(normalize(f.extra["phrase"]), self.text)
            return ok, "" if ok else "the attributes name no such brand"
        if f.kind == "certification":
            if f.extra.get("negated"):
                ok = f.extra["name"] in self.negated
                return ok, "" if ok else f"the attributes do not say it is not {f.extra['name']}"
            return self._judge_certification(f.extra["name"])
        if f.kind == "warranty":
            return self._judge_warranty(f)
        if f.kind == "gender":
            return self._judge_gender(GENDERS[f.extra["phrase"]])
        if f.kind == "offer":
            ok = (
                re.search(rf"(?<![\w]){OFFERS[f.extra['name']]}(?![\w])", self.text, re.IGNORECASE)
                is not None
            )
            return ok, "" if ok else "shop promises are not product attributes"
        if f.kind == "origin":
            ok = _phrase_in(f.extra["country"], self.text)
            return ok, "" if ok else "the attributes do not give this origin"
        if f.kind == "name":
            word = normalize(f.extra["word"]).strip("'")
            ok = word in self.words or _phrase_in(word, self.text) or word in self.allowed_words
            return ok, "" if ok else "a name the attributes do not contain"
        return self._judge_size(f)

    def _judge_number(self, f: _Found) -> tuple[bool, str]:
        if "code" in f.extra:
            return self._judge_code(f.extra["code"])
        if f.extra.get("pack"):
            ok = f.number in self.packs or (f.number == 1 and not self.packs)
            return ok, "" if ok else _say("pack size", sorted(self.packs))
        if not f.quantities:
            ok = f.number in self.numbers
            return ok, "" if ok else _garbled(f.value.split("=")[1], self.numbers)
        problems = []
        for q in f.quantities:
            same_dim = [a for a in self.quantities if a.dimension == q.dimension]
            if any(same_value(q.value, a.value) for a in same_dim):
                continue
            if any(a.unit == q.unit and same_value(a.raw, q.raw) for a in self.quantities):
                continue  # the same words ("1 oz") even where the unit is ambiguous
            near = ", ".join(f"{a.raw:g} {a.unit}" for a in same_dim[:3])
            problems.append(f"the attributes say {near}" if near else f"no {q.dimension} in the attributes")
        return not problems, "; ".join(problems)

    def _judge_code(self, code: str) -> tuple[bool, str]:
        """A code is backed only by the same token in the attributes ("4K" also by "4 K"), or by a number
        and a word they state apart ("3pack" for "Pack of 3")."""
        if _phrase_in(code, self.text) or _phrase_in(code, self.joined):
            return True, ""
        runs = re.findall(r"\d+(?:\.\d+)?|[a-z]+", code)
        if len(runs) == 2:
            number, word = runs if runs[0][0].isdigit() else runs[::-1]
            if _to_number(number) in self.numbers and word in self.words:
                return True, ""
        return False, _garbled(code, self.numbers)

    def _judge_colour(self, phrase: str) -> tuple[bool, str]:
        name = _colour_name(phrase)
        if name == "multicolour":
            ok = "multicolour" in self.colours or len({COLOUR_FAMILY.get(c, c) for c in self.colours}) >= 2
            return ok, "" if ok else _say("colour", sorted(self.colours))
        if name in self.colours:
            return True, ""
        general = COLOUR_FAMILY.get(name) == name
        if general and any(COLOUR_FAMILY.get(c) == name for c in self.colours):
            return True, ""  # "blue" for a navy product: vaguer than the data, still true
        return False, _say("colour", sorted(self.colours))

    def _judge_material(self, phrase: str) -> tuple[bool, str]:
        for cand in (phrase, *MATERIAL_SYNONYMS.get(phrase, ())):
            norm = normalize(cand)
            if not _phrase_in(norm, self.text):
                continue
            if cand == "leather" and not _phrase_in("leather", _NOT_REAL_LEATHER.sub(" ", self.text)):
                continue  # "leather" is not backed by faux or PU leather
            return True, ""
        group = GENERIC_MATERIALS.get(phrase)
        if group and any(
            g == group and _phrase_in(normalize(m), self.text) for m, g in MATERIAL_GROUP.items()
        ):
            return True, ""
        stated = sorted(m for m in MATERIAL_GROUP if len(m) > 2 and _phrase_in(normalize(m), self.text))
        return False, _say("material", stated)

    def _judge_certification(self, name: str) -> tuple[bool, str]:
        if name in self.negated:
            return False, f"the attributes say it is not {name}"
        if name.startswith("ip"):
            ok = any(c.startswith("ip") and c[-1] == name[-1] for c in self.certs)
        else:
            backing = {name, *_CERT_IMPLIED_BY.get(name, ())}
            ok = bool(backing & self.certs) or any(_phrase_in(normalize(b), self.text) for b in backing)
        return ok, "" if ok else f"the attributes do not state {name}"

    def _judge_warranty(self, f: _Found) -> tuple[bool, str]:
        if not self.warranty_any and not self.warranty_months:
            return False, "no warranty in the attributes"
        if f.extra.get("lifetime"):
            return (
                self.warranty_lifetime,
                "" if self.warranty_lifetime else "the attributes give no lifetime warranty",
            )
        months = f.extra.get("months")
        if months is None:
            return True, ""
        if any(same_value(months, m, 0.03) for m in self.warranty_months):
            return True, ""
        stated = ", ".join(f"{m:g} months" for m in sorted(self.warranty_months))
        return False, f"the attributes say {stated}" if stated else "the attributes give no warranty period"

    def _judge_gender(self, who: str) -> tuple[bool, str]:
        stated = self.genders
        if not stated:
            ok = who in self.audience_genders
            return ok, "" if ok else "the attributes do not say who it is for"
        implied = set(stated)
        if "unisex" in stated:
            implied |= {"men", "women"}
        if {"boys", "girls"} & stated:
            implied.add("kids")
        if "kids" in stated:
            implied |= {"boys", "girls"}
        if {"men", "women"} <= stated:
            implied.add("unisex")
        ok = who in implied
        return ok, "" if ok else f"the attributes say {', '.join(sorted(stated))}"

    def _judge_size(self, f: _Found) -> tuple[bool, str]:
        if "range" in f.extra:
            system, (low, high) = f.extra["system"], f.extra["range"]
            for s, (a, b) in self.sizes:
                if (s == system or "SIZE" in (s, system)) and a <= low and high <= b:
                    return True, ""  # US 9 for a product sized US 7-13
            stated = [f"{s} {a:g}" + (f"-{b:g}" if b != a else "") for s, (a, b) in self.sizes]
            return False, _say("size", stated)
        if "letter" in f.extra:
            ok = f.extra["letter"].upper() in self.letter_sizes
            return ok, "" if ok else _say("size", sorted(self.letter_sizes))
        name = f.extra["named"]
        ok = name in self.named_sizes or _phrase_in(f"{name} size", self.text)
        return ok, "" if ok else _say("size", sorted(self.named_sizes))


def _garbled(written: str, numbers: Iterable[float]) -> str:
    """Why a number or code is unsupported; where its digits are most of an attribute number's (670 or
    670o for 670038, 67038), it names that number, so a retry can copy it right or leave it out."""
    digits = re.sub(r"\D", "", written)
    near = [
        f"{n:g}"
        for n in sorted(numbers)
        if n == int(n)
        and n >= 1000
        and len(digits) >= 3
        and (_near_digits(digits, f"{n:g}") or (digits == f"{n:g}" and digits != written))
    ]
    return f"{written} is not in the attributes" + (f" (they say {near[0]})" if near else "")


def _near_digits(a: str, b: str) -> bool:
    """Whether digit string `a` is a cut or a one-digit slip of `b` (a prefix, or one digit changed,
    dropped or added): what a small model makes of a long code it copies."""
    if a == b:
        return False
    if b.startswith(a) or b.endswith(a):
        return True
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = sorted((a, b), key=len)
    return len(long_) - len(short) == 1 and any(
        long_[:i] + long_[i + 1 :] == short for i in range(len(long_))
    )


def _say(what: str, values: Sequence[Any]) -> str:
    if not values:
        return f"no {what} in the attributes"
    shown = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values[:4])
    return f"the attributes say {shown}"


# -- key attributes and coverage ---------------------------------------------------------------------
KEY_FIELDS = ("brand", "category", "colour", "color", "material", "size")
SKIP_KEYS = re.compile(
    r"(?:title|price|tags|currency|rating|stock|id|sku|ean|upc|gtin|asin|model (?:number|id|name)|"
    r"style code|part number|serial.*|sales package|number of contents.*|in the box|covered in warranty)",
    re.IGNORECASE,
)
_NO_VALUE = re.compile(r"\s*(?:na|n/a|na k|none|0|-|not applicable|nil)\s*", re.IGNORECASE)
_STOP = frozenset(_words("the and for with of a an in on to by or from this that"))


def is_no_value(value: str) -> bool:
    """ "NA", "none", "-", "0", "nil": a value that says there is none (no key attribute, no fact)."""
    return bool(_NO_VALUE.fullmatch(value))


def key_attributes(attributes: Mapping[str, Any], spec_count: int = 3) -> dict[str, str]:
    """The attributes a description should mention: brand, category, colour, material and size,
    then the first `spec_count` other specifications. Never the title, price, ids, tags or the
    package list, nor values that are empty, 'NA' or long free text (over 12 words)."""
    keys: dict[str, str] = {}
    specs = 0
    for key, value in _clean_attributes(attributes).items():
        k = key.lower()
        if SKIP_KEYS.fullmatch(k) or _NO_VALUE.fullmatch(value) or len(value.split()) > 12:
            continue
        if k in KEY_FIELDS:
            keys[key] = value
        elif specs < spec_count:
            keys[key] = value
            specs += 1
    return keys


def _quantities_in(text: str) -> list[Quantity]:
    found: list[_Found] = []
    _extract_numbers(text, found)
    return [q for f in found for q in f.quantities]


def mentions(text: str, key: str, value: str) -> bool:
    """Whether the copy mentions an attribute: the value itself, its first quantity in any unit, or
    at least half of its content words (a yes/no value is mentioned when its key is)."""
    norm = normalize(text)
    v = normalize(value)
    if v in ("yes", "no", "true", "false"):
        v = normalize(key)
    if _phrase_in(v, norm):
        return True
    value_qs = _quantities_in(value)
    if value_qs:
        first = value_qs[0]
        return any(
            q.dimension == first.dimension and same_value(q.value, first.value) for q in _quantities_in(text)
        )
    words = {w.removesuffix("'s") for w in _WORD_RE.findall(norm)}
    content = [w.removesuffix("'s") for w in _WORD_RE.findall(v) if len(w) > 2 and w not in _STOP]
    if content:
        return sum(w in words for w in content) / len(content) >= 0.5
    nums = re.findall(_NUM, v)
    return bool(nums) and all(_phrase_in(n, norm) for n in nums)


# -- the checker -----------------------------------------------------------------------------------
# A yes/no attribute ("Non-stick: Yes", "Induction bottom: No") is a feature the copy may state either
# way round: these words before its name (or after it) say the product lacks it.
_NEGATION_BEFORE = re.compile(
    r"\b(?:no|not|without|lacks?|lacking|never|nor|isn't|doesn't|don't|free of)\b[\w\s'-]{0,24}$",
    re.IGNORECASE,
)
_NEGATION_AFTER = re.compile(
    r"^\W{0,3}(?:(?:feature|coating|option|function|support|base)\s+)?"
    r"(?:is|are|was|were|has been|have been|had been)?\s*"
    r"(?:not\b|isn't\b|no\b|absent\b|excluded\b|removed\b|missing\b|left out\b)",  # "base has been removed"
    re.IGNORECASE,
)
_YES_NO_VALUE = re.compile(r"^\s*(yes|no)\b", re.IGNORECASE)


def _switches(attributes: Mapping[str, Any]) -> dict[str, bool]:
    """The yes/no attributes as feature name -> has it ("non-stick" -> True), names of 4+ letters."""
    out: dict[str, bool] = {}
    for key, value in attributes.items():
        m = _YES_NO_VALUE.match(str(value))
        name = re.sub(r"\s+", " ", str(key)).strip().lower()
        if m and len(name) >= 4:
            out[name] = m.group(1).lower() == "yes"
    return out


def _feature_claims(text: str, switches: Mapping[str, bool]) -> list[Claim]:
    """Each mention of a yes/no feature, supported when the copy states it the way the data does: "no
    non-stick coating" for "Non-stick: Yes" and "an induction bottom" for "Induction bottom: No" are
    not (a model that learned both phrasings swaps them)."""
    out = []
    for name, has in switches.items():
        pattern = (
            r"(?<![\w-])" + r"[\s-]".join(re.escape(w) for w in re.split(r"[\s-]+", name)) + r"(?![\w-])"
        )
        for m in re.finditer(pattern, text, re.IGNORECASE):
            sentence_start = max(text.rfind(".", 0, m.start()), text.rfind("!", 0, m.start())) + 1
            before = text[max(sentence_start, m.start() - 40) : m.start()]
            negated = bool(
                _NEGATION_BEFORE.search(before) or _NEGATION_AFTER.match(text[m.end() : m.end() + 32])
            )
            if negated == (not has):
                continue
            said = "has no" if negated else "has"
            reason = f"the copy says it {said} {name}; the attributes say {'Yes' if has else 'No'}"
            out.append(_feature_claim(m, name, negated, reason))
    return out


def _feature_claim(m: re.Match[str], name: str, negated: bool, reason: str) -> Claim:
    """An unsupported feature claim: the copy states `name` the other way round from the data."""
    value = f"{name}={'no' if negated else 'yes'}"
    return Claim(
        kind="feature",
        text=m.group(0),
        start=m.start(),
        end=m.end(),
        value=value,
        supported=False,
        reason=reason,
    )


# Free-text values state features too ("Handle features: Its sturdy handles are well insulated",
# "Lining: No padding"): a feature word of a value (an -ed/-able/-ion/... word, so "heat" in "protect
# your hands from the heat" is not one), said by the copy the other way round, is a contradiction.
# Only explicit negations count on either side: the negation word at most two words before ("not fully
# insulated", "non-removable"), or "is not" after; "not only", "no matter" are not negations. Words
# compare by their first six letters ("insulated" ~ "insulation").
_FEATURE_WORD = re.compile(r"\b[a-z]{3,}(?:ed|able|ible|ions?|ant|ive|proof)\b")
_WORD_OF_TEXT = re.compile(r"\b[a-z][a-z'-]{4,}\b", re.IGNORECASE)
_FREE_NEGATION_BEFORE = re.compile(
    r"\b(?:no|not|non|without|never|nor|isn't|aren't|doesn't|don't|lacks?|lacking)(?:[\s-]+[\w']+){0,2}[\s-]+$",
    re.IGNORECASE,
)
_FREE_NEGATION_AFTER = re.compile(r"^\s+(?:(?:is|are|was|were)\s+not\b|isn't\b|aren't\b)", re.IGNORECASE)
_NOT_A_NEGATION = re.compile(
    r"\b(?:not\s+(?:only|just|merely)|no\s+(?:matter|doubt|wonder|more|longer))\b", re.I
)
# Narrower than `_NO_VALUE`: "Heel height: 0" or "-" is no statement that the product lacks a heel.
_NONE_VALUE = re.compile(r"^\s*(?:none|nil|not applicable|n/a)\s*$", re.IGNORECASE)


def _stem(word: str) -> str:
    word = word.lower().replace("'s", "")
    return word[:6] if len(word) >= 7 else word


def _negated(text: str, start: int, end: int) -> bool:
    """Whether the word at [start, end) is negated in its sentence (see `_FREE_NEGATION_BEFORE`)."""
    sentence_start = max(text.rfind(c, 0, start) for c in ".!?;") + 1
    before = text[max(sentence_start, start - 48) : start]
    if _NOT_A_NEGATION.search(text[max(sentence_start, start - 48) : end]):
        return False
    return bool(_FREE_NEGATION_BEFORE.search(before) or _FREE_NEGATION_AFTER.match(text[end : end + 16]))


def _polarities(attributes: Mapping[str, Any]) -> dict[str, bool]:
    """Feature words of the free-text values (the yes/no ones are `_switches`) -> stated (True) or
    negated (False); a word stated both ways is left out (the data does not say one thing)."""
    seen: dict[str, set[bool]] = {}
    for key, raw in attributes.items():
        value = str(raw)
        if _YES_NO_VALUE.match(value) and len(value.split()) == 1:
            continue
        if _NONE_VALUE.match(value):  # "Padding: None": the key's words, whatever their ending, negated
            for word in _WORD_OF_TEXT.findall(str(key)):
                seen.setdefault(_stem(word), set()).add(False)
            continue
        for m in _FEATURE_WORD.finditer(value.lower()):
            seen.setdefault(_stem(m.group(0)), set()).add(not _negated(value, m.start(), m.end()))
    return {stem: next(iter(ways)) for stem, ways in seen.items() if len(ways) == 1}


def _polarity_claims(text: str, polarities: Mapping[str, bool]) -> list[Claim]:
    """Each feature word of the copy said the other way round from the free-text attributes."""
    out: list[Claim] = []
    if not polarities:  # most products: no word to look for
        return out
    for m in _WORD_OF_TEXT.finditer(text):
        stated = polarities.get(_stem(m.group(0)))
        if stated is None:
            continue
        negated = _negated(text, m.start(), m.end())
        if negated == (not stated):
            continue
        word = m.group(0).lower()
        said = f"the copy says {'not ' if negated else ''}{word}"
        out.append(
            _feature_claim(m, word, negated, f"{said}; the attributes say it is{'' if stated else ' not'}")
        )
    return out


# What the package holds is a claim too: "Its sales package includes a ring cap, band, cusps and an
# earrivel" for "Sales package: 1 Ring" names four things the data never lists. Each item of such a
# list must share a word (its first five letters) with the attributes.
_PACKAGE_LIST = re.compile(
    r"\b(?:package|box|kit|set|pack)\s+(?:also\s+)?(?:includes?|contains?|consists of|comes with|has)\s+"
    r"(?P<items>[^.!?;:]+)",
    re.IGNORECASE,
)
_LIST_SPLIT = re.compile(r",\s*|\s+(?:and|&|plus)\s+", re.IGNORECASE)
_ITEM_WORD = re.compile(r"[a-z]{4,}")
_ITEM_STOP = frozenset(
    _words("with your that this them also both each sides side other pair pairs piece pieces")
)
_ITEM_STOP |= frozenset(_words("upper lower front back left right inner outer"))


def _item_stem(word: str) -> str:
    """First five letters of the singular ("rings" ~ "ring", "glass" stays)."""
    return (word[:-1] if word.endswith("s") and not word.endswith("ss") else word)[:5]


def _item_stems(attributes: Mapping[str, Any]) -> frozenset[str]:
    """The stems (`_item_stem`) of every word of the attributes' keys and values."""
    text = " ".join(f"{k} {v}" for k, v in _clean_attributes(attributes).items()).lower()
    return frozenset(_item_stem(w) for w in _ITEM_WORD.findall(text))


def _package_claims(text: str, known: frozenset[str]) -> list[Claim]:
    """Each item of a "package includes ..." list whose words none of the attributes' `known` stems
    (`_item_stems`) name (see `_PACKAGE_LIST`)."""
    out = []
    for m in _PACKAGE_LIST.finditer(text):
        start = m.start("items")
        for item in _LIST_SPLIT.split(m.group("items")):
            at = text.index(item, start) if item else start
            start = at + len(item)
            words = [w for w in _ITEM_WORD.findall(item.lower()) if w not in _ITEM_STOP]
            if not words or any(_item_stem(w) in known for w in words):
                continue
            out.append(
                Claim(
                    kind="package",
                    text=item.strip(),
                    start=at,
                    end=at + len(item),
                    value=item.strip().lower(),
                    supported=False,
                    reason=f"the copy says the package holds {item.strip()!r}; no attribute names it",
                )
            )
    return out


class ClaimChecker:
    """Checks copy against one product: every claim with its support, and key-attribute coverage."""

    def __init__(
        self,
        attributes: Mapping[str, Any],
        brands: Iterable[str] = (),
        *,
        audience: str = "",
        spec_count: int = 3,
        allowed_names: str = "",
    ) -> None:
        self.brands = brand_set(brands)
        self.facts = AttributeFacts(attributes, self.brands, audience, allowed_names)
        self.key = key_attributes(attributes, spec_count)
        self.switches = _switches(attributes)
        self.polarities = _polarities(attributes)
        self.item_stems = _item_stems(attributes)  # read once: `check` runs per composed text

    def claims(self, text: str) -> list[Claim]:
        out = []
        for f in _find(text, self.brands, names=True):
            ok, reason = self.facts.judge(f)
            out.append(_claim(text, f, ok, reason))
        # A feature the vocabularies already judge (certifications such as "organic") is theirs.
        # A free-text feature word the switches judged is theirs too.
        extra = _feature_claims(text, self.switches) + _polarity_claims(text, self.polarities)
        for c in extra + _package_claims(text, self.item_stems):
            if not any(c.start < o.end and o.start < c.end for o in out):
                out.append(c)
        return sorted(out, key=lambda c: c.start)

    def coverage(self, text: str) -> tuple[float, list[str], list[str]]:
        mentioned = [k for k, v in self.key.items() if mentions(text, k, v)]
        missing = [k for k in self.key if k not in mentioned]
        return (len(mentioned) / len(self.key) if self.key else 1.0), mentioned, missing

    def check(self, text: str) -> ClaimCheck:
        claims = self.claims(text)
        coverage, mentioned, missing = self.coverage(text)
        return ClaimCheck(
            claims=claims,
            unsupported=[c for c in claims if not c.supported],
            coverage=round(coverage, 4),
            mentioned=mentioned,
            missing=missing,
        )


def brand_lexicon(products: Iterable[Any], min_length: int = 3) -> list[str]:
    """The catalogue's brands distinctive enough to count as a brand claim in copy.

    A brand that is an ordinary word ("only", "slim", "regular fit"), or that products of other
    brands use in their own titles and descriptions, would flag honest copy, so it is left out.
    """
    products = list(products)
    brands = {p.brand.strip().lower().rstrip(".") for p in products if getattr(p, "brand", "").strip(" .")}
    vocab = set(COLOUR_FAMILY) | set(MATERIAL_GROUP) | set(GENDERS) | _COMMON_WORDS
    candidates = frozenset(b for b in brands if len(b) >= min_length and b not in vocab and not b.isdigit())
    if not candidates:
        return []
    pattern, lookup = _vocabulary_regex(candidates)
    used_by_others: Counter[str] = Counter()
    for p in products:
        own = p.brand.strip().lower().rstrip(".")
        text = f"{p.title} {p.description}"
        mentioned = {lookup.get(_phrase_key(m.group(0))) for m in pattern.finditer(text)}
        used_by_others.update(b for b in mentioned if b and b != own)
    return sorted(b for b in candidates if used_by_others[b] < 2)


# -- the small API finetune used before the copy studio (kept for its callers) ------------------------
def extract_claims(copy: str, known_brands: Iterable[str] = ()) -> list[Claim]:
    """Every claim in the copy (unchecked)."""
    return extract(copy, known_brands)


def unsupported_claims(
    copy: str, attributes: Mapping[str, Any], known_brands: Iterable[str] = ()
) -> list[Claim]:
    """Claims in the copy that the attributes do not back."""
    return ClaimChecker(attributes, known_brands).check(copy).unsupported


def attribute_coverage(copy: str, attributes: Mapping[str, Any], spec_count: int = 3) -> float:
    """Share of the key attributes (see `key_attributes`) the copy mentions."""
    return ClaimChecker(attributes, spec_count=spec_count).coverage(copy)[0]
