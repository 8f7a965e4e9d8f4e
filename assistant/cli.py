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
    from assistant.logs import install_redaction

    install_redaction()
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
    if response.verifier.model_unavailable:
        click.echo(f"warning: the model is unavailable ({response.verifier.model_unavailable})", err=True)
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
    from assistant.generation.base import GeneratorError
    from assistant.shop import Shop
    from assistant.ui import launch_ui

    settings = _settings(ctx)
    start = time.perf_counter()
    shop = Shop(settings)
    shop.ensure_ready()
    warm = getattr(shop.generator, "warm_up", None)  # load the model before the first shopper waits
    if warm:
        try:
            warm()
        except GeneratorError as exc:
            click.echo(
                f"shopassist: WARNING the model is unavailable, replies will use templates: {exc}", err=True
            )
    host = host or settings.ui.host
    port = port or settings.ui.port
    click.echo(
        f"shopassist: model and store ready in {time.perf_counter() - start:.1f}s; "
        f"starting the UI on http://{host}:{port}",
        err=True,
    )
    launch_ui(shop, host, port)


@cli.command("serve-model")
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
    from assistant import serving
    from assistant.adapters import RegistryError

    settings = _settings(ctx)
    if stop:
        stopped = serving.stop_servers(settings.home, f"merged-{merged}" if merged else None)
        for state in stopped:
            click.echo(f"stopped {state.name} (PID {state.pid}) at {state.url}")
        if not stopped:
            click.echo("no running server recorded in " + str(serving.state_dir(settings.home)))
        return
    python = serving.vllm_python(settings)
    try:
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
    except (serving.ServingError, RegistryError) as exc:
        raise click.ClickException(str(exc)) from exc
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


@cli.command("api")
@click.option("--host", help="Address to listen on (default from settings: 127.0.0.1)")
@click.option("--port", type=int, help="Port (default from settings: 8080)")
@click.option("--no-ui", is_flag=True, help="Serve the API alone, without the chat UI at /ui")
@click.pass_context
def api_cmd(ctx: click.Context, host: str | None, port: int | None, no_ui: bool) -> None:
    """Start the REST API (OpenAPI at /docs) with the chat UI at /ui, on one shared shop."""
    import uvicorn

    from assistant.api.app import create_app
    from assistant.shop import Shop

    settings = _settings(ctx)
    shop = Shop(settings)
    shop.ensure_ready()
    app = create_app(shop)
    if not no_ui:
        import gradio as gr

        from assistant.ui import app_css, build_ui

        app = gr.mount_gradio_app(
            app, build_ui(shop).queue(default_concurrency_limit=8), path="/ui", css=app_css()
        )
    host, port = host or settings.api.host, port or settings.api.port
    click.echo(
        f"shopassist: API on http://{host}:{port} (docs at /docs{'' if no_ui else ', chat UI at /ui'})",
        err=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")


@cli.group("bench")
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
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write results here")
@click.pass_context
def bench_generate_cmd(
    ctx: click.Context,
    engine: str,
    adapter: str | None,
    concurrency: str,
    max_new_tokens: int,
    rounds: int,
    json_path: Path | None,
) -> None:
    """Tokens/s and time to first token at each concurrency, same prompts, one run."""
    from assistant.bench import compare_engines
    from assistant.generation.base import Generator, GeneratorError, create_generator

    settings = _settings(ctx)
    levels = [int(x) for x in concurrency.split(",") if x.strip()]
    runs: list[tuple[str, Generator, str | None]] = []
    built: dict[tuple[str, str | None], Generator] = {}
    for spec in (x.strip() for x in engine.split(",") if x.strip()):
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
    try:
        rows = compare_engines(
            runs, levels, max_new_tokens=max_new_tokens, rounds=rounds, tokenizer=tokenizer
        )
    except GeneratorError as exc:
        raise click.ClickException(str(exc)) from exc
    print_rows(rows)
    _write_json(json_path, {"engine": engine, "adapter": adapter, "results": rows})


def _bench_tokenizer(settings: Settings) -> Any:
    """The served model's tokenizer, so engines that stream text (not tokens) are counted alike."""
    from assistant.models import resolve_generator_model

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
        sizes = [int(x) for x in batch_sizes.split(",") if x.strip()]
    except ValueError as exc:
        raise click.BadParameter(
            f"{batch_sizes!r} is not a list of whole numbers", param_hint="--batch-sizes"
        ) from exc
    if not sizes or min(sizes) < 1:
        raise click.BadParameter("give one or more sizes >= 1, e.g. 256,1024", param_hint="--batch-sizes")
    settings = _settings(ctx)
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
    _write_json(json_path, {"products_file": str(products_path), "rows": rows})


@bench_group.command("chat")
@click.option("--engine", help="Generator engine (default: generator.engine)")
@click.option("--concurrency", default=4, type=int, help="Chats at once")
@click.option("--rounds", default=2, type=int, help="Batches of concurrent chats")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write results here")
@click.pass_context
def bench_chat_cmd(
    ctx: click.Context, engine: str | None, concurrency: int, rounds: int, json_path: Path | None
) -> None:
    """Time to the first streamed event and to the first text of chat turns, p50/p95 (target p95 < 1 s)."""
    from assistant.bench import bench_chat
    from assistant.shop import Shop

    settings = _settings(ctx)
    if engine:
        settings.generator.engine = engine
    shop = Shop(settings)
    shop.ensure_ready()
    row = {"engine": settings.generator.engine, **bench_chat(shop.chat, concurrency, rounds=rounds)}
    print_rows([row])
    _write_json(json_path, row)


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
    "--learned-folds",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Also rank with a learned re-ranker, cross-validated over this many folds of the judged queries",
)
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
    learned_folds: int,
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
    result = evaluate_search(
        eval_index, search_set, max_queries=max_queries, filters=filters, learned_folds=learned_folds
    )
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


