"""Typed input and output of agent assist, shared by the service, CLI, REST API and UI.

A suggestion is a reply a human agent can send after checking it: its text is rendered from data
(FAQ answer, order rows, templates), and everything the agent must still do is explicit: the
policy's required steps in order and the `{{Placeholders}}` nobody could fill from data.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Ticket(BaseModel):
    """An incoming customer message, as the help desk has it."""

    text: str = Field(max_length=20000, description="The customer's message")
    customer_id: str | None = Field(
        default=None,
        max_length=200,
        description="The customer the ticket is from (orders are shown only for them)",
    )
    order_id: str | None = Field(
        default=None, max_length=200, description="The order the ticket is about, if the help desk knows it"
    )


class Source(BaseModel):
    kind: Literal["faq", "policy", "order"]
    id: str
    title: str = ""


class Step(BaseModel):
    """One required agent action of a policy subflow (ABCD's kb action), with the guideline's words."""

    action: str = Field(description="Action id, e.g. verify-identity")
    label: str = Field(description="Button or action name as the guidelines call it")
    kind: str = Field(default="", description="kb_query, interaction or faq_policy")
    text: str = Field(default="", description="What the guidelines say to do")
    details: list[str] = Field(default_factory=list, description="The guideline's sub-points")
    slots: list[str] = Field(default_factory=list, description="What the action collects, e.g. order_id")


class Suggestion(BaseModel):
    id: str = Field(description="Suggestion id: the item_id of its feedback")
    rank: int = Field(ge=1)
    text: str = Field(description="The reply, with known placeholders filled")
    intent: str = Field(description="The FAQ entry (intent) the reply answers")
    category: str = ""
    confidence: float = Field(ge=0.0, le=1.0, description="Retriever confidence of the FAQ entry")
    sources: list[Source] = Field(default_factory=list)
    subflow: str | None = Field(default=None, description="Policy subflow id, when the intent maps to one")
    subflow_name: str = ""
    steps: list[Step] = Field(default_factory=list, description="Required agent steps, in order")
    placeholders: list[str] = Field(default_factory=list, description="Placeholders the agent must fill")
    filled: dict[str, str] = Field(default_factory=dict, description="Placeholders filled from data")
    opening_from_model: bool = Field(default=False, description="The first sentence was written by the model")
    written_by: str = Field(
        default="template",
        description="Who wrote the reply's words: 'template' (the FAQ answer as written) or the model and "
        "adapter that drafted it",
    )
    draft_problems: list[str] = Field(
        default_factory=list,
        description="What the checks found in the model's draft: why it was not used (claims the sources "
        "do not hold, off topic, late), or the sentences removed from it before it was suggested",
    )


class Suggestions(BaseModel):
    ticket_id: str
    suggestions: list[Suggestion] = Field(default_factory=list)
    no_suggestion: bool = False
    reason: str = Field(default="", description="Why nothing is suggested")
    notes: list[str] = Field(
        default_factory=list, description="Things the agent should know (orders, identity)"
    )
    threshold: float = Field(description="The min_confidence applied")
    ticket_scrubbed: str = Field(default="", description="The ticket as the retriever and model saw it")
