"""REST routes of the agent assist (`/v1/suggest`), over the same service the CLI and UI use.

`POST /v1/suggest` logs what it suggests (scrubbed) in the app's feedback database, so a verdict
on a suggestion id, through `POST /v1/suggest/{id}/feedback` or the generic `POST /v1/feedback`
with kind "suggest", is tied to its ticket for the report and the training export.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from assistant.assist.protocol import Suggestions, Ticket

if TYPE_CHECKING:
    from assistant.assist.feedback import AssistFeedback
    from assistant.shop import Shop


class SuggestFeedback(BaseModel):
    verdict: Literal["accept", "edit", "reject"]
    final_text: str = Field(default="", max_length=20000, description="The reply as sent (required for edit)")
    comment: str = Field(default="", max_length=2000)


class SuggestFeedbackResponse(BaseModel):
    id: int
    verdict: str = Field(description="As stored: an edit that changed nothing counts as accept")


def router(shop: Shop) -> APIRouter:
    """Routes mounted under /v1 by `create_app` (authorization is applied there)."""
    from assistant.assist.policy import PolicyError
    from assistant.assist.service import suggest_service

    api = APIRouter(tags=["agent assist"])

    def feedback(request: Request) -> AssistFeedback:
        from assistant.assist.feedback import AssistFeedback

        return AssistFeedback(request.app.state.feedback, shop.orders)

    @api.post("/suggest", response_model=Suggestions)
    def suggest(body: Ticket, request: Request) -> Suggestions:
        """Up to `assist.max_suggestions` ranked replies for a ticket, or `no_suggestion` with the reason.

        Order facts are those of `customer_id` only: another customer's order id reads exactly like
        one that does not exist."""
        try:
            result = suggest_service(shop).run(body)
        except PolicyError as exc:
            raise HTTPException(500, f"agent policies cannot be loaded: {exc}") from exc
        feedback(request).record(result, body.customer_id)
        return result

    @api.post("/suggest/{suggestion_id}/feedback", response_model=SuggestFeedbackResponse)
    def give(suggestion_id: str, body: SuggestFeedback, request: Request) -> SuggestFeedbackResponse:
        """Accept, edit (with the text as sent) or reject a suggestion returned by `POST /v1/suggest`."""
        from assistant.assist.feedback import FeedbackError

        try:
            stored = feedback(request).give(suggestion_id, body.verdict, body.final_text, body.comment)
        except FeedbackError as exc:
            raise HTTPException(404 if "no suggestion" in str(exc) else 400, str(exc)) from exc
        request.app.state.metrics.feedback.labels("suggest", stored.verdict).inc()
        return SuggestFeedbackResponse(id=stored.id, verdict=stored.verdict)

    @api.get("/feedback/report")
    def report(
        request: Request, kind: Literal["suggest", "chat", "copy"] = Query(default="suggest")
    ) -> dict[str, object]:
        """Verdict counts and rates, overall and per intent."""
        return feedback(request).report(kind)

    return api
