"""`shopassist faq ...`: teach the FAQ router from what the shop collects, and measure what that buys.

- `faq unanswered`: refused and handed-off questions and FAQ answers rated down, from the turn log,
  grouped by meaning, newest first, each question with its id;
- `faq assign IDS ENTRY` (or `--file`): the operator's answer: these questions belong to that entry;
- `faq learn`: collect labels from chat thumbs-up on FAQ answers and accepted or edited agent
  suggestions, then sync the FAQ index with every label as an example phrasing (the router re-fits);
- `faq self-train`: label the FAQ questions customers asked without a person (self-training), so a
  new shop's router learns before anyone labels;
- `faq labels`: what the router has learned from, per entry and source;
- `eval faq-selftrain`: accuracy after self-training on N unlabelled questions, cross-validated;
- `eval faq-curve`: accuracy against labelled questions per entry (0, 1, 3, 10, 30) and the latency
  of routing with and without the learned router.

Labels live in HOME/faq_labels.jsonl (setting `retrieval.faq_labels`), apart from the FAQ file: a new FAQ
ingest replaces the examples, so run `faq learn` after one to put the labels back.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assistant.cli.common import comma_list, print_rows, settings_of, write_json

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.shop import Shop
    from retrieval.faq_labels import FAQLabel


def label_store(settings: Settings) -> Any:
    """The shop's label store, importing the shop only when a command runs (CLI start stays fast)."""
    from assistant.shop import label_store as store

    return store(settings)


def _shop(ctx: click.Context) -> Shop:
    from assistant.shop import Shop

    shop = Shop(settings_of(ctx))
    shop.ensure_ready()
    return shop


def _entries(shop: Shop) -> dict[str, Any]:
    shop.index.faq.warm_up()
    return dict(shop.index.faq.entries)


def _since(days: int | None) -> str | None:
    from assistant.stores.turns import window_start

    return window_start(days) if days else None


@click.group("faq")
def faq_group() -> None:
    """The FAQ router's learning loop: unanswered questions, labels, re-fitting."""


@faq_group.command("unanswered")
@click.option("--days", type=click.IntRange(min=1), help="Only the last N days (default: all kept)")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="Groups shown")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the groups as JSON")
@click.pass_context
def unanswered_cmd(ctx: click.Context, days: int | None, limit: int, json_path: Path | None) -> None:
    """Questions the assistant refused, handed off or answered to a thumbs-down, grouped by meaning,
    newest first; assign a group with `faq assign IDS ENTRY_ID`."""
    from assistant.chat.labels import group_questions, unanswered
    from assistant.stores.feedback import FeedbackStore

    shop = _shop(ctx)
    settings = shop.settings
    done = {label.ref for label in label_store(settings).all() if label.source == "operator"}
    queue = unanswered(
        shop.turns.rows(_since(days)), FeedbackStore.from_settings(settings).all("chat"), done=done
    )
    groups = group_questions(queue, shop.faq_embedding_function)[:limit]
    if not groups:
        click.echo("no unanswered questions")
    for n, group in enumerate(groups, start=1):
        example = group.example
        click.echo(
            f"{n}. {example.question}  ({len(group.questions)}x, last {example.created}, {example.why})"
        )
        others = [q.question for q in group.questions[1:4]]
        if others:
            click.echo("   also: " + " | ".join(others))
        click.echo("   ids: " + ",".join(group.ids))
    write_json(
        json_path,
        {"groups": [{"ids": g.ids, "questions": [q.__dict__ for q in g.questions]} for g in groups]},
    )


