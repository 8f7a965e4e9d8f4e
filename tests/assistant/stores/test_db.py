"""The stores on both databases (issue 19): every store round-trips on SQLite and PostgreSQL, a home
written by the pre-SQLAlchemy code is adopted with its rows, processes opening one database at
once migrate it once, an acknowledged write survives its writer being killed, and a database that
is down is a `StoreUnavailable` naming its host and the fix, never its password."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assistant import errors
from assistant.assist.feedback import AssistFeedback
from assistant.chat.protocol import ChatResponse
from assistant.stores import db
from assistant.stores.audit import AuditLog
from assistant.stores.feedback import FeedbackItem, FeedbackStore
from assistant.stores.orders import OrderStore
from assistant.stores.turns import TurnLog
from tests.assistant.stores import postgres
from tests.helpers import free_port

REPO = Path(__file__).resolve().parents[3]
DEMO_ORDERS = json.loads((REPO / "assistant" / "demo_shop" / "orders.json").read_text())


def open_all(home: Path, url: str | None) -> tuple[OrderStore, FeedbackStore, AuditLog, TurnLog]:
    turns = TurnLog(home / "turns.db", database_url=url)
    turns.db  # noqa: B018 - opened on first use; here, now
    return (
        OrderStore(home / "orders.db", database_url=url),
        FeedbackStore(home / "feedback.db", database_url=url),
        AuditLog(home / "audit.db", database_url=url),
        turns,
    )


# -- every store on both databases ----------------------------------------------------------------
def test_orders_round_trip(database_url, tmp_path):
    store = OrderStore(tmp_path / "orders.db", database_url=database_url)
    assert store.is_empty()
    store.seed(DEMO_ORDERS, {"HP-1417": "Trail runner"})
    store.seed(DEMO_ORDERS)  # an upsert: nothing doubles
    assert not store.is_empty()
    assert [c.id for c in store.customers()] == sorted(c["id"] for c in DEMO_ORDERS["customers"])
    maya = store.customer("C1001")
    assert maya is not None and maya.preferred_categories == ["footwear", "camping"]
    for customer in DEMO_ORDERS["customers"]:
        expected = sorted(
            (o for o in DEMO_ORDERS["orders"] if o["customer_id"] == customer["id"]),
            key=lambda o: (o.get("placed_at") or "", o["order_id"]),
            reverse=True,
        )
        got = store.orders_for(customer["id"], limit=100)
        assert [o.order_id for o in got] == [o["order_id"] for o in expected]
        for order, source in zip(got, expected, strict=True):
            assert [i.product_id for i in order.items] == [i["product_id"] for i in source["items"]]
            assert order.total == pytest.approx(float(source["total"]))
    first = DEMO_ORDERS["orders"][0]
    found = store.order_for(first["customer_id"], f"  {first['order_id'].lower()} ")
    assert found is not None and found.order_id == first["order_id"]  # case and spaces, as before
    assert store.order_for("C-nobody", first["order_id"]) is None  # not theirs: as if it did not exist
    assert store.customer("C-nobody") is None and store.customer(None) is None


def test_feedback_round_trip(database_url, tmp_path):
    store = FeedbackStore(tmp_path / "feedback.db", database_url=database_url)
    up = store.add(FeedbackItem(item_id="r1", verdict="up", comment="mail me at jo@example.com"), "key-1")
    again = store.add(FeedbackItem(item_id="r1", verdict="up"), "key-1")
    assert again.id == up.id and again.created == up.created  # a retry stores nothing
    store.add(FeedbackItem(kind="suggest", item_id="s1", verdict="edit", final_text="fixed", intent="refund"))
    stored = store.all()
    assert [(f.kind, f.item_id, f.verdict) for f in stored] == [
        ("chat", "r1", "up"),
        ("suggest", "s1", "edit"),
    ]
    assert "jo@example.com" not in stored[0].comment  # scrubbed before it is written
    assert [f.item_id for f in store.all("suggest")] == ["s1"]
    assert store.summary("suggest") == [
        {"intent": "refund", "n": 1, "accept": 0.0, "edit": 1.0, "reject": 0.0}
    ]


def test_audit_round_trip(database_url, tmp_path):
    log = AuditLog(tmp_path / "audit.db", database_url=database_url)
    log.record(actor="ana", role="agent", action="orders", customer_id="C1", order_id="O1", client="10.0.0.1")
    log.record(actor="bo", role="admin", action="profile", customer_id="C2")
    entries = log.entries()
    assert [(e.actor, e.customer_id, e.order_id) for e in entries] == [
        ("bo", "C2", None),
        ("ana", "C1", "O1"),
    ]
    assert [e.actor for e in log.entries("C1")] == ["ana"] and len(log.entries(limit=1)) == 1
    assert entries[0].ts >= entries[1].ts > 1.7e9  # a timestamp keeps its precision (not float4)
    assert entries[0].ts != round(entries[0].ts)


def test_the_stores_share_one_postgres_database(pg_url, tmp_path):
    orders, feedback, audit, turns = open_all(tmp_path, pg_url)
    engine = sa.create_engine(pg_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {
        "customers",
        "orders",
        "order_items",
        "feedback",
        "assist_suggestions",
        "audit",
        "turns",
    } <= tables
    assert {f"alembic_version_{s}" for s in db.STORES} <= tables  # one history per store
    for store, name in ((orders, "orders"), (feedback, "feedback"), (audit, "audit"), (turns, "turns")):
        assert db.current(store.db, name) == db.head(name)  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())  # no SQLite file was written


# -- a home written by the old code --------------------------------------------------------------
# The schemas exactly as the stdlib-sqlite3 stores created them (before SQLAlchemy and Alembic).
OLD_ORDERS = """
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT, city TEXT, state TEXT, joined TEXT,
    preferred_categories TEXT DEFAULT '[]', preferred_brands TEXT DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id), status TEXT NOT NULL,
    placed_at TEXT, shipped_at TEXT, delivered_at TEXT, estimated_delivery TEXT, carrier TEXT,
    tracking_number TEXT, shipping_method TEXT, total REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS order_items (
    order_id TEXT NOT NULL REFERENCES orders(order_id), product_id TEXT NOT NULL, title TEXT,
    quantity INTEGER NOT NULL, unit_price REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_customer ON orders(customer_id);
"""
OLD_AUDIT = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL,
    action TEXT NOT NULL, customer_id TEXT NOT NULL, order_id TEXT, client TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_customer ON audit(customer_id, ts);
"""
OLD_TURNS = """
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, day TEXT NOT NULL,
    response_id TEXT NOT NULL, surface TEXT NOT NULL, route TEXT NOT NULL, action TEXT NOT NULL,
    confidence REAL NOT NULL, message TEXT NOT NULL, latency_ms REAL NOT NULL, first_text_ms REAL,
    model_unavailable INTEGER NOT NULL, fallback INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_day ON turns(day);
CREATE INDEX IF NOT EXISTS turns_by_response ON turns(response_id);
"""
OLD_FEEDBACK = (
    "CREATE TABLE IF NOT EXISTS feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT, "
    "item_id TEXT, verdict TEXT, text TEXT, final_text TEXT, intent TEXT, comment TEXT, created TEXT)"
)
OLD_FEEDBACK_KEYS = [  # what the last pre-SQLAlchemy FeedbackStore added on open
    "ALTER TABLE feedback ADD COLUMN idempotency_key TEXT",
    "CREATE UNIQUE INDEX IF NOT EXISTS feedback_idempotency ON feedback(idempotency_key) "
    "WHERE idempotency_key IS NOT NULL",
]
OLD_SUGGESTIONS = (
    "CREATE TABLE IF NOT EXISTS assist_suggestions (id TEXT PRIMARY KEY, ticket_id TEXT, ticket TEXT, "
    "intent TEXT, category TEXT, text TEXT, sources TEXT, customer_id TEXT, created TEXT)"
)


def write_old_home(home: Path, *, feedback_keys: bool) -> dict[str, list[tuple[Any, ...]]]:
    """A home as the old code left it, with rows in every table; returns the rows by table.
    `feedback_keys`: the latest old layout (idempotency keys, suggestions log) or the oldest."""
    home.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[tuple[Any, ...]]] = {
        "customers": [("C1", "Ada", "ada@example.com", "Oslo", None, "2024-01-01", '["tents"]', "[]")],
        "orders": [("O-1", "C1", "shipped", "2025-01-02", None, None, None, "UPS", "1Z9", "standard", 59.5)],
        # out of alphabetical order: the old code listed items by rowid, and so must the new one
        "order_items": [
            ("O-1", "P-3", "Stove", 1, 9.5),
            ("O-1", "P-1", "Tent", 1, 40.0),
            ("O-1", "P-2", "Mat", 2, 5.0),
        ],
        "audit": [(1, 1735689600.25, "ana", "agent", "orders", "C1", "O-1", "10.0.0.1")],
        "turns": [
            (
                1,
                "2025-01-02T10:00:00+00:00",
                "2025-01-02",
                "resp-1",
                "api",
                "faq",
                "answer",
                0.9,
                "hi",
                120.5,
                None,
                0,
                1,
            )
        ],
        "feedback": [(1, "chat", "resp-1", "up", "", "", "faq", "", "2025-01-02T10:00:01+00:00")],
    }
    with closing(sqlite3.connect(home / "orders.db")) as conn, conn:
        conn.executescript(OLD_ORDERS)
        conn.executemany("INSERT INTO customers VALUES (?,?,?,?,?,?,?,?)", rows["customers"])
        conn.executemany("INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows["orders"])
        conn.executemany("INSERT INTO order_items VALUES (?,?,?,?,?)", rows["order_items"])
    with closing(sqlite3.connect(home / "audit.db")) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(OLD_AUDIT)
        conn.executemany("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?)", rows["audit"])
    with closing(sqlite3.connect(home / "turns.db")) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(OLD_TURNS)
        conn.executemany(f"INSERT INTO turns VALUES ({','.join('?' * 13)})", rows["turns"])
    with closing(sqlite3.connect(home / "feedback.db")) as conn, conn:
        conn.execute(OLD_FEEDBACK)
        conn.executemany("INSERT INTO feedback VALUES (?,?,?,?,?,?,?,?,?)", rows["feedback"])
        if feedback_keys:
            for statement in OLD_FEEDBACK_KEYS:
                conn.execute(statement)
            conn.execute(OLD_SUGGESTIONS)
    return rows


def sqlite_schema(path: Path) -> dict[str, str]:
    with closing(sqlite3.connect(path)) as conn:
        return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall())


