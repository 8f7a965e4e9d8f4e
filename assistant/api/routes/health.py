"""`GET /healthz` (what the assistant can answer from) and `GET /metrics` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from assistant.api.protocol import Health
from assistant.api.state import ApiState


def router(state: ApiState) -> APIRouter:
    api = APIRouter(tags=["operations"])
    shop = state.shop

    @api.get("/healthz", response_model=Health)
    def healthz() -> Health:
        """Liveness plus what the assistant can answer from; `degraded` lists what is missing."""
        products = shop.index.products_collection.count()
        faq = shop.index.faq_collection.count()
        problems = []
        if not products:
            problems.append("no products stored: run `shopassist ingest`")
        if not faq:
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
