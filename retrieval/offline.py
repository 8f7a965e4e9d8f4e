"""Offline switches, set before any Hugging Face or Chroma code runs.

The product promise is that nothing touches the network at run time; these variables make the
libraries fail fast instead of trying a hub, and turn off their telemetry.
"""

import logging
import os
from pathlib import Path

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
    # Quiet by default: progress bars of weight loading are noise in a CLI and in logs.
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}


def set_offline_env() -> None:
    """Set every offline variable the user has not set explicitly."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    logging.getLogger("bm25s").setLevel(logging.WARNING)


set_offline_env()


def installed_package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it (model packages ship
    weights as data and may have dependencies we deliberately did not install)."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def cpu_has_fast_bf16() -> bool:
    """AMX or AVX512-BF16 make bf16 matmuls faster than fp32 on CPU; without them bf16 is emulated."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags
