"""Admission control and the circuit breaker around an engine: bounded queue, deadlines,
cancellation, an outage remembered and probed, and the stand-in reported."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from assistant.generation.admission import (
    AdmissionGenerator,
    DeadlineExceeded,
    Overloaded,
    RequestScope,
    bound,
    carry_scope,
    current_scope,
)
from assistant.generation.base import ChatMessage, GenerationRequest, GeneratorError, engine_problem, generate
from assistant.generation.breaker import CircuitBreaker, EngineDown
from assistant.generation.fake import FakeGenerator
from assistant.generation.fallback import FallbackGenerator


def request() -> GenerationRequest:
    return GenerationRequest(messages=[ChatMessage(role="user", content="hi")])


class SlowGenerator:
    """One chunk every `delay` seconds; counts the chunks it produced (work done)."""

    name = "slow"

    def __init__(self, chunks: int = 40, delay: float = 0.02) -> None:
        self.chunks, self.delay = chunks, delay
        self.produced = 0

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        for _ in range(self.chunks):
            time.sleep(self.delay)
            self.produced += 1
            yield "w "


class Failing:
    """A model server that is down until `up` is set; `health()` probes it."""

    name = "vllm"

    def __init__(self) -> None:
        self.up = False
        self.calls = 0

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        self.calls += 1
        if not self.up:
            raise GeneratorError("cannot reach the model server at http://127.0.0.1:9")
        yield "back."

    def health(self) -> list[str]:
        if not self.up:
            raise GeneratorError("still down")
        return ["m"]


def test_a_full_queue_is_refused_at_once_with_a_retry_time():
    gen = AdmissionGenerator(SlowGenerator(chunks=25), max_active=1, max_queue=1)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(generate, gen, request())
        time.sleep(0.1)
        second = pool.submit(generate, gen, request())  # waits in the queue
        time.sleep(0.1)
        start = time.perf_counter()
        with pytest.raises(Overloaded, match="busy \\(1 generating, 1 waiting\\)") as refused:
            generate(gen, request())
        assert time.perf_counter() - start < 0.05 and refused.value.retry_after_s >= 1
        assert first.result() and second.result()  # the admitted ones finish
    assert gen.active == 0 and gen.waiting == 0 and gen.refused == 1


def test_a_deadline_stops_generation_and_frees_the_slot():
    slow = SlowGenerator(chunks=200)
    gen = AdmissionGenerator(slow, max_active=1, max_queue=4)
    start = time.perf_counter()
    with bound(RequestScope(deadline_s=0.2)), pytest.raises(DeadlineExceeded, match="deadline"):
        generate(gen, request())
    assert time.perf_counter() - start < 0.5 and slow.produced < 30
    assert gen.active == 0
    assert generate(AdmissionGenerator(SlowGenerator(chunks=2), max_active=1, max_queue=0), request())


def test_a_cancelled_request_leaves_the_queue_without_generating():
    slow = SlowGenerator(chunks=30)
    gen = AdmissionGenerator(slow, max_active=1, max_queue=4)
    scope = RequestScope()

    def waiting() -> str:
        with bound(scope):
            return generate(gen, request())

    with ThreadPoolExecutor(2) as pool:
        busy = pool.submit(generate, gen, request())
        time.sleep(0.05)
        queued = pool.submit(waiting)
        time.sleep(0.05)
        scope.cancel()
        with pytest.raises(DeadlineExceeded, match="client went away"):
            queued.result(timeout=1)
        busy.result()
    assert slow.produced == 30  # only the first request's chunks were made


def test_pool_threads_carry_the_request_scope():
    scope = RequestScope(5)
    with bound(scope), ThreadPoolExecutor(1) as pool:
        assert pool.submit(carry_scope(current_scope)).result() is scope
        assert pool.submit(current_scope).result() is None  # what carry_scope is for


def test_breaker_skips_a_down_server_at_once_and_probes_it_back():
    server = Failing()
    gen = CircuitBreaker(server, failures=1, recheck_s=0.05)
    with pytest.raises(GeneratorError, match="cannot reach"):
        generate(gen, request())
    assert engine_problem(gen) and "cannot reach" in engine_problem(gen)
    start = time.perf_counter()
    with pytest.raises(EngineDown, match="down since"):
        generate(gen, request())
    assert time.perf_counter() - start < 0.01 and server.calls == 1  # not even tried
    server.up = True
    deadline = time.time() + 2
    while engine_problem(gen) and time.time() < deadline:
        time.sleep(0.02)
    assert engine_problem(gen) is None and generate(gen, request()) == "back."


def test_deadlines_and_a_full_queue_do_not_mark_the_server_down():
    gen = CircuitBreaker(AdmissionGenerator(SlowGenerator(chunks=100), max_active=1, max_queue=0))
    with bound(RequestScope(deadline_s=0.05)), pytest.raises(DeadlineExceeded):
        generate(gen, request())
    assert engine_problem(gen) is None


def test_the_stand_in_answers_and_the_outage_is_still_reported():
    server = Failing()
    stand_in = FakeGenerator(default="From the stand-in.")
    gen = FallbackGenerator(CircuitBreaker(server, recheck_s=60), lambda: stand_in)
    assert generate(gen, request()) == "From the stand-in."
    assert generate(gen, request()) == "From the stand-in."
    assert server.calls == 1  # the second turn skipped the dead server
    problem = engine_problem(gen)
    assert problem and "cannot reach" in problem and "fake engine answers instead" in problem


def chat_over(shop, generator):
    from assistant.chat.service import ChatOptions, ChatService

    return ChatService(shop.index, generator, shop.orders, ChatOptions(facts_first=True))


@pytest.mark.slow
def test_chat_turn_reports_the_model_down_even_when_the_stand_in_wrote(demo_shop_real):
    from assistant.chat.protocol import ChatRequest

    server = Failing()
    gen = FallbackGenerator(CircuitBreaker(server, recheck_s=60), lambda: FakeGenerator())
    response = chat_over(demo_shop_real, gen).respond(ChatRequest(message="waterproof boots"))
    assert response.verifier.model_unavailable and "cannot reach" in response.verifier.model_unavailable


@pytest.mark.slow
def test_turns_with_the_server_down_and_no_stand_in_do_not_wait(demo_shop_real):
    from assistant.chat.protocol import ChatRequest

    server = Failing()
    chat = chat_over(demo_shop_real, CircuitBreaker(server, recheck_s=60))
    chat.respond(ChatRequest(message="waterproof boots"))
    start = time.perf_counter()
    for _ in range(3):
        response = chat.respond(ChatRequest(message="waterproof boots"))
        assert "down since" in (response.verifier.model_unavailable or "")
    assert server.calls == 1 and (time.perf_counter() - start) / 3 < 0.5


def test_the_embedded_engine_answers_a_row_abandoned_in_its_queue():
    """A request cancelled while queued gets its end at once (its consumer does not hang) and
    costs no forward pass; no model is needed to see it."""
    from assistant.generation.embedded import _DONE, _STOP, EmbeddedGenerator, _Job

    engine = EmbeddedGenerator("/nonexistent")
    scope = RequestScope()
    job = _Job(request(), scope=scope)
    scope.cancel()
    engine._queue.put(job)
    engine._queue.put(_STOP)
    engine._loop()
    assert job.out.get_nowait() is _DONE and engine.batches_run == 0


def test_an_engine_that_fails_at_once_gives_its_slot_back():
    class Refusing:
        name = "refusing"

        def stream(self, request: GenerationRequest) -> Iterator[str]:  # not a generator: raises now
            raise GeneratorError("no model loaded")

    gen = AdmissionGenerator(Refusing(), max_active=1, max_queue=0)
    for _ in range(3):  # a leaked slot would make the second call Overloaded
        with pytest.raises(GeneratorError, match="no model loaded"):
            generate(gen, request())
    assert gen.active == 0
