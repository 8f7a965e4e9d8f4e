"""Shopper-facing commands: one chat turn, the chat UI, the REST API."""

from __future__ import annotations

import time
from typing import Any

import click

from assistant.cli.common import settings_of


def _print_response(response: Any) -> None:
    if response.verifier.model_unavailable:
        click.echo(f"warning: the model is unavailable ({response.verifier.model_unavailable})", err=True)
    click.echo(response.text)
    if response.citations:
        click.echo("\nsources: " + ", ".join(c.id for c in response.citations))
    click.echo(f"[action={response.action} route={response.route} confidence={response.confidence:.2f}]")


@click.command("chat")
@click.argument("message")
@click.option("--customer", help="Signed-in customer id (orders are only shown for this customer)")
@click.option("--engine", help="Generator engine for this call (embedded, fake)")
@click.option("--json", "as_json", is_flag=True, help="Print the structured response as JSON")
@click.pass_context
def chat_cmd(
    ctx: click.Context, message: str, customer: str | None, engine: str | None, as_json: bool
) -> None:
    """Ask the assistant one question and print its grounded answer."""
    from assistant.chat.protocol import ChatRequest
    from assistant.shop import Shop

    settings = settings_of(ctx, engine)
    shop = Shop(settings)
    shop.ensure_ready()
    if as_json:
        click.echo(
            shop.chat.respond(ChatRequest(message=message, customer_id=customer)).model_dump_json(indent=2)
        )
        return
    final = None
    for event in shop.chat.stream(ChatRequest(message=message, customer_id=customer)):
        if event.type == "done":
            final = event.response
    assert final is not None
    _print_response(final)


@click.command("ui")
@click.option("--host", help="Address to listen on (default from settings: 127.0.0.1)")
@click.option("--port", type=int, help="Port (default from settings: 7860)")
@click.pass_context
def ui_cmd(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Start the Gradio chat UI on the configured engine."""
    from assistant.shop import Shop
    from assistant.ui.mount import serve_ui

    settings = settings_of(ctx)
    start = time.perf_counter()
    shop = Shop(settings)
    shop.ensure_ready()
    for problem in shop.warm_up():  # load the model before the first shopper waits
        click.echo(f"shopassist: WARNING {problem}", err=True)
    host = host or settings.ui.host
    port = port or settings.ui.port
    click.echo(
        f"shopassist: model and store ready in {time.perf_counter() - start:.1f}s; "
        f"starting the UI on http://{host}:{port}",
        err=True,
    )
    serve_ui(shop, host, port)


@click.command("api")
@click.option("--host", help="Address to listen on (default from settings: 127.0.0.1)")
@click.option("--port", type=int, help="Port (default from settings: 8080)")
@click.option("--no-ui", is_flag=True, help="Serve the API alone, without the chat UI at /ui")
@click.pass_context
def api_cmd(ctx: click.Context, host: str | None, port: int | None, no_ui: bool) -> None:
    """Start the REST API (OpenAPI at /docs) with the chat UI at /ui, on one shared shop."""
    import uvicorn

    from assistant.api.app import create_app
    from assistant.shop import Shop

    settings = settings_of(ctx)
    shop = Shop(settings)
    shop.ensure_ready()
    app = create_app(shop)
    if not no_ui:
        from assistant.ui.mount import mount_apps

        app = mount_apps(app, shop, bind_host=host or settings.api.host)
    host, port = host or settings.api.host, port or settings.api.port
    click.echo(
        f"shopassist: API on http://{host}:{port} (docs at /docs{'' if no_ui else ', chat UI at /ui'})",
        err=True,
    )
    # proxy_headers off: uvicorn would otherwise take X-Forwarded-For from any local peer as the client;
    # security.Guard believes it only from api.trusted_proxies.
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)


def register(cli: click.Group) -> None:
    """Add this module's commands to the main CLI."""
    cli.add_command(chat_cmd)
    cli.add_command(ui_cmd)
    cli.add_command(api_cmd)
