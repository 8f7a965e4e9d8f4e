"""Load catalogue and FAQ files into validated records, with a report of every rejected row.

Bad rows never stop a load: each is listed with its row number, field and reason, and the good
rows go in. A file that lacks a required column cannot yield any row, so it raises
`CatalogError` naming the missing columns before anything is written. Shopify, WooCommerce and
Google Merchant Center exports are read by `retrieval.formats` into the same records and checks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from retrieval.content import ContentPolicy, FieldIssue
from retrieval.rows import CONTROL, CatalogError, read_rows, text_problem
from retrieval.schema import FAQEntry, Product

T = TypeVar("T", bound=BaseModel)

PRODUCT_REQUIRED = ("id", "title", "price")
FAQ_REQUIRED = ("id", "question", "answer")
# The text a customer can be shown, scanned by a `ContentPolicy` at load (retrieval.content).
PRODUCT_TEXT_FIELDS = ("title", "description", "brand", "category", "color", "size", "material", "tags")
FAQ_TEXT_FIELDS = ("category", "question", "answer", "examples")


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.reason}"


@dataclass
class LoadResult(Generic[T]):
    path: Path
    items: list[T] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # Fields a content policy flagged (withheld, kept or, with the row's RowError, rejected).
    findings: list[FieldIssue] = field(default_factory=list)
    # A commerce export (retrieval.formats): its name, and what reading it decided (detection,
    # grouping, currency, unpublished products left out). Empty for the generic format.
    format: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.items) + len({e.row for e in self.errors})

    def report(self) -> str:
        skipped = len({e.row for e in self.errors})
        if self.format:  # rows of an export are variants; what is stored is products
            lines = [f"{self.path.name}: {len(self.items)} valid products, {skipped} rows skipped"]
        else:
            lines = [f"{self.path.name}: {len(self.items)} valid rows, {skipped} skipped"]
        lines += [f"  {note}" for note in self.notes]
        lines += [f"  {e}" for e in self.errors]
        if self.findings:
            rows = len({i.row for i in self.findings})
            count = sum(len(i.findings) for i in self.findings)
            lines.append(f"  content review: {count} finding(s) in {rows} row(s)")
            lines += [f"  {line}" for issue in self.findings for line in issue.lines()]
        return "\n".join(lines)


def _split_list(value: Any, separators: str) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value or "").strip()
    if text.startswith("["):
        try:
            return [str(v).strip() for v in json.loads(text) if str(v).strip()]
        except json.JSONDecodeError:
            pass
    sep = next((s for s in separators if s in text), separators[-1])
    return [t.strip() for t in text.split(sep) if t.strip()]


def _load(
    path: Path,
    model: type[T],
    required: tuple[str, ...],
    mapping: Mapping[str, str] | None,
    list_fields: Mapping[str, str],
    content: ContentPolicy | None = None,
    text_fields: tuple[str, ...] = (),
    encoding: str = "utf-8-sig",
    strip_controls: bool = False,
    records: tuple[list[str], Iterator[tuple[int, dict[str, Any]]]] | None = None,
) -> LoadResult[T]:
    """`records` are the (columns, rows) a commerce format already read from `path`."""
    path = Path(path)
    mapping = dict(mapping or {})
    columns, rows = records or read_rows(path, encoding)
    source_of = {name: mapping.get(name, name) for name in model.model_fields}
    missing = [
        f"{name}" + (f" (mapped from '{source_of[name]}')" if source_of[name] != name else "")
        for name in required
        if source_of[name] not in columns
    ]
    if missing:
        raise CatalogError(
            f"{path.name} is missing required column(s): {', '.join(missing)}. "
            f"Found columns: {', '.join(columns) or '(none)'}. Rename the columns or pass a field mapping."
        )
    result: LoadResult[T] = LoadResult(path=path)
    first_row: dict[str, int] = {}
    for row_no, raw in rows:
        if "__error__" in raw:
            result.errors.append(RowError(row_no, raw.get("__field__", "(row)"), raw["__error__"]))
            continue
        record: dict[str, Any] = {}
        problems: list[RowError] = []
        for name, source in source_of.items():
            value = raw.get(source)
            if value is None or (isinstance(value, str) and value.strip() == ""):
                if name in required:
                    problems.append(RowError(row_no, name, "required, but empty"))
                continue
            if isinstance(value, str):
                if strip_controls and name != "id":
                    value = CONTROL.sub(" ", value)
                problem = text_problem(name, value)
                if problem:
                    problems.append(RowError(row_no, name, problem))
                    continue
            record[name] = _split_list(value, list_fields[name]) if name in list_fields else value
        if problems:
            result.errors += problems
            continue
        try:
            item = model.model_validate(record)
        except ValidationError as exc:
            for err in exc.errors():
                name = str(err["loc"][0]) if err["loc"] else "(row)"
                shown = raw.get(source_of.get(name, name), "")
                reason = err["msg"] if err["type"] == "missing" else f"{err['msg']} (got {str(shown)[:40]!r})"
                result.errors.append(RowError(row_no, name, reason))
            continue
        key = str(getattr(item, "id"))  # noqa: B009 - T is bound to records that all have an id
        if key in first_row:
            result.errors.append(
                RowError(row_no, "id", f"duplicate id {key!r} (first seen on row {first_row[key]})")
            )
            continue
        if content is not None:
            texts = {name: getattr(item, name) for name in text_fields}
            updates, issues = content.check(key, texts, file=str(path), row=row_no)
            result.findings += issues
            if issues and content.mode == "reject":
                for issue in issues:
                    spans = ", ".join(f"{f.kind} at {f.start}-{f.end}" for f in issue.findings)
                    result.errors.append(RowError(row_no, issue.field, f"content needs review: {spans}"))
                continue
            if updates:
                item = item.model_copy(update=updates)
        first_row[key] = row_no
        result.items.append(item)
    return result


def load_products(
    path: str | Path,
    mapping: Mapping[str, str] | None = None,
    required: tuple[str, ...] = PRODUCT_REQUIRED,
    content: ContentPolicy | None = None,
    encoding: str = "utf-8-sig",
    strip_controls: bool = False,
    format: str = "generic",
) -> LoadResult[Product]:
    """Read products from CSV, JSONL or a JSON list; `mapping` maps our field names to the file's.

    A shop catalogue needs prices (the default `required`); relevance test sets pass ("id", "title")
    and `strip_controls` (their scraped text carries stray control characters; a shop's file is refused).
    With `content`, customer-visible text is scanned and flagged fields are withheld, kept or
    rejected as the policy says; `findings` lists them with row, field and span.

    `format` reads a commerce export instead: "shopify", "woocommerce", "google-merchant" or
    "auto" (chosen by the header), each optionally with the store currency, e.g. "shopify:EUR"
    (retrieval.formats); the rows then pass the same checks as a generic file's.
    """
    path = Path(path)
    records: tuple[list[str], Iterator[tuple[int, dict[str, Any]]]] | None = None
    name, notes = "", []
    if format != "generic":
        from retrieval.formats import read_export  # it builds on this module's readers

        export = read_export(path, format, encoding)
        if export.name and mapping:
            raise CatalogError(f"{path.name}: a field mapping applies to the generic format only")
        records, name, notes = (export.columns, export.rows), export.name, export.notes
    result = _load(
        path,
        Product,
        required,
        mapping,
        {"tags": ";|,"},
        content,
        PRODUCT_TEXT_FIELDS,
        encoding,
        strip_controls,
        records,
    )
    result.format, result.notes = name, notes
    return result


def load_faq(
    path: str | Path,
    mapping: Mapping[str, str] | None = None,
    content: ContentPolicy | None = None,
    encoding: str = "utf-8-sig",
) -> LoadResult[FAQEntry]:
    """Read FAQ/policy entries; `examples` may hold ' | '-separated customer phrasings. `content`
    as for `load_products`."""
    return _load(
        Path(path), FAQEntry, FAQ_REQUIRED, mapping, {"examples": "|"}, content, FAQ_TEXT_FIELDS, encoding
    )
