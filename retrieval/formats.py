"""Shopify, WooCommerce and Google Merchant Center product exports, read and written as they are.

A shop has its catalogue in one of these exports already; reading them directly saves the hand
work of renaming columns, splitting "15.00 USD" and stripping HTML. Column names follow the
public documentation of each format:

- Shopify product CSV: https://help.shopify.com/en/manual/products/import-export/using-csv
  (the classic headers, "Handle", "Body (HTML)", "Variant Price", "Image Src", ..., and the
  renamed ones of the current template, "URL handle", "Description", "Price", "Product image URL").
- WooCommerce product CSV exporter: https://woocommerce.com/document/product-csv-importer-exporter/
  and its column list in WC_Product_CSV_Exporter::get_default_column_names (woocommerce/woocommerce,
  plugins/woocommerce/includes/export/class-wc-product-csv-exporter.php): "Type", "SKU", "Name",
  "Regular price", "Sale price", "In stock?", "Stock", "Parent", "Images", "Attribute 1 name", ...;
  "Brands" from WC_Brands_Admin (includes/admin/class-wc-admin-brands.php).
- Google Merchant Center product data specification: https://support.google.com/merchants/answer/7052112
  (id, title, description, link, image_link, availability, price "15.00 USD", sale_price,
  sale_price_effective_date, brand, gtin, item_group_id, color, size, material, product_type,
  custom_label_0-4; availability values: https://support.google.com/merchants/answer/6324448),
  as a CSV or tab-separated file. custom_label_0-4 are the merchant's own labels, which no shopper
  sees on Google; they are read as tags (search words, never shown).

Not read: Merchant Center XML (RSS/Atom) feeds, spreadsheets (.xlsx), Shopify metafield columns,
WooCommerce meta columns, and ratings (none of the three exports carries one).

Variants. Rows that are versions of one product (Shopify rows sharing a Handle, WooCommerce
"variation" rows naming their Parent, Merchant Center items sharing an item_group_id) become one
`Product`, so a shopper sees one card, not five near-identical ones:
- `variants` keeps each variant's id, colour, size, material, other options, price and stock;
- `color`, `size` and `material` list the distinct values of the variants, joined by ", " (every
  value is one some variant has; "red" in a colour filter finds the product);
- `price` is the lowest variant price (a real price of a real variant; a renderer can say "from"),
  so a price ceiling finds the product when some variant is under it;
- `stock` is the sum of the variants' stock, or None (available, count unknown) when any variant's
  stock is unknown.
A product with a single variant is stored flat, like a row of the generic format.

Prices are what a shopper pays now: the sale price when there is one and its dates (if given)
include today, else the regular price. A price may carry its currency ("15.00 USD", "USD 15.00",
"€15,00", "15,00 €"); one without uses the store currency given with the format ("shopify:EUR"),
else USD, and the report says so. Availability: Merchant Center "in_stock" is stock unknown
(available), "out_of_stock", "preorder" and "backorder" are 0 (not shippable now); WooCommerce
"In stock?" 1/0/backorder likewise when "Stock" holds no count; Shopify's "Variant Inventory Qty"
is the count (negative counts are 0) unless the variant's inventory is not tracked.

HTML descriptions (Shopify "Body (HTML)", WooCommerce "Description") are turned into plain text:
tags go, block elements become line breaks, entities are decoded, and script and style elements go
with their content. Only text is stored, so the content scanner (retrieval.content) sees what a
shopper would read and does not withhold a normal description for its markup; escaped markup
(`&lt;script&gt;`) decodes to visible text, which it still flags. Draft, archived, private and
grouped products are left out and listed in the report; they are not for sale.

`export_products` writes products in each format (for a shop moving platforms, and for the
round-trip test); what a format cannot hold is lost: the rating always, the stock count in
Merchant Center (availability only), the page URL in Shopify and WooCommerce files.
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from retrieval.rows import CatalogError, decode_file, read_csv, read_rows, text_problem
from retrieval.schema import Product, Variant

FORMATS = ("shopify", "woocommerce", "google-merchant")
CHOICES = ("generic", "auto", *FORMATS)
LABELS = {
    "shopify": "Shopify product CSV",
    "woocommerce": "WooCommerce product CSV",
    "google-merchant": "Google Merchant Center feed",
}
DEFAULT_CURRENCY = "USD"
JOIN = ", "  # between the distinct values of a product's variants
OPTION_NAMES = (("Color", "color"), ("Size", "size"), ("Material", "material"))
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")


# --- format names --------------------------------------------------------------------------------


def parse_format(value: str) -> tuple[str, str | None]:
    """("shopify", "EUR") from "shopify:EUR"; the currency is for files whose prices name none."""
    name, _, currency = value.strip().partition(":")
    name = name.lower().replace("_", "-")
    if name not in CHOICES:
        raise CatalogError(f"unknown catalogue format {name!r}; use one of {', '.join(CHOICES)}")
    currency = currency.strip().upper()
    if currency and not re.fullmatch(r"[A-Z]{3}", currency):
        raise CatalogError(f"{currency!r} is not a currency code like EUR (format {value!r})")
    return name, currency or None


def _norm_gmc(column: str) -> str:
    """Merchant Center accepts "image link", "image_link" and, copied from XML, "g:image_link"."""
    return column.strip().lower().removeprefix("g:").replace(" ", "_")


def detect_format(columns: Sequence[str]) -> str:
    """The export a header comes from, or "generic"."""
    cols = set(columns)
    if ({"Handle", "Variant Price"} <= cols or {"URL handle", "Price"} <= cols) and "Title" in cols:
        return "shopify"
    if {"Type", "SKU", "Name", "Regular price"} <= cols:
        return "woocommerce"
    gmc = {_norm_gmc(c) for c in columns}
    if {"id", "title", "price", "availability"} <= gmc and gmc & {"link", "image_link"}:
        return "google-merchant"
    return "generic"


# --- values --------------------------------------------------------------------------------------

_SYMBOLS = {"€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY", "₪": "ILS"}
_DOLLARS = {"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"}
_PRICE = re.compile(
    r"^(?P<pre>[A-Za-z]{3}|[$€£¥₹₩₽₺₪]|[A-Z]{1,2}\$)?\s*(?P<num>\d[\d.,'\s\u00a0\u202f]*)\s*"
    r"(?P<post>[A-Za-z]{3}|[$€£¥₹₩₽₺₪])?$"
)


def parse_price(text: str, currency: str | None) -> tuple[float, str | None]:
    """(amount, currency named in the text or None). "1,299.00", "1.299,00", "15,00" and "1 299"
    all read as a shopper would: the last separator followed by one or two digits is the decimal
    point, others group thousands. Raises ValueError saying what a price looks like."""
    m = _PRICE.match(text.strip())
    if not m:
        raise ValueError(f"{text.strip()[:40]!r} is not a price like 15.00 or 15.00 USD")
    named = [c for c in (m.group("pre"), m.group("post")) if c]
    if len(named) > 1:
        raise ValueError(f"{text.strip()[:40]!r} names two currencies")
    code = None
    if named:
        mark = named[0]
        if mark in _SYMBOLS:
            code = _SYMBOLS[mark]
        elif mark.endswith("$"):  # "$", "C$", "A$": the store's dollar, else US dollars
            code = {"C$": "CAD", "A$": "AUD"}.get(mark) or (currency if currency in _DOLLARS else "USD")
        else:
            code = mark.upper()
    num = re.sub(r"[\s'\u00a0\u202f]", "", m.group("num"))
    last = max(num.rfind("."), num.rfind(","))
    if last >= 0 and (len(num) - last - 1 in (1, 2) or (num[last] == "." and num.count(".") == 1)):
        whole, frac = num[:last], num[last + 1 :]
    else:
        whole, frac = num, ""
    whole = whole.replace(",", "").replace(".", "")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise ValueError(f"{text.strip()[:40]!r} is not a price like 15.00 or 15.00 USD")
    return float(f"{whole}.{frac or 0}"), code


def _count(text: str) -> int:
    try:
        return max(0, int(float(text.strip())))  # Shopify allows oversold (negative) counts
    except ValueError:
        raise ValueError(f"{text.strip()[:40]!r} is not a stock count") from None


def _date(text: str, end: bool) -> datetime:
    """A sale date as a moment: "2024-02-24" is the start (or, `end`, the end) of that day in UTC."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return (
                datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
                if end
                else (datetime(day.year, day.month, day.day, tzinfo=UTC))
            )
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a date like 2024-02-24 or 2024-02-24T11:07+0100") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sale_on(start: str, end: str) -> bool:
    now = datetime.now(UTC)
    return (not start.strip() or _date(start, False) <= now) and (not end.strip() or now <= _date(end, True))


