"""What every route of one API app shares: the shop, its metrics and the feedback store.

Routers receive this object rather than reading globals, so several apps (tests, two shops) can
live in one process, each with its own Prometheus registry.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.chat.protocol import ChatResponse
    from assistant.identity.principal import Principal
    from assistant.shop import Shop
    from assistant.stores.audit import AuditLog
    from assistant.stores.feedback import FeedbackStore

log = logging.getLogger("shopassist.api")


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


class StartUp:
    """What loading at start-up has done: `/readyz` says 'loading' until it is finished, so a load
    balancer sends no shopper to a replica that would make them wait for the model to load."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.problems: list[str] = []
        self.seconds: float | None = None

    def run(self, shop: Shop) -> None:
        start = time.perf_counter()
        try:
            self.problems = shop.warm_up()
        except Exception as exc:  # noqa: BLE001 - reported by /readyz; the routes report their own errors
            log.exception("start-up loading failed")
            self.problems = [f"start-up loading failed: {type(exc).__name__}: {exc}"]
        finally:
            self.seconds = round(time.perf_counter() - start, 2)
            self.done.set()

    def start(self, shop: Shop) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(shop,), name="shopassist-startup", daemon=True)
        thread.start()
        return thread


@dataclass
class ApiState:
    shop: Shop
    metrics: Metrics
    feedback: FeedbackStore
    audit: AuditLog
    startup: StartUp = field(default_factory=StartUp)

    def customer(self, principal: Principal, named: str | None, action: str, text: str = "") -> str | None:
        """Whose data the request may read (`identity.customer_for`); an operator naming a customer
        is written to the audit log with the order id the text mentions, if any."""
        from assistant.grounding.pii import ORDER_ID_PATTERN
        from assistant.identity.principal import customer_for

        customer = customer_for(principal, named)
        if customer is not None and principal.is_operator:
            match = ORDER_ID_PATTERN.search(text or "")
            self.audit.record(
                actor=principal.name,
                role=principal.role,
                action=action,
                customer_id=customer,
                order_id=match.group(0).upper() if match else None,
                client=principal.client,
            )
        return customer


def principal_of(request: Any) -> Principal:
    """The caller `security.Guard` identified for this request."""
    from assistant.identity.principal import Principal

    found = request.scope.get("state", {}).get("principal")
    return found if isinstance(found, Principal) else Principal(role="anonymous", name="unknown")
