"""`GET /healthz` (what the assistant can answer from) and `GET /metrics` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

from assistant import errors
from assistant.api.protocol import Health
from assistant.api.state import ApiState


def router(state: ApiState) -> APIRouter:
    api = APIRouter(tags=["operations"])
    shop = state.shop

    @api.get("/healthz", response_model=Health)
    def healthz(response: Response) -> Health:
        """Liveness plus what the assistant can answer from; `degraded` lists what is missing.
        A store that cannot be read is a 503 with the reason, never a 500."""
        problems = []
        try:
            counts = shop.index.counts()  # the live catalogue version, not every stored document
            products, faq = counts["products"], counts["faq_documents"]
        except Exception as exc:  # noqa: BLE001 - Chroma raises many types when its server is gone
            response.status_code = 503
            known = errors.dependency_error(exc, shop.settings)  # names the URL or folder, and the fix
            reason = str(known) if known else f"{type(exc).__name__}: {str(exc)[:200]}"
            problems.append(f"the vector store cannot be read ({reason})")
            products = faq = 0
        if not products and not problems:
            problems.append("no products stored: run `shopassist ingest`")
        if not faq and response.status_code != 503:
            problems.append("no FAQ entries stored: run `shopassist ingest`")
        return Health(
            status="degraded" if problems else "ok",
            products=products,
            faq_documents=faq,
            engine=shop.settings.generator.engine,
            problems=problems,
        )

    @api.get("/metrics", response_class=PlainTextResponse)
    def prometheus() -> PlainTextResponse:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return PlainTextResponse(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return api
