"""Reading a catalogue file into raw rows, and the per-value limits every reader applies.

Shared by the generic loader (`retrieval.catalog`) and the commerce export readers
(`retrieval.formats`), which both build on it; neither imports the other's internals.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Field limits (README "Catalogue files"): ids are keys in URLs, logs and the vector store.
MAX_ID_CHARS = 128
MAX_FIELD_CHARS = 20_000
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+#-]*")
# C0 controls except tab, newline and carriage return, plus DEL: never meaningful in shop text.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SUPPORTED_SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")


class CatalogError(ValueError):
    """The file as a whole cannot be used (unreadable, unknown format, missing columns)."""


def decode_file(path: Path, encoding: str) -> str:
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


def read_csv(
    path: Path, encoding: str, delimiter: str = ","
) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """Strict CSV: a row with an unterminated quote, a stray quote or the wrong number of fields is
    reported by its line and skipped, and parsing resumes on the next line, so one bad row never
    swallows the rows after it (Python's lenient reader would read to the end of the file)."""
    lines = decode_file(path, encoding).splitlines(keepends=True)
    if not lines:
        raise CatalogError(f"{path}: the file is empty; the first line must name the columns")
    try:
        header = next(csv.reader(lines[:1], strict=True, delimiter=delimiter))
    except (csv.Error, StopIteration) as exc:
        raise CatalogError(f"{path}: the header line cannot be read as CSV ({exc})") from exc
    columns = [c.strip() for c in header]
    rows: list[tuple[int, dict[str, Any]]] = []
    start = 1  # 0-based index of the first physical line still to parse
    while start < len(lines):
        reader = csv.reader(lines[start:], strict=True, delimiter=delimiter)
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


def read_rows(
    path: Path, encoding: str = "utf-8-sig"
) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """Columns and (row number, raw record) pairs; row numbers are what a spreadsheet shows."""
    if not path.exists():
        raise CatalogError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(path, encoding)
    if suffix in (".jsonl", ".json"):
        text = decode_file(path, "utf-8-sig" if encoding == "utf-8-sig" else encoding)
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


def text_problem(name: str, value: str) -> str | None:
    """Why a text value cannot be stored, or None: too long, control characters, a malformed id."""
    limit = MAX_ID_CHARS if name == "id" else MAX_FIELD_CHARS
    if len(value) > limit:
        return f"{len(value):,} characters; the limit is {limit:,}"
    bad = CONTROL.search(value)
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
