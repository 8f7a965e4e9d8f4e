"""The grounded chat turn: route, retrieve, render facts from data, let the model phrase, verify.

Facts (cards, policy text, order rows) are rendered from data by templates. The model writes only
an introductory sentence, streamed sentence by sentence and checked against the cited sources
before the customer sees it; unsupported text is dropped, retried once, and otherwise replaced by
a template sentence. When nothing relevant is found, the reply says so and offers a person.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

import prompts
from assistant.generation.base import ChatMessage, GenerationRequest, Generator, GeneratorError
from assistant.orders import OrderStore
from assistant.protocol import (
    Action,
    ChatEvent,
    ChatRequest,
    ChatResponse,
    Citation,
    ProductCard,
    Route,
    VerifierReport,
)
from assistant.verify import split_sentences, verify
from retrieval.filters import FilterError
from retrieval.index import ShopIndex

log = logging.getLogger("shopassist.chat")

_HANDOFF = re.compile(
    r"\b(?:human|real person|an? (?:agent|representative|person)|customer service rep|speak to (?:someone|somebody)|"
    r"talk to (?:someone|somebody|a person)|live agent|operator)\b",
    re.I,
)
_ORDER_ID = re.compile(r"\b[A-Z]{2,4}-ORD-\d{3,}\b", re.I)
_ORDER_STATUS = re.compile(
    r"\b(?:where(?:'s| is) my (?:order|package|parcel|stuff|delivery)|order status|status of my order|"
    r"track(?:ing)? (?:my )?(?:order|package|parcel)|my orders?\b(?! to)|has my order|when will my order)",
    re.I,
)


class InputError(ValueError):
    """The customer's message cannot be processed; the text says what to change."""


@dataclass
class _Plan:
    route: Route
    action: Action
    confidence: float
    products: list[ProductCard]
    citations: list[Citation]
    facts: str  # rendered from data, shown after the intro
    intro_kind: str | None  # "products" or "faq": the model writes an intro; None means no model prose
    fallback_intro: str
    sources: list[str]
    question: str