@pytest.mark.parametrize("feedback_keys", [False, True], ids=["oldest-feedback", "latest-feedback"])
def test_an_old_sqlite_home_is_adopted_with_every_row(tmp_path, feedback_keys):
    home = tmp_path / "home"
    rows = write_old_home(home, feedback_keys=feedback_keys)
    before = {name: sqlite_schema(home / f"{name}.db") for name in db.STORES}
    changed = {"order_items"} | ({"feedback"} if not feedback_keys else set())  # a column added

    orders, feedback, audit, turns = open_all(home, None)

    for store, name in ((orders, "orders"), (feedback, "feedback"), (audit, "audit"), (turns, "turns")):
        assert db.current(store.db, name) == db.head(name)  # type: ignore[arg-type]
        after = sqlite_schema(home / f"{name}.db")
        for table, sql in before[name].items():  # adopted: every old table and index kept as it was
            if table not in changed:
                assert after[table] == sql
    ada = orders.customer("C1")
    assert ada is not None and ada.preferred_categories == ["tents"] and ada.email == "ada@example.com"
    (order,) = orders.orders_for("C1")
    assert order.total == 59.5 and order.carrier == "UPS"
    assert [i.product_id for i in order.items] == ["P-3", "P-1", "P-2"]  # the old rowid order
    (entry,) = audit.entries()
    assert (entry.id, entry.ts, entry.actor, entry.client) == (1, 1735689600.25, "ana", "10.0.0.1")
    assert [(r["id"], r["response_id"], r["latency_ms"]) for r in turns.rows()] == [(1, "resp-1", 120.5)]
    assert turns.thumbs_per_route() == [{"route": "faq", "up": 1, "down": 0, "up_share": 1.0}]
    (old,) = feedback.all()
    assert (old.id, old.item_id, old.verdict, old.created) == (1, "resp-1", "up", "2025-01-02T10:00:01+00:00")

    # and the stores go on writing where the old code stopped
    new = feedback.add(FeedbackItem(item_id="resp-2", verdict="down"), "k")
    assert new.id == 2 and feedback.add(FeedbackItem(item_id="resp-2", verdict="down"), "k").id == 2
    assert AssistFeedback(feedback).logged("s-unknown") is None  # the suggestions log is there
    audit.record(actor="bo", role="admin", action="profile", customer_id="C1")
    assert [e.id for e in audit.entries()] == [2, 1]
    orders.seed({"customers": [], "orders": []})
    assert len(orders.orders_for("C1")[0].items) == 3
    with closing(sqlite3.connect(home / "orders.db")) as conn:
        assert conn.execute("SELECT COUNT(*) FROM order_items").fetchone()[0] == len(rows["order_items"])
    if not feedback_keys:
        assert "idempotency_key" in sqlite_schema(home / "feedback.db")["feedback"]

    open_all(home, None)  # opening again changes nothing
    assert len(feedback.all()) == 2 and len(audit.entries()) == 2


