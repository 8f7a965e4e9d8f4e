"""PEFT adapters converted to GGUF LoRA: names, shapes, the q/k row order, refusals, the cache."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from assistant.generation.adapters import SHIPPED_DIR
from assistant.generation.lora_gguf import (
    AdapterConversionError,
    _permute_rows,
    base_shape,
    cached_adapter,
    convert_adapter,
)

gguf = pytest.importorskip("gguf")


def test_shipped_adapter_converts_to_llama_cpp_names_and_shapes(base_gguf, tmp_path):
    from safetensors.numpy import load_file

    out = convert_adapter(SHIPPED_DIR / "rewrite-lora", base_gguf, tmp_path / "rewrite.gguf")
    reader = gguf.GGUFReader(str(out))
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["adapter.type"].contents() == "lora"
    config = json.loads((SHIPPED_DIR / "rewrite-lora" / "adapter_config.json").read_text())
    assert reader.fields["adapter.lora.alpha"].contents() == pytest.approx(config["lora_alpha"])
    tensors = {t.name: t for t in reader.tensors}
    peft = load_file(str(SHIPPED_DIR / "rewrite-lora" / "adapter_model.safetensors"))
    assert len(tensors) == len(peft)  # one GGUF tensor per PEFT tensor, nothing dropped
    shape = base_shape(base_gguf)
    q_b = tensors["blk.0.attn_q.weight.lora_b"].data
    k_b = tensors["blk.0.attn_k.weight.lora_b"].data
    v_b = tensors["blk.0.attn_v.weight.lora_b"].data
    src = {
        k.split(".lora_")[0].split("layers.0.")[-1]: v
        for k, v in peft.items()
        if ".layers.0." in k and "lora_B" in k
    }
    # q and k rows follow llama.cpp's rotary layout; v (and A) are copied unchanged.
    np.testing.assert_array_equal(q_b, _permute_rows(src["self_attn.q_proj"], shape["n_head"]))
    np.testing.assert_array_equal(k_b, _permute_rows(src["self_attn.k_proj"], shape["n_head_kv"]))
    np.testing.assert_array_equal(v_b, src["self_attn.v_proj"])
    assert not np.array_equal(q_b, src["self_attn.q_proj"])


def test_row_permutation_is_the_one_applied_to_the_base_weights():
    """Permuting B's rows permutes the rows of B @ A: the delta lands where the GGUF base has them."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 12)), rng.normal(size=(12, 4))
    np.testing.assert_allclose(_permute_rows(b, 3) @ a, _permute_rows(b @ a, 3))
    rows = _permute_rows(np.arange(12).reshape(12, 1), 3).ravel()
    assert sorted(rows) == list(range(12)) and list(rows[:4]) == [0, 2, 1, 3]


def test_dora_and_foreign_tensors_are_refused_with_the_way_out(base_gguf, tmp_path):
    folder = tmp_path / "dora"
    shutil.copytree(SHIPPED_DIR / "rewrite-lora", folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**config, "use_dora": True}))
    with pytest.raises(AdapterConversionError, match="use_dora.*engine 'embedded' or 'vllm'"):
        convert_adapter(folder, base_gguf, tmp_path / "x.gguf")
    with pytest.raises(AdapterConversionError, match="not a PEFT adapter folder"):
        convert_adapter(tmp_path, base_gguf, tmp_path / "y.gguf")
    assert not list(tmp_path.glob("*.gguf")) and not list(tmp_path.glob(".*partial"))


def test_cache_converts_once_and_again_when_the_adapter_changes(base_gguf, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(SHIPPED_DIR / "copy-lora", folder)
    first = cached_adapter(folder, base_gguf, tmp_path / "cache", "copy")
    stamp = first.stat().st_mtime_ns
    assert cached_adapter(folder, base_gguf, tmp_path / "cache", "copy") == first
    assert first.stat().st_mtime_ns == stamp
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**config, "lora_alpha": 8}))
    second = cached_adapter(folder, base_gguf, tmp_path / "cache", "copy")
    assert second != first and second.exists()
