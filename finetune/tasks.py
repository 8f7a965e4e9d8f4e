"""The fine-tuning tasks in a registry, and the one function the CLI calls to train, export and register.

A task is data (how to build its examples, where its default data lives), not a branch in the
callers, so adding one is a new entry here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finetune.config import TrainConfig
from finetune.data import BuiltData, DataError, build_copy, build_cs, build_draft

log = logging.getLogger(__name__)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEMO_PRODUCTS = Path(__file__).resolve().parents[1] / "assistant" / "demo_shop" / "products.csv"


@dataclass(frozen=True)
class Task:
    name: str
    what: str
    build: Callable[[Sequence[Path], str, int | None], BuiltData]
    default_data: Callable[[], list[Path]]


def _cs(paths: Sequence[Path], shop: str, max_examples: int | None) -> BuiltData:
    if len(paths) != 1:
        raise DataError("the cs task reads one replies file (instruction,response columns); pass one --data")
    return build_cs(paths[0], shop, max_examples=max_examples)


def _copy(paths: Sequence[Path], shop: str, max_examples: int | None) -> BuiltData:
    return build_copy(paths, shop, max_examples=max_examples)


def draft_files(paths: Sequence[Path]) -> tuple[Path, Path]:
    """The draft task's (replies, FAQ) files: the one named like an FAQ is the FAQ, else the given order."""
    if len(paths) != 2:
        raise DataError(
            "the draft task reads a replies file (instruction,intent,response) and the FAQ its intents "
            "name; pass --data replies.csv --data faq.csv"
        )
    replies, faq = sorted(paths, key=lambda p: "faq" in p.name.lower())
    return replies, faq


def _draft(paths: Sequence[Path], shop: str, max_examples: int | None) -> BuiltData:
    return build_draft(*draft_files(paths), max_examples=max_examples)


def _dialogue(task: str) -> Callable[[Sequence[Path], str, int | None], BuiltData]:
    def build(paths: Sequence[Path], shop: str, max_examples: int | None) -> BuiltData:
        from finetune.dialogues import build_dialogue_task

        data = build_dialogue_task(task, paths)
        if max_examples:
            data.examples = data.examples[:max_examples]
        return data

    return build


def _demo_shop() -> list[Path]:
    return [DEMO_PRODUCTS, DEMO_PRODUCTS.with_name("faq.csv")]


TASKS: dict[str, Task] = {
    "cs": Task("cs", "customer-service replies", _cs, lambda: [SHARED_DATA / "cs" / "replies_train.csv"]),
    "copy": Task(
        "copy",
        "product descriptions from attributes",
        _copy,
        lambda: [SHARED_DATA / "copy" / "flipkart_products.csv", DEMO_PRODUCTS],
    ),
    "draft": Task(
        "draft",
        "agent-assist reply drafts from the ticket and the shop's FAQ answer",
        _draft,
        lambda: [SHARED_DATA / "cs" / "replies_train.csv", SHARED_DATA / "cs" / "faq.csv"],
    ),
    "rewrite": Task(
        "rewrite",
        "follow-up messages to one intent line (conversation understanding)",
        _dialogue("rewrite"),
        _demo_shop,
    ),
    "answer": Task(
        "answer",
        "short answers from given facts (stock, attributes, best-of, comparisons, policy)",
        _dialogue("answer"),
        _demo_shop,
    ),
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise DataError(f"unknown task {name!r}; known: {', '.join(TASKS)}")
    return TASKS[name]


def build_task_data(
    task: str, paths: Sequence[Path] | None, shop_name: str, max_examples: int | None
) -> BuiltData:
    t = get_task(task)
    paths = list(paths) if paths else t.default_data()
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise DataError(f"data file(s) not found: {', '.join(map(str, missing))}; pass them with --data")
    return t.build([Path(p) for p in paths], shop_name, max_examples)


def run_finetune(
    settings: Any,
    config: TrainConfig,
    *,
    data: Sequence[Path] | None = None,
    max_examples: int | None = None,
    name: str | None = None,
    merge: bool = False,
    resume: bool | None = None,
    stop_at_step: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Build the task's data, train (or resume), export the adapter (and merged model), register it."""
    from assistant.generation.adapters import AdapterRecord, AdapterRegistry, merge_adapter
    from assistant.generation.models import resolve_generator_model
    from finetune.train import train

    built = build_task_data(config.task, data, settings.shop.name, max_examples)
    train_ex, val_ex = built.split(config.val_fraction)
    fp = built.fingerprint()
    name = name or f"{config.task}-lora"
    model_dir = resolve_generator_model(settings.generator.model, settings.models_dir)
    out = settings.home / "adapters" / name
    log.info("%s: %d train / %d val examples, fingerprint %s", name, len(train_ex), len(val_ex), fp)
    result = train(
        config,
        model_dir,
        train_ex,
        val_ex,
        out,
        data_fingerprint=fp,
        resume=resume,
        stop_at_step=stop_at_step,
        progress=progress,
    )
    summary: dict[str, Any] = {
        "name": name,
        "task": config.task,
        "output_dir": str(out),
        "data_fingerprint": fp,
        "train_examples": len(train_ex),
        "val_examples": len(val_ex),
        "scrubbed": dict(built.scrubbed),
        "skipped": dict(built.skipped),
        "step": result.step,
        "total_steps": result.total_steps,
        "finished": result.finished,
        "resumed_from_step": result.resumed_from_step,
        "metrics": result.metrics,
        "history": result.history,
    }
    if not result.finished or result.adapter_dir is None:
        return summary
    merged = (
        merge_adapter(base_dir=model_dir, adapter_dir=result.adapter_dir, out_dir=out / "merged")
        if merge
        else None
    )
    AdapterRegistry.for_home(settings.home).register(
        AdapterRecord(
            name=name,
            task=config.task,
            path=result.adapter_dir,
            base_model=str(model_dir),
            merged_path=merged,
            metrics={k: v for k, v in result.metrics.items() if isinstance(v, int | float | str | bool)}
            | {"data_fingerprint": fp},
        )
    )
    summary.update(
        adapter_dir=str(result.adapter_dir), merged_dir=str(merged) if merged else None, registered=name
    )
    return summary
