"""Load catalogue and FAQ files into validated records, with a report of every rejected row.

Bad rows never stop a load: each is listed with its row number, field and reason, and the good
rows go in. A file that lacks a required column cannot yield any row, so it raises
`CatalogError` naming the missing columns before anything is written.
"""

from __future__ import annotations

import csv
import json
import re
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
# Field limits (README "Catalogue files"): ids are keys in URLs, logs and the vector store.
MAX_ID_CHARS = 128
MAX_FIELD_CHARS = 20_000
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+#-]*")
# C0 controls except tab, newline and carriage return, plus DEL: never meaningful in shop text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
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


def _decode(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CatalogError(
            f"{path}: line {line} is not valid {encoding} (byte {exc.start}: {data[exc.start : exc.start + 1]!r}); "
            "save the file as UTF-8 or name its encoding, e.g. --encoding latin-1"
        ) from exc
    except LookupError as exc:
        raise CatalogError(f"{path}: unknown encoding {encoding!r}") from exc


def _read_csv(path: Path, encoding: str) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """Strict CSV: a row with an unterminated quote, a stray quote or the wrong number of fields is
    reported by its line and skipped, and parsing resumes on the next line, so one bad row never
    swallows the rows after it (Python's lenient reader would read to the end of the file)."""
    lines = _decode(path, encoding).splitlines(keepends=True)
    if not lines:
        raise CatalogError(f"{path}: the file is empty; the first line must name the columns")
    try:
        header = next(csv.reader(lines[:1], strict=True))
    except (csv.Error, StopIteration) as exc:
        raise CatalogError(f"{path}: the header line cannot be read as CSV ({exc})") from exc
    columns = [c.strip() for c in header]
    rows: list[tuple[int, dict[str, Any]]] = []
    start = 1  # 0-based index of the first physical line still to parse
    while start < len(lines):
        reader = csv.reader(lines[start:], strict=True)
        done = 0  # physical lines of this slice consumed by complete records
        try:
            for record in reader:
                line = start + reader.line_num  # 1-based line where the record ended
                first = start + done + 1  # 1-based line where it began
                done = reader.line_num
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue
                if len(record) != len(columns):
                    rows.append(
                        (
                            first,
                            {
                                "__error__": (
                                    f"{len(record)} fields where the header has {len(columns)}"
                                    + (
                                        f" (lines {first}-{line}: a quote that is never closed?)"
                                        if line > first
                                        else " (an unquoted comma, or a missing field?)"
                                    )
                                )
                            },
                        )
                    )
                    continue
                rows.append((first, dict(zip(columns, record, strict=True))))
            break
        except csv.Error as exc:
            bad = start + done + 1
            rows.append(
                (bad, {"__error__": f"not valid CSV from here ({exc}); check the quotes on this line"})
            )
            start = bad  # resume on the line after the bad row's first line
    return columns, iter(rows)


def _read_rows(
    path: Path, encoding: str = "utf-8-sig"
) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """Columns and (row number, raw record) pairs; row numbers are what a spreadsheet shows."""
    if not path.exists():
        raise CatalogError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, encoding)
    if suffix in (".jsonl", ".json"):
        text = _decode(path, "utf-8-sig" if encoding == "utf-8-sig" else encoding)
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


def _text_problem(name: str, value: str) -> str | None:
    """Why a text value cannot be stored, or None: too long, control characters, a malformed id."""
    limit = MAX_ID_CHARS if name == "id" else MAX_FIELD_CHARS
    if len(value) > limit:
        return f"{len(value):,} characters; the limit is {limit:,}"
    bad = _CONTROL.search(value)
    if bad:
        return (
            f"contains a control character (U+{ord(bad.group(0)):04X}) at position {bad.start()}; remove it"
        )
    if name == "id" and (not ID_PATTERN.fullmatch(value.strip()) or ".." in value):
        return (
            f"{value[:40]!r} is not a valid id: use letters, digits and _ . : + # - "
            f"(up to {MAX_ID_CHARS} characters, starting with a letter or digit)"
        )
    return None


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
) -> LoadResult[T]:
    path = Path(path)
    mapping = dict(mapping or {})
    columns, rows = _read_rows(path, encoding)
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
        problems: list[RowError] = []
        for name, source in source_of.items():
            value = raw.get(source)
            if value is None or (isinstance(value, str) and value.strip() == ""):
                if name in required:
                    problems.append(RowError(row_no, name, "required, but empty"))
                continue
            if isinstance(value, str):
                if strip_controls and name != "id":
                    value = _CONTROL.sub(" ", value)
                problem = _text_problem(name, value)
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
) -> LoadResult[Product]:
    """Read products from CSV, JSONL or a JSON list; `mapping` maps our field names to the file's.

    A shop catalogue needs prices (the default `required`); relevance test sets pass ("id", "title")
    and `strip_controls` (their scraped text carries stray control characters; a shop's file is refused).
    With `content`, customer-visible text is scanned and flagged fields are withheld, kept or
    rejected as the policy says; `findings` lists them with row, field and span.
    """
    return _load(
        Path(path),
        Product,
        required,
        mapping,
        {"tags": ";|,"},
        content,
        PRODUCT_TEXT_FIELDS,
        encoding,
        strip_controls,
    )


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
