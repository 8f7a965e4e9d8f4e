"""Chroma storage: reading collections in pages, and the in-place, hash-based sync of the FAQ.

Each record is keyed by its stable id and carries a content hash. `sync_records` embeds only records
that are new or changed, deletes the ones that disappeared only when asked (`prune`), and writes in
batches, so a killed ingest resumes by running it again and an unchanged collection costs no
embedding work. A failed or partial load never deletes anything. Products are stored as versions
instead (retrieval.versions), so that shoppers never search a half-written catalogue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.offline import set_offline_env

log = logging.getLogger(__name__)

_EXAMPLES = 5  # ids kept per kind of change, for reports


@dataclass
class IngestStats:
    """What an ingest did, or with a dry run would do, to one collection: records added, updated
    (same id, new content), unchanged and deleted, a few ids of each change for the report, and
    how many records were embedded (fewer than added + updated when a rerun finds them written)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    embedded: int = 0
    seconds: float = 0.0
    examples: dict[str, list[str]] = field(default_factory=dict)

    def note(self, kind: str, record_id: str) -> None:
        """Count one record as `kind` (added, updated, unchanged or deleted)."""
        setattr(self, kind, getattr(self, kind) + 1)
        if kind != "unchanged":
            ids = self.examples.setdefault(kind, [])
            if len(ids) < _EXAMPLES:
                ids.append(record_id)

    def __str__(self) -> str:
        rate = f", {self.embedded / self.seconds:.0f}/s" if self.seconds and self.embedded else ""
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.deleted} deleted ({self.seconds:.1f}s{rate})"
        )


@dataclass(frozen=True)
class Record:
    id: str
    document: str
    metadata: dict[str, Any]


def open_client(path: str | Path | None = None, url: str | None = None) -> Any:
    """An embedded PersistentClient at `path`, or an HttpClient when a server `url` is given.

    A server that does not answer is a `ConnectionError` naming the URL, caused by the transport's
    error: chromadb reports it as a bare ValueError, which callers could not tell from a bad argument.
    """
    set_offline_env()
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if url:
        from urllib.parse import urlparse

        parsed = urlparse(url if "://" in url else f"http://{url}")
        https = parsed.scheme == "https"
        host = parsed.hostname or "127.0.0.1"
        if ":" in host:  # IPv6 literal: chromadb builds the URL as a string, so keep the brackets
            host = f"[{host}]"
        try:
            return chromadb.HttpClient(
                host=host, port=parsed.port or (443 if https else 8000), ssl=https, settings=settings
            )
        except ValueError as exc:  # chromadb wraps whatever the first request raised (ConnectError, ...)
            raise ConnectionError(f"no Chroma server answers at {url}") from (exc.__context__ or exc)
    if path is None:
        raise ValueError("open_client needs a path (embedded store) or a url (Chroma server)")
    Path(path).mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


def get_collection(client: Any, name: str, embedding_function: Any) -> Any:
    return client.get_or_create_collection(name=name, embedding_function=embedding_function)


def _ef_name(embedding_function: Any) -> str:
    if hasattr(embedding_function, "name"):
        return str(embedding_function.name())
    return type(embedding_function).__name__


def embedding_tag(embedding_function: Any) -> str:
    """What made a collection's vectors: the embedding function's name and adapter tag, if any."""
    config = embedding_function.get_config() if hasattr(embedding_function, "get_config") else {}
    tag = config.get("adapter_tag")
    name = _ef_name(embedding_function)
    return f"{name}+{tag}" if tag else name


def get_embedded_collection(client: Any, name: str, embedding_function: Any, page: int = 2000) -> Any:
    """A collection whose stored vectors come from `embedding_function`: one embedded by another
    model (an adapter switched on or off) is re-embedded first. Chroma tells embedding functions
    apart by name only, so the model is recorded in the collection's metadata ("embedding"); a
    collection without the record was made by the plain model. The swap builds NAME__reembed,
    drops the old collection and renames the new one, so an interrupted swap loses nothing: the
    next open finishes it. With a Chroma server shared by replicas, change the model on one replica
    and restart the others once it has started (they hold the dropped collection until then)."""
    tag, plain = embedding_tag(embedding_function), _ef_name(embedding_function)
    spare = f"{name}__reembed"
    names = {getattr(c, "name", c) for c in client.list_collections()}
    if name not in names and spare in names:
        client.get_collection(spare, embedding_function=embedding_function).modify(name=name)
    elif spare in names:
        client.delete_collection(spare)  # a swap that died before dropping the old one: start over
    collection = client.get_or_create_collection(name=name, embedding_function=embedding_function)
    stored = (collection.metadata or {}).get("embedding", plain)
    if collection.count() == 0:
        if stored != tag:
            kept = {k: v for k, v in (collection.metadata or {}).items() if not k.startswith("hnsw:")}
            collection.modify(metadata={**kept, "embedding": tag})
        return collection
    if stored == tag:
        return collection
    log.warning("collection %s was embedded by %s: re-embedding it with %s", name, stored, tag)
    ids, docs, metas = read_all(collection)
    fresh = client.create_collection(
        spare, embedding_function=embedding_function, metadata={"embedding": tag}
    )
    for i in range(0, len(ids), page):
        fresh.upsert(ids=ids[i : i + page], documents=docs[i : i + page], metadatas=metas[i : i + page])
    client.delete_collection(name)
    fresh.modify(name=name)
    return client.get_collection(name, embedding_function=embedding_function)


