"""A scripted generator for tests and demos without a model: replies are queued in order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from assistant.generation.base import GenerationRequest


class FakeGenerator:
    name = "fake"

    def __init__(
        self,
        replies: Iterable[str] = (),
        default: str | Callable[[GenerationRequest], str] = "Here is what I found.",
        chunk_size: int = 4,
    ) -> None:
        self.replies: deque[str] = deque(replies)
        self.default = default
        self.chunk_size = chunk_size
        self.requests: list[GenerationRequest] = []

    def enqueue(self, *replies: str) -> None:
        self.replies.extend(replies)

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        self.requests.append(request)
        if self.replies:
            text = self.replies.popleft()
        else:
            text = self.default(request) if callable(self.default) else self.default
        for i in range(0, len(text), self.chunk_size):
            yield text[i : i + self.chunk_size]


def from_settings_or_args(**_: Any) -> FakeGenerator:
    return FakeGenerator()