def _read_assignments(path: Path) -> list[tuple[str | None, str | None, str]]:
    """(question id, question text, entry id) rows of a CSV with `entry_id` and `question_id` and/or
    `question` columns."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        cols = set(reader.fieldnames or [])
        if "entry_id" not in cols or not cols & {"question_id", "question"}:
            raise click.ClickException(
                f"{path}: needs an entry_id column and a question_id or question column "
                f"(found: {', '.join(sorted(cols)) or 'none'})"
            )
        rows = []
        for row in reader:
            entry = (row.get("entry_id") or "").strip()
            qid = (row.get("question_id") or "").strip() or None
            text = (row.get("question") or "").strip() or None
            if entry and (qid or text):
                rows.append((qid, text, entry))
        return rows


@faq_group.command("assign")
@click.argument("question_ids", required=False)
@click.argument("entry_id", required=False)
@click.option(
    "--file",
    "file_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV of assignments: entry_id plus question_id (from `faq unanswered`) or question (any text)",
)
@click.pass_context
def assign_cmd(
    ctx: click.Context, question_ids: str | None, entry_id: str | None, file_path: Path | None
) -> None:
    """Label questions with the FAQ entry that answers them: QUESTION_IDS (comma-separated ids from
    `faq unanswered`) and ENTRY_ID, or --file for many. `faq learn` teaches the router."""
    import hashlib

    from assistant.chat.labels import operator_labels
    from retrieval.faq_labels import FAQLabel, LabelError, check_entries

    if bool(file_path) == bool(question_ids and entry_id):
        raise click.UsageError("give QUESTION_IDS and ENTRY_ID, or --file (not both)")
    shop = _shop(ctx)
    entries = _entries(shop)
    turns = shop.turns.rows()
    labels: list[FAQLabel] = []
    missing: list[str] = []
    if file_path:
        for qid, text, entry in _read_assignments(file_path):
            if qid:
                found, lost = operator_labels([qid], entry, turns)
                labels += found
                missing += lost
            elif text:
                ref = "q-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
                labels.append(FAQLabel.make(text, entry, "import", ref))
    else:
        assert question_ids and entry_id
        labels, missing = operator_labels(comma_list(question_ids), entry_id, turns)
    try:
        check_entries(labels, entries)
    except LabelError as exc:
        raise click.ClickException(str(exc)) from exc
    stored = label_store(shop.settings).add(labels)
    if missing:
        click.echo(f"not in the turn log (pruned, or a wrong id): {', '.join(missing)}", err=True)
    click.echo(f"{len(stored)} label(s) stored, {len(labels) - len(stored)} already known; run `faq learn`")


def harvest(shop: Shop, entries: dict[str, Any]) -> list[FAQLabel]:
    """Labels from the feedback the shop holds: chat thumbs-up on FAQ answers (their questions from
    the turn log) and agent verdicts accepting or editing a suggestion (its ticket)."""
    from assistant.assist.feedback import AssistFeedback
    from assistant.chat.labels import chat_labels, suggestion_labels
    from assistant.stores.feedback import FeedbackStore

    store = FeedbackStore.from_settings(shop.settings)
    assist = AssistFeedback(store, shop.orders)

    def ticket_of(suggestion_id: str) -> str | None:
        logged = assist.logged(suggestion_id)
        return logged.ticket if logged is not None else None

    found = chat_labels(store.all("chat"), shop.turns.rows(), entries)
    return found + suggestion_labels(store.all("suggest"), ticket_of, entries)


@faq_group.command("learn")
@click.option("--dry-run", is_flag=True, help="Collect and report, store and sync nothing")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the summary as JSON")
@click.pass_context
def learn_cmd(ctx: click.Context, dry_run: bool, json_path: Path | None) -> None:
    """Collect labels from feedback, then sync the FAQ index with every label as an example phrasing:
    the nearest-phrasing router uses them at once and the learned router is re-fitted."""
    import time

    from retrieval.faq_labels import with_labels

    shop = _shop(ctx)
    entries = _entries(shop)
    store = label_store(shop.settings)
    found = harvest(shop, entries)
    new = [] if dry_run else store.add(found)
    labels = [label for label in store.all() if label.entry_id in entries]
    summary: dict[str, Any] = {
        "collected": len(found),
        "new": len(new) if not dry_run else None,
        "labels": len(labels),
        "unknown_entry": len(store.all()) - len(labels),
        "entries_labelled": len({label.entry_id for label in labels}),
    }
    if not dry_run:
        start = time.perf_counter()
        stats = shop.index.ingest_faq(with_labels(list(entries.values()), labels))
        summary["documents_embedded"] = stats.embedded
        summary["sync_s"] = round(time.perf_counter() - start, 2)
        summary["learned_router"] = shop.index.faq.classifier is not None
    for key, value in summary.items():
        click.echo(f"{key}: {value}")
    if not dry_run and not summary["learned_router"]:
        click.echo(
            f"(the learned router starts at {shop.index.faq.min_examples} phrasings per entry on "
            "average; until then the labels route as nearest phrasings)"
        )
    write_json(json_path, summary)


def _read_questions(path: Path) -> list[str]:
    """Unlabelled questions: a CSV with a question, instruction, message or text column, or a text
    file of one question per line."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() != ".csv":
        return [line.strip() for line in text.splitlines() if line.strip()]
    reader = csv.DictReader(text.splitlines())
    column = next(
        (c for c in ("question", "instruction", "message", "text") if c in (reader.fieldnames or [])), None
    )
    if column is None:
        raise click.ClickException(
            f"{path}: needs a question, instruction, message or text column "
            f"(found: {', '.join(reader.fieldnames or []) or 'none'})"
        )
    return [row[column].strip() for row in reader if (row.get(column) or "").strip()]


