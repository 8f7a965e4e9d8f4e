"""Typed requests, responses and stream events shared by the CLI, the UI and the API.

Control signals (the action, what was cited, the route) are fields of these objects; no caller
ever parses them out of the reply text.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

import prompts
from assistant.chat.followup import ConversationState
from retrieval.filters import Filters
from retrieval.search import ProductHit

Action = Literal["answer", "refuse", "handoff"]
Route = Literal["products", "faq", "order", "handoff", "smalltalk", "unknown"]


class ChatRequest(BaseModel):
    message: str = Field(description="The customer's message")
    customer_id: str | None = Field(
        default=None, description="The signed-in customer; the only key to orders"
    )
    filters: Filters | None = Field(
        default=None, description="Filters chosen in the UI; they win over parsed ones"
    )
    state: ConversationState | None = Field(
        default=None,
        description="The `state` of the previous response, sent back so follow-ups ('cheaper ones?', "
        "'the second one') refer to what was shown",
    )
    show: Literal["text", "cards"] = Field(
        default="text",
        description="'cards': the client renders the product cards itself (the storefront widget), so "
        "the reply text leaves out one line per card and says what they are; 'text': every fact in the text",
    )


class ProductCard(BaseModel):
    id: str
    title: str
    price: float | None = Field(description="None when the catalogue lists no price")
    currency: str
    brand: str = ""
    category: str = ""
    color: str = ""
    size: str = ""
    material: str = ""
    rating: float | None = None
    in_stock: bool = True
    url: str = Field(default="", description="The product's page on the shop, when the catalogue has one")
    image_url: str = Field(default="", description="The product's image, when the catalogue has one")
    reasons: list[str] = Field(default_factory=list)

    @classmethod
    def from_hit(cls, hit: ProductHit) -> ProductCard:
        shared = cls.model_fields.keys() & type(hit.product).model_fields.keys()
        return cls(
            **hit.product.model_dump(include=shared), in_stock=hit.product.in_stock, reasons=hit.reasons
        )

    def price_text(self, locale: str | None = None) -> str:
        """The price as `locale` writes it ("¥1,299.00"); English, the default, "1299.00 CNY"."""
        return prompts.money(self.price, self.currency, locale or "en")

    def facts(self) -> str:
        """The card as one line of text: what the model's prose is verified against."""
        bits = [
            self.title,
            self.brand,
            self.category,
            self.price_text(),
            self.color,
            self.size,
            self.material,
        ]
        if self.rating is not None:
            bits.append(f"rated {self.rating:g}")
        return " | ".join(b for b in bits if b)


class Citation(BaseModel):
    id: str
    kind: Literal["product", "faq", "order"]
    title: str


class Suggestion(BaseModel):
    """A FAQ entry the shopper may have meant, offered when no entry matched confidently: asking its
    `question` gets that entry's answer. Never an answer in itself (nothing is asserted)."""

    id: str
    question: str


class VerifierReport(BaseModel):
    checked: bool = False
    unsupported: list[str] = Field(default_factory=list, description="Spans of model text not in the sources")
    fallback: bool = Field(
        default=False, description="True when the model's prose was replaced by a template"
    )
    model_unavailable: str | None = Field(
        default=None,
        description="Why the model wrote nothing (e.g. its server is down) and what to do; the reply "
        "used template sentences, so its facts are still grounded",
    )
    over_budget: bool = Field(
        default=False,
        description="The model's sentence did not arrive within shop.model_budget_ms, so the turn ended "
        "without it (the facts were complete; the shopper never waits for optional text)",
    )


class ModelUse(BaseModel):
    """Which model did what in this turn: who understood the message, who wrote the closing text."""

    understood_by: str = Field(
        default="rules",
        description="'rules', or 'ADAPTER on BASE' when the rewrite adapter's intent was used",
    )
    intent: str | None = Field(default=None, description="The rewrite adapter's intent line, if used")
    rewrite_fallback: str | None = Field(
        default=None,
        description="Why the rules answered instead of the rewrite adapter (late, invalid, down)",
    )
    written_by: str | None = Field(
        default=None,
        description="'ADAPTER on BASE' (or the base alone) for the verified model text shown; None: none shown",
    )
    text_skipped: str | None = Field(
        default=None,
        description="Why the model was not asked for its sentence (it does not write the customer's "
        "language, generator.languages): the reply is the shop's data and templates alone",
    )


class ChatResponse(BaseModel):
    id: str = Field(
        default_factory=lambda: uuid.uuid4().hex, description="Reply id, the key for feedback on it"
    )
    text: str
    action: Action
    route: Route
    confidence: float = Field(ge=0.0, le=1.0)
    products: list[ProductCard] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    suggestions: list[Suggestion] = Field(
        default_factory=list,
        description="With a refusal: FAQ entries the question came close to (retrieval.faq_suggest_min_score), "
        "as questions the shopper can ask next; empty otherwise",
    )
    verifier: VerifierReport = Field(default_factory=VerifierReport)
    state: ConversationState = Field(
        default_factory=ConversationState, description="Send this back with the next message"
    )
    model: ModelUse = Field(default_factory=ModelUse, description="Which model understood and wrote what")
    locale: str = Field(
        default="en",
        description="The language the reply's templates are in (ISO 639-1; 'en' without a catalogue)",
    )
    request: dict[str, Any] | None = Field(
        default=None, description="The standalone request the turn executed (op, query, filters, product ids)"
    )


class ChatEvent(BaseModel):
    """One streamed piece of a reply: cards first, then text deltas, then the whole response."""

    type: Literal["products", "delta", "done"]
    products: list[ProductCard] = Field(default_factory=list)
    delta: str = ""
    response: ChatResponse | None = None
