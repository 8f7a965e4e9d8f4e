"""Copy trained adapters into the package, so a fresh install uses them (maintainers' step).

`python -m finetune.ship rewrite-lora answer-lora` takes each named adapter from the registry of
SHOPASSIST_HOME (as `shopassist finetune` registered it) and writes it under
`assistant/generation/shipped/<name>/`: the PEFT files, `training.json` (the training config, data
fingerprint, metrics and loss history) and `record.json` (the registry record); the base is named by
the default model's folder name in all three, so no training machine's path ships and any machine's
cache matches. Only adapters of the default base ship.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from assistant.config import load_settings
from assistant.generation.adapters import DEFAULT_BASE, SHIPPED_DIR, AdapterRegistry, base_name
from finetune.data import DataError

FILES = ("adapter_config.json", "adapter_model.safetensors", "training.json")


def ship(name: str, registry: AdapterRegistry, dest_root: Path = SHIPPED_DIR) -> Path:
    record = registry.get(name)
    if base_name(record.base_model) != DEFAULT_BASE:
        raise DataError(f"{name} was trained on {record.base_model}; only {DEFAULT_BASE} adapters ship")
    missing = [f for f in FILES if not (record.path / f).exists()]
    if missing:
        raise DataError(f"{record.path} lacks {', '.join(missing)}; re-run `shopassist finetune`")
    dest = dest_root / name
    tmp = dest.with_name(f".{name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in FILES:
        shutil.copy2(record.path / f, tmp / f)
    # The base is named by the default model's folder name, never the training machine's path.
    for f, key in (("adapter_config.json", "base_model_name_or_path"), ("training.json", "base_model")):
        data = json.loads((tmp / f).read_text())
        data[key] = DEFAULT_BASE
        (tmp / f).write_text(json.dumps(data, indent=2) + "\n")
    shipped = record.model_dump(mode="json", exclude={"path", "merged_path"}) | {"base_model": DEFAULT_BASE}
    (tmp / "record.json").write_text(json.dumps(shipped, indent=2) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m finetune.ship ADAPTER_NAME [...]", file=sys.stderr)
        return 2
    registry = AdapterRegistry.for_home(load_settings().home)
    for name in argv:
        print(f"shipped {name} -> {ship(name, registry)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