@faq_group.command("self-train")
@click.option(
    "--questions",
    "questions_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also these unlabelled questions (e.g. a help-desk export): CSV with a question column, or one per line",
)
@click.option("--days", type=click.IntRange(min=1), help="Only turns of the last N days (default: all kept)")
@click.option("--dry-run", is_flag=True, help="Report the labels it would make; store and sync nothing")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the summary as JSON")
@click.pass_context
def self_train_cmd(
    ctx: click.Context, questions_path: Path | None, days: int | None, dry_run: bool, json_path: Path | None
) -> None:
    """Label customers' FAQ questions without a person (self-training, `retrieval.faq_selftrain`):
    the questions the chat routed to the FAQ, plus --questions, become "traffic" labels that replace
    the last run's; people's labels always win. Then the FAQ index is synced, as `faq learn` does."""
    import hashlib
    import math

    from retrieval.faq_labels import HUMAN_SOURCES, FAQLabel, with_labels
    from retrieval.faq_selftrain import SelfTrainConfig, self_train

    shop = _shop(ctx)
    store = label_store(shop.settings)
    known = store.all()
    stale = {label.question.casefold() for label in known if label.source == "traffic"}
    # The index's entries carry the last sync's labels as examples: drop the old guesses first.
    entries = [
        e.model_copy(update={"examples": [x for x in e.examples if x.casefold() not in stale]})
        for e in _entries(shop).values()
    ]
    asked = [str(t.get("message", "")) for t in shop.turns.rows(_since(days)) if t.get("route") == "faq"]
    asked += _read_questions(questions_path) if questions_path else []
    human = {label.question.casefold() for label in known if label.source in HUMAN_SOURCES}
    asked = [q for q in asked if q.strip() and q.strip().casefold() not in human]
    result = self_train(entries, asked, shop.faq_embedding_function)
    labels = [
        FAQLabel.make(q, entry, "traffic", "traffic:" + hashlib.sha1(q.encode("utf-8")).hexdigest()[:12])
        for q, entry in result.labels
    ]
    summary: dict[str, Any] = {
        "questions": result.questions,
        "labels": len(labels),
        "labels_per_round": result.rounds,
        "entries_labelled": len({label.entry_id for label in labels}),
        "seconds": result.seconds,
    }
    if not dry_run:
        store.replace_source("traffic", labels)
        stats = shop.index.ingest_faq(with_labels(entries, store.all()), prune=True)
        summary["documents_embedded"] = stats.embedded
        summary["learned_router"] = shop.index.faq.classifier is not None
    for key, value in summary.items():
        click.echo(f"{key}: {value}")
    if not labels:
        config = SelfTrainConfig()
        needed = math.ceil(config.min_questions / config.shares[0]) * len(entries)
        click.echo(
            f"no labels: self-training wants about {needed} questions for an FAQ of {len(entries)} entries "
            f"(each entry keeps at least {config.min_questions}); add --questions, or wait for chat traffic"
        )
    write_json(json_path, summary)


@faq_group.command("labels")
@click.option("--json", "as_json", is_flag=True, help="Print every label as JSON lines")
@click.pass_context
def labels_cmd(ctx: click.Context, as_json: bool) -> None:
    """Labels per FAQ entry and source (chat, suggest, operator, import; traffic: self-trained)."""
    store = label_store(settings_of(ctx))
    if as_json:
        for label in store.all():
            click.echo(label.model_dump_json())
        return
    rows = [{"entry": entry, **per} for entry, per in store.counts().items()]
    sources = ["chat", "suggest", "operator", "import", "traffic"]
    print_rows([{"entry": r["entry"], **{s: r.get(s, 0) for s in sources}} for r in rows])
    if not rows:
        click.echo(f"no labels yet in {store.path}")


