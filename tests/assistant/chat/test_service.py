"""Chat turns on the demo shop (real retrieval) with the scripted generator."""

import pytest

from assistant.chat.protocol import ChatRequest
from assistant.chat.service import ChatOptions, ChatService, InputError
from assistant.generation.fake import FakeGenerator
from retrieval.filters import Filters

pytestmark = pytest.mark.slow


@pytest.fixture
def chat(demo_shop_real):
    def make(*replies: str, facts_first: bool = False) -> tuple[ChatService, FakeGenerator]:
        gen = FakeGenerator(replies)
        service = ChatService(
            demo_shop_real.index,
            gen,
            demo_shop_real.orders,
            ChatOptions(shop_name="Harbor & Pine", facts_first=facts_first),
        )
        return service, gen

    return make


def test_product_answer_cites_cards_and_streams_cards_first(chat):
    service, _ = chat("Here are some waterproof boots that might suit you.")
    events = list(service.stream(ChatRequest(message="waterproof boots under 100")))
    assert events[0].type == "products" and events[-1].type == "done"
    response = events[-1].response
    assert response.route == "products" and response.action == "answer"
    assert response.text.startswith("Here are some waterproof boots that might suit you.")
    assert [c.id for c in response.citations] == [p.id for p in response.products]
    for card in response.products:
        assert card.price <= 100
        assert f"[{card.id}]" in response.text and f"{card.price:.2f} USD" in response.text
    assert not response.verifier.fallback


def test_facts_first_streams_data_then_the_verified_closing_line(chat):
    service, gen = chat("Any of these should keep you dry; tell me your size.", facts_first=True)
    events = list(service.stream(ChatRequest(message="waterproof boots under 100")))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["products", "delta"] and kinds[-1] == "done"
    first_text = events[1].delta
    assert first_text.startswith("Here are 4 products that match (price <= 100):")
    assert all(f"[{p.id}]" in first_text for p in events[0].products)  # the facts, before any model text
    response = events[-1].response
    assert response.text.endswith("Any of these should keep you dry; tell me your size.")
    assert "keep you cosy" in gen.requests[0].messages[2].content  # the closing-line few-shot prompt
    assert not response.verifier.fallback


def test_facts_first_drops_an_unsupported_closing_line(chat):
    service, gen = chat("All boots are $5 today!", "Free shipping worldwide on these.", facts_first=True)
    response = service.respond(ChatRequest(message="waterproof boots under 100"))
    assert len(gen.requests) == 2 and response.verifier.fallback
    assert "$5" not in response.text and "worldwide" not in response.text
    assert response.text.startswith("Here are 4 products that match (price <= 100):")


def test_unsupported_price_from_model_is_dropped_then_template(chat):
    service, gen = chat("These boots are only $19.99 today!", "Great news, everything is 50% off.")
    response = service.respond(ChatRequest(message="waterproof boots under 100"))
    assert len(gen.requests) == 2  # regenerated once
    assert response.verifier.fallback
    assert "$19.99" in response.verifier.unsupported and "50%" in response.verifier.unsupported
    assert "19.99" not in response.text and "50%" not in response.text
    assert response.text.startswith("Here are 4 products that match (price <= 100):")


def test_faq_answer_quotes_policy_with_its_id(chat):
    service, _ = chat("Sure, here is how returns work.")
    response = service.respond(ChatRequest(message="how many days do I have to return something?"))
    assert response.route == "faq" and response.action == "answer"
    assert response.citations[0].kind == "faq" and response.citations[0].id.startswith("faq-returns")
    assert "30 days" in response.text and f"[{response.citations[0].id}]" in response.text


def test_unknown_question_is_refused_with_offer_of_a_person(chat):
    service, gen = chat()
    response = service.respond(ChatRequest(message="who won the football world cup in 1998?"))
    assert response.action == "refuse" and response.route == "unknown"
    assert "connect you with a member of our team" in response.text
    assert response.products == [] and response.citations == []
    assert gen.requests == []  # the model is not asked to improvise


