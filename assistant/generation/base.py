"""The `Generator` seam: one streaming method, whatever runs the model.

Streaming is the contract (a reply is the join of its chunks), so the UI can show text as it
arrives and a caller that wants the whole reply just joins. Engines register by name, so adding
one (vLLM over its OpenAI API, say) is a new module, not a new branch in the callers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field


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


class GeneratorError(RuntimeError):
    """The engine could not produce text (not loaded, endpoint down); the message says what to do."""


@runtime_checkable
class Generator(Protocol):
    name: str

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Yield the reply in chunks as they are produced."""
        ...


def generate(generator: Generator, request: GenerationRequest) -> str:
    return "".join(generator.stream(request))


GeneratorFactory = Callable[..., Generator]
_REGISTRY: dict[str, GeneratorFactory] = {}


def register_generator(name: str) -> Callable[[GeneratorFactory], GeneratorFactory]:
    def wrap(factory: GeneratorFactory) -> GeneratorFactory:
        _REGISTRY[name] = factory
        return factory

    return wrap


def available_generators() -> list[str]:
    _import_builtin()
    return sorted(_REGISTRY)


def create_generator(name: str, **kwargs: Any) -> Generator:
    """Build a registered engine by name; unknown names list the known ones."""
    _import_builtin()
    if name not in _REGISTRY:
        raise GeneratorError(f"unknown generator engine {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**kwargs)


def _import_builtin() -> None:
    # The modules register themselves on import; none imports torch at module level.
    from assistant.generation import embedded, fake, openai_compat  # noqa: F401
