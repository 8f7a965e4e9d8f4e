"""The two databases every store runs on: SQLite files (the default) and PostgreSQL (shared).

`database_url` is None for SQLite, or the URL of a fresh database in a throwaway cluster
(tests/assistant/stores/postgres.py), started once per session; the PostgreSQL cases are marked
`integration` and skip, with the reason, where the server binaries are missing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.assistant.stores import postgres

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[postgres.Cluster]:
    reason = postgres.unavailable()
    if reason:
        pytest.skip(reason)
    cluster = postgres.shared_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database; its connection pools are closed after the test."""
    from assistant.stores import db

    cluster = request.getfixturevalue("pg_cluster")
    yield cluster.new_database()
    db.dispose_engines()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (SQLite files under tmp_path) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
    else:
        yield request.getfixturevalue("pg_url")
