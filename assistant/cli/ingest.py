"""`shopassist ingest`: validate and load a catalogue and FAQ into the stores."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from assistant.cli.common import EXIT_REFUSED, EXIT_ROWS_SKIPPED, CommandError, settings_of


def _parse_mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"{pair!r} is not FIELD=COLUMN", param_hint="--map")
        key, value = pair.split("=", 1)
        mapping[key.strip()] = value.strip()
    return mapping


@click.command("ingest")
@click.argument("products", required=False, type=click.Path(path_type=Path))
@click.option(
    "--faq", type=click.Path(path_type=Path), help="FAQ/policy file (default: the configured or demo FAQ)"
)
@click.option("--prune", is_flag=True, help="Delete stored products that are not in the file")
@click.option("--map", "mapping", multiple=True, help="Field mapping FIELD=COLUMN, e.g. --map id=sku")
@click.option("--strict", is_flag=True, help="Store nothing if any row is invalid")
@click.option(
    "--encoding", default="utf-8-sig", show_default=True, help="Text encoding of the files, e.g. latin-1"
)
@click.option(
    "--format",
    "catalog_format",
    default="generic",
    show_default=True,
    help="Catalogue format: generic, shopify, woocommerce, google-merchant or auto (from the header); "
    "add the store currency for files whose prices name none, e.g. shopify:EUR",
)
@click.option(
    "--dry-run", is_flag=True, help="Report what would be added, updated and deleted; store nothing"
)
@click.option(
    "--fail-on-update",
    is_flag=True,
    help="Store nothing if a row would change a stored record with the same id",
)
@click.pass_context
def ingest_cmd(
    ctx: click.Context,
    products: Path | None,
    faq: Path | None,
    prune: bool,
    mapping: tuple[str, ...],
    strict: bool,
    encoding: str,
    catalog_format: str,
    dry_run: bool,
    fail_on_update: bool,
) -> None:
    """Validate and load a catalogue (default: the demo shop) into the vector store.

    The catalogue goes live whole when its ingest completes: a killed ingest leaves the previous
    one serving, and running it again resumes without embedding what was already written.

    Exit codes: 0 every row stored; 65 some rows were invalid and skipped (the good rows are stored,
    unless --strict); 2 a file has no valid row, --strict refused the files, or --fail-on-update
    found changed records (nothing stored)."""
    from tqdm import tqdm

    from assistant.shop import Shop
    from retrieval.catalog import CatalogError

    shop = Shop(settings_of(ctx))
    bar = tqdm(desc="embedding", unit="item", disable=not sys.stderr.isatty())
    try:
        report = shop.ingest(
            products,
            faq,
            prune=prune,
            mapping=_parse_mapping(mapping),
            progress=bar.update,
            strict=strict,
            encoding=encoding,
            format=catalog_format,
            dry_run=dry_run,
            fail_on_update=fail_on_update,
        )
    except CatalogError as exc:
        raise click.ClickException(f"{exc} Nothing stored was changed.") from exc
    finally:
        bar.close()
    if not (dry_run or report.refused):
        shop.ensure_demo_orders()
    for line in report.lines():
        click.echo(line)
    counts = shop.index.counts()
    held = f"{counts['products']} products and {counts['faq_documents']} FAQ documents"
    click.echo(f"dry run, nothing stored: the store holds {held}" if dry_run else f"store now holds {held}")
    if report.refused or report.empty_files:
        empty = f"no valid rows in {', '.join(report.empty_files)}" if report.empty_files else ""
        raise CommandError(report.refused or empty, EXIT_REFUSED)
    if report.skipped_rows:
        raise CommandError(
            f"{report.skipped_rows} row(s) skipped; fix them and ingest again", EXIT_ROWS_SKIPPED
        )


def register(cli: click.Group) -> None:
    """Add this module's commands to the main CLI."""
    cli.add_command(ingest_cmd)
