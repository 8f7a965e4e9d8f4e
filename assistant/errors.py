"""One error hierarchy, and the one place where an error becomes an HTTP status or an exit code.

Services raise by meaning (bad input, not found, forbidden, unavailable, configuration), never by
transport: the API and the CLI translate with `classify`, so a status is never picked by matching
message text. `retrieval` sits below this package and keeps its own `ValueError`s; they are mapped
here in `_FOREIGN` by type, in the same table. A dependency that fails mid-run (the Chroma server,
the disk, the shared PostgreSQL database) arrives as its library's exception; `dependency_error`
turns it, by type (and errno or SQLite result code, never message text), into the `Unavailable`
subclass that names what failed.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any, ClassVar, Protocol


class Settings(Protocol):
    """What the dependency translation reads of `assistant.config.Settings` (a protocol, so this
    module, which config imports, does not import config back)."""

    @property
    def home(self) -> Path: ...

    @property
    def chroma_path(self) -> Path: ...

    @property
    def store(self) -> Any: ...


class ShopassistError(Exception):
    """Base of every error the assistant raises on purpose; the message says what to fix."""

    status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    kind: ClassVar[str] = "error"


class BadInput(ShopassistError, ValueError):
    """The caller sent something we cannot use (a message, a file, a filter, an option)."""

    status = 400
    exit_code = 2
    kind = "invalid_request"


class InvalidFilter(BadInput):
    """A search filter names a field or value the catalogue does not have."""

    kind = "invalid_filter"


class NotFound(ShopassistError, LookupError):
    """The named thing (product, order, suggestion, adapter) does not exist (or is not the caller's)."""

    status = 404
    exit_code = 3
    kind = "not_found"


class Forbidden(ShopassistError):
    """The caller may not do this (wrong role, no credential for a customer's data)."""

    status = 403
    exit_code = 4
    kind = "forbidden"


class Unavailable(ShopassistError, RuntimeError):
    """A dependency is down or busy (model server, store); retrying later may work."""

    status = 503
    exit_code = 5
    kind = "unavailable"
    retry_after_s: float = 10.0  # the API's Retry-After: about what a restarted server needs to come up


class StoreUnavailable(Unavailable):
    """The vector store cannot be reached or fails (the Chroma server is down, the embedded store
    cannot be opened), or the shared database of the shop's records (PostgreSQL) does not answer;
    the message names it, by URL, host or folder, and how to bring it back."""

    kind = "store_unavailable"


class DiskError(Unavailable):
    """The disk refused a write under the data folder (read-only, not ours, full). Chroma and SQLite
    roll a failed write back, so nothing stored is lost: fix the disk and run the command again."""

    kind = "disk_error"
    retry_after_s = 60.0  # someone has to free space or fix permissions first


class ConfigError(ShopassistError, ValueError):
    """The settings (or a file they name) are wrong; an operator must change them."""

    status = 500
    exit_code = 78  # EX_CONFIG
    kind = "config_error"


def _foreign() -> dict[type[Exception], type[ShopassistError]]:
    """Errors of the layer below (`retrieval`, which must not import this package), by type."""
    from retrieval.calibration import CalibrationError
    from retrieval.catalog import CatalogError
    from retrieval.embeddings import EmbeddingModelNotFound
    from retrieval.filters import FilterError
    from retrieval.rerank import RankerError

    return {
        FilterError: InvalidFilter,
        CatalogError: BadInput,
        RankerError: BadInput,
        CalibrationError: BadInput,
        EmbeddingModelNotFound: ConfigError,
    }


def handled_types() -> tuple[type[Exception], ...]:
    """Every exception type `classify` knows: a surface registers its handler for exactly these."""
    return (ShopassistError, *_foreign())


def classify(exc: BaseException) -> type[ShopassistError] | None:
    """The hierarchy class that decides how `exc` is reported; None for an unexpected error (a bug)."""
    if isinstance(exc, ShopassistError):
        return type(exc)
    for foreign, kind in _foreign().items():
        if isinstance(exc, foreign):
            return kind
    return None


def http_status(exc: BaseException) -> int:
    kind = classify(exc)
    return kind.status if kind else 500


def exit_code(exc: BaseException) -> int:
    kind = classify(exc)
    return kind.exit_code if kind else 1


def kind_name(exc: BaseException) -> str:
    kind = classify(exc)
    return kind.kind if kind else "internal_error"


# Errnos (OSError) and SQLite primary result codes (sqlite3.Error.sqlite_errorcode & 0xFF) that mean
# the disk refused a write, rather than a bug in the caller.
_NOT_WRITABLE_ERRNOS = {errno.EROFS, errno.EACCES}
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_SQLITE_NOT_WRITABLE = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN}
_SQLITE_FULL = {sqlite3.SQLITE_FULL}
_SQLITE_DISK = _SQLITE_NOT_WRITABLE | _SQLITE_FULL | {sqlite3.SQLITE_IOERR}
# Chroma's embedded store reports a full disk or a read-only file as a bare InternalError, so the
# folder itself is examined: with less than this free, a failed write is taken for a full disk.
LOW_SPACE_BYTES = 64 * 2**20


