"""`shopassist eval ...`: quality on judged data, one table on stdout and the same numbers as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from assistant.cli.common import (
    adapter_for,
    comma_list,
    emit_eval,
    heldout,
    print_rows,
    settings_of,
    write_json,
)
from retrieval.fusion import FUSIONS


@click.group("eval")
def eval_group() -> None:
    """Evaluations on judged data: one table on stdout, optionally the same numbers as JSON."""


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
    "--fusion",
    type=click.Choice(sorted(FUSIONS)),
    help="Fusion for the hybrid mode (default: retrieval.fusion)",
)
@click.option("--alpha", type=float, help="Dense weight in the fusion, 0..1 (default: retrieval.alpha)")
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
    """nDCG@10, recall@100 and latency of BM25-only, dense-only and hybrid search, plus ingest rate.

    "hybrid" is product search as configured: `retrieval.fusion` and `retrieval.alpha` (or
    --fusion/--alpha), and the learned ranker of `retrieval.ranker` when one is set."""
    from assistant.shop import embedding_function
    from retrieval.datasets import load_search_set
    from retrieval.evaluate import build_search_index, evaluate_search

    settings = settings_of(ctx)
    search_set = load_search_set(products, queries, qrels, gain_offset)
    if search_set.errors:
        click.echo(f"{len(search_set.errors)} product rows skipped, e.g. {search_set.errors[0]}", err=True)
    configured = settings.retrieval
    options: dict[str, object] = {
        "fusion": fusion or configured.fusion,
        "alpha": configured.alpha if alpha is None else alpha,
    }
    if configured.ranker is not None:
        from retrieval.rerank import LearnedRanker, RankerError

        try:
            options["ranker"] = LearnedRanker.load(configured.ranker)
        except RankerError as exc:
            raise click.ClickException(str(exc)) from exc
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
    result["settings"] = {
        "fusion": search.fusion,
        "alpha": search.alpha,
        "ranker": str(configured.ranker) if configured.ranker is not None else None,
    }
    rows = [{"mode": m, **v} for m, v in result["modes"].items()]
    print_rows(rows)
    ing = result["ingest"]
    click.echo(
        f"{result['products']} products, {result['queries']} judged queries; ingest: "
        f"{ing.get('products_per_s', '?')} products/s{' (cached index)' if ing.get('cached') else ''}"
    )
    if configured.ranker is not None:
        click.echo(
            f"hybrid re-ranked by the configured learned ranker {configured.ranker} (trained on "
            f"{result['hybrid_ranker'].get('queries', '?')} queries: optimistic if those include these)"
        )
    write_json(json_path, result)


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

    from assistant.chat.evaluate import EvalDataError, evaluate_chat, load_dialogues, load_questions
    from assistant.shop import Shop
    from retrieval.datasets import load_intent_faq, load_labelled_questions

    if not (questions or unanswerable or dialogues):
        raise click.UsageError("give at least one of --questions, --unanswerable, --dialogues")
    settings = settings_of(ctx)
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
        from retrieval.faq_labels import with_examples

        labelled = load_labelled_questions(examples) if examples else []
        entries, overlap = with_examples(load_intent_faq(faq_path), labelled, (text for text, _ in asked))
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
    write_json(json_path, result)


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
    from assistant.shop import Shop
    from assistant.stores.profiles import evaluate_profiles

    shop = Shop(settings_of(ctx))
    shop.ensure_ready()
    result = evaluate_profiles(shop.index.products, AMBIGUOUS_QUERIES, shoppers=shoppers)
    print_rows([result])
    write_json(json_path, result)


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

    settings = settings_of(ctx)
    entries = load_intent_faq(faq_path)
    asked = load_labelled_questions(questions)
    if max_questions and len(asked) > max_questions:
        asked = random.Random(0).sample(asked, max_questions)
    extra = load_labelled_questions(examples) if examples else []
    try:
        result = evaluate_intents(
            entries, asked, embedding_function(settings, faq=True), examples=extra, folds=folds
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    print_rows([{"mode": m, **v} for m, v in result["modes"].items()])
    folds = result["cross_validated_folds"]
    click.echo(
        f"{result['questions']} questions, {result['intents']} intents, {result['examples']} examples"
        f"{f', {folds}-fold cross-validated' if folds else ''}; "
        f"{result['latency_mode']} latency p50 {result['latency_p50_ms']} ms, p95 {result['latency_p95_ms']} ms"
    )
    write_json(json_path, result)


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
    from assistant.generation.factory import create_generator
    from finetune.evaluate import eval_replies

    settings = settings_of(ctx)
    name = adapter_for(settings, "cs", adapter)
    examples = heldout("cs", [data], settings, val_fraction, max_examples)
    generator = create_generator("embedded", settings=settings)
    result = eval_replies(generator, examples, [None, name], max_new_tokens=max_new_tokens)
    result["data"] = str(data)
    emit_eval(result, json_path)


@eval_group.command("followups")
@click.option(
    "--data",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Shop files the held-out turns are made from (default: the demo shop's products and FAQ)",
)
@click.option(
    "--size", default=4, show_default=True, type=click.IntRange(min=1), help="Turns per kind x this"
)
@click.option(
    "--configs",
    default="rules,adapters",
    show_default=True,
    help="Comma-separated: rules (no adapters: today's rules and the cs prompt), adapters (the configured or shipped ones)",
)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the results as JSON")
@click.pass_context
def eval_followups_cmd(
    ctx: click.Context, data: tuple[Path, ...], size: int, configs: str, json_path: Path | None
) -> None:
    """Held-out follow-up turns through whole chat turns: understood, model text, wrong facts, time."""
    from assistant.shop import Shop
    from finetune.dialogue_eval import run_turns
    from finetune.dialogues import heldout_turns
    from finetune.tasks import TASKS

    settings = settings_of(ctx)
    paths = list(data) or TASKS["rewrite"].default_data()
    maker, turns = heldout_turns(paths, size=size)
    shop = Shop(settings.model_copy(update={"home": settings.home / "eval-chat" / "demo"}))
    shop.ensure_ready()
    warm = getattr(shop.generator, "warm_up", None)
    if warm:
        warm()
    customer = next((c.id for c in shop.orders.customers() if shop.orders.orders_for(c.id)), None)
    results: dict[str, object] = {"turns": len(turns), "engine": shop.generator.name}
    rows = []
    for name in comma_list(configs):
        chat = shop.chat_config(name)
        result = run_turns(chat, maker, turns, customer)
        result["adapters"] = {"rewrite": chat.options.rewrite_adapter, "answer": chat.options.answer_adapter}
        results[name] = result
        rows.append(
            {
                "config": name,
                "understood": f"{result['understood']:.3f}",
                "model text": f"{result['model_text_share']:.3f}",
                "wrong facts": result["wrong_facts"],
                "first text p95 s": f"{result['first_text_p95_s']:.2f}",
                "done p95 s": f"{result['latency_p95_s']:.2f}",
            }
        )
    print_rows(rows)
    write_json(json_path, results)


@eval_group.command("languages")
@click.option(
    "--embedding",
    "embeddings",
    default="minilm,use-multilingual-v3",
    show_default=True,
    help="Comma-separated embedding models to compare: minilm, use-multilingual-v3, e5-small",
)
@click.option(
    "--zh-dir",
    default=Path("tests/data/zh"),
    show_default=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Chinese sets: queries.csv + qrels.csv (grades 0-3) and faq_questions.csv (question,intent)",
)
@click.option(
    "--xlang",
    default=Path("tests/data/xlang/questions.csv"),
    show_default=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The same questions in several languages (id,intent,dev_row,zh,de; English is read from the "
    "row dev_row of questions_dev.csv beside --bitext-faq)",
)
@click.option(
    "--bitext-faq",
    default=Path("../shared/data/cs/faq.csv"),
    show_default=True,
    type=click.Path(path_type=Path),
    help="The English FAQ the cross-language questions are routed against (skipped if absent)",
)
@click.option(
    "--english",
    "english_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Also run the English sets with each model: DIR/search/crowdflower (dev, hybrid as configured) "
    "and DIR/cs (Bitext cold), e.g. ../shared/data",
)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the results as JSON")
@click.pass_context
def eval_languages_cmd(
    ctx: click.Context,
    embeddings: str,
    zh_dir: Path,
    xlang: Path,
    bitext_faq: Path,
    english_dir: Path | None,
    json_path: Path | None,
) -> None:
    """Shops in other languages (issue 21): Chinese demo-shop search nDCG@10 (BM25, dense, hybrid),
    Chinese FAQ routing, and Bitext questions in English, Chinese and German routed against the
    English FAQ (accuracy@1 and each language's ratio to English), per embedding model."""
    from importlib import resources

    from assistant.shop import embedding_function
    from retrieval.catalog import load_faq
    from retrieval.datasets import load_intent_faq, load_labelled_questions, load_search_set
    from retrieval.embeddings import MULTILINGUAL_MODELS, make_embedding_function
    from retrieval.evaluate import (
        build_search_index,
        evaluate_cross_language,
        evaluate_intents,
        evaluate_search,
        load_cross_language,
        ndcg_summary,
    )
    from retrieval.languages import shop_analyzer

    settings = settings_of(ctx)
    kinds = comma_list(embeddings)
    for kind in kinds:
        if kind != "minilm" and kind not in MULTILINGUAL_MODELS:
            raise click.BadParameter(f"unknown model {kind!r}", param_hint="--embedding")
    shop_zh = Path(str(resources.files("assistant") / "demo_shop_zh"))
    zh_set = load_search_set(shop_zh / "products.csv", zh_dir / "queries.csv", zh_dir / "qrels.csv", 0.0)
    zh_faq = load_faq(shop_zh / "faq.csv").items
    zh_questions = load_labelled_questions(zh_dir / "faq_questions.csv")
    languages, xrows = load_cross_language(xlang, bitext_faq.parent / "questions_dev.csv")
    english_faq = load_intent_faq(bitext_faq) if bitext_faq.exists() else None
    search_options = {"fusion": settings.retrieval.fusion, "alpha": settings.retrieval.alpha}
    results: dict[str, object] = {}
    rows = []
    for kind in kinds:
        # No embedding cache: each mode pays for its own query embedding, as in `eval search`.
        ef = (
            embedding_function(settings, cache=False)
            if kind == "minilm"
            else make_embedding_function(kind, cache=False)
        )
        result: dict[str, object] = {}
        index = build_search_index(zh_set, settings.home / "eval", ef, locales=["zh"], **search_options)
        search = evaluate_search(index, zh_set)
        result["zh_search"] = search
        faq = evaluate_intents(
            zh_faq, zh_questions, ef, modes=("dense", "lexical", "fused"), analyzer=shop_analyzer(["zh"])
        )
        result["zh_faq"] = faq
        row: dict[str, object] = {"model": kind}
        row.update({f"zh {m} ndcg@10": v for m, v in ndcg_summary(search).items()})
        row["zh faq acc@1"] = faq["modes"]["dense"]["accuracy@1"]
        if english_faq is not None:
            cross = evaluate_cross_language(english_faq, xrows, languages, ef, modes=("dense",))
            result["cross_language"] = cross
            for lang in languages:
                row[f"{lang} acc@1"] = cross["languages"][lang]["modes"]["dense"]["accuracy@1"]
                if lang != "en":
                    row[f"{lang}/en"] = cross["ratio_to_reference"][lang]["dense"]
        if english_dir is not None:
            cf = english_dir / "search" / "crowdflower"
            cf_set = load_search_set(cf / "products.csv", cf / "queries_dev.csv", cf / "qrels_dev.csv", 1.0)
            cf_result = evaluate_search(
                build_search_index(cf_set, settings.home / "eval", ef, **search_options), cf_set
            )
            cs = english_dir / "cs"
            bitext = evaluate_intents(
                load_intent_faq(cs / "faq.csv"),
                load_labelled_questions(cs / "questions_dev.csv"),
                ef,
                modes=("dense",),
            )
            result["crowdflower_dev"] = cf_result
            result["bitext_cold"] = bitext
            row["CF hybrid ndcg@10"] = cf_result["modes"]["hybrid"]["ndcg@10"]
            row["CF dense ndcg@10"] = cf_result["modes"]["dense"]["ndcg@10"]
            row["Bitext cold acc@1"] = bitext["modes"]["dense"]["accuracy@1"]
        results[kind] = result
        rows.append(row)
    print_rows(rows)
    if english_faq is None:
        click.echo(f"cross-language routing skipped: {bitext_faq} not found (--bitext-faq)")
    write_json(json_path, {"settings": search_options, "models": results})


def register(cli: click.Group) -> None:
    """Add this module's commands to the main CLI."""
    cli.add_command(eval_group)
