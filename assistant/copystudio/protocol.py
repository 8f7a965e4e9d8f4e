"""Request and result types of the copy studio, shared by the CLI, the REST API and the UI."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from assistant.grounding.claims import Claim

Tone = Literal["friendly", "premium", "technical", "playful"]
Length = Literal["short", "medium", "long"]
Form = Literal["prose", "bullets"]
Source = Literal["model", "repaired", "template"]
TONES: tuple[str, ...] = ("friendly", "premium", "technical", "playful")
LENGTHS: tuple[str, ...] = ("short", "medium", "long")
FORMS: tuple[str, ...] = ("prose", "bullets")


class ShopperProfile(BaseModel):
    """What personalization may use: the shopper's categories and brands (never a product fact)."""

    categories: list[str] = Field(default_factory=list, description="Categories the shopper buys or prefers")
    brands: list[str] = Field(default_factory=list, description="Brands the shopper buys or prefers")


class CopyControls(BaseModel):
    tone: Tone | None = Field(default=None, description="friendly, premium, technical or playful")
    length: Length | None = Field(
        default=None, description="short, medium or long (word ranges in copywriter.length_words)"
    )
    audience: str = Field(
        default="", max_length=200, description="Who the copy is for, in the merchant's words"
    )
    language: str = Field(
        default="en", pattern=r"^[a-z]{2}$", description="ISO 639-1 code of the language to write in"
    )
    form: Form | None = Field(default=None, description="prose or bullets")
    customer_id: str | None = Field(
        default=None, description="Personalize for this customer's profile (orders and preferences)"
    )
    profile: ShopperProfile | None = Field(
        default=None, description="Personalize for this profile (wins over customer_id)"
    )


class CopyRequest(BaseModel):
    product_id: str | None = Field(default=None, description="A product of the catalogue")
    attributes: dict[str, str] | None = Field(
        default=None, description="Or the attributes themselves (key -> value), for a product not stored"
    )
    controls: CopyControls = Field(default_factory=CopyControls)
    adapter: str | None = Field(
        default=None,
        description="Copy adapter to use: empty means the configured or newest registered one, "
        "'base' the base model",
    )

    @model_validator(mode="after")
    def _one_source(self) -> CopyRequest:
        if bool(self.product_id) == bool(self.attributes):
            raise ValueError("give either product_id or attributes (not both, not neither)")
        return self


class Draft(BaseModel):
    """One model draft as written (cleaned of preambles), with what the check found in it."""

    text: str
    word_count: int
    claims: list[Claim]
    unsupported: list[Claim]
    problems: list[str] = Field(
        default_factory=list, description="Sentences that are not copy (task talk, repetition), with why"
    )
    coverage: float
    repetition: float = Field(
        default=0.0, description="Share of the draft's word 3/4-grams that repeat an earlier one (0 = none)"
    )
    candidates: int = Field(
        default=1, description="Candidates written for this attempt; this draft ranked best among them"
    )


class CopyResult(BaseModel):
    product_id: str | None = None
    text: str = Field(description="The final copy; every claim in it is backed by the attributes")
    form: Form
    tone: Tone
    length: Length
    word_count: int
    length_range: tuple[int, int] = Field(description="Word range of the length control (min, max)")
    length_ok: bool = Field(description="Whether word_count is inside length_range")
    claims: list[Claim] = Field(description="Claims in the final copy, with their spans")
    unsupported: list[Claim] = Field(description="Unsupported claims left in the final copy (normally none)")
    coverage: float = Field(description="Share of key attributes the final copy mentions")
    mentioned: list[str] = Field(description="Key attributes the final copy mentions")
    missing: list[str] = Field(description="Key attributes the final copy leaves out")
    source: Source = Field(
        description="model: a model draft passed the check; repaired: sentences with unsupported claims "
        "were dropped; template: written from the attributes alone"
    )
    facts_added: list[str] = Field(
        default_factory=list, description="Attributes rendered from data after the model's text"
    )
    attempts: int = Field(description="Model drafts written (0 when the model was not asked)")
    candidates: int = Field(
        default=0,
        description="Model candidates written over all attempts (each draft is the best of its attempt's "
        "candidates; equal to attempts when copywriter.candidates is 1)",
    )
    drafts: list[Draft] = Field(default_factory=list, description="The model's drafts, checked")
    adapter: str | None = Field(default=None, description="The copy adapter used; empty means the base model")
    language: str = "en"
    language_note: str | None = Field(
        default=None, description="Set when the model cannot write the requested language"
    )
    personalized: list[str] = Field(
        default_factory=list, description="What of the shopper's profile shaped the wording"
    )
    model_unavailable: str | None = Field(
        default=None, description="Why the model could not be asked, when it could not"
    )
    seconds: float = Field(default=0.0, description="Time taken")
