"""`GET /widget.js`: the storefront chat widget, one dependency-free script a shop adds to its pages.

The script is read once and served with a content ETag, so a shop's pages revalidate it cheaply
(304) and pick up a new version within minutes of a deploy. It is public (a script tag sends no
key): the publishable key the page carries goes on the widget's own API calls. The demo images it
shows are plain static files under `/static` (see `STATIC_DIR`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter, Request, Response

from assistant.api.state import ApiState

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
WIDGET_PATH = "/widget.js"
# Short enough that a fixed widget reaches every shop quickly; the ETag makes rechecks a 304.
CACHE_CONTROL = "public, max-age=300"


def router(state: ApiState) -> APIRouter:
    api = APIRouter(tags=["widget"])
    script = (STATIC_DIR / "widget.js").read_bytes()
    etag = f'"{hashlib.sha256(script).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"}

    @api.get(WIDGET_PATH, include_in_schema=False)
    def widget(request: Request) -> Response:
        """The `<shop-assistant>` web component; see README "Storefront widget" for the script tag."""
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(script, media_type="text/javascript; charset=utf-8", headers=headers)

    return api
