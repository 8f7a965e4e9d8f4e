"""Both apps on one web server: the shopper app and the operator console, each protected its way.

`shopassist ui` (what `make run` starts) serves the shopper app at / and the console at /console;
`shopassist api` mounts them at /ui and /console beside the REST API, behind the same keys and
customer tokens (the API's `Guard` runs first there).
"""

from __future__ import annotations

from typing import Any

from assistant.identity.principal import OPERATOR_ROLES, KeyRing, is_loopback
from assistant.shop import Shop
from assistant.ui.console import build_console, console_css
from assistant.ui.shopper import CSS as SHOPPER_CSS
from assistant.ui.shopper import build_shopper

CONCURRENCY = 8


def demo_mode(shop: Shop, bind_host: str) -> bool:
    """The customer picker is for trying the shop on this machine: no API keys, loopback only."""
    return not shop.settings.api.api_keys() and is_loopback(bind_host)


def console_auth(shop: Shop) -> dict[str, Any]:
    """Gradio's auth hook for the console: a login whose password is an agent/admin API key; with
    no keys configured, requests from this machine only (no login)."""
    keys = KeyRing(shop.settings.api)
    if keys:

        def check(_username: str, password: str) -> bool:
            matched = keys.match(password.encode("utf-8"))
            return bool(matched and matched[0] in OPERATOR_ROLES)

        return {"auth": check, "auth_message": "Operator console: sign in with an agent or admin API key."}

    def local_only(request: Any) -> str | None:
        return "local operator" if is_loopback(getattr(request.client, "host", None)) else None

    return {"auth_dependency": local_only}


def mount_apps(
    app: Any, shop: Shop, *, bind_host: str, shopper_path: str = "/ui", console_path: str = "/console"
) -> Any:
    import gradio as gr

    console = build_console(shop).queue(default_concurrency_limit=CONCURRENCY)
    app = gr.mount_gradio_app(app, console, path=console_path, css=console_css(), **console_auth(shop))
    shopper = build_shopper(shop, demo=demo_mode(shop, bind_host)).queue(
        default_concurrency_limit=CONCURRENCY
    )
    return gr.mount_gradio_app(app, shopper, path=shopper_path, css=SHOPPER_CSS)


def serve_ui(shop: Shop, host: str, port: int) -> None:
    """`shopassist ui`: the shopper app at /, the console at /console."""
    import uvicorn
    from fastapi import FastAPI

    app = mount_apps(FastAPI(), shop, bind_host=host, shopper_path="/", console_path="/console")
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