def existing_hashes(collection: Any) -> dict[str, str]:
    """id -> content hash of everything stored."""
    ids, metas = read_metadatas(collection)
    return {rid: str(meta.get("content_hash", "")) for rid, meta in zip(ids, metas, strict=True)}


def delete_ids(collection: Any, ids: Sequence[str], page: int = 5000) -> None:
    """Delete ids in pages, so each request stays bounded however many ids go."""
    for i in range(0, len(ids), page):
        collection.delete(ids=list(ids[i : i + page]))


def sync_records(
    collection: Any,
    records: Sequence[Record],
    *,
    prune: bool = False,
    batch_size: int = 1024,
    progress: Callable[[int], None] | None = None,
    dry_run: bool = False,
) -> IngestStats:
    """Upsert new and changed records in place (the collection's embedding function embeds them);
    delete stored ones not in `records` only when `prune`. `dry_run` counts and writes nothing."""
    start = time.perf_counter()
    stats = IngestStats()
    stored = existing_hashes(collection)
    todo: list[Record] = []
    for rec in records:
        old = stored.get(rec.id)
        changed = old != rec.metadata.get("content_hash")
        stats.note("added" if old is None else "updated" if changed else "unchanged", rec.id)
        if changed:
            todo.append(rec)
    keep = {r.id for r in records}
    gone = [rid for rid in stored if rid not in keep] if prune else []
    for rid in gone:
        stats.note("deleted", rid)
    if dry_run:
        return stats
    for i in range(0, len(todo), batch_size):
        batch = todo[i : i + batch_size]
        collection.upsert(
            ids=[r.id for r in batch],
            documents=[r.document for r in batch],
            metadatas=[r.metadata for r in batch],
        )
        stats.embedded += len(batch)
        if progress:
            progress(len(batch))
    delete_ids(collection, gone)
    stats.seconds = time.perf_counter() - start
    return stats


def _pages(collection: Any, include: list[str], page: int) -> list[dict[str, Any]]:
    out = []
    offset = 0
    while True:
        got = collection.get(include=include, limit=page, offset=offset)
        out.append(got)
        if len(got["ids"]) < page:
            return out
        offset += page


def all_ids(collection: Any, page: int = 5000) -> list[str]:
    """Every stored id (no documents, metadata or vectors are read)."""
    return [rid for got in _pages(collection, [], page) for rid in got["ids"]]


def read_metadatas(collection: Any, page: int = 5000) -> tuple[list[str], list[dict[str, Any]]]:
    """Every stored id and its metadata."""
    ids: list[str] = []
    metas: list[dict[str, Any]] = []
    for got in _pages(collection, ["metadatas"], page):
        ids += got["ids"]
        metas += [dict(m or {}) for m in got["metadatas"] or []]
    return ids, metas


def read_all(collection: Any, page: int = 5000) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """Every stored id, document and metadata (for the lexical index of the FAQ)."""
    ids: list[str] = []
    docs: list[str] = []
    metas: list[dict[str, Any]] = []
    for got in _pages(collection, ["documents", "metadatas"], page):
        ids += got["ids"]
        docs += [d or "" for d in got["documents"] or []]
        metas += [dict(m or {}) for m in got["metadatas"] or []]
    return ids, docs, metas


def read_ids(collection: Any, ids: Sequence[str], page: int = 5000) -> dict[str, tuple[str, dict[str, Any]]]:
    """id -> (document, metadata) of the given ids that are stored, read in pages."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for i in range(0, len(ids), page):
        got = collection.get(ids=list(ids[i : i + page]), include=["documents", "metadatas"])
        for rid, doc, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True):
            out[rid] = (doc or "", dict(meta or {}))
    return out