def _faq_and_questions(command: Any) -> Any:
    """--faq and --questions of the FAQ routing evaluations (default: Bitext's in ../shared/data/cs)."""
    command = click.option(
        "--questions",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Labelled questions, question,intent (default: Bitext's questions_dev.csv)",
    )(command)
    return click.option(
        "--faq",
        "faq_path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="FAQ entries (default: Bitext's faq.csv in ../shared/data/cs)",
    )(command)


def _bitext_files(faq_path: Path | None, questions: Path | None) -> tuple[Path, Path]:
    """The FAQ and labelled questions given, else Bitext's; a clear error when neither is there."""
    bitext = Path(__file__).resolve().parents[3] / "shared" / "data" / "cs"
    files = (faq_path or bitext / "faq.csv", questions or bitext / "questions_dev.csv")
    for path in files:
        if not path.exists():
            raise click.ClickException(f"{path} not found: give --faq and --questions")
    return files


def register(cli: click.Group) -> None:
    """Add this module's commands to the main CLI (and its learning curve to `eval`)."""
    cli.add_command(faq_group)
    eval_group = cli.commands["eval"]
    assert isinstance(eval_group, click.Group)

    @eval_group.command("faq-curve")
    @_faq_and_questions
    @click.option(
        "--per-entry",
        default="0,1,3,10,30",
        show_default=True,
        help="Comma-separated counts of labelled questions per entry",
    )
    @click.option("--max-questions", type=click.IntRange(min=1), help="Held-out questions asked per count")
    @click.option(
        "--latency-questions",
        default=200,
        show_default=True,
        type=click.IntRange(min=0),
        help="Held-out questions timed (half per router), apart from the asked ones",
    )
    @click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the results as JSON")
    @click.pass_context
    def eval_faq_curve_cmd(
        ctx: click.Context,
        faq_path: Path | None,
        questions: Path | None,
        per_entry: str,
        max_questions: int | None,
        latency_questions: int,
        json_path: Path | None,
    ) -> None:
        """FAQ routing accuracy against labelled questions per entry, dense vs learned router; labels
        come from a hash-split pool, never from the questions asked."""
        from assistant.shop import embedding_function
        from retrieval.datasets import load_intent_faq, load_labelled_questions
        from retrieval.faq_learning import learning_curve

        faq_file, question_file = _bitext_files(faq_path, questions)
        try:
            counts = [int(c) for c in comma_list(per_entry)]
        except ValueError as exc:
            raise click.BadParameter(
                "comma-separated whole numbers, e.g. 0,1,3", param_hint="--per-entry"
            ) from exc
        from tqdm import tqdm

        asked = load_labelled_questions(question_file)
        with tqdm(desc="questions", unit="q", disable=not sys.stderr.isatty()) as bar:
            try:
                result = learning_curve(
                    load_intent_faq(faq_file),
                    asked,
                    embedding_function(settings_of(ctx), faq=True),
                    counts=counts,
                    max_questions=max_questions,
                    latency_questions=latency_questions,
                    progress=bar.update,
                )
            except ValueError as exc:
                raise click.ClickException(str(exc)) from exc
        print_rows(result["curve"])
        lat = result["latency"]
        click.echo(
            f"{result['intents']} entries; labels from {result['pool_questions']} pool questions, "
            f"{result['evaluated']} held-out questions asked. Latency at {lat['per_entry']} per entry "
            f"({lat['questions']} questions): dense p50 {lat['dense_p50_ms']} ms, p95 "
            f"{lat['dense_p95_ms']} ms; learned p50 {lat['learned_p50_ms']} ms, p95 {lat['learned_p95_ms']} ms "
            f"(the router itself: +{lat['router_extra_p50_ms']} ms p50, +{lat['router_extra_p95_ms']} ms p95)"
        )
        result["faq"], result["questions"] = str(faq_file), str(question_file)
        write_json(json_path, result)

    @eval_group.command("faq-selftrain")
    @_faq_and_questions
    @click.option(
        "--pool-sizes",
        default="300,1000,all",
        show_default=True,
        help="Comma-separated numbers of unlabelled questions self-training reads per fold ('all': the other folds')",
    )
    @click.option(
        "--folds", default=2, show_default=True, type=click.IntRange(min=2), help="Cross-validation folds"
    )
    @click.option(
        "--max-questions", type=click.IntRange(min=10), help="A fixed random sample of the questions"
    )
    @click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the results as JSON")
    @click.pass_context
    def eval_faq_selftrain_cmd(
        ctx: click.Context,
        faq_path: Path | None,
        questions: Path | None,
        pool_sizes: str,
        folds: int,
        max_questions: int | None,
        json_path: Path | None,
    ) -> None:
        """FAQ routing with no labelled question: cold, and after self-training on N unlabelled
        questions (other folds' texts); accuracy of the served search, precision of the labels."""
        import random

        from assistant.shop import embedding_function
        from retrieval.datasets import load_intent_faq, load_labelled_questions
        from retrieval.faq_selftrain import evaluate_self_training

        faq_file, question_file = _bitext_files(faq_path, questions)
        try:
            sizes = [None if s == "all" else int(s) for s in comma_list(pool_sizes)]
        except ValueError as exc:
            raise click.BadParameter(
                "whole numbers or 'all', e.g. 300,1000,all", param_hint="--pool-sizes"
            ) from exc
        asked = load_labelled_questions(question_file)
        if max_questions and len(asked) > max_questions:
            asked = random.Random(0).sample(asked, max_questions)
        try:
            result = evaluate_self_training(
                load_intent_faq(faq_file),
                asked,
                embedding_function(settings_of(ctx), faq=True),
                folds=folds,
                pool_sizes=sizes,
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        print_rows(result["rows"])
        click.echo(
            f"{result['questions']} questions, {result['intents']} entries, {folds} folds; served search "
            f"after self-training on the largest pool: p50 {result['latency_p50_ms']} ms, "
            f"p95 {result['latency_p95_ms']} ms"
        )
        result["faq"], result["questions_file"] = str(faq_file), str(question_file)
        write_json(json_path, result)