class _Text(HTMLParser):
    _BLOCK = frozenset(
        re.findall(
            r"\w+",
            "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 "
            "header hr li main nav ol p pre section table tbody td tfoot th thead tr ul",
        )
    )
    _DROP = frozenset({"script", "style", "template", "noscript", "iframe", "object", "svg"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._DROP:
            self.dropping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._DROP:
            self.dropping = max(0, self.dropping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.parts.append(data)


def html_to_text(text: str) -> str:
    """Plain text of an HTML description: one line per block (and per line break of the source),
    runs of spaces folded."""
    parser = _Text()
    parser.feed(text)
    parser.close()
    lines = (re.sub(r"[ \t\f\v\u00a0]+", " ", line).strip() for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _looks_like_html(text: str) -> bool:
    return bool(re.search(r"</?[a-zA-Z][^>]*>|&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);", text))


def _leaf(path: str) -> str:
    """ "Apparel & Accessories > Clothing > Shirts" -> "Shirts"."""
    return path.split(">")[-1].strip()


def _split_escaped(text: str) -> list[str]:
    r"""WooCommerce lists: comma-separated, a comma inside a value written as "\,"."""
    return [v.replace("\\,", ",").strip() for v in re.split(r"(?<!\\),", text) if v.strip()]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _distinct(values: Iterable[str]) -> str:
    return JOIN.join(dict.fromkeys(v for v in values if v))


def _common_title(titles: Sequence[str]) -> str:
    """The words every variant's title starts with ("Tee - Blue - M", "Tee - Red - S" -> "Tee"),
    so the product's title names no colour or size only some variants have."""
    words = [t.split() for t in titles]
    common = []
    for group in zip(*words, strict=False):
        if len(set(group)) != 1:
            break
        common.append(group[0])
    title = " ".join(common).rstrip(" -–—,|/:(")
    return title if len(title) >= 3 else titles[0]


# --- reading --------------------------------------------------------------------------------------


@dataclass
class _Row:
    """One row of an export, read into our field names."""

    row: int
    group: str  # the product it belongs to
    product: dict[str, Any] | None = None  # product-level fields when this row defines the product
    variant: dict[str, Any] | None = None  # id, color, size, material, options, price, stock
    currency: str | None = None  # named in the row's price
    problems: list[tuple[str, str]] = field(default_factory=list)  # (field, reason)


@dataclass
class ExportRead:
    """What `read_export` made of a file: (columns, rows) for `catalog._load` (records in our field
    names, or a generic file's raw rows when `name` is ""), and the report's notes."""

    name: str
    columns: list[str]
    rows: Iterator[tuple[int, dict[str, Any]]]
    notes: list[str]


class _Columns:
    """Cell lookup by any of a column's names (exports renamed some over the years)."""

    def __init__(self, columns: Sequence[str], aliases: dict[str, tuple[str, ...]]) -> None:
        present = set(columns)
        self.names = {key: next((n for n in names if n in present), None) for key, names in aliases.items()}

    def has(self, key: str) -> bool:
        return self.names.get(key) is not None

    def get(self, raw: dict[str, Any], key: str) -> str:
        name = self.names.get(key)
        return str(raw.get(name) or "").strip() if name else ""


def _read_table(path: Path, encoding: str) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    if not path.exists():
        raise CatalogError(f"{path}: file not found")
    if path.suffix.lower() not in TEXT_SUFFIXES:
        raise CatalogError(
            f"{path}: commerce exports are read from {', '.join(TEXT_SUFFIXES)} files "
            "(XML feeds and spreadsheets are not supported; save the sheet as CSV)"
        )
    first = decode_file(path, encoding).split("\n", 1)[0]
    return read_csv(path, encoding, delimiter="\t" if first.count("\t") > first.count(",") else ",")


def read_export(path: Path, format: str, encoding: str = "utf-8-sig") -> ExportRead:
    """Read `path` as the export `format` names ("shopify:EUR", "auto", ...); a file `auto` finds
    to be in the generic format comes back as its raw rows (name "")."""
    name, currency = parse_format(format)
    if name in ("auto", "generic") and path.suffix.lower() not in TEXT_SUFFIXES:
        return ExportRead("", *read_rows(path, encoding), [f"format: generic ({path.suffix} file)"])
    columns, rows = _read_table(path, encoding)
    notes: list[str] = []
    if name == "auto":
        name = detect_format(columns)
        if name != "generic":
            notes.append(f"format: {LABELS[name]} (detected from the header)")
        else:
            notes.append("format: no Shopify, WooCommerce or Merchant Center header found; read as generic")
    if name == "generic":
        if currency:
            raise CatalogError(
                f"{path.name}: the generic format takes prices' currency from its currency column"
            )
        return ExportRead("", columns, rows, notes)
    if not notes:
        notes.append(f"format: {LABELS[name]}")
    reader = {"shopify": _shopify, "woocommerce": _woocommerce, "google-merchant": _google}[name]
    table = list(rows)
    try:
        parsed, left_out = reader(columns, iter(table), currency)
    except CatalogError as exc:
        raise CatalogError(f"{path.name} is {exc}. Found columns: {', '.join(columns) or '(none)'}") from exc
    default = currency or DEFAULT_CURRENCY
    records, grouped, unnamed = _assemble(parsed, default)
    products = sum(1 for _, r in records if "__error__" not in r)
    notes.append(f"{len(table)} rows read as {products} products ({grouped} variants grouped)")
    if unnamed:
        hint = (
            "" if currency else " (the file names none; give the store's with the format, e.g. shopify:EUR)"
        )
        notes.append(f"prices of {unnamed} product(s) read as {default}{hint}")
    return ExportRead(name, list(Product.model_fields), iter(records), notes + left_out)


def _missing(fmt: str, cols: _Columns, aliases: dict[str, tuple[str, ...]], required: Iterable[str]) -> None:
    absent = [" or ".join(repr(n) for n in aliases[k]) for k in required if not cols.has(k)]
    if absent:
        raise CatalogError(f"not a {LABELS[fmt]}: it has no column {', '.join(absent)}")


def _price_of(row: _Row, regular: str, sale: str, start: str, end: str, currency: str | None) -> None:
    """The price a shopper pays now into `row.variant`, or a problem on the row."""
    assert row.variant is not None
    try:
        chosen, column = (sale, "sale_price") if sale and _sale_on(start, end) else (regular, "price")
    except ValueError as exc:
        row.problems.append(("sale_price", str(exc)))
        return
    if not chosen:
        row.problems.append(("price", "required, but empty"))
        return
    try:
        row.variant["price"], row.currency = parse_price(chosen, currency)
    except ValueError as exc:
        row.problems.append((column, str(exc)))


def _unlisted(what: str, rows: list[int]) -> list[str]:
    if not rows:
        return []
    shown = ", ".join(map(str, rows[:10])) + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")
    return [f"left out {len(rows)} {what} (not for sale): row(s) {shown}"]


_SHOPIFY: dict[str, tuple[str, ...]] = {
    "handle": ("Handle", "URL handle"),
    "title": ("Title",),
    "body": ("Body (HTML)", "Description"),
    "vendor": ("Vendor",),
    "product_category": ("Product Category", "Product category"),
    "type": ("Type",),
    "tags": ("Tags",),
    "published": ("Published", "Published on online store"),
    "status": ("Status",),
    "sku": ("Variant SKU", "SKU"),
    "tracker": ("Variant Inventory Tracker", "Inventory tracker"),
    "qty": ("Variant Inventory Qty", "Inventory quantity"),
    "price": ("Variant Price", "Price"),
    "image": ("Image Src", "Product image URL"),
    **{f"option{i}_name": (f"Option{i} Name", f"Option{i} name") for i in (1, 2, 3)},
    **{f"option{i}_value": (f"Option{i} Value", f"Option{i} value") for i in (1, 2, 3)},
}
_OPTION_FIELDS = {"color": "color", "colour": "color", "size": "size", "material": "material"}


def _options(variant: dict[str, Any], pairs: Iterable[tuple[str, str]]) -> None:
    """Colour, size and material options into their fields, the others into `options`."""
    for name, value in pairs:
        key = _OPTION_FIELDS.get(name.strip().lower().removeprefix("pa_"))
        if not value or not name.strip() or (name.strip().lower() == "title" and value == "Default Title"):
            continue
        if key:
            variant[key] = value
        else:
            variant["options"][name.strip()] = value


def _shopify(
    columns: list[str], rows: Iterator[tuple[int, dict[str, Any]]], currency: str | None
) -> tuple[list[_Row], list[str]]:
    """Rows sharing a Handle are one product: the first carries the product's fields and option
    names, each row with a price or an option value is a variant, a row with only an image is one
    more picture of the product."""
    cols = _Columns(columns, _SHOPIFY)
    _missing("shopify", cols, _SHOPIFY, ("handle", "title", "price"))
    out: list[_Row] = []
    option_names: dict[str, list[str]] = {}
    hidden: list[int] = []
    hidden_groups: set[str] = set()
    for row_no, raw in rows:
        if "__error__" in raw:
            out.append(_Row(row_no, "", problems=[("(row)", raw["__error__"])]))
            continue
        get = partial(cols.get, raw)
        handle = get("handle") or _slug(get("title"))
        if not handle:
            out.append(_Row(row_no, "", problems=[("id", "no Handle and no Title")]))
            continue
        line = _Row(row_no, handle)
        if handle not in option_names:  # the product's first row
            option_names[handle] = [get(f"option{i}_name") for i in (1, 2, 3)]
            status = get("status").lower()
            if status in ("draft", "archived") or get("published").lower() == "false":
                hidden.append(row_no)
                hidden_groups.add(handle)
            line.product = {
                "id": handle,
                "title": get("title"),
                "description": html_to_text(get("body")),
                "brand": get("vendor"),
                "category": get("type") or _leaf(get("product_category")),
                "tags": [t.strip() for t in get("tags").split(",") if t.strip()],
                "image_url": get("image"),
            }
        if handle in hidden_groups:
            continue
        if get("price") or get("option1_value") or get("sku"):
            line.variant = {"id": get("sku"), "options": {}}
            _options(
                line.variant,
                zip(option_names[handle], [get(f"option{i}_value") for i in (1, 2, 3)], strict=True),
            )
            _price_of(line, get("price"), "", "", "", currency)
            qty = get("qty")
            tracked = not cols.has("tracker") or bool(get("tracker"))
            try:
                line.variant["stock"] = _count(qty) if qty and tracked else None
            except ValueError as exc:
                line.problems.append(("stock", str(exc)))
        elif line.product is None and get("image"):
            line.product = {"image_url": get("image")}  # another picture; the first one is kept
        out.append(line)
    return out, _unlisted("draft or archived product(s)", hidden)


_WOO: dict[str, tuple[str, ...]] = {
    "id": ("ID",),
    "type": ("Type",),
    "sku": ("SKU",),
    "name": ("Name",),
    "published": ("Published",),
    "short": ("Short description",),
    "description": ("Description",),
    "sale_from": ("Date sale price starts",),
    "sale_to": ("Date sale price ends",),
    "in_stock": ("In stock?",),
    "stock": ("Stock",),
    "sale": ("Sale price",),
    "regular": ("Regular price",),
    "categories": ("Categories",),
    "brands": ("Brands",),  # WooCommerce Brands (core since 9.6; WC_Brands_Admin)
    "tags": ("Tags",),
    "images": ("Images",),
    "parent": ("Parent",),
    "external": ("External URL",),
}


def _woo_stock(stock: str, status: str) -> int | None:
    if stock and stock != "parent":
        return _count(stock)
    if status in ("0", "backorder"):  # out of stock, or only on back order: not shippable now
        return 0
    if status in ("", "1"):
        return None
    raise ValueError(f"{status[:40]!r} is not 1, 0 or backorder")


def _woocommerce(
    columns: list[str], rows: Iterator[tuple[int, dict[str, Any]]], currency: str | None
) -> tuple[list[_Row], list[str]]:
    """Simple and variable products are products; a "variation" row is a variant of the product
    its Parent names (by SKU, or "id:N")."""
    cols = _Columns(columns, _WOO)
    _missing("woocommerce", cols, _WOO, ("type", "sku", "name", "regular"))
    attributes = []
    n = 1
    while f"Attribute {n} name" in columns:
        attributes.append((f"Attribute {n} name", f"Attribute {n} value(s)"))
        n += 1
    out: list[_Row] = []
    parents: dict[str, str] = {}  # "SKU" and "id:N" -> product id
    variations: list[tuple[_Row, str]] = []
    hidden: list[int] = []
    grouped: list[int] = []
    left_out: set[str] = set()  # their variations go with them
    for row_no, raw in rows:
        if "__error__" in raw:
            out.append(_Row(row_no, "", problems=[("(row)", raw["__error__"])]))
            continue
        get = partial(cols.get, raw)
        types = {t.strip().lower() for t in get("type").split(",")}
        pid = get("sku") or get("id")
        if not pid:
            out.append(_Row(row_no, "", problems=[("id", "no SKU and no ID")]))
            continue
        if get("published") in ("-1", "0") or "grouped" in types:
            # draft, private (a variation: disabled); a grouped product is a page listing others
            (grouped if "grouped" in types else hidden).append(row_no)
            left_out.update({pid, f"id:{get('id')}"})
            continue
        pairs = [(str(raw.get(a) or ""), str(raw.get(v) or "")) for a, v in attributes]
        line = _Row(row_no, pid)
        if "variation" in types:
            line.variant = {"id": pid, "options": {}}
            _options(line.variant, ((a, v.replace("\\,", ",").strip()) for a, v in pairs))
            variations.append((line, get("parent")))
        else:
            description = get("description").replace("\\n", "\n") or get("short").replace("\\n", "\n")
            line.product = {
                "id": pid,
                "title": get("name"),
                "description": html_to_text(description),
                "category": _leaf((_split_escaped(get("categories")) or [""])[0]),
                "brand": _leaf((_split_escaped(get("brands")) or [""])[0]),
                "tags": _split_escaped(get("tags")),
                "image_url": (_split_escaped(get("images")) or [""])[0],
                "url": get("external") if "external" in types else "",
            }
            described: dict[str, Any] = {
                "options": {}
            }  # attributes that are no variant's choice describe the product
            _options(described, ((a, JOIN.join(_split_escaped(v))) for a, v in pairs))
            line.product.update({k: v for k, v in described.items() if k != "options"})
            parents[pid] = pid
            if get("id"):
                parents[f"id:{get('id')}"] = pid
            if "variable" not in types:  # simple or external: the product is its own variant
                line.variant = {"id": pid, "options": {}}
        if line.variant is not None:
            _price_of(line, get("regular"), get("sale"), get("sale_from"), get("sale_to"), currency)
            try:
                line.variant["stock"] = _woo_stock(get("stock"), get("in_stock").lower())
            except ValueError as exc:
                line.problems.append(("stock", str(exc)))
        out.append(line)
    orphans = set()
    for line, parent in variations:
        line.group = parents.get(parent, "")
        if parent in left_out:
            orphans.add(line.row)
        elif not line.group:
            line.problems.append(("parent", f"{parent or '(empty)'!r} is not a product in this file"))
    return [line for line in out if line.row not in orphans], _unlisted(
        "draft or private product(s)", hidden
    ) + _unlisted("grouped product(s)", grouped)


_GMC: dict[str, tuple[str, ...]] = {
    key: (key,)
    for key in re.findall(
        r"\w+",
        "id title description link image_link availability price sale_price sale_price_effective_date "
        "brand item_group_id color size material product_type google_product_category",
    )
}
_AVAILABILITY = {"in_stock": None, "out_of_stock": 0, "preorder": 0, "backorder": 0}


def _google(
    columns: list[str], rows: Iterator[tuple[int, dict[str, Any]]], currency: str | None
) -> tuple[list[_Row], list[str]]:
    """Each item is a variant; items sharing an item_group_id are one product (its id is the
    group id), an item without one is a product of its own."""
    normal = [_norm_gmc(c) for c in columns]
    cols = _Columns(normal, _GMC)
    _missing("google-merchant", cols, _GMC, ("id", "title", "price"))
    labels = [f"custom_label_{i}" for i in range(5)]
    out: list[_Row] = []
    titles: dict[str, list[str]] = {}
    for row_no, original in rows:
        if "__error__" in original:
            out.append(_Row(row_no, "", problems=[("(row)", original["__error__"])]))
            continue
        raw = {_norm_gmc(k): v for k, v in original.items()}
        get = partial(cols.get, raw)
        item = get("id")
        group = get("item_group_id") or item
        if not item:
            out.append(_Row(row_no, "", problems=[("id", "required, but empty")]))
            continue
        variant: dict[str, Any] = {"id": item, "options": {}}
        line = _Row(row_no, group, variant=variant)
        titles.setdefault(group, []).append(get("title"))
        product_type = (get("product_type").split(",") or [""])[0]
        category = get("google_product_category")
        description = get("description")
        line.product = {
            "id": group,
            "title": get("title"),
            "description": html_to_text(description) if _looks_like_html(description) else description,
            "brand": get("brand"),
            "category": _leaf(product_type) or ("" if category.isdigit() else _leaf(category)),
            "tags": [
                t.strip() for label in labels for t in str(raw.get(label) or "").split(",") if t.strip()
            ],
            "url": get("link"),
            "image_url": get("image_link"),
        }
        _options(variant, ((k, get(k)) for k in ("color", "size", "material")))
        start, _, end = get("sale_price_effective_date").partition("/")
        _price_of(line, get("price"), get("sale_price"), start, end, currency)
        availability = get("availability").lower().replace(" ", "_")
        if availability and availability not in _AVAILABILITY:
            line.problems.append(
                ("availability", f"{availability!r} is not one of {', '.join(_AVAILABILITY)}")
            )
        else:
            variant["stock"] = _AVAILABILITY.get(availability)
        out.append(line)
    for line in out:  # a group's title: the words all its items' titles share
        if line.product is not None and len(titles.get(line.group, [])) > 1:
            line.product["title"] = _common_title(titles[line.group])
    return out, []


def _variant_problem(variant: dict[str, Any]) -> tuple[str, str] | None:
    """The catalogue's text rules (length, control characters) for what a variant stores."""
    values = [(k, str(variant.get(k, ""))) for k in ("id", "color", "size", "material")]
    for name, value in values + list(variant["options"].items()):
        problem = text_problem("sku" if name == "id" else name, value)
        if problem:
            return name, problem
    return None


def _assemble(lines: list[_Row], currency: str) -> tuple[list[tuple[int, dict[str, Any]]], int, int]:
    """Records (one per product, at the row of its first line) and error entries for
    `catalog._load`, in row order; the number of variants grouped, and of products whose prices
    named no currency. A variant with a problem is left out (its row is reported) and
    the product keeps its other variants; a product none of whose variants is valid is left out."""
    entries: list[tuple[int, dict[str, Any]]] = []
    groups: dict[str, list[_Row]] = {}
    for line in lines:
        entries += [(line.row, {"__error__": reason, "__field__": name}) for name, reason in line.problems]
        if line.group:
            groups.setdefault(line.group, []).append(line)
    unnamed = grouped = 0
    for members in groups.values():
        heads = [m for m in members if m.product is not None and "title" in m.product]
        if not heads:
            continue  # variations whose parent has a problem of its own
        head = next((m for m in heads if not m.problems), heads[0])
        record: dict[str, Any] = dict(head.product or {})
        record["image_url"] = next(
            (m.product["image_url"] for m in members if m.product and m.product.get("image_url")), ""
        )
        variants: list[dict[str, Any]] = []
        codes: list[str] = []
        for m in members:
            if m.variant is None or m.problems:
                continue
            code = m.currency or currency
            problem = _variant_problem(m.variant)
            if codes and code != codes[0]:
                problem = ("price", f"in {code}; the product's other variants are in {codes[0]}")
            elif m.variant["id"] and any(v["id"] == m.variant["id"] for v in variants):
                problem = ("id", f"duplicate variant id {m.variant['id']!r}")
            if problem:
                entries.append((m.row, {"__field__": problem[0], "__error__": problem[1]}))
                continue
            codes.append(code)
            unnamed += m.currency is None and len(codes) == 1
            variants.append(m.variant)
        if not variants:
            if any(m.variant is not None for m in members):
                continue  # every variant was invalid; their rows are reported
            record["currency"] = currency
        else:
            record["currency"] = codes[0]
        if len(variants) == 1:
            only = variants[0]
            record.update({k: only[k] for k in ("color", "size", "material") if only.get(k)})
            record["price"], record["stock"] = only["price"], only["stock"]
        elif variants:
            grouped += len(variants)
            for key in ("color", "size", "material"):
                record[key] = _distinct(v.get(key, "") for v in variants) or record.get(key, "")
            record["price"] = min(v["price"] for v in variants)
            stocks = [v["stock"] for v in variants]
            record["stock"] = None if any(s is None for s in stocks) else sum(stocks)
            record["variants"] = variants
        entries.append((head.row, record))
    entries.sort(key=lambda e: e[0])
    return entries, grouped, unnamed


# --- writing --------------------------------------------------------------------------------------


def export_products(products: Sequence[Product], format: str, path: str | Path) -> Path:
    """Write `products` as a `format` export (a Shopify or WooCommerce file holds one currency,
    its store's, so mixed currencies raise ValueError; so does a product without a price)."""
    name, _ = parse_format(format)
    if name not in FORMATS:
        raise ValueError(f"export writes {', '.join(FORMATS)}, not {format!r}")
    unpriced = [p.id for p in products if p.price is None]
    if unpriced:
        raise ValueError(f"every exported product needs a price; these have none: {', '.join(unpriced[:10])}")
    currencies = {p.currency for p in products}
    if name != "google-merchant" and len(currencies) > 1:
        raise ValueError(f"a {LABELS[name]} holds one currency, not {', '.join(sorted(currencies))}")
    header, rows = {"shopify": _to_shopify, "woocommerce": _to_woocommerce, "google-merchant": _to_google}[
        name
    ](products)
    path = Path(path)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _versions(product: Product) -> list[Variant]:
    """A product's variants, or the product itself as its one variant."""
    if product.variants:
        return [
            v if v.id else v.model_copy(update={"id": f"{product.id}-{n}"})
            for n, v in enumerate(product.variants, 1)
        ]
    return [
        Variant(
            id=product.id,
            color=product.color,
            size=product.size,
            material=product.material,
            price=product.price,
            stock=product.stock,
        )
    ]


def _money(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else ""


def _as_html(text: str) -> str:
    return "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in text.split("\n") if line)


def _to_shopify(products: Sequence[Product]) -> tuple[list[str], list[dict[str, str]]]:
    header = [
        *("Handle", "Title", "Body (HTML)", "Vendor", "Product Category", "Type", "Tags", "Published"),
        *(f"Option{n} {part}" for n in (1, 2, 3) for part in ("Name", "Value")),
        *("Variant SKU", "Variant Inventory Tracker", "Variant Inventory Qty", "Variant Inventory Policy"),
        *("Variant Price", "Image Src", "Image Position", "Status"),
    ]
    rows = []
    for p in products:
        versions = _versions(p)
        named = [(n, key) for n, key in OPTION_NAMES if any(getattr(v, key) for v in versions)]
        names = [n for n, _ in named] + list(dict.fromkeys(k for v in versions for k in v.options))
        for i, v in enumerate(versions):
            values = {**{n: getattr(v, key) for n, key in named}, **v.options}
            row = {
                "Handle": p.id,
                "Variant SKU": v.id,
                "Variant Inventory Tracker": "shopify" if v.stock is not None else "",
                "Variant Inventory Qty": str(v.stock) if v.stock is not None else "",
                "Variant Inventory Policy": "deny",
                "Variant Price": _money(v.price),
            }
            for n, option in enumerate(names[:3] or ["Title"], start=1):
                row[f"Option{n} Value"] = values.get(option, "") if names else "Default Title"
                if i == 0:
                    row[f"Option{n} Name"] = option
            if i == 0:
                row |= {
                    "Title": p.title,
                    "Body (HTML)": _as_html(p.description),
                    "Vendor": p.brand,
                    "Type": p.category,
                    "Tags": ", ".join(p.tags),
                    "Published": "TRUE",
                    "Image Src": p.image_url,
                    "Image Position": "1" if p.image_url else "",
                    "Status": "active",
                }
            rows.append(row)
    return header, rows


def _escape_list(values: Iterable[str]) -> str:
    return ", ".join(v.replace(",", "\\,") for v in values)


def _to_woocommerce(products: Sequence[Product]) -> tuple[list[str], list[dict[str, str]]]:
    header = [
        *("ID", "Type", "SKU", "Name", "Published", "Short description", "Description"),
        *("In stock?", "Stock", "Sale price", "Regular price", "Categories", "Brands", "Tags", "Images"),
        "Parent",
    ]
    for n in range(1, len(OPTION_NAMES) + 1):
        header += [f"Attribute {n} {part}" for part in ("name", "value(s)", "visible", "global")]
    rows = []
    for p in products:
        versions = _versions(p)
        parent = {
            "SKU": p.id,
            "Name": p.title,
            "Published": "1",
            "Description": _as_html(p.description),
            "Categories": p.category,
            "Brands": _escape_list([p.brand] if p.brand else []),
            "Tags": _escape_list(p.tags),
            "Images": p.image_url,
        }
        for n, (label, key) in enumerate(OPTION_NAMES, start=1):
            values = dict.fromkeys(getattr(v, key) for v in versions if getattr(v, key))
            if values:
                parent |= {
                    f"Attribute {n} name": label,
                    f"Attribute {n} value(s)": _escape_list(values),
                    f"Attribute {n} visible": "1",
                    f"Attribute {n} global": "0",
                }
        if not p.variants:
            rows.append(parent | {"Type": "simple"} | _woo_offer(versions[0]))
            continue
        rows.append(parent | {"Type": "variable"})
        for v in versions:
            row = {"Type": "variation", "SKU": v.id, "Name": p.title, "Published": "1", "Parent": p.id}
            for n, (label, key) in enumerate(OPTION_NAMES, start=1):
                if getattr(v, key):
                    row |= {
                        f"Attribute {n} name": label,
                        f"Attribute {n} value(s)": _escape_list([getattr(v, key)]),
                    }
            rows.append(row | _woo_offer(v))
    return header, rows


def _woo_offer(v: Variant) -> dict[str, str]:
    return {
        "Regular price": _money(v.price),
        "In stock?": "1" if v.in_stock else "0",
        "Stock": str(v.stock) if v.stock is not None else "",
    }


def _to_google(products: Sequence[Product]) -> tuple[list[str], list[dict[str, str]]]:
    header = [
        *("id", "item_group_id", "title", "description", "link", "image_link", "availability", "price"),
        *("brand", "color", "size", "material", "product_type"),
        *(f"custom_label_{i}" for i in range(5)),
    ]
    rows = []
    for p in products:
        tags = p.tags[:4] + ([", ".join(p.tags[4:])] if p.tags[4:] else [])
        for v in _versions(p):
            row = {
                "id": v.id,
                "item_group_id": p.id if p.variants else "",
                "title": p.title,
                "description": p.description,
                "link": p.url,
                "image_link": p.image_url,
                "availability": "in_stock" if v.in_stock else "out_of_stock",
                "price": f"{_money(v.price)} {p.currency}",
                "brand": p.brand,
                "color": v.color,
                "size": v.size,
                "material": v.material,
                "product_type": p.category,
            }
            rows.append(row | {f"custom_label_{i}": tag for i, tag in enumerate(tags)})
    return header, rows
