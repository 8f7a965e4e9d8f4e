"""`shopassist bench ...`: timings (generation, ingest, chat, fine-tuning); benchmarks, not tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from assistant.cli.common import comma_list, print_rows, settings_of, write_json
from assistant.config import Settings


@click.group("bench")
def bench_group() -> None:
    """Benchmarks (not tests): print a table and write JSON."""


@bench_group.command("generate")
@click.option(
    "--engine",
    default="embedded",
    help="Comma-separated runs, ENGINE[:ADAPTER][@URL], e.g. embedded,vllm,vllm:cs-v1; all run on the "
    "same prompts and ratio_vs_first_engine compares each with the first",
)
@click.option("--adapter", help="Adapter (served model name) for runs that name none; embedded ignores it")
@click.option("--concurrency", default="1,8", help="Comma-separated concurrent request counts")
@click.option("--max-new-tokens", default=128, type=int)
@click.option("--rounds", default=1, type=int, help="Batches of requests per concurrency level")
@click.option(
    "--stagger-ms",
    default=0,
    type=click.IntRange(min=0),
    help="Start the i-th request of a level i*N ms after the first (arrivals while others decode)",
)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write results here")
@click.pass_context
def bench_generate_cmd(
    ctx: click.Context,
    engine: str,
    adapter: str | None,
    concurrency: str,
    max_new_tokens: int,
    rounds: int,
    stagger_ms: int,
    json_path: Path | None,
) -> None:
    """Tokens/s, time to first token and peak memory at each concurrency, same prompts, one run; with
    the machine's memory bandwidth and each engine's single-stream share of the limit it sets."""
    from assistant.generation.base import Generator, GeneratorError
    from assistant.generation.bench import compare_engines, memory_bandwidth_gbs
    from assistant.generation.factory import create_generator

    settings = settings_of(ctx)
    levels = [int(x) for x in comma_list(concurrency)]
    runs: list[tuple[str, Generator, str | None]] = []
    built: dict[tuple[str, str | None], Generator] = {}
    for spec in comma_list(engine):
        name, _, url = spec.partition("@")
        name, _, run_adapter = name.partition(":")
        key = (name, url or None)
        if key not in built:
            run_settings = settings
            if url:  # this run's model name goes to this server (e.g. a merged adapter's)
                run_settings = settings.model_copy(deep=True)
                run_settings.generator.url = url  # health checks and any other model go there too
                target = run_adapter or adapter
                if target:  # a server of its own for this name (e.g. merged weights) serves only it
                    run_settings.generator.endpoints = {**settings.generator.endpoints, target: url}
                    run_settings.generator.served_model = target
            try:
                built[key] = create_generator(name, settings=run_settings)
            except GeneratorError as exc:
                raise click.BadParameter(str(exc), param_hint="--engine") from exc
        runs.append((spec, built[key], run_adapter or adapter))
    # Engines that stream text rather than tokens are counted with the served model's tokenizer.
    needs_tokenizer = any(getattr(g, "tokenizer", None) is None and g.name != "fake" for _, g, _ in runs)
    tokenizer = _bench_tokenizer(settings) if needs_tokenizer else None
    bandwidth = memory_bandwidth_gbs()
    rows = compare_engines(
        runs,
        levels,
        max_new_tokens=max_new_tokens,
        rounds=rounds,
        tokenizer=tokenizer,
        stagger_s=stagger_ms / 1000,
        bandwidth_gbs=bandwidth,
    )
    print_rows(rows)
    click.echo(f"memory bandwidth (one core, copy): {bandwidth:.1f} GB/s")
    write_json(
        json_path,
        {
            "engine": engine,
            "adapter": adapter,
            "stagger_ms": stagger_ms,
            "memory_bandwidth_gbs": round(bandwidth, 2),
            "cpu_count": os.cpu_count(),
            "results": rows,
        },
    )


def _bench_tokenizer(settings: Settings) -> Any:
    """The served model's tokenizer, so engines that stream text (not tokens) are counted alike."""
    from assistant.generation.models import resolve_generator_model
    from retrieval.offline import set_offline_env

    set_offline_env()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(
        resolve_generator_model(settings.generator.model, settings.models_dir)
    )


@bench_group.command("ingest")
@click.option(
    "--products",
    "products_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Products file in the shared layout, e.g. ../shared/data/search/homedepot/products.csv",
)
@click.option("--max-products", type=click.IntRange(min=1), help="Only the first N products")
@click.option(
    "--batch-sizes", default="1024", help="Comma-separated products per upsert; each fills a fresh store"
)
@click.option(
    "--old-mirror",
    is_flag=True,
    help="Also time the old layout (every title copied to the title collection) as the baseline",
)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write results here")
@click.pass_context
def bench_ingest_cmd(
    ctx: click.Context,
    products_path: Path,
    max_products: int | None,
    batch_sizes: str,
    old_mirror: bool,
    json_path: Path | None,
) -> None:
    """Products/s into fresh stores (embedding, both Chroma collections, the lexical index), one row
    per upsert batch size, same products, one run."""
    from assistant.shop import embedding_function
    from retrieval.datasets import load_search_products
    from retrieval.evaluate import bench_ingest

    try:
        sizes = [int(x) for x in comma_list(batch_sizes)]
    except ValueError as exc:
        raise click.BadParameter(
            f"{batch_sizes!r} is not a list of whole numbers", param_hint="--batch-sizes"
        ) from exc
    if not sizes or min(sizes) < 1:
        raise click.BadParameter("give one or more sizes >= 1, e.g. 256,1024", param_hint="--batch-sizes")
    settings = settings_of(ctx)
    loaded = load_search_products(products_path)
    products = loaded.items[:max_products] if max_products else loaded.items
    if not products:
        raise click.ClickException(f"no valid products in {products_path}")
    rows = bench_ingest(
        products,
        settings.home / "bench-ingest",
        embedding_function(settings, cache=False),
        batch_sizes=sizes,
        old_mirror=old_mirror,
    )
    print_rows(rows)
    write_json(json_path, {"products_file": str(products_path), "rows": rows})


