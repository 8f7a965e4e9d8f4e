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


def print_rows(rows: list[dict[str, Any]]) -> None:
    """A plain aligned table: one line per row, columns from the first row."""
    if not rows:
        return
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    click.echo("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        click.echo("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols))


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
    from assistant.bench import bench_generate
    from assistant.generation.base import create_generator

    settings = _settings(ctx)
    levels = [int(x) for x in concurrency.split(",") if x.strip()]
    generator = create_generator(engine, settings=settings)
    rows = bench_generate(generator, levels, max_new_tokens=max_new_tokens, rounds=rounds)
    print_rows(rows)
    _write_json(json_path, {"engine": engine, "results": rows})


@cli.group("eval")
def eval_group() -> None:
    """Evaluations on judged data: one table on stdout, optionally the same numbers as JSON."""


def _write_json(path: Path | None, data: dict[str, Any]) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))
        click.echo(f"wrote {path}")


@eval_group.command("search")
@click.option("--products", required=True, type=click.Path(exists=True, path_type=Path), help="Products file")
@click.option("--queries", required=True, type=click.Path(exists=True, path_type=Path), help="query_id,query")
@click.option(
    "--qrels", required=True, type=click.Path(exists=True, path_type=Path), help="query_id,product_id,grade"
)
@click.option(
    "--gain-offset", default=1.0, show_default=True, help="gain = grade - offset (lowest grade -> 0)"
)
@click.option("--max-queries", type=int, help="Evaluate a fixed random sample of the judged queries")
@click.option(
    "--fusion", type=click.Choice(["rrf", "convex"]), help="Fusion for the hybrid mode (default: rrf)"
)
@click.option("--alpha", type=float, help="Dense weight in the fusion (0..1)")
@click.option(
    "--filters", "filters_json", help="Filters applied to every query, as JSON, e.g. '{\"in_stock\": true}'"
)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the results as JSON")
@click.pass_context
def eval_search_cmd(
    ctx: click.Context,
    filters_json: str | None,
    products: Path,
    queries: Path,
    qrels: Path,
    gain_offset: float,
    max_queries: int | None,
    fusion: str | None,
    alpha: float | None,
    json_path: Path | None,
) -> None:
    """nDCG@10, recall@100 and latency of BM25-only, dense-only and hybrid search, plus ingest rate."""
    from assistant.shop import embedding_function
    from retrieval.datasets import load_search_set
    from retrieval.evaluate import build_search_index, evaluate_search

    settings = _settings(ctx)
    search_set = load_search_set(products, queries, qrels, gain_offset)
    if search_set.errors:
        click.echo(f"{len(search_set.errors)} product rows skipped, e.g. {search_set.errors[0]}", err=True)
    options = {k: v for k, v in {"fusion": fusion, "alpha": alpha}.items() if v is not None}
    # No embedding cache here: every mode must pay for its own query embedding in the latencies.
    eval_index = build_search_index(
        search_set, settings.home / "eval", embedding_function(settings, cache=False), **options
    )
    from pydantic import ValidationError

    from retrieval.filters import Filters

    try:
        filters = Filters.model_validate_json(filters_json) if filters_json else None
    except ValidationError as exc:
        raise click.BadParameter(str(exc), param_hint="--filters") from exc
    result = evaluate_search(eval_index, search_set, max_queries=max_queries, filters=filters)
    if filters is not None:
        result["filters"] = filters.model_dump(exclude_defaults=True)
    search = eval_index.index.products
    result["settings"] = {"fusion": search.fusion, "alpha": search.alpha}
    rows = [{"mode": m, **v} for m, v in result["modes"].items()]
    print_rows(rows)
    ing = result["ingest"]
    click.echo(
        f"{result['products']} products, {result['queries']} judged queries; ingest: "
        f"{ing.get('products_per_s', '?')} products/s{' (cached index)' if ing.get('cached') else ''}"
    )
    _write_json(json_path, result)


@eval_group.command("faq")
@click.option(
    "--faq", "faq_path", required=True, type=click.Path(exists=True, path_type=Path), help="FAQ entries"
)
@click.option(
    "--questions", required=True, type=click.Path(exists=True, path_type=Path), help="question,intent"
)
@click.option("--examples", type=click.Path(exists=True, path_type=Path), help="Labelled example questions")
@click.option(
    "--folds", default=5, show_default=True, help="Cross-validation folds when examples overlap questions"
)
@click.option("--max-questions", type=int, help="Evaluate a fixed random sample of the questions")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the results as JSON")
@click.pass_context
def eval_faq_cmd(
    ctx: click.Context,
    faq_path: Path,
    questions: Path,
    examples: Path | None,
    folds: int,
    max_questions: int | None,
    json_path: Path | None,
) -> None:
    """Intent accuracy@1/@3 of FAQ routing: cold (entries only) or with example questions."""
    import random

    from assistant.shop import embedding_function
    from retrieval.datasets import load_intent_faq, load_labelled_questions
    from retrieval.evaluate import evaluate_intents

    settings = _settings(ctx)
    entries = load_intent_faq(faq_path)
    asked = load_labelled_questions(questions)
    if max_questions and len(asked) > max_questions:
        asked = random.Random(0).sample(asked, max_questions)
    extra = load_labelled_questions(examples) if examples else []
    try:
        result = evaluate_intents(entries, asked, embedding_function(settings), examples=extra, folds=folds)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    print_rows([{"mode": m, **v} for m, v in result["modes"].items()])
    folds = result["cross_validated_folds"]
    click.echo(
        f"{result['questions']} questions, {result['intents']} intents, {result['examples']} examples"
        f"{f', {folds}-fold cross-validated' if folds else ''}; "
        f"{result['latency_mode']} latency p50 {result['latency_p50_ms']} ms, p95 {result['latency_p95_ms']} ms"
    )
    _write_json(json_path, result)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
