"""The packaged GGUF re-encoded in another llama.cpp weight format, once, cached beside the model.

Why: which format decodes fastest depends on the CPU's kernels, not on the bytes alone. The
packaged model is Q4_1; llama.cpp's batched matrix kernels for x86 (its repacked and tinyBLAS paths)
cover Q4_0 and Q8_0 but not Q4_1, so a batch of requests can run faster on a format with more bytes.
`generator.gguf_format` picks one; the bench measures each. Every Q4_1 tensor is dequantized and
quantized again (Q8_0 keeps Q4_1's values almost exactly; Q4_0 rounds them once more), all other
tensors and every metadata field are copied as they are.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError

FORMATS = ("Q4_1", "Q4_0", "Q8_0", "F16")


def requantized(source: Path, fmt: str, cache_dir: Path) -> Path:
    """`source` in format `fmt`: the file itself when it already is, else a cached conversion."""
    fmt = fmt.upper()
    if fmt not in FORMATS:
        raise ConfigError(f"generator.gguf_format {fmt!r} is not one of {', '.join(FORMATS)}")
    import gguf

    reader = gguf.GGUFReader(str(source))
    target = gguf.GGMLQuantizationType[fmt]
    if not any(_converts(t.tensor_type, target) for t in reader.tensors):
        return source
    stat = source.stat()
    key = hashlib.sha256(f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    out = cache_dir / f"{source.stem}.{fmt}.{key}.gguf"
    if out.is_file():
        return out
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".part")
    os.close(fd)
    try:
        _write(reader, target, Path(tmp))
        os.chmod(tmp, 0o644)  # a shared model cache is read by other users' checkouts
        os.replace(tmp, out)  # readers see the whole file or none
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out


def _converts(current: Any, target: Any) -> bool:
    import gguf

    return current == gguf.GGMLQuantizationType.Q4_1 and current != target


def _write(reader: Any, target: Any, path: Path) -> None:
    import gguf
    import numpy as np

    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(str(path), arch=arch, endianess=reader.endianess)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        value = field.contents()
        if field.name == gguf.Keys.General.FILE_TYPE:
            value = int(gguf.LlamaFileType[f"MOSTLY_{target.name}"])
        writer.add_key_value(field.name, value, vtype, sub_type=sub)
    for tensor in reader.tensors:
        data: Any = tensor.data
        kind: Any = tensor.tensor_type
        if _converts(kind, target):
            values = gguf.quants.dequantize(data, kind)
            if target == gguf.GGMLQuantizationType.F16:
                writer.add_tensor(tensor.name, values.astype(np.float16))
                continue
            data, kind = gguf.quants.quantize(values, target), target
        writer.add_tensor(tensor.name, data, raw_shape=data.shape, raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
