"""The grounded chat turn: route, retrieve, render facts from data, let the model phrase, verify.

Facts (cards, policy text, order rows) are rendered from data by templates. The model writes only
an introductory sentence, streamed sentence by sentence and checked against the cited sources
before the customer sees it; unsupported text is dropped, retried once, and otherwise replaced by
a template sentence. When nothing relevant is found, the reply says so and offers a person.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

import prompts
from assistant.chat.followup import ConversationState, resolve_followup
from assistant.chat.protocol import (
    Action,
    ChatEvent,
    ChatRequest,
    ChatResponse,
    Citation,
    ModelUse,
    ProductCard,
    Route,
    Suggestion,
    VerifierReport,
)
from assistant.chat.routing import Decision, PolicyProductRouter
from assistant.chat.understanding import (
    INTENT_PATTERN,
    IntentError,
    TurnRequest,
    from_followup,
    parse_intent,
    resolve,
    shown_records,
    state_lines,
)
from assistant.errors import BadInput, Unavailable
from assistant.generation.admission import DeadlineExceeded, carry_scope
from assistant.generation.base import (
    ChatMessage,
    GenerationRequest,
    Generator,
    GeneratorError,
    close_stream,
    engine_problem,
)
from assistant.grounding.answers import ANSWER_WORDS, check_answer
from assistant.grounding.language import detect_language
from assistant.grounding.logs import LOG_KINDS
from assistant.grounding.pii import ORDER_ID_PATTERN, scrub
from assistant.grounding.verify import split_sentences, verify
from assistant.stores.orders import OrderSource
from assistant.stores.profiles import Profile, build_profile, recommend, rerank
from prompts.tasks import answer_facts, answer_messages, rewrite_messages
from retrieval.filters import FilterError, Filters
from retrieval.index import ShopIndex
from retrieval.languages import message_language, normalize_locale
from retrieval.search import ProductResults
from retrieval.text import tokenize

if TYPE_CHECKING:
    from assistant.config import Settings

log = logging.getLogger("shopassist.chat")

# Control phrases per language the shop may speak (English, Chinese, German): a handoff or an
# order question is recognised in the customer's own words. Chinese has no word boundaries, so its
# alternatives stand outside the \b groups.
_HANDOFF = re.compile(
    r"\b(?:human|real person|an? (?:agent|representative|person)|customer service rep|speak to (?:someone|somebody)|"
    r"talk to (?:someone|somebody|a person)|live agent|operator"
    r"|mit einem (?:menschen|mitarbeiter(?:in)?)|echten person|kundendienst sprechen)\b"
    r"|转人工|人工客服|人工服务|真人|找客服|联系客服|工作人员",
    re.I,
)
_ORDER_ID = ORDER_ID_PATTERN
_ORDER_STATUS = re.compile(
    r"\b(?:where(?:'s| is) my (?:order|package|parcel|stuff|delivery)|order status|status of my order|"
    r"track(?:ing)? (?:my )?(?:order|package|parcel)|my orders?\b(?! to)|has my order|when will my order"
    # "when's my headlamp coming?": something of theirs on its way
    r"|when(?:'s| is| will| does| do| are) my \w+(?: \w+){0,3}? (?:come|coming|arriv\w*|get here|ship\w*|"
    r"be (?:here|delivered)|deliver\w*)"
    r"|meine bestellung(?:en)?|bestellstatus|wo (?:ist|bleibt) mein(?:e)? (?:paket|bestellung|lieferung)"
    r"|sendungsverfolgung)"
    r"|我的(?:订单|快递|包裹)|订单状态|查(?:询|一下|下)?(?:我的)?订单|订单(?:到哪|什么时候到)"
    r"|物流(?:信息|状态|到哪)|(?:快递|包裹)(?:到哪|到了吗|什么时候到)",
    re.I,
)


_RECOMMEND = re.compile(r"\b(?:recommend\w*|suggest\w*|pick)\b|\bsomething for me\b", re.I)
_RECOMMEND_WORDS = frozenset(
    re.findall(
        r"\w+",
        """recommend recommends recommendation recommendations suggest suggestion suggestions pick can could
        would you please me for something anything some a an what do should i buy get to like might
        products product items item good nice""",
    )
)


_SMALLTALK = re.compile(
    r"\s*(?:(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening))(?: there)?|thanks?(?: you)?(?: so much| a lot)?|"
    r"thx|cheers|ok(?:ay)?,? thanks?|great,? thanks?|perfect|awesome|bye|goodbye|see you|good ?night"
    r"|hallo|guten (?:morgen|tag|abend)|danke(?: schön| sehr)?|vielen dank|tschüss|auf wiedersehen"
    r"|你好|您好|嗨|谢谢(?:你|您)?|多谢|好的[，,]?谢谢|再见|拜拜)"
    r"[\s!.,:)！。，~～]*",
    re.I,
)
_THANKS = re.compile(r"thank|cheers|great|perfect|awesome|danke|dank|谢", re.I)
_BYE = re.compile(r"bye|see you|good ?night|tschüss|wiedersehen|再见|拜拜", re.I)


def _names_a_product(message: str, products: ProductResults) -> bool:
    """A short statement whose every word is in the top product's title ("running shoes") is a
    product search, even when a policy entry about that kind of product is close in meaning."""
    words = set(tokenize(products.query.text))
    if not products.hits or not words or len(words) > 3 or "?" in message:
        return False
    return words <= set(tokenize(products.hits[0].product.title))


class InputError(BadInput):
    """The customer's message cannot be processed; the text says what to change."""

    kind = "invalid_message"


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
    state: ConversationState | None = None  # set by product turns: what a follow-up refers to
    answer: _Answer | None = None  # what the answer adapter is asked, where the turn has one
    request: TurnRequest | None = None  # what the turn understood the message as
    suggestions: list[Suggestion] = field(default_factory=list)  # FAQ entries offered with a refusal


