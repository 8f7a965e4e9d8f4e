"""Shipping a trained adapter into the package: the files, and no machine path in them."""

from __future__ import annotations

import json

from assistant.generation.adapters import DEFAULT_BASE, AdapterRecord, AdapterRegistry
from finetune.ship import ship


def test_a_shipped_adapter_names_its_base_by_the_default_models_folder(tmp_path):
    trained = tmp_path / "home" / "adapters" / "copy-x" / "adapter"
    trained.mkdir(parents=True)
    base = str(tmp_path / "home" / "models" / DEFAULT_BASE)
    (trained / "adapter_config.json").write_text(json.dumps({"r": 16, "base_model_name_or_path": base}))
    (trained / "adapter_model.safetensors").write_bytes(b"weights")
    (trained / "training.json").write_text(json.dumps({"base_model": base, "data_fingerprint": "abc"}))
    registry = AdapterRegistry(tmp_path / "home" / "adapters" / "registry.json", shipped=None)
    registry.register(AdapterRecord(name="copy-x", task="copy", path=trained, base_model=base))
    dest = ship("copy-x", registry, tmp_path / "shipped")
    assert (dest / "adapter_model.safetensors").read_bytes() == b"weights"
    config = json.loads((dest / "adapter_config.json").read_text())
    training = json.loads((dest / "training.json").read_text())
    record = json.loads((dest / "record.json").read_text())
    assert config == {"r": 16, "base_model_name_or_path": DEFAULT_BASE}
    assert training == {"base_model": DEFAULT_BASE, "data_fingerprint": "abc"}
    assert record["base_model"] == DEFAULT_BASE and record["name"] == "copy-x"
    assert (
        str(tmp_path) not in (dest / "adapter_config.json").read_text() + (dest / "training.json").read_text()
    )
