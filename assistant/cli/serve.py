"""`shopassist serve-model`: vLLM's OpenAI server for the model and its adapters."""

from __future__ import annotations

import time

import click

from assistant.cli.common import settings_of


@click.command("serve-model")
@click.option("--install", is_flag=True, help="Create the vLLM environment first (serving.python; ~2 min)")
@click.option("--merged", metavar="ADAPTER", help="Serve this adapter merged into the base, on its own port")
@click.option("--port", type=int, help="Port (default: serving.port; serving.port + 1 for --merged)")
@click.option(
    "--no-adapters", is_flag=True, help="Serve the base model alone (on a CPU, LoRA turns compilation off)"
)
@click.option("--detach", is_flag=True, help="Return once the server is up; it logs to HOME/serving/")
@click.option("--stop", is_flag=True, help="Stop the servers serve-model started (only --merged's with it)")
@click.pass_context
def serve_model_cmd(
    ctx: click.Context,
    install: bool,
    merged: str | None,
    port: int | None,
    no_adapters: bool,
    detach: bool,
    stop: bool,
) -> None:
    """Serve the model and every registered LoRA adapter with vLLM's OpenAI-compatible server."""
    from assistant.generation import serving

    settings = settings_of(ctx)
    if stop:
        stopped = serving.stop_servers(settings.home, f"merged-{merged}" if merged else None)
        for state in stopped:
            click.echo(f"stopped {state.name} (PID {state.pid}) at {state.url}")
        if not stopped:
            click.echo("no running server recorded in " + str(serving.state_dir(settings.home)))
        return
    python = serving.vllm_python(settings)
    if install:
        version = serving.vllm_version(python)
        if version:
            click.echo(f"vLLM {version} already installed at {python}")
        else:
            took = serving.install_vllm(python, echo=lambda line: click.echo(line, err=True))
            click.echo(f"installed {serving.VLLM_PACKAGE} into {python.parent.parent} in {took:.0f}s")
    start = time.perf_counter()
    proc, state = serving.start_server(
        settings, merged=merged, port=port, detach=detach, adapters=not no_adapters
    )
    click.echo(f"vLLM ready at {state.url} in {time.perf_counter() - start:.1f}s (PID {state.pid})")
    for name, kind in state.models.items():
        click.echo(f"  model {name!r}: {kind}")
    click.echo("use it with: SHOPASSIST_GENERATOR__ENGINE=vllm shopassist chat ...")
    if detach:
        click.echo(f"log: {state.log}; stop with: shopassist serve-model --stop")
        return
    try:
        proc.wait()
    except KeyboardInterrupt:
        click.echo("stopping vLLM", err=True)
    finally:
        serving.stop_servers(settings.home, state.name)


def register(cli: click.Group) -> None:
    """Add this module's commands to the main CLI."""
    cli.add_command(serve_model_cmd)
