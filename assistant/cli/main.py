"""The `shopassist` command line: one click group; each command group lives in its own module."""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any

import click

from assistant import errors
from assistant.cli.common import CommandError, settings_of
from assistant.config import ConfigError, Settings, describe, load_settings
from retrieval.offline import set_offline_env

set_offline_env()


class ShopassistGroup(click.Group):
    """Reports the assistant's own errors, and a dependency's failure (the Chroma server, the disk:
    `errors.dependency_error`), as one line with the exit code of their type (`assistant.errors`:
    2 bad input, 3 not found, 4 forbidden, 5 unavailable, 78 configuration), with the traceback only
    under --debug; anything else is a bug and keeps its traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click reports its own
        except Exception as exc:
            obj = ctx.obj or {}
            known = exc if errors.classify(exc) else None
            if known is None and "settings" in obj:
                known = errors.dependency_error(exc, obj["settings"])
            if known is None:
                raise
            if obj.get("debug"):
                traceback.print_exception(exc)
            raise CommandError(str(known), errors.exit_code(known)) from exc


@click.group(cls=ShopassistGroup)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML settings file")
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr")
@click.option(
    "--debug", is_flag=True, envvar="SHOPASSIST_DEBUG", help="Print the traceback of a reported error too"
)
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, verbose: bool, debug: bool) -> None:
    """shopassist: a grounded shopping assistant that runs offline."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    from assistant.grounding.logs import install_redaction

    install_redaction()
    try:
        ctx.obj = {"settings": load_settings(config_file), "debug": debug}
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


@cli.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON")
@click.pass_context
def config_cmd(ctx: click.Context, as_json: bool) -> None:
    """Print every setting with its value and help."""
    settings = settings_of(ctx)
    if as_json:
        click.echo(settings.model_dump_json(indent=2))
        return
    for name, value, help_text in describe(Settings, settings):
        env = "SHOPASSIST_" + name.upper().replace(".", "__")
        click.echo(f"{name} = {value!r}\n    {help_text}  [{env}]")


@cli.command("models")
@click.pass_context
def models_cmd(ctx: click.Context) -> None:
    """Convert the packaged SmolLM2 GGUF into the model cache (once) and print where it is."""
    from assistant.generation.models import resolve_generator_model

    settings = settings_of(ctx)
    start = time.perf_counter()
    path = resolve_generator_model(settings.generator.model, settings.models_dir)
    click.echo(f"generator model: {path} ({time.perf_counter() - start:.1f}s)")


# One module per command group, each adding its commands with `register(cli)`; the groups that
# others extend (eval, bench) come first.
COMMAND_MODULES = (
    "assistant.cli.eval",
    "assistant.cli.bench",
    "assistant.cli.chat",
    "assistant.cli.ingest",
    "assistant.cli.content",
    "assistant.cli.serve",
    "assistant.cli.train",
    "assistant.cli.copy",
    "assistant.cli.assist",
    "assistant.cli.calibrate",
    "assistant.cli.faq",
)


def _register_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(cli)


_register_commands()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
