"""`POST /v1/feedback`: thumbs on a reply, verdicts on suggestions and copy (stored PII-scrubbed)."""

from __future__ import annotations

from fastapi import APIRouter, Header

from assistant.api.protocol import FeedbackResponse
from assistant.api.state import ApiState
from assistant.stores.feedback import FeedbackItem


def router(state: ApiState) -> APIRouter:
    api = APIRouter(tags=["feedback"])

    @api.post("/feedback", response_model=FeedbackResponse)
    def give_feedback(
        body: FeedbackItem,
        idempotency_key: str | None = Header(
            default=None, max_length=200, description="A client retry with the same key stores one row"
        ),
    ) -> FeedbackResponse:
        """Thumbs on a reply (its `id`), or accept/edit/reject on a suggestion or product copy."""
        stored = state.feedback.add(body, idempotency_key=idempotency_key)
        state.metrics.feedback.labels(body.kind, body.verdict).inc()
        return FeedbackResponse(id=stored.id)

    return api
