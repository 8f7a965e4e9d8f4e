"""`shopassist content`: review catalogue/FAQ text that ingest flagged (and withheld, kept or rejected).

`content list` shows the queue (HOME/content_review.jsonl) with file, row, id, field and span of each
finding; `content approve KEY...|--all` remembers that exact text as approved
(HOME/content_approved.json), so the next ingest stores it unwithheld.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from assistant import errors
from assistant.cli.common import print_rows, settings_of


def _review(ctx: click.Context) -> Any:
    from retrieval.content import ContentReview

    return ContentReview(settings_of(ctx).home)


def _shown(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


@click.group("content")
def content_group() -> None:
    """Review shop content that ingest flagged: instructions to an assistant, outside links and
    e-mail addresses, HTML, markdown, invisible characters, requests for card numbers or passwords."""


@content_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the queue entries as JSON")
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the flagged fields waiting for review, one line per finding."""
    entries = _review(ctx).entries()
    if as_json:
        click.echo(json.dumps(entries, indent=2, ensure_ascii=False))
        return
    if not entries:
        click.echo("no content waiting for review")
        return
    rows = [
        {
            "key": e["key"],
            "file": Path(e["file"]).name,
            "row": e["row"],
            "id": e["id"],
            "field": e["field"],
            "kind": f["kind"],
            "span": f"{f['span'][0]}-{f['span'][1]}",
            "action": e["action"],
            "text": _shown(f["text"]),
        }
        for e in entries
        for f in e["findings"]
    ]
    print_rows(rows)
    click.echo(
        f"{len(entries)} field(s) to review; approve with `shopassist content approve KEY` "
        "(or --all), then re-ingest"
    )


@content_group.command("approve")
@click.argument("keys", nargs=-1)
@click.option("--all", "approve_all", is_flag=True, help="Approve every queued entry")
@click.option(
    "--reingest", is_flag=True, help="Re-read the approved entries' files now, so the approved text is stored"
)
@click.pass_context
def approve_cmd(ctx: click.Context, keys: tuple[str, ...], approve_all: bool, reingest: bool) -> None:
    """Approve queued entries by KEY (from `content list`; a unique prefix of 4+ characters works)."""
    if not keys and not approve_all:
        raise errors.BadInput("name the entries to approve (KEY ...) or pass --all")
    if keys and approve_all:
        raise errors.BadInput("pass either KEY ... or --all, not both")
    review = _review(ctx)
    try:
        approved = review.approve(None if approve_all else list(keys))
    except KeyError as exc:
        raise errors.NotFound(
            f"no single queued entry has the key {exc.args[0]!r}; see `shopassist content list`"
        ) from exc
    if not approved:
        click.echo("nothing to approve")
        return
    for e in approved:
        click.echo(
            f"approved {e['key']}: {e['source']} {e['id']} {e['field']} (row {e['row']} of {e['file']})"
        )
    files: dict[str, str] = {}
    for e in approved:
        files[e["source"]] = e["file"]
    if not reingest:
        command = "shopassist ingest"
        if "products" in files:
            command += f" {files['products']}"
        if "faq" in files:
            command += f" --faq {files['faq']}"
        click.echo(f"re-ingest to store the approved text: {command} (or rerun with --reingest)")
        return
    from assistant.shop import Shop

    shop = Shop(settings_of(ctx))
    products = Path(files["products"]) if "products" in files else None
    faq = Path(files["faq"]) if "faq" in files else None
    report = shop.ingest(products, faq, sources=tuple(files))
    for line in report.lines():
        click.echo(line)


def register(cli: click.Group) -> None:
    """Add this module's commands to the main CLI."""
    cli.add_command(content_group)
