"""Batch copy: a catalogue, or a filter of it, to JSONL or CSV; resumable, skipping unchanged products.

Rows are appended as products finish. Beside the output a state file (`OUT.state`, one JSON line
per finished row) records each product's key (a hash of its attributes, the controls, the model and
adapter, the copy settings and the prompt templates) and the byte range of its row. A rerun keeps
the rows whose key is unchanged, redoes the others, and cuts away anything the state file does not
vouch for: a row half-written when the process was killed, or a row written just before the kill
whose state line was not. So a kill at any moment costs at most the rows in flight.

Products are kept in flight `workers` at a time (the embedded engine batches them), or
`server_concurrency` at a time when a model server writes (it batches what arrives together); rows
are still written, fsynced and vouched for one by one by this thread. A row the template wrote because
the model could not be asked (server down) is written but vouched for under a key no run matches, so
the next run redoes it with the model.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assistant.copystudio.protocol import CopyControls, CopyRequest, CopyResult
from assistant.copystudio.service import CopyInputError, CopyService
from assistant.errors import BadInput
from assistant.grounding.spreadsheet import safe_cell
from retrieval.files import write_atomic

COLUMNS = (
    "product_id",
    "title",
    "text",
    "form",
    "tone",
    "length",
    "word_count",
    "length_ok",
    "coverage",
    "missing",
    "source",
    "unsupported",
    "attempts",
    "candidates",
    "adapter",
    "language_note",
)
# Headers of earlier versions: such a file is a copy batch whose rows are all out of date.
_LEGACY_COLUMNS = (tuple(c for c in COLUMNS if c != "candidates"),)
FORMATS = (".jsonl", ".csv")
# Settings that change how fast a batch runs, not what it writes: not part of a row's key.
_OPERATIONAL = frozenset({"workers", "server_concurrency"})
_UNAVAILABLE = "~model-unavailable"  # appended to the key of a row the model did not write


class BatchError(BadInput):
    """The output cannot be written or resumed; the message says what to do."""


class BatchReport(BaseModel):
    out: str
    selected: int = Field(description="Products the filter selected")
    skipped: int = Field(description="Unchanged since the last run: kept as they were")
    written: int = Field(description="Rows written in this run")
    failed: dict[str, str] = Field(default_factory=dict, description="Product id -> why it was not written")
    sources: dict[str, int] = Field(default_factory=dict, description="model / repaired / template counts")
    unavailable: int = Field(
        default=0,
        description="Rows written from the template because the model could not be asked; a rerun redoes them",
    )
    candidates: int = Field(default=0, description="Model candidates written for this run's rows")
    workers: int = Field(default=0, description="Products kept in flight")
    seconds: float = 0.0


def select_products(
    products: Mapping[str, Any],
    *,
    category: str | None = None,
    brand: str | None = None,
    ids: Sequence[str] | None = None,
) -> list[Any]:
    """The products a batch covers, in catalogue order; filters are case-insensitive and combine.
    Unknown ids are an error (a typo should not silently shrink the batch)."""
    if ids:
        unknown = [i for i in ids if i not in products]
        if unknown:
            raise CopyInputError(f"unknown product id(s): {', '.join(unknown[:10])}")
        chosen = [products[i] for i in ids]
    else:
        chosen = list(products.values())
    if category:
        chosen = [p for p in chosen if p.category.lower() == category.lower()]
    if brand:
        chosen = [p for p in chosen if p.brand.lower() == brand.lower()]
    return chosen


def prompts_fingerprint() -> str:
    """Hash of the copy prompt templates: editing one redoes the batch."""
    h = hashlib.sha256()
    files = sorted(
        (p for p in (resources.files("prompts") / "copy").iterdir() if p.name.endswith(".j2")),
        key=lambda p: p.name,
    )
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def key_context(service: CopyService, controls: CopyControls, adapter: str | None) -> str:
    """The part of every row's key that is the same for the whole run (controls, model, adapter, the
    copy settings that shape the text, the prompt templates): computed once per run, not per product."""
    payload = {
        "controls": controls.model_dump(mode="json"),
        "model": service.model_id,
        "adapter": adapter,
        "settings": service.settings.model_dump(mode="json", exclude=set(_OPERATIONAL)),
        "prompts": prompts_fingerprint(),
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False)


def job_key(
    service: CopyService,
    attributes: Mapping[str, str],
    controls: CopyControls,
    adapter: str | None,
    *,
    context: str | None = None,
) -> str:
    """What a row depends on; equal keys mean the row would be written the same way again."""
    if context is None:
        context = key_context(service, controls, adapter)
    raw = context + "\n" + json.dumps(dict(attributes), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:20]


def row_of(result: CopyResult, title: str) -> dict[str, Any]:
    return {
        "product_id": result.product_id,
        "title": title,
        "text": result.text,
        "form": result.form,
        "tone": result.tone,
        "length": result.length,
        "word_count": result.word_count,
        "length_ok": result.length_ok,
        "coverage": result.coverage,
        "missing": result.missing,
        "source": result.source,
        "unsupported": [c.text for c in result.unsupported],
        "attempts": result.attempts,
        "candidates": result.candidates,
        "adapter": result.adapter or "",
        "language_note": result.language_note or "",
    }


def _encode(row: Mapping[str, Any], fmt: str) -> bytes:
    if fmt == ".jsonl":
        return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
    buf = io.StringIO()
    flat = {k: safe_cell("; ".join(v) if isinstance(v, list) else v) for k, v in row.items()}
    csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n").writerow(flat)
    return buf.getvalue().encode("utf-8")


def _header_of(columns: Sequence[str]) -> bytes:
    return (",".join(columns) + "\n").encode("utf-8")


def _header(fmt: str) -> bytes:
    return _header_of(COLUMNS) if fmt == ".csv" else b""


def check_out_path(out: Path) -> str:
    """The output format from the suffix; a clear error for a path that cannot be written."""
    fmt = out.suffix.lower()
    if fmt not in FORMATS:
        raise BatchError(f"{out}: the output must end in .jsonl or .csv")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise BatchError(f"{out}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise BatchError(f"{out}: not writable; choose another --out")
    if out.is_dir():
        raise BatchError(f"{out} is a folder; give a file name ending in .jsonl or .csv")
    return fmt


class CopyBatch:
    """Writes copy for many products into one file, resumably (see the module docstring)."""

    def __init__(
        self,
        service: CopyService,
        out: Path,
        *,
        controls: CopyControls | None = None,
        adapter: str | None = None,
    ) -> None:
        self.service = service
        self.out = Path(out)
        self.fmt = check_out_path(self.out)
        self.state_path = self.out.with_name(self.out.name + ".state")
        self.controls = controls or CopyControls()
        self.adapter = adapter  # as a CopyRequest names it: None = default, 'base', or a name

    # -- state ----------------------------------------------------------------------------------------
    def _read_state(self) -> dict[str, dict[str, Any]]:
        """Finished rows by product id (the last line wins); a torn last line is ignored."""
        entries: dict[str, dict[str, Any]] = {}
        if not self.state_path.exists():
            return entries
        for line in self.state_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
                entries[str(entry["id"])] = {
                    "key": str(entry["key"]),
                    "start": int(entry["start"]),
                    "end": int(entry["end"]),
                }
            except (ValueError, KeyError, TypeError):
                continue
        return entries

    def _prepare(self, keep: Callable[[str, str], bool]) -> tuple[dict[str, dict[str, Any]], int]:
        """Rewrite output and state to the rows that are whole, vouched for and still wanted.
        Returns the kept entries and the output size to append at."""
        header = _header(self.fmt)
        if self.out.exists() and not self.state_path.exists() and self.out.stat().st_size > len(header):
            raise BatchError(
                f"{self.out} exists but has no state file {self.state_path.name}, so it is not a batch this "
                "command can resume; delete it or choose another --out"
            )
        data = self.out.read_bytes() if self.out.exists() else b""
        entries = self._read_state()
        if data and header and any(data.startswith(_header_of(c)) for c in _LEGACY_COLUMNS):
            data, entries = b"", {}  # an earlier version's batch: every row is redone
        if data and header and not data.startswith(header):
            raise BatchError(
                f"{self.out} has other columns than a copy batch; delete it or choose another --out"
            )
        kept: dict[str, dict[str, Any]] = {}
        rows: list[tuple[str, bytes]] = []
        for pid, e in sorted(entries.items(), key=lambda kv: kv[1]["start"]):
            whole = (
                len(header) <= e["start"] < e["end"] <= len(data) and data[e["end"] - 1 : e["end"]] == b"\n"
            )
            if whole and keep(pid, e["key"]):
                rows.append((pid, data[e["start"] : e["end"]]))
                kept[pid] = e
        parts = [header]  # joined once: adding bytes to bytes row by row is quadratic in a catalogue
        size = len(header)
        state_lines = []
        for pid, raw in rows:
            parts.append(raw)
            kept[pid] = {"key": kept[pid]["key"], "start": size, "end": size + len(raw)}
            size += len(raw)
            state_lines.append(json.dumps({"id": pid, **kept[pid]}) + "\n")
        body = b"".join(parts)
        if body != data:
            write_atomic(self.out, body)
        write_atomic(self.state_path, "".join(state_lines).encode("utf-8"))
        return kept, len(body)

    # -- the run --------------------------------------------------------------------------------------
    def run(
        self,
        products: Iterable[Any],
        *,
        progress: bool = True,
        workers: int | None = None,
        on_result: Callable[[CopyResult], None] | None = None,
    ) -> BatchReport:
        """Write copy for every product whose row is missing or out of date."""
        started = time.perf_counter()
        products = list(products)
        adapter = self.service.adapter_for(self.adapter)
        keys: dict[str, str] = {}
        failed: dict[str, str] = {}
        context = key_context(self.service, self.controls, adapter)
        for p in products:
            try:
                attributes = self.service.attributes(p.id)
                keys[p.id] = job_key(self.service, attributes, self.controls, adapter, context=context)
            except CopyInputError as exc:
                failed[p.id] = str(exc)
        kept, size = self._prepare(lambda pid, key: keys.get(pid, key) == key)
        todo = deque(p for p in products if p.id in keys and p.id not in kept)
        titles = {p.id: p.title for p in products}
        sources: Counter[str] = Counter()
        written = unavailable = candidates = 0
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="copy", unit="product", disable=not progress)
        workers = max(1, workers or self.service.concurrency())
        total_todo = len(todo)
        try:
            with (
                self.out.open("ab") as out,
                self.state_path.open("a", encoding="utf-8") as state,
                ThreadPoolExecutor(max_workers=workers, thread_name_prefix="copy-batch") as pool,
            ):
                out.seek(size)
                pending: dict[Future[CopyResult], str] = {}
                try:
                    while todo or pending:
                        while todo and len(pending) < workers:
                            p = todo.popleft()
                            request = CopyRequest(
                                product_id=p.id, controls=self.controls, adapter=self.adapter
                            )
                            pending[pool.submit(self.service.run, request)] = p.id
                        done, _ = wait(pending, return_when=FIRST_COMPLETED)
                        for future in done:
                            pid = pending.pop(future)
                            try:
                                result = future.result()
                            except CopyInputError as exc:
                                failed[pid] = str(exc)
                                bar.update(1)
                                continue
                            raw = _encode(row_of(result, titles[pid]), self.fmt)
                            start = out.tell()
                            out.write(raw)
                            out.flush()
                            os.fsync(out.fileno())
                            # the row is on disk before the state line that vouches for it; a row the
                            # model could not write is vouched for under a key the next run redoes
                            key = keys[pid] + (_UNAVAILABLE if result.model_unavailable else "")
                            state.write(
                                json.dumps({"id": pid, "key": key, "start": start, "end": start + len(raw)})
                                + "\n"
                            )
                            state.flush()
                            written += 1
                            unavailable += bool(result.model_unavailable)
                            candidates += result.candidates
                            sources[result.source] += 1
                            bar.update(1)
                            if on_result is not None:
                                on_result(result)
                finally:
                    for future in pending:
                        future.cancel()
        finally:
            bar.close()
        return BatchReport(
            out=str(self.out),
            selected=len(products),
            skipped=len(products) - total_todo - sum(1 for p in products if p.id not in keys),
            written=written,
            failed=failed,
            sources=dict(sources),
            unavailable=unavailable,
            candidates=candidates,
            workers=workers,
            seconds=round(time.perf_counter() - started, 2),
        )


def read_rows(out: Path) -> list[dict[str, Any]]:
    """The rows of a batch file (JSONL or CSV), for tests and the UI."""
    out = Path(out)
    if out.suffix.lower() == ".jsonl":
        return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    with out.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
