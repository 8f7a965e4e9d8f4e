"""The `Generator` seam: one streaming method, whatever runs the model.

Streaming is the contract (a reply is the join of its chunks), so the UI can show text as it
arrives and a caller that wants the whole reply just joins. This module holds only the contract;
`factory` builds engines by name, so no engine is imported by the code that merely types against it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from assistant.errors import Unavailable


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class GenerationRequest(BaseModel):
    messages: list[ChatMessage] = Field(min_length=1)
    max_new_tokens: int = Field(default=80, ge=1, le=4096)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    stop: list[str] = Field(default_factory=list, description="Stop when any of these strings is produced")
    adapter: str | None = Field(
        default=None, description="Task adapter (LoRA) name, where the engine has one"
    )
    seed: int | None = None
    repetition_penalty: float = Field(
        default=1.0,
        ge=1.0,
        le=2.0,
        description="Divide the logits of tokens already in the reply by this (1 = off); every engine "
        "applies it (vLLM and llama.cpp natively)",
    )
    no_repeat_ngram: int = Field(
        default=0,
        ge=0,
        le=10,
        description="Never repeat an n-gram of this many tokens within the reply (0 = off); engines that "
        "cannot block n-grams (vLLM) rely on repetition_penalty and the caller's repetition check",
    )
    repeat_window: int | None = Field(
        default=None,
        ge=1,
        le=4096,
        description="Tokens the repetition penalty and n-gram ban look back over (None = the whole "
        "reply). llama.cpp's window also covers the prompt's last tokens at the reply's start (its "
        "server feeds the prompt to the sampler), so a short window keeps it from penalizing the words "
        "a reply should repeat from its prompt (a product's attributes)",
    )
    pattern: str | None = Field(
        default=None,
        description="A regular expression the whole reply must match: engines that can decode under it "
        "(vLLM's structured outputs) do; the others generate freely and the caller validates",
    )


class GeneratorError(Unavailable):
    """The engine could not produce text (not loaded, endpoint down); the message says what to do."""


@runtime_checkable
class Generator(Protocol):
    name: str

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Yield the reply in chunks as they are produced."""
        ...


def close_stream(chunks: Iterator[str]) -> None:
    """Stop a generation early: the embedded engine frees its batch row when its stream is closed."""
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def decode_slots(generator: Any) -> int | None:
    """How many requests the engine decodes together: the admission limit in front of it, else the
    engine's batch size (`max_batch_size`; llama.cpp's `parallel` slots); None where it does not say
    (a remote server, the scripted engine). Callers writing several drafts at once cap them here:
    more would wait for a slot and cost their full time."""
    for name in ("max_active", "max_batch_size", "parallel"):
        value = getattr(generator, name, None)
        if isinstance(value, int) and value >= 1:
            return value
    return None


def engine_problem(generator: Generator) -> str | None:
    """Why the configured engine is not the one answering (down, or replaced by its stand-in), for a
    reply's report; None when it is. Engines without the optional `problem()` are never down."""
    problem = getattr(generator, "problem", None)
    return problem() if callable(problem) else None


def generate(generator: Generator, request: GenerationRequest) -> str:
    return "".join(generator.stream(request))
