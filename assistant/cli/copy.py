"""`shopassist copy ...` and `shopassist eval copy` (registered by assistant.cli.main)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from assistant.cli.common import comma_list, settings_of, write_json
from assistant.copystudio.protocol import FORMS, LENGTHS, TONES


def _file_service(settings: Any, paths: tuple[Path, ...]) -> Any:
    """A copy service over products read from files (Flipkart's sample or any shop catalogue),
    without the vector store: nothing is embedded."""
    from assistant.copystudio.service import CopyService
    from assistant.generation.factory import create_generator
    from finetune.data import load_copy_products

    products = {p.id: p for p in load_copy_products(paths)}
    if not products:
        raise click.ClickException(f"no products could be read from {', '.join(map(str, paths))}")
    return CopyService.from_settings(
        settings, lambda: create_generator(settings.generator.engine, settings=settings), products
    )


def _shop_service(settings: Any) -> Any:
    from assistant.copystudio.service import CopyService
    from assistant.shop import Shop

    shop = Shop(settings)
    shop.ensure_ready()
    return CopyService.for_shop(shop)


def _controls(**opts: Any) -> Any:
    from pydantic import ValidationError

    from assistant.copystudio.protocol import CopyControls

    try:
        return CopyControls(**{k: v for k, v in opts.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"--{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise click.BadParameter(problems) from exc


def _print_result(result: Any) -> None:
    if result.language_note:
        click.echo(f"note: {result.language_note}", err=True)
    if result.model_unavailable:
        click.echo(f"warning: the model is unavailable ({result.model_unavailable}); template used", err=True)
    click.echo(result.text)
    lo, hi = result.length_range
    click.echo(
        f"\n[source={result.source} words={result.word_count} ({lo}-{hi}) coverage={result.coverage:.2f} "
        f"unsupported={len(result.unsupported)} drafts={result.attempts} adapter={result.adapter or 'base'}]"
    )
    if result.missing:
        click.echo(f"not mentioned: {', '.join(result.missing)}")
    for k, draft in enumerate(result.drafts, 1):
        for claim in draft.unsupported:
            click.echo(f"draft {k} claimed {claim.text!r} ({claim.kind}): {claim.reason}")


def _table(result: dict[str, Any]) -> None:
    cols = [
        ("model", "model"),
        ("unsup_raw", "model_unsupported_rate"),
        ("unsup_final", "unsupported_rate"),
        ("cov_raw", "model_coverage"),
        ("cov_final", "coverage"),
        ("len_raw", "model_length_ok"),
        ("len_final", "length_ok"),
        ("dist2", "distinct_2"),
        ("bleu", "bleu"),
        ("rougeL", "rouge_l"),
        ("model%", "share_model"),
        ("repaired%", "share_repaired"),
        ("template%", "share_template"),
        ("no_rep4", "no_repeat_4"),
        ("cands", "candidates_per_product"),
        ("s/product", "seconds_per_product"),
        ("p50_s", "p50_seconds"),
        ("p95_s", "p95_seconds"),
    ]
    rows = [{"model": name, **metrics} for name, metrics in result["models"].items()]
    cells = [[str(r.get(key, "")) for _, key in cols] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (h, _) in enumerate(cols)]
    click.echo("  ".join(h.ljust(w) for (h, _), w in zip(cols, widths, strict=True)))
    for c in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))


def _configs(specs: tuple[str, ...]) -> dict[str, dict[str, Any]] | None:
    """`LABEL[:KEY=VALUE,...]` options as configurations of copywriter settings; values are JSON
    (numbers, true/false) or plain strings. The settings themselves validate names and ranges."""
    import json

    from assistant.config import CopySettings

    out: dict[str, dict[str, Any]] = {}
    for spec in specs:
        label, _, pairs = spec.partition(":")
        changes: dict[str, Any] = {}
        for pair in filter(None, (p.strip() for p in pairs.split(","))):
            key, sep, value = pair.partition("=")
            if not sep or key not in CopySettings.model_fields:
                known = ", ".join(sorted(CopySettings.model_fields))
                raise click.BadParameter(
                    f"{pair!r}: expected KEY=VALUE with KEY one of {known}", param_hint="--config"
                )
            try:
                changes[key] = json.loads(value)
            except json.JSONDecodeError:
                changes[key] = value
        if not label or label in out:
            raise click.BadParameter(
                f"{spec!r}: each configuration needs its own label", param_hint="--config"
            )
        out[label] = changes
    return out or None


def register(cli: click.Group) -> None:
    """Add this module's commands to the main CLI (and its evaluation to `eval`)."""
    eval_group = cli.commands["eval"]
    assert isinstance(eval_group, click.Group)

    @cli.command("copy")
    @click.argument("product_id", required=False)
    @click.option("--tone", type=click.Choice(TONES), help="friendly, premium, technical or playful")
    @click.option("--length", type=click.Choice(LENGTHS), help="Word range (copywriter.length_words)")
    @click.option("--audience", help="Who the copy is for, e.g. 'trail runners'")
    @click.option("--language", default="en", show_default=True, help="ISO 639-1 code")
    @click.option("--form", type=click.Choice(FORMS), help="Prose or bullets")
    @click.option("--customer", help="Personalize for this customer id (their profile, never new facts)")
    @click.option("--adapter", help="Copy adapter name, or 'base' (default: configured or newest registered)")
    @click.option("--engine", help="Generator engine for this call (embedded, vllm, fake)")
    @click.option("--json", "as_json", is_flag=True, help="Print the structured result as JSON")
    @click.option("--batch", is_flag=True, help="Write copy for many products into --out")
    @click.option("--category", help="Batch: only this category")
    @click.option("--brand", help="Batch: only this brand")
    @click.option("--ids", help="Batch: only these product ids, comma-separated")
    @click.option(
        "--products",
        "products_files",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Read products from this file instead of the stored catalogue (Flipkart CSV or a shop file)",
    )
    @click.option("--out", type=click.Path(path_type=Path), help="Batch output: FILE.jsonl or FILE.csv")
    @click.option("--workers", type=click.IntRange(1, 64), help="Products written at once (batching)")
    @click.pass_context
    def copy_cmd(
        ctx: click.Context,
        product_id: str | None,
        tone: str | None,
        length: str | None,
        audience: str | None,
        language: str,
        form: str | None,
        customer: str | None,
        adapter: str | None,
        engine: str | None,
        as_json: bool,
        batch: bool,
        category: str | None,
        brand: str | None,
        ids: str | None,
        products_files: tuple[Path, ...],
        out: Path | None,
        workers: int | None,
    ) -> None:
        """Write checked product copy: `copy PRODUCT_ID`, or `copy --batch --out FILE.jsonl|csv`."""
        from assistant.copystudio.batch import BatchError, CopyBatch, check_out_path, select_products
        from assistant.copystudio.protocol import CopyRequest

        if batch == bool(product_id):
            raise click.UsageError("give a PRODUCT_ID, or --batch with --out FILE (not both)")
        if batch and out is None:
            raise click.UsageError("--batch needs --out FILE.jsonl or FILE.csv")
        if not batch and (out or category or brand or ids):
            raise click.UsageError("--out, --category, --brand and --ids go with --batch")
        if out is not None:
            try:
                check_out_path(out)
            except BatchError as exc:
                raise click.BadParameter(str(exc), param_hint="--out") from exc
        controls = _controls(
            tone=tone, length=length, audience=audience, language=language, form=form, customer_id=customer
        )
        settings = settings_of(ctx, engine)
        service = _file_service(settings, products_files) if products_files else _shop_service(settings)
        if not batch:
            assert product_id is not None
            result = service.run(CopyRequest(product_id=product_id, controls=controls, adapter=adapter))
            if as_json:
                click.echo(result.model_dump_json(indent=2))
            else:
                _print_result(result)
            return
        assert out is not None
        chosen = select_products(
            service.products,
            category=category,
            brand=brand,
            ids=comma_list(ids) if ids else None,
        )
        if not chosen:
            raise click.ClickException("the filter selects no products; check --category/--brand spelling")
        runner = CopyBatch(service, out, controls=controls, adapter=adapter)
        report = runner.run(chosen, progress=sys.stderr.isatty(), workers=workers)
        if as_json:
            click.echo(report.model_dump_json(indent=2))
            return
        click.echo(
            f"{report.out}: {report.written} written, {report.skipped} unchanged (skipped), "
            f"{len(report.failed)} failed of {report.selected} selected in {report.seconds:.1f}s; "
            f"sources {report.sources}"
        )
        for pid, why in list(report.failed.items())[:10]:
            click.echo(f"  {pid}: {why}", err=True)

    @eval_group.command("copy")
    @click.option(
        "--products",
        required=True,
        multiple=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Products file(s), e.g. ../shared/data/copy/flipkart_products.csv",
    )
    @click.option(
        "--adapter", help="Copy adapter to compare with the base model (default: the newest registered)"
    )
    @click.option("--no-adapter", is_flag=True, help="Evaluate the base model only")
    @click.option(
        "--no-base",
        is_flag=True,
        help="Evaluate the adapter only (settings experiments; the base model takes most of a run's time)",
    )
    @click.option("--max-products", type=click.IntRange(min=1), help="A fixed sample of this many products")
    @click.option(
        "--split",
        type=click.Choice(["all", "heldout"]),
        default="all",
        show_default=True,
        help="heldout: only products the copy adapter did not train on",
    )
    @click.option(
        "--val-fraction", default=0.1, show_default=True, type=float, help="Must match the training split"
    )
    @click.option("--tone", type=click.Choice(TONES))
    @click.option("--length", type=click.Choice(LENGTHS))
    @click.option("--form", type=click.Choice(FORMS))
    @click.option("--engine", help="Generator engine (default: the configured one)")
    @click.option("--workers", type=click.IntRange(1, 64), help="Products written at once (batching)")
    @click.option(
        "--config",
        "configs",
        multiple=True,
        metavar="LABEL[:KEY=VALUE,...]",
        help="Run every model once per configuration of copywriter settings, same products and loaded "
        "model, e.g. --config c1 --config c3:candidates=3 --config off:repetition_penalty=1,no_repeat_ngram=0",
    )
    @click.option(
        "--records-json",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write every evaluated record (attributes, merchant text, drafts, final text, who wrote it, "
        "the checker's verdict) here, for bench/copy_faithfulness.py",
    )
    @click.option(
        "--json", "json_path", is_flag=False, flag_value="-", help="Write JSON to PATH (bare --json: stdout)"
    )
    @click.pass_context
    def eval_copy_cmd(
        ctx: click.Context,
        products: tuple[Path, ...],
        adapter: str | None,
        no_adapter: bool,
        no_base: bool,
        max_products: int | None,
        split: str,
        val_fraction: float,
        tone: str | None,
        length: str | None,
        form: str | None,
        engine: str | None,
        workers: int | None,
        configs: tuple[str, ...],
        records_json: Path | None,
        json_path: str | None,
    ) -> None:
        """Base model vs copy adapter: unsupported claims (model alone and after the check), coverage,
        length, distinct-2, BLEU/ROUGE-L against existing descriptions, outcomes, time per product."""
        from assistant.generation.adapters import AdapterRegistry
        from finetune.copy_eval import evaluate_copy, heldout_ids, sample

        settings = settings_of(ctx, engine)
        service = _file_service(settings, products)
        registry = AdapterRegistry.for_home(settings.home)
        if no_adapter and no_base:
            raise click.UsageError("--no-adapter and --no-base leave nothing to evaluate: drop one")
        variants: list[str | None] = [None]
        if not no_adapter:
            record = registry.get(adapter) if adapter else registry.for_task("copy")
            if record is not None:
                variants = [record.name] if no_base else [None, record.name]
            else:
                click.echo("no copy adapter registered: evaluating the base model only", err=True)
        pool = list(service.products.values())
        if split == "heldout":
            keep = heldout_ids(products, settings.shop.name, val_fraction)
            pool = [p for p in pool if p.id in keep]
        chosen = sample(pool, max_products)
        if not chosen:
            raise click.ClickException("no products to evaluate")
        controls = _controls(tone=tone, length=length, form=form)
        started = time.perf_counter()
        result = evaluate_copy(
            service,
            chosen,
            variants,
            controls=controls,
            workers=workers,
            progress=sys.stderr.isatty(),
            configs=_configs(configs),
            records_path=records_json,
        )
        result.update(
            {
                "products_files": [str(p) for p in products],
                "split": split,
                "engine": settings.generator.engine,
                "wall_seconds": round(time.perf_counter() - started, 1),
            }
        )
        if json_path == "-":
            write_json(Path("-"), result)
            return
        _table(result)
        click.echo(f"merchants' own texts: distinct-2 {result['merchant_distinct_2']}")
        write_json(Path(json_path) if json_path else None, result)
