"""Catalogue versions kept in the Chroma server itself, so that every API replica using one server
serves the same version: an ingest on any replica (or the CLI) is picked up by the others within
their check interval, and a killed ingest leaves all of them on the previous version.

The versions of collection `<products>` live in the collection `<products>_versions` (no embedding
function; every record carries a one-dimensional zero vector, as Chroma requires one):

- `manifest:v<N>:<token>:<k>`: chunk k of version N's manifest as saved by the ingest `token`, in
  the metadata field `data`. Chroma indexes documents for full-text search and metadata strings not:
  a 16 MB string round-trips in 0.9 s as metadata and 15 s as a document (measured here).
- `commit:v<N>` {token, sha, chunks}: version N is live from the moment this record exists. It is
  created with `add`, which Chroma ignores for an id it already holds, so of two ingests racing to
  make a version N live exactly one wins; the other reads back a token not its own and raises
  `VersionConflict`. Each version is built on the live one, so live numbers are consecutive and the
  live version is the highest commit, found by walking forward from the last one seen.
- `current` {version}: where a fresh process starts that walk; written after the commit, so a run
  killed between the two is still found live.
- `lease` {owner, expires}: one ingest at a time per shop. Taken with `add` (insert if absent),
  renewed by a heartbeat every third of `lease_s`, released by deleting it where the owner is still
  this run; a lease past its expiry (a killed ingest) is deleted the same conditional way and taken
  over. Chroma has no transactions, so the takeover of an expired lease is the one step that is not
  a compare-and-set; a run that lost its lease finds out before its commit and raises instead.
- `unfinished` {version}: documents outside the live version may exist (see retrieval.versions).
- `faq` {stamp}: replaced after each FAQ sync that changed something; replicas reload their FAQ.

Each process builds the lexical index of a version from the documents in Chroma, or loads it from
its own cache folder, `<cache>/v<N>-<manifest sha>/`: the number alone would name a different
catalogue after the server's data were replaced.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.versions import Version, VersionConflict, VersionStore

log = logging.getLogger(__name__)

_ZERO = [0.0]
_HINT, _LEASE, _UNFINISHED, _FAQ = "current", "lease", "unfinished", "faq"
_CHUNK = 4_000_000  # characters of manifest JSON per record (a 1M-product manifest is ~15 of them)
_CHUNKS_PER_READ = 4  # records per request when reading a manifest back (16 MB)
_PROBE = 8  # commits looked up per request when walking forward to the live version
_MANIFEST_ID = re.compile(r"manifest:v(\d+):([0-9a-f]+):(\d+)")
_CACHED = re.compile(r"v(\d+)-[0-9a-f]+")


def _commit_id(number: int) -> str:
    return f"commit:v{number}"


def _manifest_id(number: int, token: str, chunk: int) -> str:
    return f"manifest:v{number}:{token}:{chunk}"


@dataclass(frozen=True)
class _Commit:
    number: int
    token: str  # the ingest run whose manifest chunks this version reads
    sha: str  # of the manifest JSON: checked on reading, and part of the local cache's folder name
    chunks: int

    def metadata(self) -> dict[str, Any]:
        return {
            "kind": "commit",
            "version": self.number,
            "token": self.token,
            "sha": self.sha,
            "chunks": self.chunks,
        }

    @classmethod
    def of(cls, number: int, meta: dict[str, Any]) -> _Commit:
        return cls(number, str(meta["token"]), str(meta["sha"]), int(meta["chunks"]))


class ChromaVersions(VersionStore):
    """The versions of one catalogue in a Chroma collection of its own (see the module docstring).

    `cache` is this process's folder for lexical indexes (None: built in memory on every load);
    `lease_s` is how long a killed ingest blocks the next one; `poll_s` how often a waiting ingest
    looks at the lease again."""

    def __init__(
        self, collection: Any, cache: Path | None = None, *, lease_s: float = 60.0, poll_s: float = 0.5
    ) -> None:
        super().__init__()
        self.collection = collection
        self.cache = cache
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.faq_stamp: str | None = None  # as of the last `current()`
        self._commits: dict[int, _Commit] = {}  # recent live versions seen
        self._saved: dict[int, _Commit] = {}  # manifests this object saved and has not committed yet
        self._known = 0  # the live number last seen: where the next walk starts
        self._lease: str | None = None  # this object's lease token while an ingest holds it

    @classmethod
    def open(
        cls, client: Any, products_collection: str, cache: Path | None = None, **kwargs: Any
    ) -> ChromaVersions:
        collection = client.get_or_create_collection(
            f"{products_collection}_versions", embedding_function=None
        )
        return cls(collection, cache, **kwargs)

    # -- reading --------------------------------------------------------------------------------

    def _get(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        got = self.collection.get(ids=list(ids), include=["metadatas"])
        return {rid: dict(meta or {}) for rid, meta in zip(got["ids"], got["metadatas"] or [], strict=True)}

    def current(self) -> int | None:
        """The live version: one request (the hint, the FAQ stamp and the next commits after the
        last live version seen) unless the catalogue moved on by more than `_PROBE` versions."""
        start = self._known
        got = self._get([_HINT, _FAQ, *(_commit_id(n) for n in range(start, start + _PROBE))])
        self.faq_stamp = got[_FAQ].get("stamp") if _FAQ in got else None
        if _commit_id(start) not in got:  # a first look (or the server's data were replaced)
            hint = got.get(_HINT)
            start = int(hint["version"]) if hint else 0
            if start != self._known:
                got.update(self._get([_commit_id(n) for n in range(start, start + _PROBE)]))
        number, end = start, start + _PROBE
        while True:
            if number == end:
                got.update(self._get([_commit_id(n) for n in range(end, end + _PROBE)]))
                end += _PROBE
            meta = got.get(_commit_id(number))
            if meta is None:
                break
            self._commits[number] = _Commit.of(number, meta)
            number += 1
        if number == start:
            return None  # no commit at all: a store from before shared versions, adopted as version 0
        live = number - 1
        self._known = live
        for old in [n for n in list(self._commits) if n < live - 2]:  # a copy: an ingest thread may add
            self._commits.pop(old, None)
        return live

    def _commit(self, number: int) -> _Commit:
        commit = self._commits.get(number) or self._saved.get(number)
        if commit is None:
            meta = self._get([_commit_id(number)]).get(_commit_id(number))
            if meta is None:
                raise LookupError(f"catalogue version {number} is not live in {self.collection.name}")
            commit = self._commits[number] = _Commit.of(number, meta)
        return commit

    def load(self, number: int) -> Version:
        commit = self._commit(number)
        ids = [_manifest_id(number, commit.token, k) for k in range(commit.chunks)]
        parts: dict[str, str] = {}
        for i in range(0, len(ids), _CHUNKS_PER_READ):
            parts.update(
                {rid: str(m.get("data", "")) for rid, m in self._get(ids[i : i + _CHUNKS_PER_READ]).items()}
            )
        text = "".join(parts.get(rid, "") for rid in ids)
        if len(parts) != len(ids) or _sha(text) != commit.sha:
            raise LookupError(
                f"the manifest of catalogue version {number} in {self.collection.name} is incomplete"
            )
        return Version.from_json(text)

    def lexical_dir(self, number: int) -> Path | None:
        """`<cache>/v<N>-<sha>`; creating the name also removes cached versions older than the one
        before `number` (this process may still serve that one while it loads `number`)."""
        if self.cache is None:
            return None
        try:
            commit = self._commit(number)
        except LookupError:
            return None
        if self.cache.is_dir():
            for path in self.cache.iterdir():
                cached = _CACHED.fullmatch(path.name)
                if cached is not None and int(cached.group(1)) < number - 1:
                    shutil.rmtree(path, ignore_errors=True)
        return self.cache / f"v{number}-{commit.sha}"

    # -- writing (an ingest, holding the lease) -------------------------------------------------

    def save(self, version: Version) -> None:
        """Write the manifest in chunks under a token of its own: a run that loses the race for
        this version number cannot overwrite the winner's manifest."""
        text = version.to_json()
        token = uuid.uuid4().hex[:12]
        chunks = [text[i : i + _CHUNK] for i in range(0, len(text), _CHUNK)] or [""]
        for i in range(0, len(chunks), _CHUNKS_PER_READ):
            part = range(i, min(i + _CHUNKS_PER_READ, len(chunks)))
            self.collection.upsert(
                ids=[_manifest_id(version.number, token, k) for k in part],
                embeddings=[_ZERO for _ in part],
                metadatas=[
                    {"kind": "manifest", "version": version.number, "token": token, "data": chunks[k]}
                    for k in part
                ],
            )
        self._saved[version.number] = _Commit(version.number, token, _sha(text), len(chunks))

    def switch(self, version: Version) -> None:
        """Commit `version` if no other run committed its number first (see the module docstring)."""
        commit = self._saved.get(version.number)
        if commit is None:
            raise LookupError(f"catalogue version {version.number} was not saved by this run")
        if self._lease is not None and self._holder() != self._lease:
            raise VersionConflict(
                f"this ingest's lease on {self.collection.name} expired and another ingest took it over; "
                "its documents are kept for the next run"
            )
        cid = _commit_id(version.number)
        self.collection.add(ids=[cid], embeddings=[_ZERO], metadatas=[commit.metadata()])
        won = self._get([cid]).get(cid)
        if won is None or won.get("token") != commit.token:
            raise VersionConflict(
                f"catalogue version {version.number} was made live by another ingest meanwhile; run this one again"
            )
        self.collection.upsert(
            ids=[_HINT], embeddings=[_ZERO], metadatas=[{"kind": "hint", "version": version.number}]
        )
        del self._saved[version.number]
        self._commits[version.number] = commit
        self._known = version.number

    def mark_unfinished(self, number: int) -> None:
        self.collection.upsert(
            ids=[_UNFINISHED], embeddings=[_ZERO], metadatas=[{"kind": "unfinished", "version": number}]
        )

    def unfinished(self) -> bool:
        return _UNFINISHED in self._get([_UNFINISHED])

    def finish(self, live: Version) -> None:
        """Clear the marker; delete manifest chunks of versions before the previous one, and those
        of runs that never committed (killed, or lost a race) up to the live version. Later
        versions' chunks may belong to a run in flight and wait for a later collection."""
        self.collection.delete(ids=[_UNFINISHED])
        keep: dict[int, str] = {}
        for number in (live.number, live.number - 1):
            with suppress(LookupError):  # version 0 has no previous one
                keep[number] = self._commit(number).token
        stale = []
        for rid in self.collection.get(where={"kind": "manifest"}, include=[])["ids"]:
            parsed = _MANIFEST_ID.fullmatch(rid)
            if parsed is None:
                continue
            number, token = int(parsed.group(1)), parsed.group(2)
            if number < live.number - 1 or (number <= live.number and keep.get(number) != token):
                stale.append(rid)
        if stale:
            self.collection.delete(ids=stale)

    def touch_faq(self) -> str:
        """Tell every replica that the FAQ changed; the new stamp."""
        stamp = uuid.uuid4().hex[:12]
        self.collection.upsert(ids=[_FAQ], embeddings=[_ZERO], metadatas=[{"kind": "faq", "stamp": stamp}])
        self.faq_stamp = stamp
        return stamp

    # -- the lease ------------------------------------------------------------------------------

    def _holder(self) -> str | None:
        meta = self._get([_LEASE]).get(_LEASE)
        return str(meta["owner"]) if meta else None

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the shop's ingest lease (waiting while another live run holds it) and renew it in
        the background until the block ends."""
        token = uuid.uuid4().hex[:12]
        self._acquire(token)
        stop = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat, args=(token, stop), name="catalogue-lease", daemon=True
        )
        beat.start()
        self._lease = token
        try:
            yield
        finally:
            self._lease = None
            stop.set()
            beat.join()
            self.collection.delete(ids=[_LEASE], where={"owner": token})

    def _acquire(self, token: str) -> None:
        waiting = False
        while True:
            now = time.time()
            self.collection.add(
                ids=[_LEASE],
                embeddings=[_ZERO],
                metadatas=[{"kind": "lease", "owner": token, "expires": now + self.lease_s}],
            )
            held = self._get([_LEASE]).get(_LEASE)
            if held is None:  # released between the two requests: try again
                continue
            if held.get("owner") == token:
                return
            if float(held.get("expires", 0.0)) < now:
                log.warning("taking over the catalogue lease of an ingest that stopped renewing it")
                self.collection.delete(ids=[_LEASE], where={"owner": str(held["owner"])})
                continue
            if not waiting:
                log.info("another ingest of %s is running; waiting for it to finish", self.collection.name)
                waiting = True
            time.sleep(self.poll_s)

    def _heartbeat(self, token: str, stop: threading.Event) -> None:
        """Push the lease's expiry forward while the run lives; a run that stalls longer than
        `lease_s` (or dies) loses it to the next ingest."""
        while not stop.wait(self.lease_s / 3):
            try:
                if self._holder() != token:
                    log.error("the catalogue lease was taken over; this ingest will not go live")
                    return
                self.collection.update(ids=[_LEASE], metadatas=[{"expires": time.time() + self.lease_s}])
            except Exception as exc:  # the server may come back before the lease runs out
                log.warning("renewing the catalogue lease failed (%s)", exc)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_server(client: Any) -> bool:
    """Whether `client` talks to a Chroma server (then several processes on several hosts share it)."""
    return "fastapi" in str(client.get_settings().chroma_api_impl).lower()