@cli.command("train-ranker")
@click.option("--products", required=True, type=click.Path(exists=True, path_type=Path), help="Products file")
@click.option("--queries", required=True, type=click.Path(exists=True, path_type=Path), help="query_id,query")
@click.option(
    "--qrels", required=True, type=click.Path(exists=True, path_type=Path), help="query_id,product_id,grade"
)
@click.option("--gain-offset", default=1.0, show_default=True, help="Gain = grade - offset (floored at 0)")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def train_ranker_cmd(
    ctx: click.Context, products: Path, queries: Path, qrels: Path, gain_offset: float, out_path: Path
) -> None:
    """Train the learned re-ranker on judged queries; set retrieval.ranker to the file to use it."""
    from assistant.shop import embedding_function
    from retrieval.datasets import load_search_set
    from retrieval.evaluate import build_search_index
    from retrieval.rerank import LearnedRanker, RankerError, TrainingQuery

    settings = _settings(ctx)
    search_set = load_search_set(products, queries, qrels, gain_offset)
    search = build_search_index(
        search_set, settings.home / "eval", embedding_function(settings)
    ).index.products
    judged = search_set.judged_queries()
    start = time.perf_counter()
    examples = [
        TrainingQuery(search.training_candidates(search_set.queries[q]), search_set.qrels[q]) for q in judged
    ]
    try:
        path = LearnedRanker.fit(examples).save(out_path)
    except RankerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"trained on {len(judged)} judged queries in {time.perf_counter() - start:.0f}s: {path}\n"
        f"use it with SHOPASSIST_RETRIEVAL__RANKER={path} (or retrieval.ranker in shopassist.toml)"
    )