def test_handoff_is_a_structured_action(chat):
    service, _ = chat()
    response = service.respond(ChatRequest(message="I want to talk to a real person please"))
    assert response.action == "handoff" and response.route == "handoff"


def test_filters_that_match_nothing_say_so(chat):
    service, _ = chat()
    response = service.respond(ChatRequest(message="tents", filters=Filters(price_max=1)))
    assert response.products == [] and "couldn't find any products" in response.text
    assert "price <= 1" in response.text


def test_unknown_filter_value_is_explained(chat):
    service, _ = chat()
    response = service.respond(ChatRequest(message="boots", filters=Filters(brands=["Acme"])))
    assert "unknown brand 'Acme'" in response.text and response.products == []


def test_orders_only_for_the_signed_in_customer(chat, demo_shop_real, caplog):
    service, _ = chat()
    own = service.respond(ChatRequest(message="where is my order HP-ORD-50001?", customer_id="C1001"))
    assert own.route == "order" and own.citations[0].id == "HP-ORD-50001"
    other_owner = next(o for o in demo_shop_real.orders.orders_for("C1002"))
    probe = service.respond(
        ChatRequest(message=f"status of order {other_owner.order_id}", customer_id="C1001")
    )
    missing = service.respond(ChatRequest(message="status of order HP-ORD-99999", customer_id="C1001"))
    assert probe.citations == [] and missing.citations == []
    assert probe.text == missing.text.replace("HP-ORD-99999", other_owner.order_id)
    assert "order probe" in caplog.text
    guest = service.respond(ChatRequest(message="where is my order HP-ORD-50001?"))
    assert "please sign in" in guest.text and guest.citations == []


@pytest.mark.parametrize(
    ("message", "needle"), [("", "empty"), ("   ", "empty"), ("x" * 20_000, "20,000 characters")]
)
def test_bad_messages_get_clear_errors(chat, message, needle):
    service, _ = chat()
    with pytest.raises(InputError, match=needle):
        service.respond(ChatRequest(message=message))


def test_model_down_keeps_grounded_facts_and_says_why(demo_shop_real):
    from assistant.generation import GeneratorError

    class Down(FakeGenerator):
        def stream(self, request):
            self.requests.append(request)
            raise GeneratorError("cannot reach the model server; start it with `shopassist serve-model`")
            yield ""  # a generator function, like a real engine

    gen = Down()
    service = ChatService(demo_shop_real.index, gen, demo_shop_real.orders, ChatOptions(adapter="cs-v1"))
    response = service.respond(ChatRequest(message="waterproof boots under 100"))
    assert len(gen.requests) == 1  # no second attempt against a server that is down
    assert gen.requests[0].adapter == "cs-v1"
    assert response.verifier.fallback and "serve-model" in (response.verifier.model_unavailable or "")
    assert response.products and all(f"[{c.id}]" in response.text for c in response.products)


class SlowGenerator(FakeGenerator):
    """Writes its sentence one chunk per `delay` seconds and records whether it was stopped."""

    def __init__(self, text: str, delay: float) -> None:
        super().__init__([text], chunk_size=4)
        self.delay = delay
        self.stopped = False
        self.chunks_sent = 0

    def stream(self, request):
        import time

        try:
            for chunk in super().stream(request):
                time.sleep(self.delay)
                self.chunks_sent += 1
                yield chunk
        finally:
            self.stopped = True


def _budgeted(shop, delay: float, budget_ms: int) -> tuple[ChatService, SlowGenerator]:
    gen = SlowGenerator("Here are some waterproof boots that might suit you.", delay=delay)
    options = ChatOptions(shop_name="Harbor & Pine", facts_first=True, model_budget_ms=budget_ms)
    return ChatService(shop.index, gen, shop.orders, options), gen


