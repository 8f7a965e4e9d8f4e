"""REST routes of the copy studio (`/v1/copy`), over the same service the CLI and UI use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request

from assistant.api.state import principal_of
from assistant.copystudio.protocol import CopyRequest, CopyResult
from assistant.identity.principal import require_operator

if TYPE_CHECKING:
    from assistant.api.state import ApiState


def router(state: ApiState) -> APIRouter:
    """Routes mounted under /v1 by `create_app` (authorization is applied there)."""
    from assistant.copystudio.service import CopyService

    routes = APIRouter(tags=["copy"])
    service = CopyService.for_shop(state.shop)

    @routes.post("/copy", response_model=CopyResult)
    def write_copy(body: CopyRequest, request: Request) -> CopyResult:
        """Product copy from a stored product (`product_id`) or from `attributes`, with tone, length,
        audience, language, form and personalization controls. Every claim in `text` is backed by
        the attributes; `drafts` shows what the model wrote and which of its claims were dropped."""
        principal = principal_of(request)
        require_operator(principal, "product copy")
        controls = body.controls
        customer = state.customer(principal, controls.customer_id, "copy")
        body = body.model_copy(update={"controls": controls.model_copy(update={"customer_id": customer})})
        return service.run(body)  # errors map to 400/404 by type in create_app

    return routes
