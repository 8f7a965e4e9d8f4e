"""Text generation engines behind one streaming `Generator` interface."""

from assistant.generation.base import (
    ChatMessage,
    GenerationRequest,
    Generator,
    GeneratorError,
    available_generators,
    create_generator,
    generate,
    register_generator,
)

__all__ = [
    "ChatMessage",
    "GenerationRequest",
    "Generator",
    "GeneratorError",
    "available_generators",
    "create_generator",
    "generate",
    "register_generator",
]