def test_a_slow_closing_sentence_never_holds_the_turn_past_the_budget(demo_shop_real):
    import time

    service, gen = _budgeted(demo_shop_real, delay=0.2, budget_ms=300)
    start = time.perf_counter()
    events = list(service.stream(ChatRequest(message="waterproof boots under 100")))
    elapsed = time.perf_counter() - start
    response = events[-1].response
    assert elapsed < 1.5  # the sentence needs ~2.8 s; the turn ends at the budget
    assert response.verifier.over_budget and response.verifier.fallback
    assert "[HP-" in response.text and "might suit you" not in response.text  # facts complete, no late text
    time.sleep(0.5)
    assert gen.stopped and gen.chunks_sent < 13  # the late generation was stopped, not run to the end


def test_a_closing_sentence_in_time_is_kept(demo_shop_real):
    service, _ = _budgeted(demo_shop_real, delay=0.0, budget_ms=5000)
    response = service.respond(ChatRequest(message="waterproof boots under 100"))
    assert not response.verifier.over_budget
    assert response.text.endswith("Here are some waterproof boots that might suit you.")


# -- the rewrite and answer adapters (scripted by adapter name) --------------------------------------


class TaskFake(FakeGenerator):
    """Answers by adapter: the rewrite adapter's intent line, the answer adapter's sentence."""

    def __init__(self, rewrite: str, answer: str = "", delay: float = 0.0) -> None:
        super().__init__()
        self.by_adapter = {"rewrite-lora": rewrite, "answer-lora": answer}
        self.delay = delay

    def stream(self, request):
        import time

        self.requests.append(request)
        if request.adapter == "rewrite-lora" and self.delay:
            time.sleep(self.delay)
        yield self.by_adapter.get(request.adapter or "", "Here is what I found.")


def _tasks(shop, rewrite: str, answer: str = "", delay: float = 0.0, budget: int | None = 2000):
    gen = TaskFake(rewrite, answer, delay)
    options = ChatOptions(
        shop_name="Harbor & Pine",
        facts_first=True,
        model_budget_ms=2000,
        rewrite_adapter="rewrite-lora",
        answer_adapter="answer-lora",
        rewrite_budget_ms=budget,
        base_model="smollm2-135m-instruct",
    )
    return ChatService(shop.index, gen, shop.orders, options), gen


def _boots(shop):
    service = ChatService(shop.index, FakeGenerator(), shop.orders, ChatOptions(facts_first=True))
    return service.respond(ChatRequest(message="waterproof boots")).state


def test_the_rewrite_adapter_understands_a_follow_up_and_the_answer_adapter_answers(demo_shop_real):
    state = _boots(demo_shop_real)
    records = [demo_shop_real.index.products.get(pid) for pid in state.product_ids]
    best = max(records, key=lambda p: p.rating)
    answer = f"The {best.title} has the best rating, {best.rating:g} out of 5."
    service, gen = _tasks(demo_shop_real, "best measure=rating", answer)
    response = service.respond(ChatRequest(message="which do people like most?", state=state))
    assert response.model.understood_by == "rewrite-lora on smollm2-135m-instruct"
    assert response.model.intent == "best measure=rating"
    assert [c.id for c in response.products] == [best.id]
    assert (
        response.text.endswith(answer) and response.model.written_by == "answer-lora on smollm2-135m-instruct"
    )
    rewrite = next(r for r in gen.requests if r.adapter == "rewrite-lora")
    assert rewrite.pattern and "Message: which do people like most?" in rewrite.messages[-1].content


def test_a_wrong_superlative_from_the_answer_adapter_never_reaches_the_shopper(demo_shop_real):
    state = _boots(demo_shop_real)
    records = [demo_shop_real.index.products.get(pid) for pid in state.product_ids]
    worst = min(records, key=lambda p: p.rating)
    service, _ = _tasks(demo_shop_real, "best measure=rating", f"The {worst.title} has the best rating.")
    response = service.respond(ChatRequest(message="which is rated best?", state=state))
    assert worst.title not in response.text.rsplit("\n\n", 1)[-1] or response.model.written_by is None
    # The answer's facts hold the best-rated product's line alone, so the word check already finds
    # the other title unsupported; check_answer's ranking is tested in tests/assistant/grounding.
    assert response.model.written_by is None and response.verifier.unsupported, response.verifier


