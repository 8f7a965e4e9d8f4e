"""The packaged GGUF re-encoded in another weight format: same tensors and metadata, close values,
cached once, and a bad format named. (The engine tests run on the default format's file.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.errors import ConfigError
from assistant.generation.gguf_requant import requantized

gguf = pytest.importorskip("gguf")
pytestmark = pytest.mark.slow


def _tensors(path: Path) -> dict[str, object]:
    return {t.name: t for t in gguf.GGUFReader(str(path)).tensors}


@pytest.mark.parametrize(("fmt", "tolerance"), [("Q8_0", 0.02), ("Q4_0", 0.35)])
def test_every_q4_1_tensor_is_re_encoded_and_the_rest_copied(base_gguf: Path, fmt: str, tolerance: float):
    from tests.conftest import shared_cache

    out = requantized(base_gguf, fmt, shared_cache() / "gguf")  # the engine tests' file, converted once
    assert out != base_gguf
    before, after = _tensors(base_gguf), _tensors(out)
    assert before.keys() == after.keys()
    q41 = gguf.GGMLQuantizationType.Q4_1
    for name, old in before.items():
        new = after[name]
        assert list(new.shape) == list(old.shape), name
        if old.tensor_type != q41:
            assert new.tensor_type == old.tensor_type and np.array_equal(new.data, old.data), name
            continue
        assert new.tensor_type == gguf.GGMLQuantizationType[fmt], name
        a = gguf.quants.dequantize(old.data, q41)
        b = gguf.quants.dequantize(new.data, new.tensor_type)
        # relative to each tensor's spread: Q8_0 keeps Q4_1's values almost exactly, Q4_0 rounds again
        assert np.abs(a - b).max() <= tolerance * np.abs(a).max(), name
    fields_before = {f.name: f.contents() for f in gguf.GGUFReader(str(base_gguf)).fields.values()}
    fields_after = {f.name: f.contents() for f in gguf.GGUFReader(str(out)).fields.values()}
    changed = {
        k for k in fields_before if not k.startswith("GGUF.") and fields_before[k] != fields_after.get(k)
    }
    assert changed == {"general.file_type"}
    assert fields_after["general.file_type"] == int(gguf.LlamaFileType[f"MOSTLY_{fmt}"])


def test_the_conversion_is_cached_and_the_source_format_is_the_file_itself(base_gguf: Path, tmp_path: Path):
    first = requantized(base_gguf, "q8_0", tmp_path)
    stamp = first.stat().st_mtime_ns
    assert requantized(base_gguf, "Q8_0", tmp_path) == first and first.stat().st_mtime_ns == stamp
    assert requantized(base_gguf, "Q4_1", tmp_path) == base_gguf
    assert not list(tmp_path.glob("*.part"))


def test_an_unknown_format_says_which_exist(base_gguf: Path, tmp_path: Path):
    with pytest.raises(ConfigError, match="not one of Q4_1, Q4_0, Q8_0, F16"):
        requantized(base_gguf, "Q3_K", tmp_path)