# -- several processes at once -------------------------------------------------------------------
OPEN_ALL = """
import sys
from pathlib import Path
from tests.assistant.stores.test_db import open_all
open_all(Path(sys.argv[1]), sys.argv[2] or None)
print("ok")
"""


def test_processes_opening_one_new_database_at_once_migrate_it_once(database_url, tmp_path):
    cmd = [sys.executable, "-c", OPEN_ALL, str(tmp_path / "home"), database_url or ""]
    procs = [
        subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0 and out.strip() == b"ok", err.decode()[-2000:]
    for store, name in zip(open_all(tmp_path / "home", database_url), db.STORES, strict=True):
        assert db.current(store.db, name) == db.head(name)


# -- an acknowledged write is committed ----------------------------------------------------------
WRITER = """
import sys
from pathlib import Path
from assistant.stores.audit import AuditLog
from assistant.stores.feedback import FeedbackItem, FeedbackStore
home, url = Path(sys.argv[1]), sys.argv[2] or None
feedback = FeedbackStore(home / "feedback.db", database_url=url)
audit = AuditLog(home / "audit.db", database_url=url)
for i in range(1_000_000):
    row = feedback.add(FeedbackItem(item_id=f"r{i}", verdict="up"))
    print("feedback", row.id, row.item_id, flush=True)
    audit.record(actor="writer", role="agent", action="orders", customer_id=f"c{i}")
    print("audit", i, flush=True)
"""


def test_an_acknowledged_write_survives_its_writer_being_killed(database_url, tmp_path):
    """The writer prints each acknowledgement as its call returns and is SIGKILLed mid-stream:
    every row it acknowledged is in the database (writes are committed before they return)."""
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(home), database_url or ""],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acks: list[list[str]] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            acks.append(line.split())
            if len(acks) >= 120:
                break
        os.kill(proc.pid, signal.SIGKILL)
        acks += [line.split() for line in proc.stdout]  # printed before the kill: acknowledged too
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    fed = {
        (str(f.id), f.item_id) for f in FeedbackStore(home / "feedback.db", database_url=database_url).all()
    }
    audited = {
        e.customer_id for e in AuditLog(home / "audit.db", database_url=database_url).entries(limit=10**6)
    }
    acked_feedback = [(a[1], a[2]) for a in acks if a[0] == "feedback"]
    acked_audit = [f"c{a[1]}" for a in acks if a[0] == "audit"]
    assert len(acked_feedback) >= 60 and len(acked_audit) >= 59
    assert set(acked_feedback) <= fed
    assert set(acked_audit) <= audited


