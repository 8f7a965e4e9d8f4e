"""Which library exceptions are a dependency failing (`errors.dependency_error`): decided by type,
errno and SQLite result code, never by message text; anything else stays a bug."""

from __future__ import annotations

import errno
import sqlite3
from typing import Any

import httpx
import pytest
from chromadb.errors import InternalError, InvalidArgumentError

from assistant import errors


def sqlite_error(code: int) -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError("text that decides nothing")
    exc.sqlite_errorcode = code  # type: ignore[attr-defined]  # set by sqlite3 on the errors it raises
    return exc


@pytest.mark.parametrize(
    ("exc", "url", "expected"),
    [
        (httpx.ConnectError("refused"), "http://127.0.0.1:8123", errors.StoreUnavailable),
        (httpx.ReadTimeout("slow"), "http://127.0.0.1:8123", errors.StoreUnavailable),
        (InternalError("failed"), "http://127.0.0.1:8123", errors.StoreUnavailable),
        (InternalError("failed"), None, errors.StoreUnavailable),  # a healthy folder: the store itself
        (OSError(errno.ENOSPC, "No space left on device"), None, errors.DiskError),
        (OSError(errno.EROFS, "Read-only file system"), None, errors.DiskError),
        (PermissionError(errno.EACCES, "Permission denied"), None, errors.DiskError),
        (sqlite_error(sqlite3.SQLITE_FULL), None, errors.DiskError),
        (sqlite_error(sqlite3.SQLITE_READONLY | 4 << 8), None, errors.DiskError),  # an extended code
        # not a dependency failing: a bug, reported as one
        (httpx.ConnectError("refused"), None, None),  # with no store.url, httpx is not the store's
        (InvalidArgumentError("bad where"), None, None),
        (OSError(errno.EBADF, "Bad file descriptor"), None, None),
        (ConnectionError("no errno"), None, None),
        (sqlite_error(sqlite3.SQLITE_CONSTRAINT), None, None),
        (sqlite3.OperationalError("database or disk is full"), None, None),  # no code: text decides nothing
    ],
)
def test_dependency_failures_are_told_by_type(settings: Any, exc, url, expected):
    settings.store = settings.store.model_copy(update={"url": url})
    found = errors.dependency_error(exc, settings)
    assert (type(found) if found else None) is expected
    if found is not None:
        assert isinstance(found, errors.Unavailable) and errors.exit_code(found) == 5
        assert errors.http_status(found) == 503


def test_the_message_says_what_failed_and_what_to_do(settings: Any, monkeypatch):
    home = settings.home
    full = errors.dependency_error(
        OSError(errno.ENOSPC, "No space left on device", str(home / "f.db")), settings
    )
    assert str(full).startswith(f"no space left to write {home / 'f.db'} (OSError: No space left on device;")
    assert "free space on /" in str(full) and "point SHOPASSIST_HOME elsewhere" in str(full)
    read_only = errors.dependency_error(sqlite_error(sqlite3.SQLITE_READONLY), settings)
    assert f"make SHOPASSIST_HOME ({home}) writable" in str(read_only)
    monkeypatch.setattr(errors, "LOW_SPACE_BYTES", 2**62)  # the embedded store's bare error, a full disk
    assert isinstance(errors.dependency_error(InternalError("failed"), settings), errors.DiskError)