def dependency_types() -> tuple[type[Exception], ...]:
    """The library exception types a failing dependency arrives as mid-run: Chroma's HTTP transport
    (httpx; the generator's client is httpx2 and raises `GeneratorError`), Chroma's own errors, the
    disk's (OSError, SQLite) and the records database's (SQLAlchemy, which wraps SQLite's and
    psycopg's). `dependency_error` decides which instances are one."""
    import httpx
    import sqlalchemy.exc
    from chromadb.errors import ChromaError

    from retrieval.versions import VersionConflict

    return (
        VersionConflict,
        httpx.TransportError,
        ChromaError,
        OSError,
        sqlite3.Error,
        sqlalchemy.exc.DBAPIError,
        sqlalchemy.exc.TimeoutError,
    )


def dependency_error(exc: BaseException, settings: Settings) -> Unavailable | None:
    """`exc` as the error of the dependency that failed, saying what failed and what to do; None
    when it is not a dependency failure (then it is a bug, and keeps its traceback)."""
    import httpx
    import sqlalchemy.exc
    from chromadb.errors import InternalError, QuotaError, RateLimitError

    from retrieval.versions import VersionConflict

    if isinstance(exc, VersionConflict):  # another replica's ingest won: nothing of this one is served
        return StoreUnavailable(f"{exc}; run the ingest again once the other one has finished")
    database_url = getattr(settings.store, "database_url", None)
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and isinstance(exc.orig, sqlite3.Error):
        exc = exc.orig  # SQLAlchemy's wrapper of a SQLite error: judged by SQLite's result code below
    elif database_url and _database_down(exc):
        return database_unreachable(database_url, exc)
    url = settings.store.url
    if isinstance(exc, (InternalError, RateLimitError, QuotaError)):
        return store_unreachable(url, exc) if url else _embedded_store_failed(exc, settings)
    if isinstance(exc, httpx.TransportError) and url:
        return store_unreachable(url, exc)
    if isinstance(exc, OSError) and exc.errno in _NOT_WRITABLE_ERRNOS | _FULL_ERRNOS:
        target = Path(os.fsdecode(exc.filename)).absolute() if exc.filename else settings.home
        return _disk(target, settings.home, exc, full=exc.errno in _FULL_ERRNOS)
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF in _SQLITE_DISK:
        # SQLite names no file; its databases (orders, feedback, audit) live in the home folder.
        primary = code & 0xFF
        full = primary in _SQLITE_FULL or (primary not in _SQLITE_NOT_WRITABLE and _low_space(settings.home))
        return _disk(settings.home, settings.home, exc, full=full)
    return None


