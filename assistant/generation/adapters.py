"""The adapter registry: which LoRA adapters exist, for which task and base model.

Fine-tuning writes it, serving and the generators read it, so neither has to know the other's
folders. One JSON file under the shopassist home, rewritten atomically so a killed writer never
leaves it half-written; a record names the adapter the way vLLM's `--lora-modules` and the
OpenAI `model` field will name it. `merge_adapter` (used by `shopassist finetune --merge` and
`serve-model`) folds an adapter into a copy of its base weights; torch and peft are imported inside it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from assistant.errors import ConfigError
from assistant.generation.models import DEFAULT_MODEL_NAME

TASKS: dict[str, str] = {
    "cs": "customer-service replies (chat and agent assist)",
    "copy": "product descriptions from attributes",
    "rewrite": "follow-up messages to one intent line (chat understanding)",
    "answer": "short answers from given facts (chat)",
    "draft": "agent-assist reply drafts from the ticket and the FAQ answer",
}


class RegistryError(ConfigError):
    """The registry file or a record is invalid; the message says which and how to fix it."""


class AdapterRecord(BaseModel):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="Name used as the OpenAI `model` field and in vLLM's --lora-modules",
    )
    task: str = Field(description=f"Task the adapter was trained for: {', '.join(TASKS)}")
    path: Path = Field(description="Folder with adapter_config.json and the adapter weights")
    base_model: str = Field(description="Base model folder (or served name) the adapter was trained on")
    merged_path: Path | None = Field(
        default=None, description="Folder with the base weights merged with this adapter, if exported"
    )
    created: str = Field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"),
        description="UTC time the record was written",
    )
    metrics: dict[str, Any] = Field(default_factory=dict, description="Validation numbers from training")

    @field_validator("task")
    @classmethod
    def _known_task(cls, value: str) -> str:
        if value not in TASKS:
            raise ValueError(f"unknown task {value!r}; known tasks: {', '.join(TASKS)}")
        return value


# Adapters that ship inside the package (trained by `shopassist finetune` on the demo shop, each folder
# with its PEFT files and a record.json holding the training config, data fingerprint and metrics), so
# a fresh install uses them; a shop's own adapter for the same task, once registered, wins.
SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
DEFAULT_BASE = DEFAULT_MODEL_NAME  # the base the shipped adapters were trained on


def shipped_records(folder: Path = SHIPPED_DIR) -> dict[str, AdapterRecord]:
    records: dict[str, AdapterRecord] = {}
    for record_file in sorted(folder.glob("*/record.json")) if folder.is_dir() else []:
        raw = json.loads(record_file.read_text(encoding="utf-8"))
        record = AdapterRecord.model_validate({**raw, "path": record_file.parent})
        records[record.name] = record
    return records


def base_name(base_model: str | Path) -> str:
    return Path(str(base_model)).name


class AdapterRegistry:
    """Records keyed by name, stored in `<home>/adapters/registry.json`, over the shipped adapters."""

    def __init__(self, path: Path, shipped: Path | None = SHIPPED_DIR) -> None:
        self.path = path
        self.shipped = shipped

    @classmethod
    def for_home(cls, home: Path) -> AdapterRegistry:
        return cls(home / "adapters" / "registry.json")

    def _all(self) -> dict[str, AdapterRecord]:
        shipped = shipped_records(self.shipped) if self.shipped is not None else {}
        return shipped | self._read()

    def _read(self) -> dict[str, AdapterRecord]:
        if not self.path.exists():
            return {}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return {item["name"]: AdapterRecord.model_validate(item) for item in raw.get("adapters", [])}
        except (json.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
            raise RegistryError(
                f"adapter registry {self.path} is unreadable ({exc}); fix or remove the file and "
                "re-run `shopassist finetune` to register the adapters again"
            ) from exc

    def _write(self, records: dict[str, AdapterRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "adapters": [r.model_dump(mode="json") for r in sorted(records.values(), key=lambda r: r.name)]
        }
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".registry-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
        os.replace(tmp, self.path)

    def list(self) -> list[AdapterRecord]:
        return sorted(self._all().values(), key=lambda r: r.name)

    def is_shipped(self, name: str) -> bool:
        return name not in self._read() and self.shipped is not None and name in shipped_records(self.shipped)

    def get(self, name: str) -> AdapterRecord:
        records = self._all()
        if name not in records:
            known = ", ".join(records) or "none registered (run `shopassist finetune`)"
            raise RegistryError(f"no adapter named {name!r}; known: {known}")
        return records[name]

    def for_task(self, task: str, base: str | None = None) -> AdapterRecord | None:
        """The newest registered adapter for a task (else the shipped one), or None. With `base`,
        only adapters trained on a base of that folder name count: an adapter fits only its base."""

        def fits(r: AdapterRecord) -> bool:
            return r.task == task and (base is None or base_name(r.base_model) == base_name(base))

        own = [r for r in self._read().values() if fits(r)]
        if own:
            return max(own, key=lambda r: r.created)
        shipped = shipped_records(self.shipped) if self.shipped is not None else {}
        matches = [r for r in shipped.values() if fits(r)]
        return max(matches, key=lambda r: r.created) if matches else None

    def register(self, record: AdapterRecord) -> AdapterRecord:
        """Add or replace the record of this name (re-training an adapter updates it)."""
        if not (record.path / "adapter_config.json").exists():
            raise RegistryError(f"{record.path} has no adapter_config.json; export the adapter first")
        records = self._read()
        records[record.name] = record
        self._write(records)
        return record

    def remove(self, name: str) -> None:
        records = self._read()
        if self.is_shipped(name):
            raise RegistryError(
                f"{name!r} ships with shopassist and cannot be removed; to not use it for its task set "
                "generator.task_adapters.<task> = '' (the base model) or register your own adapter"
            )
        if records.pop(name, None) is None:
            raise RegistryError(f"no adapter named {name!r} to remove")
        self._write(records)


def adapter_for_task(
    task: str, configured: dict[str, str], registry: AdapterRegistry, base: str | None = None
) -> str | None:
    """The adapter name a task's requests carry: the configured one ('' = the base model), else the
    newest registered (else shipped) adapter for the task trained on `base`, else None (the base
    model). The one place this is decided."""
    if task in configured:
        return configured[task] or None
    record = registry.for_task(task, base)
    return record.name if record else None


def base_of(settings: Any) -> str:
    """The folder name of the configured base model (what an adapter must have been trained on)."""
    model = settings.generator.model
    return base_name(model) if model is not None else DEFAULT_BASE


def merge_adapter(*, base_dir: str | Path, adapter_dir: str | Path, out_dir: str | Path) -> Path:
    """Fold the LoRA adapter in `adapter_dir` into a copy of the base model in `base_dir` (PEFT
    `merge_and_unload`) and save it, with the base's tokenizer, to `out_dir`; returns `out_dir`.

    Serving merged weights costs nothing extra per token, unlike a LoRA applied at run time. Merged
    in float32 and saved in the base's dtype; written to a temporary folder and renamed, so a killed
    merge never leaves a half model that vLLM would try to load. Keyword-only: the two folders are
    easy to swap.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from retrieval.offline import set_offline_env

    base_dir, adapter_dir, out_dir = Path(base_dir), Path(adapter_dir), Path(out_dir)
    set_offline_env()
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    saved_dtype = getattr(base.config, "dtype", None) or getattr(base.config, "torch_dtype", None)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    if isinstance(saved_dtype, str):
        saved_dtype = getattr(torch, saved_dtype, None)
    if isinstance(saved_dtype, torch.dtype):
        merged = merged.to(saved_dtype)
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(tmp)
    (tmp / "shopassist-merge.json").write_text(
        json.dumps({"adapter": str(adapter_dir), "base": str(base_dir)}, indent=2)
    )
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir
