"""Settings of the copy studio (the `copywriter` section of shopassist.toml, SHOPASSIST_COPYWRITER__*)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator


class CopySettings(BaseModel):
    max_attempts: int = Field(
        default=2,
        ge=1,
        le=5,
        description="Model drafts per product: the first, then retries told which claims were unsupported; "
        "after them the best draft is repaired or the attribute template is used",
    )
    length_words: dict[str, tuple[int, int]] = Field(
        default_factory=lambda: {"short": (20, 50), "medium": (40, 90), "long": (80, 150)},
        description="Word range of each length control (min, max); the final copy is fitted into it",
    )
    opening_words: dict[str, int] = Field(
        default_factory=lambda: {"short": 15, "medium": 30, "long": 60},
        description="Words the model is asked for per length; facts rendered from the attributes fill the rest",
    )
    spec_count: int = Field(
        default=3,
        ge=0,
        le=20,
        description="Specifications (after brand, category, colour, material, size) that count as key "
        "attributes for coverage and the facts section",
    )
    min_model_words: int = Field(
        default=6,
        ge=1,
        le=100,
        description="A model draft shorter than this after repair is not used; the template is",
    )
    append_facts: bool = Field(
        default=True,
        description="Add the key attributes the model left out, rendered from data, so coverage does not "
        "depend on the model",
    )
    default_tone: Literal["friendly", "premium", "technical", "playful"] = Field(
        default="friendly", description="Tone when a request names none"
    )
    default_length: Literal["short", "medium", "long"] = Field(
        default="medium", description="Length when a request names none"
    )
    default_form: Literal["prose", "bullets"] = Field(
        default="prose", description="Prose or bullets when a request names none"
    )
    workers: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Products written concurrently by batch and eval (the embedded engine batches them)",
    )

    @field_validator("length_words")
    @classmethod
    def _ranges(cls, value: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        missing = {"short", "medium", "long"} - set(value)
        if missing:
            raise ValueError(
                f"length_words needs short, medium and long; missing {', '.join(sorted(missing))}"
            )
        for name, (low, high) in value.items():
            if not 0 < low < high:
                raise ValueError(
                    f"length_words.{name} must be (min, max) with 0 < min < max, got {low, high}"
                )
        return value