# -- a database that is down ---------------------------------------------------------------------
def with_database(settings: Any, url: str) -> Any:
    settings.store = settings.store.model_copy(update={"database_url": url})
    return settings


def test_a_database_that_is_down_is_store_unavailable_naming_host_and_fix(settings, tmp_path):
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://shop:s3cret-pw@127.0.0.1:{port}/shop"
    with pytest.raises(sa.exc.OperationalError) as caught:
        FeedbackStore(tmp_path / "feedback.db", database_url=url)
    db.dispose_engines()
    found = errors.dependency_error(caught.value, with_database(settings, url))
    assert isinstance(found, errors.StoreUnavailable)
    message = str(found)
    assert f"127.0.0.1:{port}/shop" in message and "SHOPASSIST_STORE__DATABASE_URL" in message
    assert "start it" in message and "\n" not in message
    assert "s3cret-pw" not in message and "shop:s3cret" not in message
    assert errors.http_status(found) == 503 and errors.exit_code(found) == 5


@pytest.mark.integration
def test_postgres_stopping_mid_run_is_store_unavailable(settings, tmp_path):
    """A store open on a live server whose server then stops: the next write fails as
    `StoreUnavailable` naming the host (a server of its own: the shared one must stay up)."""
    reason = postgres.unavailable()
    if reason:
        pytest.skip(reason)
    cluster = postgres.Cluster().start()
    try:
        url = cluster.url().replace("postgres@", "postgres:s3cret-pw@")  # trust: the password is unused
        log = AuditLog(tmp_path / "audit.db", database_url=url)
        log.record(actor="ana", role="agent", action="orders", customer_id="C1")
        cluster.stop()
        with pytest.raises(sa.exc.SQLAlchemyError) as caught:
            log.record(actor="ana", role="agent", action="orders", customer_id="C2")
        found = errors.dependency_error(caught.value, with_database(settings, url))
        assert isinstance(found, errors.StoreUnavailable), caught.value
        assert f"127.0.0.1:{cluster.port}/postgres" in str(found) and "s3cret" not in str(found)
    finally:
        cluster.stop()
        db.dispose_engines()