@dataclass
class _Answer:
    """What the answer adapter is asked: the kind of answer, the records it may talk about, the list a
    superlative ranges over, and the fact lines it is shown (rendered from those records)."""

    kind: str
    about: list[Any]
    shown: list[Any]
    facts: list[str]
    subject: Any = None  # the one card shown with the answer, what "it" means
    states: str | None = None  # the value an attribute answer must state (from the record)


def _asked_value(product: Any, attribute: str | None) -> str | None:
    """The record's value of the attribute a question asks about, as an answer would state it."""
    if attribute == "price":
        return f"{product.price:.2f}" if product.price is not None else None
    if attribute == "rating":
        return f"{product.rating:g}" if product.rating is not None else None
    value = getattr(product, attribute, None) if attribute else None
    return str(value) if value else None


@dataclass
class _Understood:
    request: TurnRequest
    use: ModelUse


_ORDER_FOLLOWUP = re.compile(
    r"\b(?:arriv\w*|deliver\w*|ship\w*|track\w*|carrier|get here|on (?:its|the) way|where is it|"
    r"when(?:'s| is| are| (?:can|will|does))|coming|eta|status|update|any news)\b",
    re.I,
)


# Closing sentences run here so a turn can stop waiting for them (shop.model_budget_ms).
_MODEL_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="chat-model")


class ChatOptions(BaseModel):
    """What a chat service is configured with: one typed object, built from `Settings` by the shop."""

    model_config = ConfigDict(frozen=True)

    shop_name: str = "our shop"
    top_k: int = Field(default=4, ge=1, description="Product cards per turn")
    product_min_score: float = Field(
        default=0.3, description="Below this product confidence the turn refuses"
    )
    faq_suggest_min_score: float = Field(
        default=0.4, description="A refusal offers the FAQ entries whose similarity reaches this as questions"
    )
    max_message_chars: int = Field(default=2000, ge=1)
    max_new_tokens: int = Field(default=60, ge=1, description="Longest model sentence in a turn (tokens)")
    temperature: float = 0.0
    adapter: str | None = Field(default=None, description="The customer-service (cs) LoRA adapter, if any")
    redact_model_input: bool = True
    languages: tuple[str, ...] = ("en",)
    locales: tuple[str, ...] = Field(
        default=("en",), description="The shop's languages (shop.locales): replies render in one of them"
    )
    facts_first: bool = True
    model_budget_ms: int | None = Field(
        default=None, description="Wait at most this long for the closing sentence"
    )
    rewrite_adapter: str | None = Field(
        default=None, description="The rewrite task adapter (follow-up understanding); None: rules only"
    )
    answer_adapter: str | None = Field(
        default=None, description="The answer task adapter (short answers from facts); None: the cs prompt"
    )
    rewrite_budget_ms: int | None = Field(
        default=None, description="Wait at most this long for the rewrite adapter, then use the rules"
    )
    base_model: str = Field(default="", description="The base model's name, reported with each adapter")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        adapter: str | None = None,
        *,
        rewrite_adapter: str | None = None,
        answer_adapter: str | None = None,
        base_model: str = "",
    ) -> ChatOptions:
        s = settings
        return cls(
            shop_name=s.shop.name,
            top_k=s.retrieval.top_k,
            product_min_score=s.retrieval.product_min_score,
            faq_suggest_min_score=s.retrieval.faq_suggest_min_score,
            max_message_chars=s.shop.max_message_chars,
            max_new_tokens=s.generator.chat_sentence_tokens,
            temperature=s.generator.temperature,
            redact_model_input=s.shop.redact_model_input,
            languages=tuple(s.generator.languages),
            locales=tuple(s.shop.locales or [s.shop.demo]),
            facts_first=s.shop.facts_first,
            model_budget_ms=s.shop.model_budget_ms,
            rewrite_budget_ms=s.shop.rewrite_budget_ms,
            adapter=adapter,
            rewrite_adapter=rewrite_adapter,
            answer_adapter=answer_adapter,
            base_model=base_model,
        )


