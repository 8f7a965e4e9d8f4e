"""Helpers every command module shares: the settings of this run, tables, JSON output, held-out data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from assistant.config import Settings


def settings_of(ctx: click.Context, engine: str | None = None) -> Settings:
    """This run's settings; `engine` (a command's --engine) overrides generator.engine."""
    settings: Settings = ctx.obj["settings"]
    if engine:
        settings.generator = settings.generator.model_copy(update={"engine": engine})
    return settings


def comma_list(value: str) -> list[str]:
    """The items of a comma-separated option ("1,4", "rules, adapters"), stripped, empties dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def print_rows(rows: list[dict[str, Any]]) -> None:
    """A plain aligned table: one line per row, columns from the first row."""
    if not rows:
        return
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    click.echo("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        click.echo("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols))


def write_json(path: Path | None, data: dict[str, Any]) -> None:
    """Write `data` to `path`; "-" prints it instead, None does nothing."""
    if path is None:
        return
    if str(path) == "-":
        click.echo(json.dumps(data, indent=2))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    click.echo(f"wrote {path}")


def heldout(
    task: str, paths: list[Path], settings: Settings, val_fraction: float, max_examples: int
) -> list[Any]:
    """The validation side of the training split (never trained on), a fixed subset by id."""
    from finetune.tasks import build_task_data

    built = build_task_data(task, paths, settings.shop.name, None)
    _, val = built.split(val_fraction)
    if not val:
        raise click.ClickException("no held-out examples; raise --val-fraction or give more data")
    return sorted(val, key=lambda e: e.id)[:max_examples]


def adapter_for(settings: Settings, task: str, name: str | None) -> str:
    from assistant.generation.adapters import AdapterRegistry

    registry = AdapterRegistry.for_home(settings.home)
    if name:
        return registry.get(name).name
    record = registry.for_task(task)
    if record is None:
        raise click.ClickException(
            f"no {task} adapter registered; train one with `shopassist finetune --task {task}`"
        )
    return record.name


def emit_eval(result: dict[str, Any], json_path: str | None) -> None:
    rows = [
        {"model": m, **{k: v for k, v in r.items() if k != "samples"}} for m, r in result["models"].items()
    ]
    if json_path == "-":
        click.echo(json.dumps(result, indent=2))
        return
    print_rows(rows)
    write_json(Path(json_path) if json_path else None, result)


# Exit codes of `ingest` beyond the error hierarchy's (assistant.errors): some rows skipped is
# EX_DATAERR; a file with no valid row (or --strict refusing) is a bad input.
EXIT_ROWS_SKIPPED = 65
EXIT_REFUSED = 2


class CommandError(click.ClickException):
    """One line on stderr and a chosen exit code (click's own exceptions exit 1 or 2)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class