# -- settings --------------------------------------------------------------------------------------
def test_the_database_url_comes_from_the_nested_environment_variable(monkeypatch, tmp_path):
    from assistant.config import load_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOPASSIST_STORE__DATABASE_URL", "postgresql+psycopg://shop@db.internal:5432/shop")
    settings = load_settings(home=tmp_path)
    assert settings.store.database_url == "postgresql+psycopg://shop@db.internal:5432/shop"
    assert load_settings(home=tmp_path, store={"database_url": ""}).store.database_url is None


def test_a_database_url_that_cannot_work_fails_at_start_up_without_showing_it(monkeypatch, tmp_path):
    from assistant.config import load_settings

    monkeypatch.chdir(tmp_path)
    for bad in ("not a url s3cret", "mysql://shop:s3cret@db/shop"):
        monkeypatch.setenv("SHOPASSIST_STORE__DATABASE_URL", bad)
        with pytest.raises(errors.ConfigError, match="store.database_url") as caught:
            load_settings(home=tmp_path)
        assert "s3cret" not in str(caught.value)


def test_migration_files_are_where_alembic_looks():
    """Every store's history has one head, and the first revision of each has no parent."""
    from alembic.script import ScriptDirectory

    for name in db.STORES:
        script = ScriptDirectory.from_config(db.alembic_config(name))
        assert script.get_heads() == [db.head(name)[0]]
        assert list(script.get_bases()) == [f"{name}_0001"]