@cli.command("faq-questions")
@click.option(
    "--faq", "faq_path", required=True, type=click.Path(exists=True, path_type=Path), help="FAQ entries"
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="question,intent CSV",
)
@click.option("--engine", help="Generator engine (default: generator.engine)")
@click.option("--requests-per-entry", default=6, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--per-request", default=5, show_default=True, type=click.IntRange(min=1), help="Questions asked for"
)
@click.option(
    "--keep-top",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Keep a question only if the cold FAQ search ranks its own entry this high",
)
@click.option("--seed", default=0, show_default=True)
@click.pass_context
def faq_questions_cmd(
    ctx: click.Context,
    faq_path: Path,
    out_path: Path,
    engine: str | None,
    requests_per_entry: int,
    per_request: int,
    keep_top: int,
    seed: int,
) -> None:
    """Write customer questions for each FAQ entry with the generator, keep the ones that still find
    their own entry, and save them as example phrasings (for `eval faq --examples`)."""
    from tqdm import tqdm

    from assistant.faq_questions import FAQQuestionWriter
    from assistant.generation.base import GeneratorError, create_generator
    from assistant.shop import embedding_function
    from retrieval.datasets import load_intent_faq

    settings = _settings(ctx)
    entries = load_intent_faq(faq_path)
    if not entries:
        raise click.ClickException(f"no FAQ entries in {faq_path}")
    try:
        generator = create_generator(engine or settings.generator.engine, settings=settings)
    except GeneratorError as exc:
        raise click.BadParameter(str(exc), param_hint="--engine") from exc
    writer = FAQQuestionWriter(
        generator,
        per_request=per_request,
        requests_per_entry=requests_per_entry,
        keep_top=keep_top,
        seed=seed,
    )
    start = time.perf_counter()
    total = len(entries) * requests_per_entry
    with tqdm(total=total, desc="requests", unit="item", disable=not sys.stderr.isatty()) as bar:
        try:
            result = writer.run(entries, embedding_function(settings), progress=bar.update)
        except GeneratorError as exc:
            raise click.ClickException(str(exc)) from exc
    result.write_csv(out_path)
    counts = result.per_entry()
    click.echo(
        f"{result.generated} questions written by {generator.name} in {time.perf_counter() - start:.0f}s; "
        f"kept {len(result.questions)} for {len(counts)} of {len(entries)} entries "
        f"(fewest {min(counts.values(), default=0)} for one entry); dropped: "
        + (", ".join(f"{reason} {n}" for reason, n in sorted(result.dropped.items())) or "none")
        + f"\nwrote {out_path}"
    )


