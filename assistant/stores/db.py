"""The one place where the stores open a database: SQLite files by default, PostgreSQL when shared.

A single shop runs embedded: each store keeps its own SQLite file in the shop's home
(`orders.db`, `feedback.db`, `audit.db`, `turns.db`), exactly where the stdlib-sqlite3 code kept
them, so existing files keep working. Several API replicas need one shared database instead:
`store.database_url` names it (`postgresql+psycopg://user@host:5432/shop`) and every store's
tables then live there. The stores write SQLAlchemy Core, so the same queries run on both.

Opening a store brings its schema up to date with Alembic (`upgrade head`, under a lock: a
transaction holding SQLite's write lock, or a PostgreSQL advisory lock), so a new version never
needs a manual step and two processes starting at once do not race. Each store has its own
migration history and version table (`migrations/versions/<store>/`, `alembic_version_<store>`)
because on SQLite each lives in a file of its own. The first revision of each adopts what the old
code created: it creates only the tables, columns and indexes that are missing.

A write is acknowledged only once its transaction has committed (`Database.write` commits before
it returns), so a process killed after an acknowledgement cannot lose that row.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from assistant.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

StoreName = Literal["orders", "feedback", "audit", "turns"]
STORES: tuple[StoreName, ...] = ("orders", "feedback", "audit", "turns")
MIGRATIONS = Path(__file__).resolve().with_name("migrations")
# Any fixed 64-bit key: every shopassist process migrating the same PostgreSQL database waits on it.
_ADVISORY_LOCK = int.from_bytes(b"shopasst", "big")
# A double on PostgreSQL (its REAL is single precision, too coarse for a timestamp); REAL on SQLite,
# the type the old tables were declared with.
REAL: sa.types.TypeEngine[float] = sa.Double().with_variant(sa.REAL(), "sqlite")

_engines: dict[str, Engine] = {}  # shared servers: one pool per URL in this process
_engines_lock = threading.Lock()
_migrate_lock = threading.Lock()


def sqlite_connect(
    path: Path, *, timeout: float = 10, wal: bool = False, uri: bool = False
) -> sqlite3.Connection:
    """A connection to a SQLite store file, as the stores opened them before SQLAlchemy: `timeout`
    is the busy wait, `wal` switches the file to write-ahead logging (the logs read while written),
    `uri` opens through a file URI (so that a read-only ATTACH of another file is allowed)."""
    target = path.resolve().as_uri() if uri else str(path)
    conn = sqlite3.connect(target, timeout=timeout, uri=uri, check_same_thread=False)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    return conn


def redact(url: str) -> str:
    """`url` without its password: what a log line or an error message may show."""
    return sa.make_url(url).render_as_string(hide_password=True)


class Database:
    """One database behind one engine: a store's SQLite file, or the shared server."""

    def __init__(self, engine: Engine, location: str) -> None:
        self.engine = engine
        self.location = location  # the file, or the URL without its password: for messages

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction, committed when the block ends (the write's acknowledgement), rolled
        back on an exception. On SQLite it takes the write lock at once (BEGIN IMMEDIATE), so a
        read-then-write (an idempotency check) never fails upgrading its lock."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read transaction (a consistent snapshot), always closed."""
        with self.engine.connect() as conn, conn.begin():
            yield conn


def _sqlite_engine(creator: Callable[[], sqlite3.Connection]) -> Engine:
    """SQLite without a pool (a connection per operation, as before: nothing stays open between
    calls, so another process or a deleted file is seen at once), with SQLAlchemy emitting BEGIN
    itself: the sqlite3 module's legacy mode would run SELECTs and DDL outside the transaction."""
    engine = sa.create_engine("sqlite://", creator=creator, poolclass=NullPool)

    @sa.event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        begin = conn.get_execution_options().get("sqlite_begin", "BEGIN")
        if begin:  # "": statements that SQLite refuses in a transaction (ATTACH)
            conn.exec_driver_sql(begin)

    return engine


def _server_engine(url: str) -> Engine:
    """The shared pool for `url`: pre-pinged (a restarted server costs no failed request), with a
    connect timeout unless the URL sets one, so a server that is down fails fast."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            parsed = sa.make_url(url)
            connect_args: dict[str, Any] = {}
            if parsed.drivername == "postgresql":  # SQLAlchemy's default driver (psycopg2) is not ours
                parsed = parsed.set(drivername="postgresql+psycopg")
            if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
                connect_args["connect_timeout"] = 10
            engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Close every shared pool of this process (at shutdown, or between tests)."""
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.dispose()


def open_database(
    store: StoreName,
    path: Path,
    database_url: str | None = None,
    *,
    timeout: float = 10,
    wal: bool = False,
    creator: Callable[[], sqlite3.Connection] | None = None,
) -> Database:
    """The database of `store`: the shared server at `database_url`, else the SQLite file `path`
    (its folder created; `creator` replaces how a connection to it is opened; a `sqlite:///FILE`
    URL puts every store in that one file), migrated to the newest schema."""
    if database_url and sa.make_url(database_url).get_backend_name() == "sqlite":
        path, creator = Path(sa.make_url(database_url).database or ""), None  # every store in one file
        database_url = None
    if database_url:
        db = Database(_server_engine(database_url), redact(database_url))
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        connect = creator or (lambda: sqlite_connect(path, timeout=timeout, wal=wal))
        db = Database(_sqlite_engine(connect), str(path))
    upgrade(db, store)
    return db


# -- migrations ------------------------------------------------------------------------------------
def alembic_config(store: StoreName, connection: Connection | None = None) -> Config:
    """The Alembic configuration of one store's history. A new revision, for a developer:
    `alembic.command.revision(alembic_config("orders"), "add x", rev_id="orders_0003")`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("version_locations", str(MIGRATIONS / "versions" / store))
    config.attributes["version_table"] = f"alembic_version_{store}"
    if connection is not None:
        config.attributes["connection"] = connection
    return config


_histories: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {}


def _history(store: StoreName) -> tuple[tuple[str, ...], frozenset[str]]:
    """(the heads, every revision) of `store`'s history, read once per process."""
    if store not in _histories:
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(alembic_config(store))
        revisions = frozenset(r.revision for r in script.walk_revisions())
        _histories[store] = (tuple(script.get_heads()), revisions)
    return _histories[store]


def head(store: StoreName) -> tuple[str, ...]:
    """The newest revision of `store`'s history."""
    return _history(store)[0]


def current(db: Database, store: StoreName) -> tuple[str, ...]:
    """The revision `store`'s tables in `db` are at; () for a database never migrated."""
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": f"alembic_version_{store}"})
        return tuple(context.get_current_heads())


def upgrade(db: Database, store: StoreName) -> None:
    """Bring `store`'s tables in `db` to the newest revision; nothing to do costs one query.

    Under a lock, so that processes opening the same database at once migrate one after the
    other (the second finds the work done): SQLite's write lock, held by the migration's own
    transaction; on PostgreSQL a transaction-scoped advisory lock (its DDL is transactional too,
    so a failed migration leaves nothing half done)."""
    heads, known = _history(store)
    at = current(db, store)
    if set(at) == set(heads):
        return
    if set(at) - known:
        raise ConfigError(
            f"the {store} tables in {db.location} are at revision {', '.join(at)}, newer than this "
            f"version of shopassist knows (its newest is {', '.join(heads)}): run the newer version, "
            "or restore a copy of the database from before it was upgraded"
        )
    from alembic import command

    with _migrate_lock, db.write() as conn:
        if db.dialect == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY_LOCK)))
        command.upgrade(alembic_config(store, conn), "head")


def upsert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Insert `rows`, replacing the other columns of a row whose `keys` already exist (SQLite's
    and PostgreSQL's `ON CONFLICT DO UPDATE`: the old code's `INSERT OR REPLACE`, portably)."""
    if not rows:
        return
    from sqlalchemy.dialects import postgresql, sqlite

    stmt: Any = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    replaced = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=replaced), rows)
