"""`shopassist suggest ...`, `shopassist eval suggest` and feedback reports (registered by assistant.cli.main)."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assistant.cli.common import comma_list, print_rows, settings_of, write_json

if TYPE_CHECKING:
    from assistant.assist.feedback import AssistFeedback
    from assistant.assist.protocol import Suggestions
    from assistant.config import Settings


def _feedback(settings: Settings, orders: Any = None) -> AssistFeedback:
    from assistant.assist.feedback import AssistFeedback
    from assistant.stores.feedback import FeedbackStore

    return AssistFeedback(FeedbackStore.from_settings(settings), orders)


def print_suggestions(result: Suggestions) -> None:
    """Ranked suggestions for a terminal: text, sources, confidence, steps, placeholders, ids."""
    for note in result.notes:
        click.echo(f"note: {note}")
    if result.no_suggestion:
        click.echo(f"no suggestion: {result.reason}")
        return
    for s in result.suggestions:
        policy = f"  policy: {s.subflow} ({s.subflow_name})" if s.subflow else "  policy: none mapped"
        click.echo(f"\n#{s.rank} {s.intent}  confidence {s.confidence:.2f}{policy}")
        click.echo("   sources: " + ", ".join(f"{src.kind}:{src.id}" for src in s.sources))
        click.echo("   " + "-" * 60)
        for line in s.text.splitlines():
            click.echo(f"   {line}")
        click.echo("   " + "-" * 60)
        if s.steps:
            click.echo(
                "   required steps: " + " -> ".join(f"{i}. {st.label}" for i, st in enumerate(s.steps, 1))
            )
        if s.placeholders:
            click.echo("   fill in: " + ", ".join(s.placeholders))
        if s.filled:
            click.echo("   filled from data: " + ", ".join(f"{k}={v}" for k, v in s.filled.items()))
        click.echo(f"   id: {s.id}  (shopassist feedback give {s.id} accept|edit|reject)")


@dataclass
class EvalSetup:
    service: Any
    info: dict[str, Any]


def build_eval_service(
    settings: Settings,
    faq_path: Path,
    questions: Sequence[tuple[str, str]],
    examples_path: Path | None = None,
) -> EvalSetup:
    """A suggest service over the FAQ (with example phrasings), in a store cached by content."""
    from assistant.assist.service import SuggestService
    from assistant.shop import Shop, serving_generator
    from retrieval.datasets import load_intent_faq, load_labelled_questions

    entries = load_intent_faq(faq_path)
    known = {e.id for e in entries}
    unknown = sorted({intent for _, intent in questions if intent not in known})
    if unknown:
        raise ValueError(f"{faq_path} has no entry for the questions' intent(s) {', '.join(unknown[:10])}")
    asked = {text for text, _ in questions}
    extra: dict[str, list[str]] = {}
    dropped = used = 0
    for text, intent in load_labelled_questions(examples_path) if examples_path else []:
        if text in asked:
            dropped += 1
        elif intent in known:
            extra.setdefault(intent, []).append(text)
            used += 1
    entries = [e.model_copy(update={"examples": e.examples + extra.get(e.id, [])}) for e in entries]
    digest = hashlib.sha256(json.dumps(settings.embedding.model_dump(mode="json"), sort_keys=True).encode())
    for entry in entries:
        digest.update(entry.content_hash().encode())
    key = digest.hexdigest()[:12]
    # The index lives in a home of its own, cached by content; the model and the adapters registered
    # in the user's home are the user's (`eval drafts --adapter` names one trained there).
    shop = Shop(
        settings.model_copy(update={"home": settings.home / "eval-suggest" / key}),
        generator=serving_generator(settings),
    )
    start = time.perf_counter()
    stats = shop.index.ingest_faq(entries, prune=True)
    shop.index.faq.warm_up()
    info = {
        "faq": str(faq_path),
        "examples_file": str(examples_path) if examples_path else None,
        "intents": len(entries),
        "examples": used,
        "examples_dropped_overlap": dropped,
        "router": "learned" if shop.index.faq.classifier is not None else "dense",
        "index": {
            "key": key,
            "embedded": stats.embedded,
            "cached": stats.embedded == 0,
            "seconds": round(time.perf_counter() - start, 1),
        },
    }
    return EvalSetup(SuggestService.from_shop(shop), info)


def register(cli: click.Group) -> None:
    """Add this module's commands to the main CLI (and its evaluation to `eval`)."""
    eval_group = cli.commands["eval"]
    assert isinstance(eval_group, click.Group)

    @cli.command("suggest")
    @click.argument("ticket")
    @click.option("--customer", help="Customer id of the ticket (their orders are used, nobody else's)")
    @click.option("--order", "order_id", help="Order id the ticket is about (default: one named in the text)")
    @click.option(
        "--min-confidence",
        type=click.FloatRange(0.0, 1.0),
        help="Override assist.min_confidence for this call",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the structured suggestions as JSON")
    @click.option("--no-record", is_flag=True, help="Do not log the suggestions for feedback")
    @click.pass_context
    def suggest_cmd(
        ctx: click.Context,
        ticket: str,
        customer: str | None,
        order_id: str | None,
        min_confidence: float | None,
        as_json: bool,
        no_record: bool,
    ) -> None:
        """Ranked reply suggestions for a support ticket (TICKET, or - to read it from stdin)."""
        from pydantic import ValidationError

        from assistant.assist.policy import PolicyError, load_policies, load_policy_map
        from assistant.assist.protocol import Ticket
        from assistant.assist.service import TicketError, check_ticket_text
        from assistant.shop import Shop

        text = sys.stdin.read() if ticket == "-" else ticket
        settings = settings_of(ctx)
        try:
            request = Ticket(text=text, customer_id=customer, order_id=order_id)
        except ValidationError as exc:
            raise click.BadParameter(exc.errors()[0]["msg"], param_hint="TICKET") from exc
        try:
            check_ticket_text(text, settings.assist.max_ticket_chars)  # before any model loads
            load_policies(settings.assist.policies)  # a bad policy file fails before the store opens
            load_policy_map(settings.assist.policy_map)
            shop = Shop(settings)
            shop.ensure_ready()
            result = shop.suggest.run(request, min_confidence=min_confidence)
        except PolicyError as exc:
            raise click.ClickException(f"{exc} (setting assist.policies / assist.policy_map)") from exc
        except TicketError as exc:
            raise click.BadParameter(str(exc), param_hint="TICKET") from exc
        if not no_record:
            _feedback(settings, shop.orders).record(result, customer)
        if as_json:
            click.echo(result.model_dump_json(indent=2))
        else:
            print_suggestions(result)

    @eval_group.command("drafts")
    @click.option(
        "--data",
        "data",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Replies CSV (instruction,intent,response) and the FAQ its intents name (default: Bitext's in "
        "../shared/data/cs)",
    )
    @click.option("--max-tickets", default=100, show_default=True, type=click.IntRange(min=1))
    @click.option(
        "--configs",
        default="template,adapter",
        show_default=True,
        help="Comma-separated: template (no model), base (the base model drafts), adapter (the draft adapter)",
    )
    @click.option(
        "--adapter", help="Draft adapter (default: the registered or shipped one for the base model)"
    )
    @click.option(
        "--concurrency", default=1, show_default=True, type=click.IntRange(min=1), help="Tickets at once"
    )
    @click.option("--budget-ms", type=click.IntRange(min=0), help="Override assist.draft_budget_ms")
    @click.option(
        "--examples",
        "examples_path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Labelled example phrasings added to the FAQ entries, as a shop with past tickets has them "
        "(e.g. the replies CSV: the tickets evaluated are left out); default: none (a new shop)",
    )
    @click.option(
        "--candidates",
        type=click.IntRange(1, 8),
        help="Override assist.draft_candidates (drafts written at once per suggestion, the first passing used)",
    )
    @click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the results as JSON")
    @click.pass_context
    def eval_drafts_cmd(
        ctx: click.Context,
        data: tuple[Path, ...],
        max_tickets: int,
        configs: str,
        adapter: str | None,
        concurrency: int,
        budget_ms: int | None,
        examples_path: Path | None,
        candidates: int | None,
        json_path: Path | None,
    ) -> None:
        """Model-drafted suggestions on held-out tickets: share written and checked, ROUGE-L, invented facts."""
        from assistant.cli.common import heldout
        from assistant.generation.adapters import AdapterRegistry, adapter_for_task, base_of
        from finetune.data import build_cs
        from finetune.draft_eval import CONFIGS, run_drafts
        from finetune.tasks import TASKS, draft_files

        settings = settings_of(ctx)
        chosen = comma_list(configs)
        unknown = [c for c in chosen if c not in CONFIGS]
        if unknown:
            raise click.BadParameter(f"unknown {', '.join(unknown)}; choose from {', '.join(CONFIGS)}")
        paths = list(data) or TASKS["draft"].default_data()
        replies, faq = draft_files(paths)
        examples = heldout("draft", paths, settings, 0.1, max_tickets)
        references = {e.id: e.assistant for e in build_cs(replies, settings.shop.name).examples}
        name = adapter or adapter_for_task(
            "draft", {}, AdapterRegistry.for_home(settings.home), base_of(settings)
        )
        if "adapter" in chosen and name is None:
            raise click.ClickException(
                "no draft adapter for this base model; train one with `shopassist finetune --task draft`"
            )
        setup = build_eval_service(
            settings, faq, [(e.meta["ticket"], e.meta["intent"]) for e in examples], examples_path
        )
        setup.service.settings = setup.service.settings.model_copy(update={"model_drafts": True})
        setup.service.warm_up()
        result = run_drafts(
            setup.service,
            examples,
            references,
            chosen,
            adapter=name,
            concurrency=concurrency,
            budget_ms=budget_ms,
            candidates=candidates,
        )
        result |= {
            "data": [str(p) for p in paths],
            "adapter": name,
            "concurrency": concurrency,
            "draft_candidates": setup.service.settings.draft_candidates if candidates is None else candidates,
            **setup.info,
        }
        rows = [
            {
                "config": c,
                **{
                    k: v
                    for k, v in r.items()
                    if k not in ("samples", "records", "invented_examples", "why_not_model")
                },
            }
            for c, r in result["configs"].items()
        ]
        print_rows(rows)
        for c, r in result["configs"].items():
            if r["why_not_model"]:
                click.echo(f"{c}: model text not used because {r['why_not_model']}")
        write_json(json_path, result)

    @eval_group.command("suggest")
    @click.option(
        "--faq",
        "faq_path",
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="FAQ the questions' intents name (Bitext faq.csv or the shop layout)",
    )
    @click.option(
        "--questions",
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Tickets with labels (question,intent)",
    )
    @click.option(
        "--examples",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Labelled example phrasings added to the FAQ entries (e.g. replies_train.csv); texts that are "
        "also questions are left out",
    )
    @click.option("--max-questions", type=click.IntRange(min=1), help="Evaluate a fixed random sample")
    @click.option(
        "--thresholds",
        default="0,0.3,0.4,0.5,0.6,0.7,0.8",
        show_default=True,
        help="Comma-separated confidence thresholds for the coverage/accuracy curve",
    )
    @click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the results as JSON")
    @click.pass_context
    def eval_suggest_cmd(
        ctx: click.Context,
        faq_path: Path,
        questions: Path,
        examples: Path | None,
        max_questions: int | None,
        thresholds: str,
        json_path: Path | None,
    ) -> None:
        """Top-1/top-3 intent accuracy of suggestions, coverage and accuracy at that coverage, latency."""
        from tqdm import tqdm

        from assistant.assist.evaluate import evaluate_suggest, sample
        from assistant.assist.policy import PolicyError
        from retrieval.datasets import load_labelled_questions

        try:
            cuts = [float(t) for t in comma_list(thresholds)]
        except ValueError as exc:
            raise click.BadParameter(f"{thresholds!r} is not a comma-separated list of numbers") from exc
        if not cuts or any(not 0.0 <= t <= 1.0 for t in cuts):
            raise click.BadParameter("thresholds must lie in [0, 1]", param_hint="--thresholds")
        settings = settings_of(ctx)
        try:
            asked = sample(load_labelled_questions(questions), max_questions)
            if not asked:
                raise click.ClickException(f"{questions} holds no labelled questions")
            setup = build_eval_service(settings, faq_path, asked, examples)
        except (ValueError, KeyError) as exc:
            if isinstance(exc, PolicyError):
                raise click.ClickException(f"{exc} (setting assist.policies / assist.policy_map)") from exc
            raise click.ClickException(str(exc)) from exc
        # This measures which entries are suggested; drafting their replies is `eval drafts`' job.
        setup.service.settings = setup.service.settings.model_copy(update={"model_drafts": False})
        start = time.perf_counter()
        with tqdm(total=len(asked), desc="tickets", unit="ticket", disable=not sys.stderr.isatty()) as bar:
            result = evaluate_suggest(setup.service, asked, thresholds=cuts, progress=bar.update)
        result = {
            **setup.info,
            **result,
            "questions_file": str(questions),
            "seconds": round(time.perf_counter() - start, 1),
        }

        click.echo(
            f"{result['questions']} tickets, {result['intents']} intents, {result['examples']} examples "
            f"({result['examples_dropped_overlap']} left out: also questions), router {result['router']}, "
            f"index {'cached' if result['index']['cached'] else 'built'}"
        )
        click.echo(
            f"at min_confidence {result['threshold']}: top-1 {result['top1_accuracy']}, top-3 {result['top3_accuracy']}, "
            f"coverage {result['coverage']}, accuracy at coverage {result['accuracy_at_coverage']}, "
            f"with policy steps {result['with_policy_steps']}; latency p50 {result['latency_p50_ms']} ms, "
            f"p95 {result['latency_p95_ms']} ms"
        )
        print_rows(result["curve"])
        write_json(json_path, result)

    @cli.group("feedback")
    def feedback_group() -> None:
        """Agent feedback on suggestions (and chat thumbs, copy verdicts): report, export, give."""

    @feedback_group.command("report")
    @click.option(
        "--kind",
        type=click.Choice(["suggest", "chat", "copy"]),
        default="suggest",
        show_default=True,
        help="Which surface's feedback",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON")
    @click.pass_context
    def report_cmd(ctx: click.Context, kind: str, as_json: bool) -> None:
        """Verdict counts and rates per intent (acceptance, edit and reject rates for suggestions)."""

        report = _feedback(settings_of(ctx)).report(kind)  # type: ignore[arg-type]
        if as_json:
            click.echo(json.dumps(report, indent=2))
            return
        total = report["total"]
        if not total["n"]:
            click.echo(f"no {kind} feedback yet")
            return
        rates = ", ".join(f"{k[:-5]} {v:.0%}" for k, v in total.items() if k.endswith("_rate"))
        click.echo(f"{kind}: {total['n']} verdicts ({rates})")
        print_rows(report["intents"])

    @feedback_group.command("export")
    @click.option(
        "--out",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="F.jsonl (chat examples) or F.csv (instruction,intent,category,response for `finetune --task cs`)",
    )
    @click.pass_context
    def export_cmd(ctx: click.Context, out: Path) -> None:
        """Accepted and edited suggestions with their tickets, PII-scrubbed, as fine-tuning data."""
        from assistant.stores.orders import OrderStore

        settings = settings_of(ctx)
        orders = OrderStore.from_settings(settings)
        stats = _feedback(settings, orders).export(out, settings.shop.name)
        extra = ", ".join(f"{k} {v}" for k, v in stats.items() if k not in ("path", "written"))
        click.echo(f"wrote {stats['written']} examples to {out}" + (f" ({extra})" if extra else ""))

    @feedback_group.command("give")
    @click.argument("suggestion_id")
    @click.argument("verdict", type=click.Choice(["accept", "edit", "reject"]))
    @click.option("--text", "final_text", default="", help="The reply as sent (required for edit)")
    @click.option("--comment", default="", help="Why, in a few words")
    @click.pass_context
    def give_cmd(ctx: click.Context, suggestion_id: str, verdict: str, final_text: str, comment: str) -> None:
        """Record an agent's verdict on a suggestion shown by `shopassist suggest`."""
        from assistant.assist.feedback import FeedbackError
        from assistant.stores.orders import OrderStore

        settings = settings_of(ctx)
        orders = OrderStore.from_settings(settings)
        try:
            stored = _feedback(settings, orders).give(suggestion_id, verdict, final_text, comment)  # type: ignore[arg-type]
        except FeedbackError as exc:
            raise click.BadParameter(str(exc), param_hint="SUGGESTION_ID / --text") from exc
        click.echo(f"stored feedback #{stored.id}: {stored.verdict} on {suggestion_id} ({stored.intent})")