def test_an_attribute_answer_that_states_another_attribute_never_reaches_the_shopper(demo_shop_real):
    """The size is true of the product but does not answer "is the first one a good brand?"."""
    state = _boots(demo_shop_real)
    first = demo_shop_real.index.products.get(state.product_ids[0])
    assert first.brand and first.size
    off, _ = _tasks(demo_shop_real, "attribute ref=1 attr=brand", f"It comes in {first.size}.")
    response = off.respond(ChatRequest(message="is the first one a good brand?", state=state))
    assert response.request["attribute"] == "brand" and response.model.written_by is None
    assert any("does not state the asked value" in u for u in response.verifier.unsupported)
    right, _ = _tasks(demo_shop_real, "attribute ref=1 attr=brand", f"It is made by {first.brand}.")
    answered = right.respond(ChatRequest(message="is the first one a good brand?", state=state))
    assert answered.text.endswith(f"It is made by {first.brand}.") and answered.model.written_by


@pytest.mark.parametrize(
    "rewrite, delay, budget, why",
    [
        ("the cheapest please", 0.0, 2000, "not an intent line"),
        ("pick ref=9", 0.0, 2000, "not one of the"),
        ("cheaper", 1.0, 200, "took over 200 ms"),
    ],
)
def test_the_rules_answer_when_the_rewrite_is_invalid_or_late(demo_shop_real, rewrite, delay, budget, why):
    state = _boots(demo_shop_real)
    service, _ = _tasks(demo_shop_real, rewrite, delay=delay, budget=budget)
    response = service.respond(ChatRequest(message="cheaper ones?", state=state))
    assert response.model.understood_by == "rules" and why in (response.model.rewrite_fallback or "")
    assert response.request["op"] == "cheaper"  # the rules still keep the product type and bound
    assert response.request["filters"]["categories"] == ["footwear"]
    assert all(c.price < min(p for p in state.prices if p is not None) for c in response.products)


def test_an_order_follow_up_stays_with_the_orders(demo_shop_real):
    service, _ = _tasks(demo_shop_real, "order")
    first = service.respond(ChatRequest(message="where is my order?", customer_id="C1001"))
    assert first.route == "order" and first.state.last == "order"
    follow = service.respond(
        ChatRequest(message="when will the headlamp arrive?", customer_id="C1001", state=first.state)
    )
    assert follow.route == "order" and follow.model.intent == "order"


@pytest.mark.parametrize(
    "first, follow",
    [
        ("when's my headlamp coming?", "tracking for it?"),
        ("where is my order?", "and when is it coming?"),
        ("when will my stuff be delivered?", "any news?"),
    ],
)
def test_order_questions_in_other_words_stay_with_the_orders(chat, first, follow):
    service, _ = chat()
    opened = service.respond(ChatRequest(message=first, customer_id="C1001"))
    assert opened.route == "order" and opened.citations, opened.text
    again = service.respond(ChatRequest(message=follow, customer_id="C1001", state=opened.state))
    assert again.route == "order", again.text


def test_a_client_that_shows_cards_gets_no_card_lines_in_the_text(chat):
    """The storefront widget renders the cards itself: one line per card in the text would show each
    product twice. The cards, citations and the sentence saying what they are stay."""
    service, _ = chat(facts_first=True)
    plain = service.respond(ChatRequest(message="waterproof boots under 100"))
    cards = service.respond(ChatRequest(message="waterproof boots under 100", show="cards"))
    assert [c.id for c in cards.products] == [c.id for c in plain.products] and cards.citations
    assert all(f"[{c.id}]" in plain.text for c in plain.products)
    assert not any(f"[{c.id}]" in cards.text for c in cards.products)
    assert cards.text.startswith("Here are 4 products that match (price <= 100):")
