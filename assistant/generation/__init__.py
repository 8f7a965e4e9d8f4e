"""Text generation engines behind one streaming `Generator` interface, built by name."""

from assistant.generation.base import ChatMessage, GenerationRequest, Generator, GeneratorError, generate
from assistant.generation.factory import available_generators, create_generator, register_generator

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