class ChatService:
    """One turn at a time; the UI, CLI and API all call `stream` (or `respond`)."""

    def __init__(
        self,
        index: ShopIndex,
        generator: Generator,
        orders: OrderStore,
        *,
        shop_name: str = "our shop",
        top_k: int = 4,
        product_min_score: float = 0.3,
        max_message_chars: int = 2000,
        max_new_tokens: int = 60,
        temperature: float = 0.0,
    ) -> None:
        self.index = index
        self.generator = generator
        self.orders = orders
        self.shop_name = shop_name
        self.top_k = top_k
        self.product_min_score = product_min_score
        self.max_message_chars = max_message_chars
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature

    # -- public ----------------------------------------------------------------------------------
    def respond(self, request: ChatRequest) -> ChatResponse:
        for event in self.stream(request):
            if event.type == "done" and event.response is not None:
                return event.response
        raise RuntimeError("chat stream ended without a response")

    def stream(self, request: ChatRequest) -> Iterator[ChatEvent]:
        message = self.check_message(request.message)
        plan = self._plan(message, request)
        if plan.products:
            yield ChatEvent(type="products", products=plan.products)
        report = VerifierReport()
        intro = plan.fallback_intro
        if plan.intro_kind is not None:
            streamed: list[str] = []
            for sentence in self._verified_intro(plan, report):
                streamed.append(sentence)
                yield ChatEvent(type="delta", delta=sentence + " ")
            if streamed:
                intro = " ".join(streamed)
            else:
                report.fallback = True
                yield ChatEvent(type="delta", delta=intro)
        elif intro:
            yield ChatEvent(type="delta", delta=intro)
        body = f"\n\n{plan.facts}" if plan.facts else ""
        if body:
            yield ChatEvent(type="delta", delta=body)
        response = ChatResponse(
            text=(intro + body).strip(),
            action=plan.action,
            route=plan.route,
            confidence=round(max(0.0, min(1.0, plan.confidence)), 3),
            products=plan.products,
            citations=plan.citations,
            verifier=report,
        )
        yield ChatEvent(type="done", response=response)

    def check_message(self, message: str) -> str:
        text = (message or "").strip()
        if not text:
            raise InputError(
                "The message is empty: please type a question, e.g. 'waterproof boots under 100'."
            )
        if len(text) > self.max_message_chars:
            raise InputError(
                f"The message is {len(text):,} characters long; the limit is {self.max_message_chars:,}. "
                "Please shorten it to the question itself."
            )
        return text

    # -- routing and facts ---------------------------------------------------------------------
    def _plan(self, message: str, request: ChatRequest) -> _Plan:
        if _HANDOFF.search(message):
            return self._simple("handoff", "handoff", 1.0, prompts.render("handoff", shop=self.shop_name))
        if _ORDER_ID.search(message) or _ORDER_STATUS.search(message):
            return self._order_plan(message, request.customer_id)
        try:
            products = self.index.products.run(message, top_k=self.top_k, filters=request.filters)
        except FilterError as exc:
            return self._simple("products", "answer", 0.0, f"I can't apply that filter: {exc}.")
        faq = self.index.faq.run(message, top_k=3)
        faq_best = faq.best
        product_score = products.confidence if products.hits else 0.0
        wants_products = bool(products.query.matched) or not products.filters.is_empty()
        if (
            faq_best is not None
            and (faq_best.dense >= product_score or not products.hits)
            and not wants_products
        ):
            return self._faq_plan(message, faq_best)
        if products.hits and product_score >= self.product_min_score:
            return self._products_plan(message, products)
        if wants_products and not products.hits:
            text = prompts.render(
                "no_products", query=products.query.text, filters=products.filters.describe()
            )
            return self._simple("products", "answer", 0.0, text)
        if faq_best is not None:
            return self._faq_plan(message, faq_best)
        return self._simple(
            "unknown",
            "refuse",
            max(product_score, faq.hits[0].dense if faq.hits else 0.0),
            prompts.render("refuse", shop=self.shop_name),
        )

    def _simple(self, route: Route, action: Action, confidence: float, text: str) -> _Plan:
        return _Plan(route, action, confidence, [], [], "", None, text, [], "")

    def _products_plan(self, message: str, results: object) -> _Plan:
        from retrieval.search import ProductResults

        assert isinstance(results, ProductResults)
        cards = [ProductCard.from_hit(h) for h in results.hits]
        lines = []
        for c in cards:
            extras = ", ".join(x for x in (c.color, c.size, c.material) if x)
            stock = "" if c.in_stock else " (out of stock)"
            rating = f", rated {c.rating:g}/5" if c.rating is not None else ""
            lines.append(f"- **{c.title}** by {c.brand}: {c.price_text()}{rating}{stock}; {extras} [{c.id}]")
        return _Plan(
            route="products",
            action="answer",
            confidence=results.confidence,
            products=cards,
            citations=[Citation(id=c.id, kind="product", title=c.title) for c in cards],
            facts="\n".join(lines),
            intro_kind="products",
            fallback_intro=prompts.render(
                "fallback_products", count=len(cards), filters=results.filters.describe()
            ),
            sources=[c.facts() for c in cards] + [message],
            question=message,
        )

    def _faq_plan(self, message: str, hit: object) -> _Plan:
        from retrieval.search import FAQHit

        assert isinstance(hit, FAQHit)
        entry = hit.entry
        return _Plan(
            route="faq",
            action="answer",
            confidence=hit.dense,
            products=[],
            citations=[Citation(id=entry.id, kind="faq", title=entry.question)],
            facts=f"{entry.answer} [{entry.id}]",
            intro_kind="faq",
            fallback_intro=prompts.render("fallback_faq"),
            sources=[entry.question, entry.answer, message],
            question=message,
        )

    def _order_plan(self, message: str, customer_id: str | None) -> _Plan:
        if not customer_id or self.orders.customer(customer_id) is None:
            return self._simple("order", "answer", 1.0, prompts.render("order_sign_in"))
        match = _ORDER_ID.search(message)
        if match:
            order = self.orders.order_for(customer_id, match.group(0))
            if order is None:
                return self._simple(
                    "order", "answer", 1.0, prompts.render("order_not_found", order_id=match.group(0).upper())
                )
            orders = [order]
        else:
            orders = self.orders.orders_for(customer_id)
            if not orders:
                return self._simple("order", "answer", 1.0, prompts.render("no_orders"))
        facts = prompts.render("order_status", orders=orders, currency="USD")
        plan = self._simple("order", "answer", 1.0, "Here is what I see on your account:")
        plan.facts = facts
        plan.citations = [Citation(id=o.order_id, kind="order", title=f"Order {o.order_id}") for o in orders]
        return plan

    # -- the model's part ----------------------------------------------------------------------
    def _names(self) -> list[str]:
        search = self.index.products
        search.warm_up()
        return list(search.schema.brands.values())

    def _verified_intro(self, plan: _Plan, report: VerifierReport) -> Iterator[str]:
        """Yield the model's sentences that pass the verifier; retry once if the first one fails."""
        assert plan.intro_kind is not None
        names = self._names()
        report.checked = True
        messages = prompts.render_messages(
            "intro",
            system=prompts.render("system", shop=self.shop_name),
            kind=plan.intro_kind,
            question=plan.question,
        )
        for attempt in range(2):
            request = GenerationRequest(
                messages=[ChatMessage.model_validate(m) for m in messages],
                max_new_tokens=self.max_new_tokens,
                temperature=self.temperature if attempt == 0 else max(self.temperature, 0.7),
                seed=attempt,
            )
            emitted = 0
            buffer = ""
            try:
                chunks = self.generator.stream(request)
                for chunk in chunks:
                    buffer += chunk
                    done, buffer = split_sentences(buffer)
                    for sentence in done:
                        if not self._accept(sentence, plan, names, report):
                            return
                        emitted += 1
                        yield sentence.strip()
                        if emitted >= 2:
                            return
                tail = buffer.strip()
                if tail and emitted < 2 and tail[-1:] in ".!?" and self._accept(tail, plan, names, report):
                    emitted += 1
                    yield tail
            except GeneratorError as exc:
                log.warning("generator failed, using the template sentence: %s", exc)
                return
            if emitted:
                return
            # Nothing usable in the first attempt (empty, or the first sentence failed): retry once.

    @staticmethod
    def _accept(sentence: str, plan: _Plan, names: list[str], report: VerifierReport) -> bool:
        verdict = verify(sentence, plan.sources, names, closed_vocabulary=True)
        if not verdict.ok:
            report.unsupported += verdict.unsupported
            return False
        return len(sentence.split()) <= 40
