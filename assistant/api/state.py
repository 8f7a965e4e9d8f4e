"""What every route of one API app shares: the shop, its metrics and the feedback store.

Routers receive this object rather than reading globals, so several apps (tests, two shops) can
live in one process, each with its own Prometheus registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.chat.protocol import ChatResponse
    from assistant.shop import Shop
    from assistant.stores.feedback import FeedbackStore


class Metrics:
    """Domain metrics of this app (HTTP request metrics come from the instrumentator)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.turns = Counter(
            "shopassist_chat_turns",
            "Chat turns by route and action",
            ["route", "action"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "shopassist_chat_template_fallbacks",
            "Turns whose model prose was replaced by a template (verifier or model unavailable)",
            registry=self.registry,
        )
        self.first_event = Histogram(
            "shopassist_chat_first_event_seconds",
            "Time to the first streamed chat event",
            registry=self.registry,
        )
        self.feedback = Counter(
            "shopassist_feedback", "Feedback received", ["kind", "verdict"], registry=self.registry
        )

    def record_turn(self, response: ChatResponse) -> None:
        self.turns.labels(response.route, response.action).inc()
        if response.verifier.fallback:
            self.fallbacks.inc()


@dataclass
class ApiState:
    shop: Shop
    metrics: Metrics
    feedback: FeedbackStore
