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
