"""Load catalogue and FAQ files into validated records, with a report of every rejected row.

Bad rows never stop a load: each is listed with its row number, field and reason, and the good
rows go in. A file that lacks a required column cannot yield any row, so it raises
`CatalogError` naming the missing columns before anything is written.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from retrieval.content import ContentPolicy, FieldIssue
from retrieval.schema import FAQEntry, Product

T = TypeVar("T", bound=BaseModel)

PRODUCT_REQUIRED = ("id", "title", "price")
FAQ_REQUIRED = ("id", "question", "answer")
SUPPORTED_SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")
# The text a customer can be shown, scanned by a `ContentPolicy` at load (retrieval.content).
PRODUCT_TEXT_FIELDS = ("title", "description", "brand", "category", "color", "size", "material", "tags")
FAQ_TEXT_FIELDS = ("category", "question", "answer", "examples")


class CatalogError(ValueError):
    """The file as a whole cannot be used (unreadable, unknown format, missing columns)."""


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

    @property
    def rows_read(self) -> int:
        return len(self.items) + len({e.row for e in self.errors})

    def report(self) -> str:
        lines = [
            f"{self.path.name}: {len(self.items)} valid rows, {len({e.row for e in self.errors})} skipped"
        ]
        lines += [f"  {e}" for e in self.errors]
        if self.findings:
            rows = len({i.row for i in self.findings})
            count = sum(len(i.findings) for i in self.findings)
            lines.append(f"  content review: {count} finding(s) in {rows} row(s)")
            lines += [f"  {line}" for issue in self.findings for line in issue.lines()]
        return "\n".join(lines)


def _read_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """Columns and (row number, raw record) pairs; row numbers are what a spreadsheet shows."""
    if not path.exists():
        raise CatalogError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            reader.fieldnames = columns
            # line_num after a record is the spreadsheet row it ended on (quoted newlines included)
            rows = [(reader.line_num, record) for record in reader]
        return columns, iter(rows)
    if suffix in (".jsonl", ".json"):
        text = path.read_text(encoding="utf-8")
        records: list[tuple[int, Any]]
        if suffix == ".json" or text.lstrip().startswith("["):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise CatalogError(f"{path}: not valid JSON ({exc})") from exc
            if not isinstance(data, list):
                raise CatalogError(f"{path}: expected a JSON list of objects")
            records = [(i + 1, r) for i, r in enumerate(data)]
        else:
            records = []
            for i, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    records.append((i, json.loads(line)))
                except json.JSONDecodeError as exc:
                    records.append((i, {"__error__": f"not valid JSON ({exc.msg})"}))
        columns = sorted({k for _, r in records if isinstance(r, dict) for k in r if k != "__error__"})
        return columns, iter(
            (n, r if isinstance(r, dict) else {"__error__": "not an object"}) for n, r in records
        )
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise CatalogError(
                f"{path}: reading Parquet needs pyarrow: pip install 'shopassist[parquet]'"
            ) from exc
        try:
            table = pq.read_table(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
            raise CatalogError(f"{path}: not a readable Parquet file ({exc})") from exc
        rows = table.to_pylist()
        return list(table.column_names), iter((i + 1, r) for i, r in enumerate(rows))
    raise CatalogError(
        f"{path}: unsupported format {suffix or '(none)'}; use one of {', '.join(SUPPORTED_SUFFIXES)}"
    )


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
) -> LoadResult[T]:
    path = Path(path)
    mapping = dict(mapping or {})
    columns, rows = _read_rows(path)
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
            result.errors.append(RowError(row_no, "(row)", raw["__error__"]))
            continue
        record: dict[str, Any] = {}
        for name, source in source_of.items():
            value = raw.get(source)
            if value is None or (isinstance(value, str) and value.strip() == ""):
                continue
            record[name] = _split_list(value, list_fields[name]) if name in list_fields else value
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
) -> LoadResult[Product]:
    """Read products from CSV, JSONL or a JSON list; `mapping` maps our field names to the file's.

    A shop catalogue needs prices (the default `required`); relevance test sets pass ("id", "title").
    With `content`, customer-visible text is scanned and flagged fields are withheld, kept or
    rejected as the policy says; `findings` lists them with row, field and span.
    """
    return _load(Path(path), Product, required, mapping, {"tags": ";|,"}, content, PRODUCT_TEXT_FIELDS)


def load_faq(
    path: str | Path, mapping: Mapping[str, str] | None = None, content: ContentPolicy | None = None
) -> LoadResult[FAQEntry]:
    """Read FAQ/policy entries; `examples` may hold ' | '-separated customer phrasings. `content`
    as for `load_products`."""
    return _load(Path(path), FAQEntry, FAQ_REQUIRED, mapping, {"examples": "|"}, content, FAQ_TEXT_FIELDS)
