"""`shopassist calibrate-faq`: fit when an FAQ match is confident, and write it to the shop home.

A fixed similarity threshold refuses many right matches and accepts some wrong ones; this fits a
small logistic regression on the shop's labelled questions against questions it must refuse, on a
fixed half of each, and reports the other half, so the numbers printed are the file's own.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from assistant.cli.common import comma_list, print_rows, settings_of, write_json

DEFAULT_FILE = "faq_calibration.json"


def read_questions(path: Path) -> list[str]:
    """The `question` column of a CSV (other columns, such as `kind`, are ignored)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if "question" not in (reader.fieldnames or []):
            raise click.ClickException(
                f"{path}: needs a 'question' column (found: {', '.join(reader.fieldnames or []) or 'none'})"
            )
        return [row["question"].strip() for row in reader if (row.get("question") or "").strip()]


@click.command("calibrate-faq")
@click.option(
    "--faq", "faq_path", required=True, type=click.Path(exists=True, path_type=Path), help="FAQ entries"
)
@click.option(
    "--questions",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Labelled in-scope questions (question,intent)",
)
@click.option(
    "--out-of-scope",
    "oos_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Questions the FAQ must not answer (a 'question' column)",
)
@click.option(
    "--examples",
    type=click.Path(exists=True, path_type=Path),
    help="Labelled example questions (question,intent) the entries carry, as the shop's labels or "
    "`faq self-train` give them: the learned router routes and its margin joins the signals. "
    "Examples that are also --questions are left out",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Calibration file (default: HOME/{DEFAULT_FILE})",
)
@click.option(
    "--precision",
    default=0.95,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Target share of answered questions that are right",
)
@click.option(
    "--refusal",
    default=0.95,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Target share of out-of-scope questions refused",
)
@click.option(
    "--features",
    help="Comma-separated signals (default: top_dense,margin,lexical_agrees,word_overlap, and "
    "router_margin with --examples)",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the fit/report split")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the results as JSON")
@click.pass_context
def calibrate_faq_cmd(
    ctx: click.Context,
    faq_path: Path,
    questions: Path,
    oos_path: Path,
    examples: Path | None,
    output: Path | None,
    precision: float,
    refusal: float,
    features: str | None,
    seed: int,
    json_path: Path | None,
) -> None:
    """Fit the FAQ's confident decision on half of the questions, report the other half, write it.

    The written file is the half-fitted calibration whose held-out numbers are printed; set
    `retrieval.faq_calibration` to it and the chat and agent assist use it instead of
    `retrieval.faq_min_score`."""
    from assistant.shop import embedding_function
    from retrieval.calibration import FEATURES, ROUTER_FEATURES, CalibrationError
    from retrieval.datasets import load_intent_faq, load_labelled_questions
    from retrieval.evaluate import evaluate_calibration, faq_signals

    settings = settings_of(ctx)
    chosen_features = comma_list(features) if features else (list(ROUTER_FEATURES) if examples else None)
    unknown = [f for f in chosen_features or [] if f not in FEATURES]
    if unknown:
        raise click.BadParameter(
            f"unknown signal(s) {', '.join(unknown)}; known: {', '.join(FEATURES)}", param_hint="--features"
        )
    entries = load_intent_faq(faq_path)
    asked = load_labelled_questions(questions)
    if examples:
        from retrieval.faq_labels import with_examples

        entries, _ = with_examples(entries, load_labelled_questions(examples), (text for text, _ in asked))
    refused = read_questions(oos_path)
    if len(asked) < 2 or len(refused) < 2:
        raise click.ClickException("calibration needs at least 2 labelled and 2 out-of-scope questions")
    from tqdm import tqdm

    with tqdm(total=len(asked) + len(refused), desc="questions", disable=not sys.stderr.isatty()) as bar:
        try:
            in_scope, oos = faq_signals(
                entries, asked, refused, embedding_function(settings, faq=True), progress=bar.update
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    try:
        calibration, result = evaluate_calibration(
            in_scope,
            oos,
            features=chosen_features,
            precision=precision,
            refusal=refusal,
            fixed_threshold=settings.retrieval.faq_min_score,
            seed=seed,
        )
    except CalibrationError as exc:
        raise click.ClickException(str(exc)) from exc
    calibration.meta.update(
        faq_file=str(faq_path),
        questions_file=str(questions),
        out_of_scope_file=str(oos_path),
        examples_file=str(examples) if examples else None,
        seed=seed,
    )
    target = output or settings.home / DEFAULT_FILE
    calibration.save(target)
    rows = [
        {"rule": f"calibrated p >= {pt['threshold']}", **{k: v for k, v in pt.items() if k != "threshold"}}
        for pt in result["curve"]
    ]
    fixed = result["fixed_threshold"]
    rows.append(
        {
            "rule": f"fixed dense >= {fixed['threshold']}",
            **{k: v for k, v in fixed.items() if k != "threshold"},
        }
    )
    print_rows(rows)
    chosen, report = result["chosen"], result["report"]
    met = result["targets"]["met_on_fit"]
    click.echo(
        f"reporting half: {report['in_scope']} labelled, {report['out_of_scope']} out-of-scope questions; "
        f"top-1 accuracy {result['top1_accuracy']}"
    )
    click.echo(
        f"chosen p >= {chosen['threshold']} ({'meets' if met else 'cannot meet'} precision {precision} and "
        f"refusal {refusal} on the fitting half): answered right {chosen['coverage']}, "
        f"precision {chosen['precision']}, out-of-scope refused {chosen['oos_refused']}"
    )
    click.echo(f"wrote {target}; set retrieval.faq_calibration = {str(target)!r} to use it")
    write_json(json_path, result)


def register(cli: click.Group) -> None:
    """Add this module's commands to the main CLI."""
    cli.add_command(calibrate_faq_cmd)
