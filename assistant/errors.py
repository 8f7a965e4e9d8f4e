"""One error hierarchy, and the one place where an error becomes an HTTP status or an exit code.

Services raise by meaning (bad input, not found, forbidden, unavailable, configuration), never by
transport: the API and the CLI translate with `classify`, so a status is never picked by matching
message text. `retrieval` sits below this package and keeps its own `ValueError`s; they are mapped
here in `_FOREIGN` by type, in the same table.
"""

from __future__ import annotations

from typing import ClassVar


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
