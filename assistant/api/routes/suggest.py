"""REST routes of the agent assist (`/v1/suggest`), over the same service the CLI and UI use.

`POST /v1/suggest` logs what it suggests (scrubbed) in the app's feedback database, so a verdict
on a suggestion id, through `POST /v1/suggest/{id}/feedback` or the generic `POST /v1/feedback`
with kind "suggest", is tied to its ticket for the report and the training export.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from assistant.api.state import principal_of
from assistant.assist.protocol import Suggestions, Ticket
from assistant.identity.principal import require_operator

if TYPE_CHECKING:
    from assistant.api.state import ApiState
    from assistant.assist.feedback import AssistFeedback


class SuggestFeedback(BaseModel):
    verdict: Literal["accept", "edit", "reject"]
    final_text: str = Field(default="", max_length=20000, description="The reply as sent (required for edit)")
    comment: str = Field(default="", max_length=2000)


class SuggestFeedbackResponse(BaseModel):
    id: int
    verdict: str = Field(description="As stored: an edit that changed nothing counts as accept")


def router(state: ApiState) -> APIRouter:
    """Routes mounted under /v1 by `create_app` (authorization is applied there)."""
    shop = state.shop

    api = APIRouter(tags=["agent assist"])

    def feedback(request: Request) -> AssistFeedback:
        from assistant.assist.feedback import AssistFeedback

        return AssistFeedback(state.feedback, shop.orders)

    @api.post("/suggest", response_model=Suggestions)
    def suggest(body: Ticket, request: Request) -> Suggestions:
        """Up to `assist.max_suggestions` ranked replies for a ticket, or `no_suggestion` with the reason.

        Order facts are those of `customer_id` only: another customer's order id reads exactly like
        one that does not exist."""
        principal = principal_of(request)
        require_operator(principal, "agent assist")
        body = body.model_copy(
            update={"customer_id": state.customer(principal, body.customer_id, "suggest", body.text)}
        )
        result = shop.suggest.run(body)  # a broken policy file is a ConfigError: 500 by type
        feedback(request).record(result, body.customer_id)
        return result

    @api.post("/suggest/{suggestion_id}/feedback", response_model=SuggestFeedbackResponse)
    def give(suggestion_id: str, body: SuggestFeedback, request: Request) -> SuggestFeedbackResponse:
        """Accept, edit (with the text as sent) or reject a suggestion returned by `POST /v1/suggest`."""
        require_operator(principal_of(request), "agent assist")
        stored = feedback(request).give(suggestion_id, body.verdict, body.final_text, body.comment)
        state.metrics.feedback.labels("suggest", stored.verdict).inc()
        return SuggestFeedbackResponse(id=stored.id, verdict=stored.verdict)

    @api.get("/feedback/report")
    def report(
        request: Request, kind: Literal["suggest", "chat", "copy"] = Query(default="suggest")
    ) -> dict[str, object]:
        """Verdict counts and rates, overall and per intent."""
        require_operator(principal_of(request), "the feedback report")
        return feedback(request).report(kind)

    return api