def test_a_retry_racing_the_first_write_returns_the_first_row(database_url, tmp_path, monkeypatch):
    """Two replicas get the same retried feedback at once: both find no row with the key, both
    insert; the unique index refuses the second, which then returns the first one's row."""
    store = FeedbackStore(tmp_path / "feedback.db", database_url=database_url)
    first = store.add(FeedbackItem(item_id="r1", verdict="up"), "key-1")
    seen = FeedbackStore._seen
    stale = [True]  # the other replica's check ran before the first write committed: it saw nothing

    def racing(conn: Any, key: str | None) -> Any:
        return None if stale and stale.pop() else seen(conn, key)

    monkeypatch.setattr(FeedbackStore, "_seen", staticmethod(racing))
    again = store.add(FeedbackItem(item_id="r1", verdict="up"), "key-1")
    assert (again.id, again.created) == (first.id, first.created)
    assert len(store.all()) == 1


def test_the_settings_choose_the_database_of_every_store(settings, pg_url):
    """`from_settings`: SQLite files in HOME by default; the shared database once it is named,
    except for orders kept in an explicitly named `shop.orders_db` file."""
    from assistant.stores.order_sources import open_orders

    stores = (FeedbackStore, AuditLog, TurnLog)
    assert all(cls.from_settings(settings).database_url is None for cls in stores)
    orders = open_orders(settings)
    assert isinstance(orders, OrderStore) and orders.db.is_sqlite
    assert orders.path == settings.home / "orders.db"
    shared = with_database(settings, pg_url)
    assert {cls.from_settings(shared).db.dialect for cls in stores} == {"postgresql"}
    assert open_orders(shared).db.dialect == "postgresql"  # type: ignore[attr-defined]
    shared.shop = shared.shop.model_copy(update={"orders_db": settings.home / "mine.db"})
    assert open_orders(shared).db.is_sqlite  # type: ignore[attr-defined]


def test_a_database_newer_than_the_code_is_refused_with_what_to_do(tmp_path):
    """A file migrated by a newer shopassist (a revision this one does not know) is not touched."""
    FeedbackStore(tmp_path / "feedback.db")
    with closing(sqlite3.connect(tmp_path / "feedback.db")) as conn, conn:
        conn.execute("UPDATE alembic_version_feedback SET version_num = 'feedback_0099'")
    with pytest.raises(errors.ConfigError, match="feedback_0099, newer than this version") as caught:
        FeedbackStore(tmp_path / "feedback.db")
    assert str(tmp_path / "feedback.db") in str(caught.value) and "run the newer version" in str(caught.value)


def test_other_spellings_of_the_url(pg_url, tmp_path):
    """`postgresql://` (SQLAlchemy's default driver is psycopg2, not installed) means psycopg; a
    `sqlite:///FILE` URL keeps every store in that one file."""
    plain = FeedbackStore(tmp_path / "unused.db", database_url=pg_url.replace("+psycopg", ""))
    assert plain.db.engine.dialect.driver == "psycopg" and plain.all() == []
    one_file = f"sqlite:///{tmp_path / 'shop.db'}"
    orders, feedback, audit, turns = open_all(tmp_path / "home", one_file)
    audit.record(actor="ana", role="agent", action="orders", customer_id="C1")
    assert turns.record(
        ChatResponse(text="x", route="faq", action="answer", confidence=0.9), "hi", "api", 0.1
    )
    feedback.add(FeedbackItem(item_id=turns.rows()[0]["response_id"], verdict="up"))
    assert turns.thumbs_per_route() == [{"route": "faq", "up": 1, "down": 0, "up_share": 1.0}]
    assert orders.is_empty() and not (tmp_path / "home").exists()
    assert {"audit", "turns", "feedback", "customers"} <= set(sqlite_schema(tmp_path / "shop.db"))
