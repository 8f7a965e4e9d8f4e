"""Commands that produce learned artifacts: the LoRA fine-tune, the learned ranker, FAQ example questions."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from assistant.cli.common import comma_list, settings_of, write_json
from finetune.config import TASK_NAMES


@click.command("train-ranker")
@click.option("--products", required=True, type=click.Path(exists=True, path_type=Path), help="Products file")
@click.option("--queries", type=click.Path(exists=True, path_type=Path), help="query_id,query (with --qrels)")
@click.option(
    "--qrels", type=click.Path(exists=True, path_type=Path), help="query_id,product_id,grade (with --queries)"
)
@click.option(
    "--events",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Instead of judged queries: the shop's search events (query,product_id,event = impression, click, "
    "cart, purchase, feedback_up/down; CSV or JSON lines), see retrieval.events",
)
@click.option("--gain-offset", default=1.0, show_default=True, help="Gain = grade - offset (floored at 0)")
@click.option(
    "--min-queries",
    type=click.IntRange(min=0),
    help="With --events: refuse to train when the events grade fewer queries than this (default "
    "retrieval.events.MIN_EVENT_QUERIES, 500: smaller logs made rankers that lost to the fusion)",
)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def train_ranker_cmd(
    ctx: click.Context,
    products: Path,
    queries: Path | None,
    qrels: Path | None,
    events: Path | None,
    gain_offset: float,
    min_queries: int | None,
    out_path: Path,
) -> None:
    """Train the learned re-ranker on judged queries or on shopper events; set retrieval.ranker to the
    file to use it."""
    from assistant.shop import embedding_function
    from retrieval.datasets import SearchSet, load_search_products, load_search_set
    from retrieval.evaluate import build_search_index
    from retrieval.rerank import LearnedRanker, TrainingQuery

    if bool(events) == bool(queries or qrels) or (not events and not (queries and qrels)):
        raise click.UsageError("give --queries and --qrels (judged queries), or --events (not both)")
    settings = settings_of(ctx)
    if events:
        from retrieval.events import judgements, load_events

        loaded = load_search_products(products)
        found, gains, unknown = judgements(load_events(events), (p.id for p in loaded.items))
        search_set = SearchSet(loaded.items, found, gains, loaded.errors)
        if unknown:
            click.echo(f"{unknown} event(s) name products not in {products.name}: left out", err=True)
    else:
        assert queries and qrels
        search_set = load_search_set(products, queries, qrels, gain_offset)
    judged = search_set.judged_queries()
    if not judged:
        raise click.ClickException(
            "no query with a relevant product: the ranker needs clicks, carts or purchases (or grades > offset)"
        )
    if events:
        from retrieval.events import MIN_EVENT_QUERIES, TooFewEventQueries, check_event_queries

        floor = MIN_EVENT_QUERIES if min_queries is None else min_queries
        try:  # before the catalogue is embedded: a small log is refused at once
            check_event_queries(len(judged), floor)
        except TooFewEventQueries as exc:
            raise click.ClickException(str(exc)) from exc
    search = build_search_index(
        search_set, settings.home / "eval", embedding_function(settings)
    ).index.products
    start = time.perf_counter()
    if events:
        from retrieval.events import train_from_events

        ranker = train_from_events(search, search_set, min_queries=floor)
    else:
        examples = [
            TrainingQuery(search.training_candidates(search_set.queries[q]), search_set.qrels[q])
            for q in judged
        ]
        ranker = LearnedRanker.fit(examples)
    path = ranker.save(out_path)
    click.echo(
        f"trained on {ranker.meta['queries']} of {len(judged)} {'queries with events' if events else 'judged queries'}"
        f" (a query with one candidate teaches no order) in "
        f"{time.perf_counter() - start:.0f}s: {path}\n"
        f"use it with SHOPASSIST_RETRIEVAL__RANKER={path} (or retrieval.ranker in shopassist.toml)"
    )


@click.command("faq-questions")
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

    from assistant.chat.faq_questions import FAQQuestionWriter
    from assistant.generation.base import GeneratorError
    from assistant.generation.factory import create_generator
    from assistant.shop import embedding_function
    from retrieval.datasets import load_intent_faq

    settings = settings_of(ctx)
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
        result = writer.run(entries, embedding_function(settings, faq=True), progress=bar.update)
    result.write_csv(out_path)
    counts = result.per_entry()
    click.echo(
        f"{result.generated} questions written by {generator.name} in {time.perf_counter() - start:.0f}s; "
        f"kept {len(result.questions)} for {len(counts)} of {len(entries)} entries "
        f"(fewest {min(counts.values(), default=0)} for one entry); dropped: "
        + (", ".join(f"{reason} {n}" for reason, n in sorted(result.dropped.items())) or "none")
        + f"\nwrote {out_path}"
    )


def train_config_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """One `--option` per `TrainConfig` field, its help taken from the field: the config is the one
    place a training setting is declared (as peft's dataclass configs are), so flags never drift."""
    import dataclasses
    import typing

    from finetune.config import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    for f in reversed(dataclasses.fields(TrainConfig)):
        if f.name == "task":  # the command's own required option
            continue
        flag, hint, help_text = f.name.replace("_", "-"), hints[f.name], f.metadata["help"]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if hint is bool:
            option = click.option(f"--{flag}/--no-{flag}", f.name, default=None, help=help_text)
        elif origin is typing.Literal:
            option = click.option(f"--{flag}", f.name, type=click.Choice(list(args)), help=help_text)
        elif origin is list:
            option = click.option(
                f"--{flag}",
                f.name,
                callback=lambda _ctx, _param, value: comma_list(value) if value else None,
                help=help_text + " (comma-separated)",
            )
        else:
            base = next((a for a in args if a is not type(None)), hint) if args else hint
            option = click.option(f"--{flag}", f.name, type=base, help=help_text)
        command = option(command)
    return command


@click.command("finetune")
@click.option(
    "--task",
    type=click.Choice(list(TASK_NAMES)),
    required=True,
    help="cs: replies; copy: product copy; draft: agent-assist reply drafts from the FAQ answer; rewrite: "
    "follow-up understanding; answer: short answers from facts",
)
@click.option(
    "--data",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Data file(s) (default: ../shared/data for the task)",
)
@click.option(
    "--max-examples",
    type=int,
    help="Use only N examples (quick runs): the first N, or for reply tasks N taken evenly across intents",
)
@click.option("--name", help="Adapter name (default TASK-lora); the OpenAI `model` name when served")
@click.option("--merge", is_flag=True, help="Also save base weights merged with the adapter")
@click.option(
    "--resume/--no-resume", default=None, help="Default: resume when a checkpoint of this run exists"
)
@train_config_options
@click.option("--stop-at-step", type=int, hidden=True, help="Stop after this step's checkpoint (tests)")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the run summary here")
@click.pass_context
def finetune_cmd(ctx: click.Context, **opts: Any) -> None:
    """Train a LoRA adapter for a task, export it (optionally merged) and register it for serving."""
    from finetune.config import TrainConfig, TrainConfigError
    from finetune.data import DataError
    from finetune.tasks import run_finetune
    from finetune.train import TrainError

    settings = settings_of(ctx)
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
    write_json(opts["json_path"], summary)


@click.command("train-faq-embedder")
@click.option(
    "--clinc",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CLINC150's data/data_full.json (github.com/clinc/oos-eval, CC BY 3.0)",
)
@click.option(
    "--banking",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="BANKING77's banking_data/train.csv (github.com/PolyAI-LDN/task-specific-datasets, CC BY 4.0)",
)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--epochs", default=1, show_default=True, type=click.IntRange(min=1))
def train_faq_embedder_cmd(clinc: Path | None, banking: Path | None, out_dir: Path, epochs: int) -> None:
    """Train the FAQ embedding adapter on public intent sets (never the shop's own questions); point
    embedding.faq_adapter at the folder to use it (one trained this way ships: "shipped")."""
    from tqdm import tqdm

    from finetune.faq_embedder import FAQEmbedderConfig, load_intent_pairs, step_count, train_faq_embedder
    from retrieval.rows import CatalogError

    try:
        pairs = load_intent_pairs(clinc, banking, out_of_scope=True)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from exc
    config = FAQEmbedderConfig(epochs=epochs)
    with tqdm(total=step_count(pairs, config), desc="faq-embedder", unit="step", file=sys.stderr) as bar:
        record = train_faq_embedder(pairs, out_dir, config, progress=bar.update)
    click.echo(
        f"trained on {sum(record['utterances'].values())} utterances of {sum(record['intents'].values())} intents "
        f"in {record['seconds']:.0f}s (loss {record['loss_first_50']} -> {record['loss_last_50']}): {out_dir}\n"
        f"use it with SHOPASSIST_EMBEDDING__FAQ_ADAPTER={out_dir} (or embedding.faq_adapter in shopassist.toml)"
    )


def register(cli: click.Group) -> None:
    """Add this module's commands to the main CLI."""
    cli.add_command(train_ranker_cmd)
    cli.add_command(train_faq_embedder_cmd)
    cli.add_command(faq_questions_cmd)
    cli.add_command(finetune_cmd)
