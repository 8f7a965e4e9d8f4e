"""PEFT LoRA adapters as GGUF LoRA files, so llama.cpp applies the shipped adapters at run time.

The adapters are trained with PEFT on the transformers model that `models.convert_gguf` dequantized
from the packaged GGUF, so the base weights llama.cpp reads are the ones the adapters learned on.
Only the names and one layout differ: GGUF stores the rows of the query and key projections
permuted for its rotary kernel (what llama.cpp's `convert_hf_to_gguf.py` does to the weights), and
a LoRA's B matrix holds those rows, so it is permuted the same way; A is unchanged. Plain LoRA only
(no DoRA, rsLoRA or extra trained modules), which is what `shopassist finetune` writes.

Converted files are cached next to the model cache, keyed by a hash of the adapter's files and the
base GGUF's name and size, so an adapter retrained under the same name is converted again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from assistant.generation.base import GeneratorError

# Hugging Face Llama module -> GGUF tensor name (llama.cpp's LLM_TENSOR names), per block.
_MODULES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_NAME = re.compile(r"^(?:base_model\.model\.)?model\.layers\.(\d+)\.(.+)\.lora_([AB])(?:\.default)?\.weight$")
CONVERTER_VERSION = 1  # part of the cache key: a fix to the conversion reconverts every adapter


class AdapterConversionError(GeneratorError):
    """An adapter cannot be applied by llama.cpp; the message says why and what to use instead."""


def _field(reader: Any, key: str) -> Any:
    field = reader.fields.get(key)
    if field is None:
        raise AdapterConversionError(f"the base GGUF has no {key!r}; is it a Llama-family model?")
    return field.contents()


def base_shape(base_gguf: Path) -> dict[str, Any]:
    """The architecture and head counts of the base GGUF (what the permutation needs)."""
    import gguf

    reader = gguf.GGUFReader(str(base_gguf))
    arch = str(_field(reader, "general.architecture"))
    return {
        "arch": arch,
        "n_head": int(_field(reader, f"{arch}.attention.head_count")),
        "n_head_kv": int(_field(reader, f"{arch}.attention.head_count_kv")),
    }


def _permute_rows(weights: Any, n_head: int) -> Any:
    """The row order llama.cpp's converter gives q/k projections (pairs of halves interleaved per head)."""
    rows = weights.shape[0]
    return (
        weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _fingerprint(adapter_dir: Path, base_gguf: Path) -> str:
    digest = hashlib.sha256(f"v{CONVERTER_VERSION}".encode())
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        digest.update((adapter_dir / name).read_bytes())
    stat = base_gguf.stat()
    digest.update(f"{base_gguf.name}:{stat.st_size}".encode())
    return digest.hexdigest()[:16]


def convert_adapter(adapter_dir: Path, base_gguf: Path, out: Path) -> Path:
    """Write the PEFT adapter in `adapter_dir` as a GGUF LoRA for `base_gguf` at `out` (atomically)."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    adapter_dir = Path(adapter_dir)
    config_path = adapter_dir / "adapter_config.json"
    weights_path = adapter_dir / "adapter_model.safetensors"
    if not config_path.exists() or not weights_path.exists():
        raise AdapterConversionError(
            f"{adapter_dir} is not a PEFT adapter folder (needs adapter_config.json and "
            "adapter_model.safetensors)"
        )
    config = json.loads(config_path.read_text())
    unsupported = [k for k in ("use_dora", "use_rslora", "modules_to_save") if config.get(k)]
    if config.get("peft_type", "LORA") != "LORA" or unsupported:
        raise AdapterConversionError(
            f"adapter {adapter_dir.name} uses {', '.join(unsupported) or config.get('peft_type')}, which "
            "llama.cpp cannot apply; use engine 'embedded' or 'vllm' for it"
        )
    shape = base_shape(base_gguf)
    pairs: dict[str, dict[str, Any]] = {}
    for name, tensor in load_file(str(weights_path)).items():
        match = _NAME.match(name)
        if match is None or match.group(2) not in _MODULES:
            raise AdapterConversionError(f"adapter {adapter_dir.name}: unexpected tensor {name!r}")
        block, module, which = match.groups()
        target = f"blk.{block}.{_MODULES[module]}.weight"
        pairs.setdefault(target, {})[which] = tensor.astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.partial")
    writer = gguf.GGUFWriter(str(tmp), shape["arch"])
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
    for target, pair in sorted(pairs.items()):
        if set(pair) != {"A", "B"}:
            raise AdapterConversionError(f"adapter {adapter_dir.name}: {target} lacks lora_A or lora_B")
        lora_b = pair["B"]
        if ".attn_q." in target:
            lora_b = _permute_rows(lora_b, shape["n_head"])
        elif ".attn_k." in target:
            lora_b = _permute_rows(lora_b, shape["n_head_kv"])
        writer.add_tensor(target + ".lora_a", np.ascontiguousarray(pair["A"]))
        writer.add_tensor(target + ".lora_b", np.ascontiguousarray(lora_b))
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    tmp.replace(out)
    return out


def cached_adapter(adapter_dir: Path, base_gguf: Path, cache_dir: Path, name: str) -> Path:
    """The GGUF LoRA for this adapter and base, converted on first use (about a second)."""
    out = Path(cache_dir) / f"{name}-{_fingerprint(Path(adapter_dir), base_gguf)}.gguf"
    if not out.exists():
        convert_adapter(Path(adapter_dir), base_gguf, out)
    return out
