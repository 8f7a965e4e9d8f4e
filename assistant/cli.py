"""The `shopassist` command line: one click group, one subcommand per job."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import click

from assistant.config import ConfigError, Settings, describe, load_settings
from retrieval.offline import set_offline_env

set_offline_env()


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj["settings"]
    return settings


@click.group()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML settings file")
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, verbose: bool) -> None:
    """shopassist: a grounded shopping assistant that runs offline."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        ctx.obj = {"settings": load_settings(config_file)}
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


@cli.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON")
@click.pass_context
def config_cmd(ctx: click.Context, as_json: bool) -> None:
    """Print every setting with its value and help."""
    settings = _settings(ctx)
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
    from assistant.models import ModelNotFound, resolve_generator_model

    settings = _settings(ctx)
    start = time.perf_counter()
    try:
        path = resolve_generator_model(settings.generator.model, settings.models_dir)
    except ModelNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"generator model: {path} ({time.perf_counter() - start:.1f}s)")


def _parse_mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"{pair!r} is not FIELD=COLUMN", param_hint="--map")
        key, value = pair.split("=", 1)
        mapping[key.strip()] = value.strip()
    return mapping


@cli.command("ingest")
@click.argument("products", required=False, type=click.Path(path_type=Path))
@click.option(
    "--faq", type=click.Path(path_type=Path), help="FAQ/policy file (default: the configured or demo FAQ)"
)
@click.option("--prune", is_flag=True, help="Delete stored products that are not in the file")
@click.option("--map", "mapping", multiple=True, help="Field mapping FIELD=COLUMN, e.g. --map id=sku")
@click.pass_context
def ingest_cmd(
    ctx: click.Context, products: Path | None, faq: Path | None, prune: bool, mapping: tuple[str, ...]
) -> None:
    """Validate and load a catalogue (default: the demo shop) into the vector store."""
    from tqdm import tqdm

    from assistant.shop import Shop
    from retrieval.catalog import CatalogError

    shop = Shop(_settings(ctx))
    bar = tqdm(desc="embedding", unit="item", disable=not sys.stderr.isatty())
    try:
        report = shop.ingest(products, faq, prune=prune, mapping=_parse_mapping(mapping), progress=bar.update)
    except CatalogError as exc:
        raise click.ClickException(f"{exc} Nothing stored was changed.") from exc
    finally:
        bar.close()
    shop.ensure_demo_orders()
    for line in report.lines():
        click.echo(line)
    counts = shop.index.counts()
    click.echo(f"store now holds {counts['products']} products and {counts['faq_documents']} FAQ documents")


def _print_response(response: Any) -> None:
    click.echo(response.text)
    if response.citations:
        click.echo("\nsources: " + ", ".join(c.id for c in response.citations))
    click.echo(f"[action={response.action} route={response.route} confidence={response.confidence:.2f}]")


@cli.command("chat")
@click.argument("message")
@click.option("--customer", help="Signed-in customer id (orders are only shown for this customer)")
@click.option("--engine", help="Generator engine for this call (embedded, fake)")
@click.option("--json", "as_json", is_flag=True, help="Print the structured response as JSON")
@click.pass_context
def chat_cmd(
    ctx: click.Context, message: str, customer: str | None, engine: str | None, as_json: bool
) -> None:
    """Ask the assistant one question and print its grounded answer."""
    from assistant.chat import InputError
    from assistant.protocol import ChatRequest
    from assistant.shop import Shop

    settings = _settings(ctx)
    if engine:
        settings.generator.engine = engine
    shop = Shop(settings)
    shop.ensure_ready()
    try:
        if as_json:
            click.echo(
                shop.chat.respond(ChatRequest(message=message, customer_id=customer)).model_dump_json(
                    indent=2
                )
            )
            return
        final = None
        for event in shop.chat.stream(ChatRequest(message=message, customer_id=customer)):
            if event.type == "done":
                final = event.response
        assert final is not None
        _print_response(final)
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command("ui")
@click.option("--host", help="Address to listen on (default from settings: 127.0.0.1)")
@click.option("--port", type=int, help="Port (default from settings: 7860)")
@click.pass_context
def ui_cmd(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Start the Gradio chat UI on the configured engine."""
    from assistant.shop import Shop
    from assistant.ui import launch_ui

    settings = _settings(ctx)
    start = time.perf_counter()
    shop = Shop(settings)
    shop.ensure_ready()
    warm = getattr(shop.generator, "warm_up", None)  # load the model before the first shopper waits
    if warm:
        warm()
    host = host or settings.ui.host
    port = port or settings.ui.port
    click.echo(
        f"shopassist: model and store ready in {time.perf_counter() - start:.1f}s; "
        f"starting the UI on http://{host}:{port}",
        err=True,
    )
    launch_ui(shop, host, port)


@cli.group("bench")
def bench_group() -> None:
    """Benchmarks (not tests): print a table and write JSON."""


@bench_group.command("generate")
@click.option("--engine", default="embedded", help="Generator engine to measure")
@click.option("--concurrency", default="1,8", help="Comma-separated concurrent request counts")
@click.option("--max-new-tokens", default=128, type=int)
@click.option("--rounds", default=1, type=int, help="Batches of requests per concurrency level")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write results here")
@click.pass_context
def bench_generate_cmd(
    ctx: click.Context,
    engine: str,
    concurrency: str,
    max_new_tokens: int,
    rounds: int,
    json_path: Path | None,
) -> None:
    """Tokens/s and time to first token at each concurrency, same prompts, one run."""
    from assistant.bench import bench_generate, print_table
    from assistant.generation.base import create_generator

    settings = _settings(ctx)
    levels = [int(x) for x in concurrency.split(",") if x.strip()]
    generator = create_generator(engine, settings=settings)
    rows = bench_generate(generator, levels, max_new_tokens=max_new_tokens, rounds=rounds)
    print_table(rows)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"engine": engine, "results": rows}, indent=2))
        click.echo(f"wrote {json_path}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