@bench_group.command("chat")
@click.option("--engine", help="Generator engine (default: generator.engine)")
@click.option("--concurrency", default="4", help="Chats at once; comma-separated for several runs, e.g. 1,4")
@click.option("--rounds", default=2, type=int, help="Batches of concurrent chats")
@click.option("--followups", is_flag=True, help="Follow each product question with a follow-up on its state")
@click.option(
    "--configs",
    default="adapters",
    show_default=True,
    help="Comma-separated: adapters (the configured or shipped task adapters), rules (no rewrite or "
    "answer adapter: today's rules and the cs prompt), to compare in one run",
)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write results here")
@click.pass_context
def bench_chat_cmd(
    ctx: click.Context,
    engine: str | None,
    concurrency: str,
    rounds: int,
    followups: bool,
    configs: str,
    json_path: Path | None,
) -> None:
    """Time to the first streamed event, the first text and the end of chat turns, p50/p95."""
    from assistant.chat.bench import bench_chat
    from assistant.shop import Shop

    settings = settings_of(ctx, engine)
    shop = Shop(settings)
    shop.ensure_ready()
    shop.warm_up()  # the model loads before any clock starts, as the API and UI do at start-up
    levels = [int(c) for c in comma_list(concurrency)]
    rows = []
    for name in comma_list(configs):
        chat = shop.chat_config(name)
        for level in levels:
            result = bench_chat(chat, level, rounds=rounds, followups=followups)
            rows.append({"engine": settings.generator.engine, "config": name, **result})
    print_rows(rows)
    write_json(json_path, rows[0] if len(rows) == 1 else {"rows": rows})


@bench_group.command("load")
@click.option("--engine", help="Generator engine (default: generator.engine), e.g. fake or embedded")
@click.option("--concurrency", default="1,8,32", show_default=True, help="Comma-separated client counts")
@click.option("--requests", default=0, type=int, help="Turns per level; 0 means max(16, 2 x concurrency)")
@click.option("--abandoned", default=16, show_default=True, type=int, help="Clients that give up (0: skip)")
@click.option("--abandon-after", default=3.0, show_default=True, type=float, help="Seconds before they do")
@click.option("--port", default=0, type=int, help="Loopback port for the API (0: a free one)")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write results here")
@click.pass_context
def bench_load_cmd(
    ctx: click.Context,
    engine: str | None,
    concurrency: str,
    requests: int,
    abandoned: int,
    abandon_after: float,
    port: int,
    json_path: Path | None,
) -> None:
    """The REST API under concurrent chat turns (throughput, p50/p95/p99, errors by status) and a
    turn's latency after clients abandoned theirs, over real HTTP with admission control on."""
    import socket

    from assistant.api.loadbench import abandoned_case, run_level, serve
    from assistant.shop import Shop

    settings = settings_of(ctx, engine)
    shop = Shop(settings)
    shop.ensure_ready()
    if not port:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
    rows = []
    with serve(shop, port) as url:
        for level in (int(c) for c in comma_list(concurrency)):
            n = requests or max(16, 2 * level)
            rows.append({"engine": settings.generator.engine, **run_level(url, level, n)})
        print_rows(rows)
        abandon = abandoned_case(url, abandoned, abandon_after) if abandoned else None
    if abandon:
        print_rows([{"engine": settings.generator.engine, **abandon}])
    write_json(json_path, {"levels": rows, "abandoned": abandon})


@bench_group.command("finetune")
@click.option("--task", type=click.Choice(["cs", "copy"]), default="cs", show_default=True)
@click.option("--data", multiple=True, type=click.Path(exists=True, path_type=Path), help="Data file(s)")
@click.option("--tokens", default=20000, show_default=True, type=int, help="Training tokens per setup")
@click.option("--evals", default=4, show_default=True, type=int, help="Validation checks per setup")
@click.option("--setups", default="naive,optimized", show_default=True, help="Comma-separated setups to run")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write results here")
@click.pass_context
def bench_finetune_cmd(
    ctx: click.Context,
    task: str,
    data: tuple[Path, ...],
    tokens: int,
    evals: int,
    setups: str,
    json_path: Path | None,
) -> None:
    """Naive (fp32, 8 x 256, padded) vs optimized training for the same tokens: tokens/s, peak RSS, val loss."""
    from finetune.bench import SETUPS, bench_finetune

    settings = settings_of(ctx)
    names = comma_list(setups)
    unknown = [n for n in names if n not in SETUPS]
    if unknown:
        raise click.UsageError(f"unknown setup(s) {', '.join(unknown)}; known: {', '.join(SETUPS)}")
    result = bench_finetune(settings, task, list(data) or None, tokens=tokens, evals=evals, setups=names)
    print_rows(result["rows"])
    write_json(json_path, result)


def register(cli: click.Group) -> None:
    """Add this module's commands to the main CLI."""
    cli.add_command(bench_group)