def store_unreachable(url: str, exc: BaseException) -> StoreUnavailable:
    """The Chroma server at `url` did not answer, or answered with a failure of its own."""
    return StoreUnavailable(
        f"the Chroma server at {url} is not answering ({_detail(exc)}): start it, or set store.url "
        "(SHOPASSIST_STORE__URL) to a server that runs"
    )


def _database_down(exc: BaseException) -> bool:
    """The shared database failing as a service, by type: the driver's OperationalError (refused,
    reset, timed out, shut down, rejected the login, out of disk: PEP 249's "not under the
    programmer's control"), an InterfaceError, a connection SQLAlchemy found dead, or no pooled
    connection free in time. A constraint or syntax error stays a bug."""
    import sqlalchemy.exc

    if isinstance(exc, sqlalchemy.exc.TimeoutError):
        return True
    return isinstance(exc, sqlalchemy.exc.DBAPIError) and (
        isinstance(exc, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError))
        or exc.connection_invalidated
    )


def database_unreachable(url: str, exc: BaseException) -> StoreUnavailable:
    """The shared database at `url` did not answer or failed: named by host, port and database,
    never by the URL itself (it may hold a password)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    where = f"{parsed.host or 'localhost'}{f':{parsed.port}' if parsed.port else ''}/{parsed.database or ''}"
    detail = " ".join(_detail(exc).split())  # one line: a driver's message may span several
    if parsed.password:
        detail = detail.replace(parsed.password, "***")
    return StoreUnavailable(
        f"the database at {where} is unavailable ({detail}): start it (and check that it accepts this "
        "user and has disk space), or set store.database_url (SHOPASSIST_STORE__DATABASE_URL) to one that runs"
    )


def _embedded_store_failed(exc: BaseException, settings: Settings) -> Unavailable:
    """The embedded store reports a read-only file and a full disk alike: look at its folder instead."""
    path = settings.chroma_path
    if not _writable(path):
        return _disk(path, settings.home, exc, full=False)
    if _low_space(path):
        return _disk(path, settings.home, exc, full=True)
    return StoreUnavailable(
        f"the vector store at {path} failed ({_detail(exc)}): check that the folder is intact and its "
        "disk healthy, or set store.path (SHOPASSIST_STORE__PATH) to another one"
    )


def _disk(target: Path, home: Path, exc: BaseException, *, full: bool) -> DiskError:
    in_home = target.is_relative_to(home)
    if full:
        mount = _mount_of(target)
        free = shutil.disk_usage(mount).free / 2**20
        elsewhere = "point SHOPASSIST_HOME elsewhere" if in_home else "write elsewhere"
        return DiskError(
            f"no space left to write {target} ({_detail(exc)}; {free:.1f} MiB free): "
            f"free space on {mount}, or {elsewhere}"
        )
    if in_home:
        return DiskError(
            f"cannot write {target} ({_detail(exc)}): make SHOPASSIST_HOME ({home}) writable, or point it elsewhere"
        )
    return DiskError(f"cannot access {target} ({_detail(exc)}): check its permissions and its disk")


def _writable(path: Path) -> bool:
    """Whether this process may write `path` and the files directly in it (a store's database)."""
    try:
        files = [p for p in path.iterdir() if p.is_file()] if path.is_dir() else []
    except OSError:
        return False
    return all(os.access(p, os.W_OK) for p in (path, *files) if p.exists())


def _mount_of(path: Path) -> Path:
    """The mount point holding `path` (a full disk is freed there, not in one folder)."""
    path = path.resolve()
    while not (path.exists() and os.path.ismount(path)):
        path = path.parent
    return path


def _low_space(path: Path) -> bool:
    return shutil.disk_usage(_mount_of(path)).free < LOW_SPACE_BYTES


def _detail(exc: BaseException) -> str:
    """The innermost explicit cause, briefly: a library's wrapper says less than what it wraps."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"{type(exc).__name__}: {text[:200]}"
