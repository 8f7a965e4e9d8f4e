"""A file is replaced whole or not at all."""

from __future__ import annotations

import pytest

from retrieval.files import write_atomic


def test_replaces_the_file_and_creates_its_folder(tmp_path):
    path = tmp_path / "sub" / "x.json"
    assert write_atomic(path, "one") == path and path.read_text() == "one"
    write_atomic(path, b"two")
    assert path.read_bytes() == b"two" and [p.name for p in path.parent.iterdir()] == ["x.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "x.json"
    write_atomic(path, "old")
    with pytest.raises(TypeError):
        write_atomic(path, 42)  # type: ignore[arg-type]
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["x.json"]
