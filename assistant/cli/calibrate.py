"""`shopassist calibrate-faq`: fit when an FAQ match is confident, and write it to the shop home.

A fixed similarity threshold refuses many right matches and accepts some wrong ones; this fits a
small logistic regression on the shop's labelled questions against questions it must refuse, on a
fixed half of each, and reports the other half, so the numbers printed are the file's own.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
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


def target_options(command: Callable[..., None]) -> Callable[..., None]:
    """--precision and --refusal, the two targets every calibration command fits to."""
    for name, help_text in (
        ("--refusal", "Target share of out-of-scope questions refused"),
        ("--precision", "Target share of answered questions that are right"),
    ):
        command = click.option(
            name, default=0.95, show_default=True, type=click.FloatRange(0, 1), help=help_text
        )(command)
    return command


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
@target_options
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

    from retrieval.store import embedding_tag

    function = embedding_function(settings, faq=True)
    with tqdm(total=len(asked) + len(refused), desc="questions", disable=not sys.stderr.isatty()) as bar:
        try:
            in_scope, oos = faq_signals(entries, asked, refused, function, progress=bar.update)
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
        embedding=embedding_tag(function),
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


@click.command("calibrate-faq-public")
@click.option(
    "--clinc",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CLINC150's data/data_full.json (github.com/clinc/oos-eval, CC BY 3.0): test and oos_test",
)
@click.option(
    "--clinc-domains",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CLINC150's data/domains.json: each of its ten domains becomes one FAQ",
)
@click.option(
    "--banking",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="BANKING77's banking_data/test.csv (github.com/PolyAI-LDN/task-specific-datasets, CC BY 4.0)",
)
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Calibration file to write (set retrieval.faq_calibration to it)",
)
@target_options
@click.option(
    "--report-faq",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also report the calibration on this FAQ (never fitted on it); needs --report-questions and "
    "--report-out-of-scope",
)
@click.option("--report-questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--report-out-of-scope", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--seed", default=0, show_default=True, help="Seed of the BANKING77 groups and out-of-scope samples"
)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the results as JSON")
@click.pass_context
def calibrate_faq_public_cmd(
    ctx: click.Context,
    clinc: Path,
    clinc_domains: Path,
    banking: Path | None,
    output: Path,
    precision: float,
    refusal: float,
    report_faq: Path | None,
    report_questions: Path | None,
    report_out_of_scope: Path | None,
    seed: int,
    json_path: Path | None,
) -> None:
    """Fit the FAQ's confident decision on public intent sets, for a shop with no labelled questions.

    Each CLINC150 domain and each of four BANKING77 groups is one small FAQ of intent names; the
    fit pools them (finetune.faq_calibration). A calibration holds only for the embedding model it
    was fitted with, which the file records. With --report-*, the same file is scored on a labelled
    FAQ it never saw, next to the fixed retrieval.faq_min_score."""
    from assistant.shop import embedding_function
    from finetune.faq_calibration import fit_public_calibration, load_public_faqs
    from retrieval.calibration import CalibrationError, curve, operating_point
    from retrieval.datasets import load_intent_faq, load_labelled_questions
    from retrieval.evaluate import faq_signals
    from retrieval.rows import CatalogError
    from retrieval.store import embedding_tag

    reports = (report_faq, report_questions, report_out_of_scope)
    if any(reports) and not all(reports):
        raise click.UsageError("give --report-faq, --report-questions and --report-out-of-scope together")
    settings = settings_of(ctx)
    function = embedding_function(settings, faq=True)
    try:
        faqs, out_of_scope = load_public_faqs(clinc, clinc_domains, banking, seed=seed)
        calibration = fit_public_calibration(
            faqs,
            out_of_scope,
            function,
            embedding=embedding_tag(function),
            precision=precision,
            refusal=refusal,
            seed=seed,
            progress=lambda name, top1: click.echo(f"{name}: top-1 {top1}", err=True),
        )
    except (CatalogError, CalibrationError) as exc:
        raise click.ClickException(str(exc)) from exc
    result: dict[str, object] = {"fit": calibration.meta["fit"], "faqs": calibration.meta["faqs"]}
    fit = calibration.meta["fit"]
    click.echo(
        f"fitted on {len(faqs)} public FAQs: chosen p >= {fit['threshold']}, answered right {fit['coverage']}, "
        f"precision {fit['precision']}, out-of-scope refused {fit['oos_refused']}"
    )
    if report_faq and report_questions and report_out_of_scope:
        try:
            in_scope, oos = faq_signals(
                load_intent_faq(report_faq),
                load_labelled_questions(report_questions),
                read_questions(report_out_of_scope),
                function,
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        point = curve(calibration, in_scope, oos, [calibration.threshold])[0]
        fixed = settings.retrieval.faq_min_score
        baseline = operating_point(
            fixed, [(s.top_dense, right) for s, right in in_scope], [s.top_dense for s in oos]
        )
        print_rows(
            [
                {"rule": f"public calibration p >= {point['threshold']}", **point},
                {"rule": f"fixed dense >= {fixed}", **baseline},
            ]
        )
        result["report"] = {
            "faq": report_faq.name,
            "questions": len(in_scope),
            "out_of_scope": len(oos),
            "calibration": point,
            "fixed": baseline,
        }
        calibration.meta["report"] = result["report"]
    calibration.save(output)
    click.echo(f"wrote {output}; set retrieval.faq_calibration = {str(output)!r} to use it")
    write_json(json_path, result)


def register(cli: click.Group) -> None:
    """Add this module's commands to the main CLI."""
    cli.add_command(calibrate_faq_cmd)
    cli.add_command(calibrate_faq_public_cmd)