@eval_group.command("chat")
@click.option(
    "--questions", type=click.Path(exists=True, path_type=Path), help="Labelled questions (question,intent)"
)
@click.option(
    "--faq", "faq_path", type=click.Path(exists=True, path_type=Path), help="FAQ the questions' intents name"
)
@click.option(
    "--examples",
    type=click.Path(exists=True, path_type=Path),
    help="Labelled example questions added to the --faq entries (e.g. past tickets); keep them apart from --questions",
)
@click.option(
    "--unanswerable", type=click.Path(exists=True, path_type=Path), help="Questions the shop cannot answer"
)
@click.option("--dialogues", type=click.Path(exists=True, path_type=Path), help="Scripted dialogues (JSONL)")
@click.option("--engine", help="Generator engine for this run (default: the configured one)")
@click.option("--max-questions", type=int, help="Evaluate a fixed random sample of the labelled questions")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the results as JSON")
@click.pass_context
def eval_chat_cmd(
    ctx: click.Context,
    questions: Path | None,
    faq_path: Path | None,
    examples: Path | None,
    unanswerable: Path | None,
    dialogues: Path | None,
    engine: str | None,
    max_questions: int | None,
    json_path: Path | None,
) -> None:
    """Whole chat turns: FAQ routing and citations, refusals, scripted dialogues, verifier, latency."""
    import hashlib
    import random

    from assistant.evalchat import EvalDataError, evaluate_chat, load_dialogues, load_questions
    from assistant.shop import Shop
    from retrieval.datasets import load_intent_faq, load_labelled_questions

    if not (questions or unanswerable or dialogues):
        raise click.UsageError("give at least one of --questions, --unanswerable, --dialogues")
    settings = _settings(ctx)
    if examples and not faq_path:
        raise click.UsageError("--examples extend the entries of --faq; give both")
    digest = hashlib.sha256()
    for path in (faq_path, examples, questions if examples else None):
        digest.update(path.read_bytes() if path else b"-")
    key = digest.hexdigest()[:12] if faq_path else "demo"
    shop_settings = settings.model_copy(update={"home": settings.home / "eval-chat" / key})
    if engine:
        shop_settings.generator = shop_settings.generator.model_copy(update={"engine": engine})
    shop = Shop(shop_settings)
    shop.ensure_ready()
    try:
        asked = load_labelled_questions(questions) if questions else []
    except (EvalDataError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    overlap = 0
    if faq_path:
        entries = load_intent_faq(faq_path)
        extra: dict[str, list[str]] = {}
        asked_texts = {text for text, _ in asked}
        for text, intent in load_labelled_questions(examples) if examples else []:
            if text in asked_texts:  # an example that is also a test question would grade itself
                overlap += 1
                continue
            extra.setdefault(intent, []).append(text)
        entries = [e.model_copy(update={"examples": e.examples + extra.get(e.id, [])}) for e in entries]
        shop.index.ingest_faq(entries, prune=True)
    try:
        if max_questions and len(asked) > max_questions:
            asked = random.Random(0).sample(asked, max_questions)
        refused = load_questions(unanswerable) if unanswerable else []
        scripted = load_dialogues(dialogues) if dialogues else []
    except (EvalDataError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    warm = getattr(shop.generator, "warm_up", None)
    if warm:
        warm()
    from tqdm import tqdm

    total = len(asked) + len(refused) + len(scripted)
    with tqdm(total=total, desc="chat turns", unit="item", disable=not sys.stderr.isatty()) as bar:
        result = evaluate_chat(
            shop.chat, questions=asked, unanswerable=refused, dialogues=scripted, progress=bar.update
        )
    result["engine"] = shop.generator.name
    if examples:
        result["examples_dropped_overlap"] = overlap
        click.echo(f"examples left out because they are also questions: {overlap}")
    for section in ("questions", "unanswerable", "dialogues"):
        if section in result:
            shown = {k: v for k, v in result[section].items() if k not in ("failures", "answered")}
            click.echo(f"{section}: {json.dumps(shown)}")
    for failure in result.get("dialogues", {}).get("failures", [])[:10]:
        click.echo(f"  FAIL {failure['dialogue']} turn {failure['turn']}: {'; '.join(failure['problems'])}")
    turns = {k: v for k, v in result["turns"].items() if k != "caught"}
    click.echo(f"turns: {json.dumps(turns)}")
    _write_json(json_path, result)


AMBIGUOUS_QUERIES = [
    "gift", "something warm", "black", "waterproof", "lightweight", "best rated", "under 50", "travel",
    "for the weekend", "durable", "compact", "blue", "for beginners", "premium", "everyday use",
]  # fmt: skip


@eval_group.command("personalize")
@click.option("--shoppers", default=200, show_default=True, help="Simulated shoppers")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the results as JSON")
@click.pass_context
def eval_personalize_cmd(ctx: click.Context, shoppers: int, json_path: Path | None) -> None:
    """Does a profile move the shopper's category up? Simulated histories on the configured shop."""
    from assistant.personalize import evaluate_profiles
    from assistant.shop import Shop

    shop = Shop(_settings(ctx))
    shop.ensure_ready()
    result = evaluate_profiles(shop.index.products, AMBIGUOUS_QUERIES, shoppers=shoppers)
    print_rows([result])
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


def _heldout(
    task: str, paths: list[Path], settings: Settings, val_fraction: float, max_examples: int
) -> list[Any]:
    """The validation side of the training split (never trained on), a fixed subset by id."""
    from finetune.data import DataError
    from finetune.tasks import build_task_data

    try:
        built = build_task_data(task, paths, settings.shop.name, None)
    except DataError as exc:
        raise click.ClickException(str(exc)) from exc
    _, val = built.split(val_fraction)
    if not val:
        raise click.ClickException("no held-out examples; raise --val-fraction or give more data")
    return sorted(val, key=lambda e: e.id)[:max_examples]


def _adapter_for(settings: Settings, task: str, name: str | None) -> str:
    from assistant.adapters import AdapterRegistry, RegistryError

    registry = AdapterRegistry.for_home(settings.home)
    try:
        if name:
            return registry.get(name).name
        record = registry.for_task(task)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    if record is None:
        raise click.ClickException(
            f"no {task} adapter registered; train one with `shopassist finetune --task {task}`"
        )
    return record.name


def _emit_eval(result: dict[str, Any], json_path: str | None) -> None:
    rows = [
        {"model": m, **{k: v for k, v in r.items() if k != "samples"}} for m, r in result["models"].items()
    ]
    if json_path == "-":
        click.echo(json.dumps(result, indent=2))
        return
    print_rows(rows)
    _write_json(Path(json_path) if json_path else None, result)


@eval_group.command("replies")
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Replies CSV (instruction,response)",
)
@click.option("--adapter", help="Adapter name (default: the newest cs adapter in the registry)")
@click.option("--max-examples", default=100, show_default=True, type=int, help="Held-out examples to score")
@click.option(
    "--val-fraction", default=0.1, show_default=True, type=float, help="Must match the training split"
)
@click.option("--max-new-tokens", default=200, show_default=True, type=int)
@click.option(
    "--json", "json_path", is_flag=False, flag_value="-", help="Write JSON to PATH (bare --json: stdout)"
)
@click.pass_context
def eval_replies_cmd(
    ctx: click.Context,
    data: Path,
    adapter: str | None,
    max_examples: int,
    val_fraction: float,
    max_new_tokens: int,
    json_path: str | None,
) -> None:
    """Base model vs adapter on held-out replies: ROUGE-L and format adherence, side by side."""
    from assistant.generation.base import create_generator
    from finetune.evaluate import eval_replies

    settings = _settings(ctx)
    name = _adapter_for(settings, "cs", adapter)
    examples = _heldout("cs", [data], settings, val_fraction, max_examples)
    generator = create_generator("embedded", settings=settings)
    result = eval_replies(generator, examples, [None, name], max_new_tokens=max_new_tokens)
    result["data"] = str(data)
    _emit_eval(result, json_path)


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

    settings = _settings(ctx)
    names = [s.strip() for s in setups.split(",") if s.strip()]
    unknown = [n for n in names if n not in SETUPS]
    if unknown:
        raise click.UsageError(f"unknown setup(s) {', '.join(unknown)}; known: {', '.join(SETUPS)}")
    result = bench_finetune(settings, task, list(data) or None, tokens=tokens, evals=evals, setups=names)
    print_rows(result["rows"])
    _write_json(json_path, result)


@cli.command("finetune")
@click.option(
    "--task", type=click.Choice(["cs", "copy"]), required=True, help="cs: replies; copy: product copy"
)
@click.option(
    "--data",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Data file(s) (default: ../shared/data for the task)",
)
@click.option("--steps", type=int, help="Optimizer steps (0 = run --epochs)")
@click.option("--epochs", type=float, help="Passes over the data when --steps is 0")
@click.option("--max-examples", type=int, help="Use only the first N examples (quick runs)")
@click.option("--name", help="Adapter name (default TASK-lora); the OpenAI `model` name when served")
@click.option("--merge", is_flag=True, help="Also save base weights merged with the adapter")
@click.option(
    "--resume/--no-resume", default=None, help="Default: resume when a checkpoint of this run exists"
)
@click.option("--rank", type=int, help="LoRA rank")
@click.option("--alpha", type=int, help="LoRA alpha")
@click.option("--dropout", type=float, help="Dropout on the LoRA input (0 is faster on CPU)")
@click.option(
    "--target-modules",
    callback=lambda _ctx, _param, value: (
        [m.strip() for m in value.split(",") if m.strip()] if value else None
    ),
    help="Comma-separated layers to adapt, e.g. q_proj,k_proj,v_proj,o_proj (default: attention and MLP)",
)
@click.option("--lr", type=float, help="Peak learning rate")
@click.option("--schedule", type=click.Choice(["cosine", "linear", "constant"]), help="Decay after warmup")
@click.option("--warmup-steps", type=int, help="Steps of linear warmup")
@click.option("--max-eval-examples", type=int, help="Validation examples per evaluation")
@click.option("--batch-size", type=int, help="Rows per forward pass")
@click.option("--grad-accum", type=int, help="Micro-batches per optimizer step")
@click.option("--max-length", type=int, help="Tokens per row")
@click.option("--packing/--no-packing", default=None, help="Pack several examples per row")
@click.option(
    "--dtype", type=click.Choice(["auto", "float32", "bfloat16"]), help="Base weights / autocast dtype"
)
@click.option("--threads", type=int, help="torch CPU threads")
@click.option(
    "--gradient-checkpointing/--no-gradient-checkpointing", default=None, help="Trade speed for memory"
)
@click.option("--eval-every", type=int, help="Steps between validation-loss checks")
@click.option("--checkpoint-every", type=int, help="Steps between resumable checkpoints")
@click.option("--patience", type=int, help="Evaluations without improvement before stopping (0 = never)")
@click.option("--seed", type=int, help="Random seed")
@click.option("--stop-at-step", type=int, hidden=True, help="Stop after this step's checkpoint (tests)")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the run summary here")
@click.pass_context
def finetune_cmd(ctx: click.Context, **opts: Any) -> None:
    """Train a LoRA adapter for a task, export it (optionally merged) and register it for serving."""
    from finetune.config import ConfigError as TrainConfigError
    from finetune.config import TrainConfig
    from finetune.data import DataError
    from finetune.tasks import run_finetune
    from finetune.train import TrainError

    settings = _settings(ctx)
    run_keys = {"data", "max_examples", "name", "merge", "resume", "stop_at_step", "json_path"}
    overrides = {k: v for k, v in opts.items() if k not in run_keys and v is not None}
    from finetune.train import device_defaults

    overrides = device_defaults(overrides)
    try:
        config = TrainConfig(**overrides)
    except TrainConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        summary = run_finetune(
            settings,
            config,
            data=list(opts["data"]) or None,
            max_examples=opts["max_examples"],
            name=opts["name"],
            merge=opts["merge"],
            resume=opts["resume"],
            stop_at_step=opts["stop_at_step"],
            progress=True,
        )
    except (DataError, TrainError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    m = summary["metrics"]
    click.echo(
        f"{summary['name']}: step {summary['step']}/{summary['total_steps']}, {m.get('tokens_seen')} tokens at "
        f"{m.get('tokens_per_second')} tokens/s; val loss base {m.get('base_val_loss')} -> best "
        f"{m.get('best_val_loss')} (step {m.get('best_step')}); peak RSS {m.get('peak_rss_gib')} GiB"
    )
    if summary.get("registered"):
        click.echo(f"adapter {summary['adapter_dir']} registered as {summary['registered']}")
    else:
        click.echo("stopped before the end; run the same command again to resume")
    _write_json(opts["json_path"], summary)


# Surfaces that live in their own packages add their commands here (each module's `register`).
COMMAND_MODULES = ("assistant.copystudio.cli", "assistant.assist.cli")


def _register_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(cli, eval_group)


_register_commands()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
