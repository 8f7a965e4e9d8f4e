"""One error hierarchy: status and exit code come from the type, in one table (assistant.errors)."""

import pytest

from assistant import errors
from assistant.assist.feedback import FeedbackError, UnknownSuggestion
from assistant.chat.service import InputError
from assistant.copystudio.service import CopyInputError, ProductNotFound
from assistant.generation.base import GeneratorError
from finetune.config import TrainConfigError
from retrieval.catalog import CatalogError
from retrieval.filters import FilterError


@pytest.mark.parametrize(
    ("exc", "status", "code", "kind"),
    [
        (InputError("empty"), 400, 2, "invalid_message"),
        (CopyInputError("unknown adapter"), 400, 2, "invalid_request"),
        (ProductNotFound("no product with id 'X'"), 404, 3, "not_found"),
        (FeedbackError("an edit needs the text"), 400, 2, "invalid_request"),
        (UnknownSuggestion("no suggestion 's1'"), 404, 3, "not_found"),
        (GeneratorError("server down"), 503, 5, "unavailable"),
        (TrainConfigError("rank must be >= 1"), 400, 2, "invalid_request"),
        (errors.ConfigError("bad toml"), 500, 78, "config_error"),
        (errors.Forbidden("agents only"), 403, 4, "forbidden"),
        # the layer below keeps its own ValueErrors; they are mapped by type in the same table
        (FilterError("no brand NoSuch"), 400, 2, "invalid_filter"),
        (CatalogError("missing column"), 400, 2, "invalid_request"),
    ],
)
def test_status_and_exit_code_follow_the_type(exc, status, code, kind):
    assert errors.http_status(exc) == status
    assert errors.exit_code(exc) == code
    assert errors.kind_name(exc) == kind


def test_an_unexpected_error_is_a_bug_not_a_guess():
    assert errors.classify(KeyError("x")) is None
    assert errors.http_status(KeyError("x")) == 500 and errors.kind_name(KeyError("x")) == "internal_error"


def test_every_hierarchy_class_stays_catchable_as_the_builtin_it_replaced():
    assert isinstance(InputError("x"), ValueError)  # older callers caught ValueError
    assert isinstance(GeneratorError("x"), RuntimeError)
    assert isinstance(ProductNotFound("x"), LookupError) and isinstance(ProductNotFound("x"), CopyInputError)


# -- the records database behind SQLAlchemy (issue 19) ----------------------------------------------
def _wrapped(orig: Exception, kind: type | None = None) -> Exception:
    """`orig` as SQLAlchemy raises it: its DBAPI-type wrapper, the driver's error as `.orig`."""
    import sqlalchemy.exc

    return (kind or sqlalchemy.exc.OperationalError)("SELECT 1", {}, orig)


def _with_database(settings, url):
    settings.store = settings.store.model_copy(update={"database_url": url})
    return settings


def test_database_errors_are_told_by_type_not_text(settings):
    import psycopg
    import sqlalchemy.exc

    url = "postgresql+psycopg://shop:pw-s3cret@db.internal:6543/shop"
    down = _wrapped(psycopg.OperationalError("connection refused\n\tIs the server running?"))
    found = errors.dependency_error(down, _with_database(settings, url))
    assert isinstance(found, errors.StoreUnavailable) and errors.http_status(found) == 503
    message = str(found)
    assert "db.internal:6543/shop" in message and "SHOPASSIST_STORE__DATABASE_URL" in message
    assert "pw-s3cret" not in message and "\n" not in message
    busy = sqlalchemy.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached")
    assert isinstance(errors.dependency_error(busy, settings), errors.StoreUnavailable)
    dead = _wrapped(psycopg.DatabaseError("server closed the connection"), sqlalchemy.exc.DatabaseError)
    dead.connection_invalidated = True  # type: ignore[attr-defined]
    assert isinstance(errors.dependency_error(dead, settings), errors.StoreUnavailable)
    # a bug, whatever its text says: a constraint, bad SQL
    refused = psycopg.IntegrityError("connection refused")
    assert errors.dependency_error(_wrapped(refused, sqlalchemy.exc.IntegrityError), settings) is None
    bad_sql = _wrapped(psycopg.ProgrammingError("syntax error"), sqlalchemy.exc.ProgrammingError)
    assert errors.dependency_error(bad_sql, settings) is None


def test_without_a_database_url_a_driver_error_is_not_blamed_on_a_server(settings):
    import psycopg

    assert errors.dependency_error(_wrapped(psycopg.OperationalError("refused")), settings) is None


def test_a_sqlite_error_wrapped_by_sqlalchemy_is_judged_by_its_result_code(settings):
    import sqlite3

    import sqlalchemy.exc

    full = sqlite3.OperationalError("text that decides nothing")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    assert isinstance(errors.dependency_error(_wrapped(full), settings), errors.DiskError)
    constraint = sqlite3.IntegrityError("UNIQUE constraint failed")
    constraint.sqlite_errorcode = sqlite3.SQLITE_CONSTRAINT  # type: ignore[attr-defined]
    assert errors.dependency_error(_wrapped(constraint, sqlalchemy.exc.IntegrityError), settings) is None
    assert sqlalchemy.exc.DBAPIError in errors.dependency_types()  # the API routes them here


def test_a_lost_ingest_race_is_a_one_line_unavailable_that_says_to_rerun(settings):
    from assistant.errors import StoreUnavailable, dependency_error, dependency_types
    from retrieval.versions import VersionConflict

    exc = VersionConflict("version 4 was made live by another ingest")
    assert isinstance(exc, dependency_types())
    error = dependency_error(exc, settings)
    assert isinstance(error, StoreUnavailable) and "run the ingest again" in str(error)