class ChatService:
    """One turn at a time; the UI, CLI and API all call `stream` (or `respond`)."""

    def __init__(
        self, index: ShopIndex, generator: Generator, orders: OrderSource, options: ChatOptions | None = None
    ) -> None:
        options = options or ChatOptions()
        self.options = options
        self.index = index
        self.languages = set(options.languages)
        self.locales = [normalize_locale(x) for x in options.locales] or ["en"]
        self.generator = generator
        self.orders = orders
        self.shop_name = options.shop_name
        self.top_k = options.top_k
        self.product_min_score = options.product_min_score
        self.faq_suggest_min_score = options.faq_suggest_min_score
        self.max_message_chars = options.max_message_chars
        self.max_new_tokens = options.max_new_tokens
        self.temperature = options.temperature
        self.redact_model_input = options.redact_model_input
        self.adapter = options.adapter  # the customer-service task adapter (see adapters.adapter_for_task)
        # Facts first: the data-rendered answer streams at once and the model's sentence closes it,
        # so a slow CPU model never delays what the customer came for. Off: the model introduces.
        self.facts_first = options.facts_first
        # Messages naming a product or brand: a policy answer or that one product's (routing.py).
        self.router = PolicyProductRouter(
            lambda: self.index.products.products,
            self._faq_entries,
            lambda text: self.index.faq.run(text, top_k=3),
            self.index.embedding_function,
        )

    # -- public ----------------------------------------------------------------------------------
    def respond(self, request: ChatRequest) -> ChatResponse:
        for event in self.stream(request):
            if event.type == "done" and event.response is not None:
                return event.response
        raise RuntimeError("chat stream ended without a response")

    def stream(self, request: ChatRequest) -> Iterator[ChatEvent]:
        message = self.check_message(request.message)
        language, locale = self._languages(message)
        # Every template of the turn renders in the reply's locale. The block closes before the first
        # event is yielded: a client may resume this generator in another context.
        with prompts.translating(locale):
            understood = self._understand(message, request)
            plan = self._plan(message, request, understood)
            use = understood.use if understood is not None else ModelUse()
            if language not in self.languages:
                self._without_model(plan, use, language, locale)
            card_lines = {self._card_line(c) for c in plan.products} if request.show == "cards" else set()
        if plan.products:
            yield ChatEvent(type="products", products=plan.products)
        report = VerifierReport()
        intro = plan.fallback_intro
        facts = plan.facts
        if request.show == "cards" and plan.products:
            # The client shows the cards: the lines rendered from them would repeat each product.
            facts = "\n".join(line for line in facts.split("\n") if line not in card_lines).strip()
        body = f"\n\n{facts}" if facts else ""
        closing = ""
        if plan.intro_kind is not None and self.facts_first:
            yield ChatEvent(type="delta", delta=intro + body)
            sentences = self._closing_within_budget(plan, report)
            if sentences:
                use.written_by = self._who(self._writer(plan))
                closing = "\n\n" + " ".join(sentences)
                for i, sentence in enumerate(sentences):
                    yield ChatEvent(type="delta", delta=("\n\n" if i == 0 else " ") + sentence)
            else:
                report.fallback = True
        elif plan.intro_kind is not None:
            streamed: list[str] = []
            for sentence in self._verified_prose(plan, report, "intro"):
                streamed.append(sentence)
                yield ChatEvent(type="delta", delta=sentence + " ")
            if streamed:
                use.written_by = self._who(self._writer(plan))
                intro = " ".join(streamed)
            else:
                report.fallback = True
                yield ChatEvent(type="delta", delta=intro)
            if body:
                yield ChatEvent(type="delta", delta=body)
        else:
            if intro:
                yield ChatEvent(type="delta", delta=intro)
            if body:
                yield ChatEvent(type="delta", delta=body)
        if report.checked or use.understood_by or use.rewrite_fallback:
            # A stand-in engine may have written the text: clients still learn that the model is down.
            report.model_unavailable = report.model_unavailable or engine_problem(self.generator)
        response = ChatResponse(
            text=(intro + body + closing).strip(),
            action=plan.action,
            route=plan.route,
            confidence=round(max(0.0, min(1.0, plan.confidence)), 3),
            products=plan.products,
            citations=plan.citations,
            suggestions=plan.suggestions,
            verifier=report,
            state=self._next_state(plan, request),
            model=use,
            request=plan.request.model_dump(mode="json") if plan.request is not None else None,
            locale=locale,
        )
        yield ChatEvent(type="done", response=response)

    def _languages(self, message: str) -> tuple[str, str]:
        """The customer's language, and the locale the turn's templates render in: theirs where it is
        one of the shop's (or English) and has a catalogue, else the shop's first. Function words name
        the European languages in any shop; the shop's own languages are told apart by script (Chinese)
        and lingua, where installed."""
        language = detect_language(message)
        if language == "en":
            language = message_language(message, self.locales)
        if language in {*self.locales, "en"} and prompts.catalogue_locale(language) == language:
            return language, language
        return language, prompts.catalogue_locale(self.locales[0])

    @staticmethod
    def _without_model(plan: _Plan, use: ModelUse, language: str, locale: str) -> None:
        """The model is not asked to write a language it cannot: the turn is its templates and the
        grounded facts, with a fixed note. In the customer's language only the model's sentence is
        missing, so the note leads the template intro; otherwise the reply is in another language and
        the note, in theirs, says so (chat/language_note)."""
        note = prompts.render("chat/language_note", language=language, reply=locale)
        if plan.intro_kind is not None:
            use.text_skipped = f"the model does not write '{language}' (generator.languages)"
            plan.fallback_intro = f"{note}\n\n{plan.fallback_intro}" if language == locale else note
            plan.intro_kind = None
        elif language != locale:
            plan.fallback_intro = f"{note}\n\n{plan.fallback_intro}".strip()

    @staticmethod
    def _next_state(plan: _Plan, request: ChatRequest) -> ConversationState:
        """What the client sends back: the products shown (kept across policy and order turns, so
        "the second one" still means what it meant) and what this turn was about."""
        state = plan.state or request.state or ConversationState()
        if plan.route in {"products", "order", "faq"}:
            state = state.model_copy(update={"last": plan.route})
        return state

    def _answer_task(self, plan: _Plan) -> _Answer | None:
        """The answer adapter's task for this plan, when there is an adapter and the plan has one."""
        return plan.answer if self.options.answer_adapter else None

    def _writer(self, plan: _Plan) -> str | None:
        """The adapter that writes this plan's model text."""
        return self.options.answer_adapter if self._answer_task(plan) is not None else self.adapter

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
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # e.g. JSON "\ud800": it could be neither stored nor sent
            raise InputError("The message contains an invalid character; please retype it.") from exc
        return text

    # -- routing and facts ---------------------------------------------------------------------
    def _plan(self, message: str, request: ChatRequest, understood: _Understood | None = None) -> _Plan:
        if _SMALLTALK.fullmatch(message):
            kind = "bye" if _BYE.search(message) else "thanks" if _THANKS.search(message) else "hello"
            return self._simple(
                "smalltalk", "answer", 1.0, prompts.render("chat/smalltalk", kind=kind, shop=self.shop_name)
            )
        if _HANDOFF.search(message):
            return self._simple(
                "handoff", "handoff", 1.0, prompts.render("chat/handoff", shop=self.shop_name)
            )
        if _ORDER_ID.search(message) or _ORDER_STATUS.search(message):
            return self._order_plan(message, request.customer_id)
        search = self.index.products
        search.warm_up()
        profile = build_profile(
            request.customer_id,
            self.orders,
            search.products,
            viewed=request.state.product_ids if request.state else (),
        )
        if _RECOMMEND.search(message) and not [w for w in tokenize(message) if w not in _RECOMMEND_WORDS]:
            return self._recommend_plan(message, profile)
        turn = understood.request if understood is not None else self._rules(message, request)
        try:
            if turn.op != "search":
                executed = self._execute(turn, message, request)
                if executed is not None:
                    executed.request = turn
                    return executed
            products = search.run(message, top_k=3 * self.top_k, filters=request.filters)
            products.hits = rerank(products.hits, profile)[: self.top_k]
        except FilterError as exc:
            return self._simple("products", "answer", 0.0, prompts.render("chat/bad_filter", error=exc))
        faq = self.index.faq.run(message, top_k=3)
        faq_best = faq.best
        product_score = products.confidence if products.hits else 0.0
        wants_products = (
            bool(products.query.matched)
            or not products.filters.is_empty()
            or _names_a_product(message, products)
        )
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
                "chat/no_products", query=products.query.text, filters=self._filter_phrases(products.filters)
            )
            return self._simple("products", "answer", 0.0, text)
        if faq_best is not None:
            return self._faq_plan(message, faq_best)
        confidence = max(product_score, faq.hits[0].dense if faq.hits else 0.0)
        # No confident answer, but entries close enough to be what the shopper meant: offer them as
        # questions (one click to a sure answer) instead of a bare refusal. Bitext, cold: the right
        # entry is cited or offered in 0.73 of turns, against 0.40 cited alone.
        close = [h for h in faq.hits if h.dense >= self.faq_suggest_min_score]
        if close:
            plan = self._simple(
                "unknown",
                "refuse",
                confidence,
                prompts.render(
                    "chat/refuse_suggest", shop=self.shop_name, questions=[h.entry.question for h in close]
                ),
            )
            plan.suggestions = [Suggestion(id=h.entry.id, question=h.entry.question) for h in close]
            return plan
        return self._simple(
            "unknown", "refuse", confidence, prompts.render("chat/refuse", shop=self.shop_name)
        )

    def _simple(self, route: Route, action: Action, confidence: float, text: str) -> _Plan:
        return _Plan(route, action, confidence, [], [], "", None, text, [], "")

    def _products_plan(self, message: str, results: object) -> _Plan:
        from retrieval.search import ProductResults

        assert isinstance(results, ProductResults)
        cards = [ProductCard.from_hit(h) for h in results.hits]
        records = [h.product for h in results.hits]
        lines = [self._card_line(c) for c in cards]
        return _Plan(
            route="products",
            action="answer",
            confidence=results.confidence,
            products=cards,
            citations=[Citation(id=c.id, kind="product", title=c.title) for c in cards],
            facts="\n".join(lines),
            intro_kind="products",
            fallback_intro=prompts.render(
                "chat/fallback_products", count=len(cards), filters=self._filter_phrases(results.filters)
            ),
            sources=[c.facts() for c in cards] + [message],
            question=message,
            answer=_Answer("list", records, records, answer_facts("list", records)),
            state=ConversationState(
                query=results.query.text,
                filters=results.filters,
                product_ids=[c.id for c in cards],
                prices=[c.price for c in cards],
            ),
        )

    # -- understanding follow-ups --------------------------------------------------------------
    def _lookup(self, product_id: str) -> Any:
        return self.index.products.get(product_id)

    def _rules(self, message: str, request: ChatRequest) -> TurnRequest:
        """Today's rules as a request: the fallback for the rewrite adapter, and the whole answer
        without one."""
        state = request.state
        search = self.index.products
        follow = resolve_followup(message, state, search.schema)
        order = bool(state and state.last == "order" and _ORDER_FOLLOWUP.search(message))
        routed = None
        if not order and (follow is None or (follow.product_id is None and follow.superlative is None)):
            routed = self._routed(self.router.decide(message))
        return from_followup(follow, message, state, self._lookup, routed=routed, order_followup=order)

    def _understand(self, message: str, request: ChatRequest) -> _Understood | None:
        """The rewrite adapter's reading of a follow-up, within `rewrite_budget_ms`; on a late, invalid
        or failed answer, today's rules, with the reason. None for a message with nothing before it."""
        state = request.state
        if state is None or not (state.product_ids or state.last):
            return None
        if _SMALLTALK.fullmatch(message) or _HANDOFF.search(message) or _ORDER_ID.search(message):
            return None
        self.index.products.warm_up()
        adapter = self.options.rewrite_adapter
        if adapter is None:
            return _Understood(self._rules(message, request), ModelUse())
        question = scrub(message, LOG_KINDS) if self.redact_model_input else message
        gen_request = GenerationRequest(
            messages=[
                ChatMessage.model_validate(m)
                for m in rewrite_messages(state_lines(state, self._lookup), state.last, question)
            ],
            max_new_tokens=24,
            temperature=0.0,
            stop=["\n"],
            adapter=adapter,
            pattern=INTENT_PATTERN,
        )
        budget = self.options.rewrite_budget_ms
        stop = threading.Event()

        def run() -> str:
            out = ""
            chunks = self.generator.stream(gen_request)
            for chunk in chunks:
                out += chunk
                if stop.is_set() or "\n" in out:
                    close_stream(chunks)
                    break
            return out

        why: str
        try:
            text = _MODEL_POOL.submit(carry_scope(run)).result(
                timeout=None if budget is None else budget / 1000
            )
            intent = parse_intent(text)
            turn = resolve(
                intent,
                message,
                state,
                self._lookup,
                self._named_product,
                self.index.products.schema,
                faq_answers=self._policy_answers,
            )
            if intent.op == "search" and (rules := self._rules(message, request)).op != "search":
                # The rules saw a follow-up the adapter did not: both readings are defensible, and the
                # rules' one keeps the conversation (a refinement never loses the product type).
                return _Understood(rules, ModelUse(rewrite_fallback=f"rules kept a {rules.op}"))
            if turn.op == "policy" and (rules := self._rules(message, request)).op == "policy":
                # The same reading: the policy/product signals' request also names the product and
                # searches the FAQ without its name ("can I return the Switchback boots?").
                turn = rules.model_copy(update={"source": "model"})
            return _Understood(turn, ModelUse(understood_by=self._who(adapter), intent=intent.line()))
        except FutureTimeout:
            stop.set()
            why = f"the rewrite adapter took over {budget} ms"
        except (IntentError, GeneratorError) as exc:
            why = f"the rewrite adapter's answer was not used: {exc}"
        log.info("follow-up understood by the rules: %s", why)
        return _Understood(self._rules(message, request), ModelUse(rewrite_fallback=why))

    def _who(self, adapter: str | None) -> str:
        base = self.options.base_model or self.generator.name
        return f"{adapter} on {base}" if adapter else base

    def _execute(self, turn: TurnRequest, message: str, request: ChatRequest) -> _Plan | None:
        """The plan for an understood follow-up; None sends the message down the normal routing."""
        state = request.state
        search = self.index.products
        if turn.op == "order":
            return self._order_plan(message, request.customer_id)
        if turn.op == "policy":
            found = self.index.faq.run(turn.query or message, top_k=3)
            # A query is the routing signals' text (the name taken out): they accepted its top entry.
            best = found.best or (found.hits[0] if turn.query and found.hits else None)
            if best is None:
                return None
            context = self._lookup(turn.product_ids[0]) if turn.product_ids else None
            return self._faq_plan(message, best, context, turn.brand)
        if turn.op in {"pick", "best", "stock", "attribute"}:
            pid = turn.product_ids[0]
            plan = self._reference_plan(
                message,
                pid,
                turn.note,
                state,
                stock=turn.op in {"stock", "attribute"},
                attribute=turn.attribute if turn.op == "attribute" else None,
            )
            product = search.get(pid)
            kind = {"best": f"best:{turn.measure}", "stock": "stock", "attribute": "attribute"}.get(turn.op)
            if kind is not None and product is not None:
                shown = shown_records(state, self._lookup)
                about = shown if turn.op == "best" else [product]
                plan.answer = _Answer(
                    kind,
                    about,
                    shown or [product],
                    answer_facts(kind, about, turn.attribute),
                    product,
                    _asked_value(product, turn.attribute) if turn.op == "attribute" else None,
                )
            return plan
        if turn.op == "compare":
            return self._compare_plan(message, turn.product_ids, state)
        if turn.op in {"refine", "cheaper", "pricier"}:
            refined = search.run(
                turn.query or message, top_k=self.top_k, filters=turn.filters.merged(request.filters)
            )
            if refined.hits:
                return self._products_plan(message, refined)
            text = prompts.render(
                "chat/no_products", query=refined.query.text, filters=self._filter_phrases(refined.filters)
            )
            plan = self._simple("products", "answer", 0.0, text)
            plan.state = state
            return plan
        return None

    def _compare_plan(
        self, message: str, product_ids: Sequence[str], state: ConversationState | None
    ) -> _Plan:
        """Two products side by side, each line from its record; the answer task says which is cheaper."""
        from retrieval.search import ProductHit

        records = [p for p in map(self._lookup, product_ids) if p is not None]
        if len(records) < 2:
            return self._simple("products", "answer", 0.0, prompts.render("chat/refuse", shop=self.shop_name))
        cards = [ProductCard.from_hit(ProductHit(p, 1.0, reasons=["you asked to compare"])) for p in records]
        return _Plan(
            route="products",
            action="answer",
            confidence=1.0,
            products=cards,
            citations=[Citation(id=c.id, kind="product", title=c.title) for c in cards],
            facts="\n".join(self._card_line(c) for c in cards),
            intro_kind="products",
            fallback_intro=prompts.render("chat/fallback_products", count=len(cards), filters=[]),
            sources=[c.facts() for c in cards] + [message],
            question=message,
            state=state,
            answer=_Answer("compare", records, records, answer_facts("compare", records)),
        )

    def _named_product(self, message: str) -> str | None:
        """The product the message names by its title's rare words ("the Frostline snow boot"), if any."""
        return self.router.named_product(message)

    def _policy_answers(self, message: str) -> bool:
        """Whether the policy side answers the message: the FAQ confidently, or the policy/product
        signals for a message naming a product ("can I return the Switchback boots?"). The rewrite
        adapter's line is checked against this (`understanding.arbitrate`)."""
        decision = self.router.decide(message)
        if decision is not None:
            return decision.op == "policy"
        return self.index.faq.run(message, top_k=3).best is not None

    def _faq_entries(self) -> Any:
        """The FAQ entries, loaded: the router takes its policy words from them."""
        self.index.faq.warm_up()
        return self.index.faq.entries

    @staticmethod
    def _routed(decision: Decision | None) -> TurnRequest | None:
        """The request the policy/product signals decided, if they decided one."""
        if decision is None:
            return None
        ids = [decision.product_id] if decision.product_id else []
        if decision.op == "policy":
            return TurnRequest(
                op="policy",
                query=decision.query,
                product_ids=ids,
                brand=decision.brand,
                note="the product you named",
            )
        return TurnRequest(
            op=decision.op,
            product_ids=ids,
            attribute=decision.aspect if decision.op == "attribute" else None,
            note="the product you named",
        )

    def _reference_plan(
        self,
        message: str,
        product_id: str,
        note: str,
        state: ConversationState | None,
        *,
        stock: bool = False,
        attribute: str | None = None,
    ) -> _Plan:
        """A product the customer pointed at ("the second one", "the best rated of those", a title
        they named): its card and facts, from data; the `attribute` asked about and its stock state
        (`stock`) come first."""
        from retrieval.search import ProductHit

        product = self.index.products.get(product_id)
        if product is None:  # the catalogue changed since it was shown
            return self._simple("products", "answer", 0.0, prompts.render("chat/refuse", shop=self.shop_name))
        card = ProductCard.from_hit(ProductHit(product, 1.0, reasons=[note]))
        details = ", ".join(product.tags)
        opening = []
        if attribute is not None:
            value = getattr(product, attribute, None)
            opening.append(
                prompts.render(
                    "chat/attribute",
                    title=product.title,
                    id=product.id,
                    attribute=attribute,
                    value=value,
                    currency=product.currency,
                )
            )
        if stock:
            opening.append(
                prompts.render("chat/stock", title=product.title, id=product.id, in_stock=product.in_stock)
            )
        facts = "".join(line + "\n\n" for line in opening)
        facts += self._card_line(card) + (f"\n{product.description}" if product.description else "")
        facts += "\n" + prompts.render("chat/product_tags", tags=details) if details else ""
        return _Plan(
            route="products",
            action="answer",
            confidence=1.0,
            products=[card],
            citations=[Citation(id=card.id, kind="product", title=card.title)],
            facts=facts,
            intro_kind="products",
            fallback_intro=prompts.render("chat/fallback_products", count=1, filters=[]),
            sources=[card.facts(), product.description, details, message],
            question=message,
            state=state,
        )

    def _recommend_plan(self, message: str, profile: Profile) -> _Plan:
        """'Recommend something for me': profile fit for a known shopper, best-rated for a new one."""
        hits = recommend(self.index.products.products, profile, k=self.top_k)
        cards = [ProductCard.from_hit(h) for h in hits]
        personal = not profile.is_empty
        return _Plan(
            route="products",
            action="answer",
            confidence=1.0 if hits else 0.0,
            products=cards,
            citations=[Citation(id=c.id, kind="product", title=c.title) for c in cards],
            facts="\n".join(self._card_line(c) for c in cards),
            intro_kind=None,
            fallback_intro=prompts.render("chat/recommend", count=len(cards), personal=personal),
            sources=[c.facts() for c in cards],
            question=message,
            state=ConversationState(product_ids=[c.id for c in cards], prices=[c.price for c in cards]),
        )

    @staticmethod
    def _card_line(c: ProductCard) -> str:
        return prompts.render("chat/card_line", card=c)

    @staticmethod
    def _filter_phrases(filters: Filters) -> list[str]:
        """What the search filtered by ("price <= 100"), in the turn's language."""
        return prompts.render("chat/filters", filters=filters).splitlines()

    def _faq_plan(self, message: str, hit: object, product: Any = None, brand: str | None = None) -> _Plan:
        """The policy answer, from the entry; a product or brand the question named follows it as
        context (its card, from the catalogue), so "can I return the Switchback boots?" shows both."""
        from retrieval.search import FAQHit, ProductHit

        assert isinstance(hit, FAQHit)
        entry = hit.entry
        plan = _Plan(
            route="faq",
            action="answer",
            confidence=hit.dense,
            products=[],
            citations=[Citation(id=entry.id, kind="faq", title=entry.question)],
            facts=f"{entry.answer} [{entry.id}]",
            intro_kind="faq",
            fallback_intro=prompts.render("chat/fallback_faq"),
            sources=[entry.question, entry.answer, message],
            question=message,
            answer=_Answer("policy", [], [], [entry.answer]),
        )
        if product is not None:
            card = ProductCard.from_hit(ProductHit(product, 1.0, reasons=["the product you named"]))
            plan.products = [card]
            plan.citations.append(Citation(id=card.id, kind="product", title=card.title))
            subject = prompts.render("chat/policy_subject", title=card.title, id=card.id, brand="")
            plan.facts += f"\n\n{subject}\n{self._card_line(card)}"
            plan.sources.append(card.facts())
        elif brand:
            plan.facts += "\n\n" + prompts.render("chat/policy_subject", title="", id="", brand=brand)
            plan.sources.append(brand)
        return plan

    def _order_plan(self, message: str, customer_id: str | None) -> _Plan:
        try:
            return self._orders_plan(message, customer_id)
        except Unavailable as exc:  # the shop's order system is down: say so, never a failed reply
            log.warning("order lookup failed: %s", exc)
            return self._simple("order", "answer", 1.0, prompts.render("chat/orders_unavailable"))

    def _orders_plan(self, message: str, customer_id: str | None) -> _Plan:
        if not customer_id or self.orders.customer(customer_id) is None:
            return self._simple("order", "answer", 1.0, prompts.render("chat/order_sign_in"))
        match = _ORDER_ID.search(message)
        if match:
            order = self.orders.order_for(customer_id, match.group(0))
            if order is None:
                return self._simple(
                    "order",
                    "answer",
                    1.0,
                    prompts.render("chat/order_not_found", order_id=match.group(0).upper()),
                )
            orders = [order]
        else:
            orders = self.orders.orders_for(customer_id)
            if not orders:
                return self._simple("order", "answer", 1.0, prompts.render("chat/no_orders"))
        currency = self.index.products.schema.currency  # order rows carry no currency: the catalogue's
        facts = prompts.render("chat/order_status", orders=orders, currency=currency)
        plan = self._simple("order", "answer", 1.0, prompts.render("chat/orders_intro"))
        plan.facts = facts
        plan.citations = [Citation(id=o.order_id, kind="order", title=f"Order {o.order_id}") for o in orders]
        return plan

    # -- the model's part ----------------------------------------------------------------------
    def _names(self) -> list[str]:
        search = self.index.products
        search.warm_up()
        return list(search.schema.brands.values())

    def _closing_within_budget(self, plan: _Plan, report: VerifierReport) -> list[str]:
        """The verified closing sentence(s), or none if they miss `model_budget_ms`: the facts are
        already on screen, so the turn ends on time and the late generation is stopped (the
        embedded engine frees its batch row when the consumer stops)."""
        budget = self.options.model_budget_ms
        if budget is None:
            return list(self._verified_prose(plan, report, "outro"))
        stop = threading.Event()
        local = VerifierReport()  # the worker never touches a report that is already sent
        future = _MODEL_POOL.submit(
            carry_scope(lambda: list(self._verified_prose(plan, local, "outro", stop)))
        )
        try:
            sentences = future.result(timeout=budget / 1000)
        except FutureTimeout:
            stop.set()
            report.checked, report.over_budget = True, True
            return []
        report.checked = local.checked
        report.unsupported += local.unsupported
        report.model_unavailable = local.model_unavailable
        return sentences

    def _verified_prose(
        self, plan: _Plan, report: VerifierReport, position: str, stop: threading.Event | None = None
    ) -> Iterator[str]:
        """Yield the model's sentences that pass the verifier; retry once if the first one fails.

        `position` is "intro" (the sentence before the facts) or "outro" (the closing line after
        them); each has its own few-shot template.
        """
        assert plan.intro_kind is not None
        names = self._names()
        most = 1 if position == "outro" else 2  # a closing line is one sentence
        report.checked = True
        question = scrub(plan.question, LOG_KINDS) if self.redact_model_input else plan.question
        answer = self._answer_task(plan)
        if answer is not None:
            # The answer adapter: one short sentence from the fact lines, checked against the records.
            messages = answer_messages(answer.facts, answer.kind, question)
            most, attempts = 1, 1
        else:
            messages = prompts.render_messages(
                f"chat/{position}",
                system=prompts.render("chat/system", shop=self.shop_name, position=position),
                kind=plan.intro_kind,
                question=question,
            )
            attempts = 2
        for attempt in range(attempts):
            request = GenerationRequest(
                messages=[ChatMessage.model_validate(m) for m in messages],
                max_new_tokens=self.max_new_tokens,
                temperature=self.temperature if attempt == 0 else max(self.temperature, 0.7),
                seed=attempt,
                adapter=self._writer(plan),
            )
            emitted = 0
            buffer = ""
            try:
                chunks = self.generator.stream(request)
                for chunk in chunks:
                    if stop is not None and stop.is_set():  # over budget: stop the engine's work too
                        close_stream(chunks)
                        return
                    buffer += chunk
                    done, buffer = split_sentences(buffer)
                    for sentence in done:
                        if not self._accept(sentence, plan, names, report, answer):
                            return
                        emitted += 1
                        yield sentence.strip()
                        if emitted >= most:
                            return
                tail = buffer.strip()
                if (
                    tail
                    and emitted < most
                    and tail[-1:] in ".!?"
                    and self._accept(tail, plan, names, report, answer)
                ):
                    emitted += 1
                    yield tail
            except GeneratorError as exc:
                # A request its client left (or whose deadline passed) is routine, not a failure.
                level = logging.INFO if isinstance(exc, DeadlineExceeded) else logging.WARNING
                log.log(level, "generator failed, using the template sentence: %s", exc)
                report.model_unavailable = str(exc)
                return
            if emitted:
                return
            # Nothing usable in the first attempt (empty, or the first sentence failed): retry once.

    @staticmethod
    def _accept(
        sentence: str, plan: _Plan, names: list[str], report: VerifierReport, answer: _Answer | None = None
    ) -> bool:
        sources = plan.sources + (answer.facts + [ANSWER_WORDS] if answer is not None else [])
        verdict = verify(sentence, sources, names, closed_vocabulary=True)
        if not verdict.ok:
            report.unsupported += verdict.unsupported
            return False
        if answer is not None:
            problems = check_answer(
                sentence,
                answer.about,
                kind=answer.kind,
                shown=answer.shown,
                subject=answer.subject,
                states=answer.states,
            )
            if problems:
                report.unsupported += problems
                return False
        return len(sentence.split()) <= 40
