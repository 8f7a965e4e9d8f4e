"""The 'vllm' engine against a tiny local OpenAI-compatible server (real HTTP, real SSE, no vLLM)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from assistant.config import load_settings
from assistant.generation import ChatMessage, GenerationRequest, GeneratorError, create_generator, generate
from assistant.generation.base import engine_problem
from assistant.generation.breaker import CircuitBreaker, EngineDown
from assistant.generation.fake import FakeGenerator
from assistant.generation.fallback import FallbackGenerator
from assistant.generation.openai_compat import OpenAICompatGenerator
from tests.helpers import free_port


class FakeOpenAI:
    """Scripted /v1/chat/completions: each request takes the next step, default a streamed reply.

    A step is ("reply", text), ("status", code), ("stall", seconds) (headers sent, then silence),
    ("events", [data, ...]) (raw `data:` payloads, no `[DONE]`) or ("drop", text) (a chunked reply
    cut off after its first word). `delay` holds every chat request that long before it answers
    (requests then overlap); `die()` stops the server the way a killed process does: it stops
    listening, and the requests it holds lose their connection before any answer.
    """

    def __init__(self, port: int | None = None, delay: float = 0.0) -> None:
        self.steps: deque[tuple[str, Any]] = deque()
        self.requests: list[dict[str, Any]] = []
        self.models = ["base-model", "cs-lora"]
        self.delay = delay
        self.dead = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, code: int, data: Any) -> None:
                body = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/health":
                    self._json(200, {})
                elif self.path == "/v1/models":
                    self._json(200, {"object": "list", "data": [{"id": m} for m in owner.models]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append({"body": body, "auth": self.headers.get("Authorization")})
                if owner.dead.wait(owner.delay) or owner.dead.is_set():
                    self.close_connection = True  # no status line: the client sees the connection drop
                    return
                kind, arg = owner.steps.popleft() if owner.steps else ("reply", "Hello there. Welcome!")
                if body["model"] not in owner.models:
                    self._json(404, {"error": {"message": f"The model `{body['model']}` does not exist."}})
                    return
                if kind == "status":
                    self._json(arg, {"error": {"message": f"scripted {arg}"}})
                    return
                if kind == "drop":  # the reply is chunked, and the connection dies mid-body
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = {"choices": [{"index": 0, "delta": {"content": arg.split(" ")[0] + " "}}]}
                    event = f"data: {json.dumps(chunk)}\n\n".encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                if kind == "stall":
                    time.sleep(arg)
                    return
                if kind == "events":
                    self.wfile.write(b"".join(f"data: {data}\n\n".encode() for data in arg))
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(b": keep-alive comment\n\n")
                for word in arg.split(" "):
                    chunk = {"choices": [{"index": 0, "delta": {"content": word + " "}}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(
                    b'data: {"choices": [], "usage": {"completion_tokens": 3}}\n\ndata: [DONE]\n\n'
                )
                self.wfile.flush()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), Handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def die(self) -> None:
        self.dead.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.die()


def request(text: str = "hi", adapter: str | None = None) -> GenerationRequest:
    return GenerationRequest(messages=[ChatMessage(role="user", content=text)], adapter=adapter, seed=1)


def client(url: str, **kwargs: Any) -> OpenAICompatGenerator:
    options: dict[str, Any] = {"model": "base-model", "retry_backoff_s": 0.01, "read_timeout_s": 5.0}
    return OpenAICompatGenerator(url, **{**options, **kwargs})


def test_streams_chunks_and_sends_the_request_fields(fake_openai):
    gen = client(fake_openai.url, api_key="s3cret")
    fake_openai.steps.append(("reply", "Boots are here."))
    chunks = list(gen.stream(request("boots please")))
    assert chunks == ["Boots ", "are ", "here. "]
    sent = fake_openai.requests[0]
    assert sent["auth"] == "Bearer s3cret"
    body = sent["body"]
    assert body["model"] == "base-model" and body["stream"] is True
    assert body["messages"] == [{"role": "user", "content": "boots please"}]
    assert (body["max_tokens"], body["temperature"], body["seed"]) == (80, 0.0, 1)


def test_adapter_goes_into_the_model_field(fake_openai):
    gen = client(fake_openai.url)
    assert generate(gen, request(adapter="cs-lora")).strip() == "Hello there. Welcome!"
    assert fake_openai.requests[0]["body"]["model"] == "cs-lora"
    assert fake_openai.requests[0]["auth"] is None


def test_unknown_adapter_names_what_is_served(fake_openai):
    with pytest.raises(
        GeneratorError, match=r"does not serve model 'nope' \(it serves: base-model, cs-lora\)"
    ):
        generate(client(fake_openai.url), request(adapter="nope"))


def test_retries_5xx_and_429_before_the_first_token_then_succeeds(fake_openai):
    fake_openai.steps.extend([("status", 503), ("status", 429)])
    assert generate(client(fake_openai.url, retries=2), request()).strip() == "Hello there. Welcome!"
    assert len(fake_openai.requests) == 3


def test_gives_up_after_the_retries(fake_openai):
    fake_openai.steps.extend([("status", 500)] * 3)
    with pytest.raises(GeneratorError, match="answered 500: scripted 500 .gave up after 2 attempts"):
        generate(client(fake_openai.url, retries=1), request())
    assert len(fake_openai.requests) == 2


def test_client_errors_are_not_retried(fake_openai):
    fake_openai.steps.append(("status", 401))
    with pytest.raises(GeneratorError, match="set generator.api_key"):
        generate(client(fake_openai.url, retries=3), request())
    assert len(fake_openai.requests) == 1


def test_read_timeout_is_a_clear_error(fake_openai):
    fake_openai.steps.append(("stall", 2.0))
    start = time.perf_counter()
    with pytest.raises(GeneratorError, match="no token from .* for 0.3s"):
        generate(client(fake_openai.url, read_timeout_s=0.3), request())
    assert time.perf_counter() - start < 1.5


def test_endpoint_down_says_how_to_start_it():
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    gen = client(url, retries=2)
    start = time.perf_counter()
    with pytest.raises(
        GeneratorError, match=r"cannot reach the model server .* after 3 attempts; start it with"
    ):
        generate(gen, request())
    assert time.perf_counter() - start < 2
    with pytest.raises(GeneratorError, match="shopassist serve-model"):
        gen.warm_up()


def test_health_lists_models_and_warm_up_checks_the_base_name(fake_openai):
    assert client(fake_openai.url).health() == ["base-model", "cs-lora"]
    client(fake_openai.url).warm_up()
    with pytest.raises(GeneratorError, match="set generator.served_model"):
        client(fake_openai.url, model="other").warm_up()


def test_routing_explicit_endpoints_then_resolver_then_url(fake_openai):
    gen = client(
        "http://default:1",
        endpoints={"merged": fake_openai.url + "/"},
        resolve=lambda name: "http://lora-box:2" if name == "cs-lora" else None,
    )
    assert gen.route(None) == ("base-model", ["http://default:1"])
    assert gen.route("cs-lora") == ("cs-lora", ["http://lora-box:2"])
    assert gen.route("merged") == ("merged", [fake_openai.url])
    several = client("http://a:1, http://b:2/", endpoints={"merged": ["http://c:3", "http://c:3/"]})
    assert several.route(None) == ("base-model", ["http://a:1", "http://b:2"])
    assert several.route("merged") == ("merged", ["http://c:3"])


def test_events_without_text_are_skipped_and_error_events_are_clear(fake_openai):
    role = {"choices": [{"index": 0, "delta": {"role": "assistant"}}]}
    text = {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}
    fake_openai.steps.append(("events", [json.dumps(role), json.dumps(text), "[DONE]", json.dumps(text)]))
    assert list(client(fake_openai.url).stream(request())) == ["Hi"]  # nothing after [DONE]
    fake_openai.steps.append(("events", [json.dumps(text), json.dumps({"error": {"message": "boom"}})]))
    with pytest.raises(GeneratorError, match="failed mid-reply: boom"):
        generate(client(fake_openai.url), request())
    fake_openai.steps.append(("events", ["{not json"]))
    with pytest.raises(GeneratorError, match="malformed event: '{not json'"):
        generate(client(fake_openai.url), request())
    assert len(fake_openai.requests) == 3  # neither failure was retried


def test_no_retry_once_text_has_been_streamed(fake_openai):
    fake_openai.steps.append(("drop", "Boots are here."))
    chunks: list[str] = []
    with pytest.raises(GeneratorError, match="dropped the reply"):
        for chunk in client(fake_openai.url, retries=3).stream(request()):
            chunks.append(chunk)
    assert chunks == ["Boots "]
    assert len(fake_openai.requests) == 1


def test_fallback_engine_when_the_endpoint_is_down():
    server = client(f"http://127.0.0.1:{free_port()}", retries=0)
    stand_in = FakeGenerator(["From the stand-in."])
    gen = FallbackGenerator(CircuitBreaker(server, recheck_s=60), lambda: stand_in)
    assert generate(gen, request(adapter="cs-lora")) == "From the stand-in."
    assert stand_in.requests[0].adapter is None  # the stand-in has no task adapters
    problem = engine_problem(gen) or ""
    assert "cannot reach" in problem and "fake engine answers instead" in problem
    start = time.perf_counter()
    assert generate(gen, request()) == "Here is what I found."  # primary skipped while it is down
    assert time.perf_counter() - start < 0.05


def test_fallback_returns_to_the_primary_when_it_is_back(fake_openai):
    stand_in = FakeGenerator(["stand-in"])
    gen = FallbackGenerator(client(fake_openai.url), lambda: stand_in)
    gen.last_error = "cannot reach the model server"
    assert engine_problem(gen)
    assert generate(gen, request()).strip() == "Hello there. Welcome!"
    assert engine_problem(gen) is None and stand_in.requests == []


def test_registry_builds_the_engine_from_settings(settings, fake_openai):
    settings.generator.url = fake_openai.url
    settings.generator.served_model = "base-model"
    gen = create_generator("vllm", settings=settings)
    assert isinstance(gen, CircuitBreaker) and isinstance(gen.inner, OpenAICompatGenerator)
    assert gen.route("x") == ("x", [fake_openai.url])
    settings.generator.fallback = "fake"
    wrapped = create_generator("openai", settings=settings)
    assert isinstance(wrapped, FallbackGenerator) and wrapped.fallback.name == "fake"
    settings.generator.fallback = "vllm"
    with pytest.raises(GeneratorError, match="fall back to itself"):
        create_generator("vllm", settings=settings)


def test_default_url_and_name_follow_the_serving_settings(settings):
    settings.serving.port = 8123
    gen = create_generator("vllm", settings=settings)
    assert gen.route(None) == ("smollm2-135m-instruct", ["http://127.0.0.1:8123"])


def test_bad_urls_fail_at_configuration():
    from assistant.config import ConfigError

    with pytest.raises(ConfigError, match="generator.url: .*not an http"):
        load_settings(generator={"url": "localhost:8000"})
    assert load_settings(generator={"endpoints": {"m": "http://h:1/v1/"}}).generator.endpoints == {
        "m": "http://h:1"
    }


def test_a_dead_server_built_from_settings_is_remembered(settings):
    """The engine as the shop builds it (breaker from settings): the first request pays for the
    connection attempt, the next ones fail at once with the reason, until the probe sees it back."""
    settings.generator.url = f"http://127.0.0.1:{free_port()}"
    settings.generator.retries = 0
    gen = create_generator("vllm", settings=settings)
    with pytest.raises(GeneratorError, match="cannot reach"):
        generate(gen, request())
    start = time.perf_counter()
    with pytest.raises(GeneratorError, match="down since"):
        generate(gen, request())
    assert time.perf_counter() - start < 0.05


# -- several servers per model ------------------------------------------------------------------------


@pytest.fixture
def two_servers() -> Iterator[tuple[FakeOpenAI, FakeOpenAI]]:
    servers = FakeOpenAI(), FakeOpenAI()
    yield servers
    for server in servers:
        server.die()


def up(gen: OpenAICompatGenerator) -> dict[str, bool]:
    return {s["url"]: s["up"] for s in gen.endpoint_status()}


def test_config_takes_several_urls_as_a_list_or_comma_separated(monkeypatch):
    from assistant.config import ConfigError

    gen = load_settings(generator={"url": ["http://a:1/v1", "http://b:2/", "http://a:1"]}).generator
    assert gen.url == ["http://a:1", "http://b:2"]
    assert load_settings(generator={"url": "http://a:1/"}).generator.url == "http://a:1"  # as before
    endpoints = {"m": ["http://c:3", "http://d:4"], "n": "http://e:5"}
    assert load_settings(generator={"endpoints": endpoints}).generator.endpoints == endpoints
    with pytest.raises(ConfigError, match="generator.url: .*not an http"):
        load_settings(generator={"url": ["http://a:1", "b:2"]})
    monkeypatch.setenv("SHOPASSIST_GENERATOR__URL", "http://a:1, http://b:2")
    assert load_settings().generator.url == ["http://a:1", "http://b:2"]
    monkeypatch.setenv("SHOPASSIST_GENERATOR__URL", '["http://a:1", "http://b:2"]')
    assert load_settings().generator.url == ["http://a:1", "http://b:2"]


def test_requests_spread_round_robin_and_skip_a_dead_server(two_servers):
    a, b = two_servers
    dead = f"http://127.0.0.1:{free_port()}"
    gen = client([a.url, dead, b.url], retry_backoff_s=5.0, recheck_s=60)
    start = time.perf_counter()
    for _ in range(6):
        assert generate(gen, request()).strip() == "Hello there. Welcome!"
    assert time.perf_counter() - start < 2  # the dead one cost one refused connection, no backoff
    assert (len(a.requests), len(b.requests)) == (3, 3)
    assert up(gen) == {a.url: True, dead: False, b.url: True}
    status = {s["url"]: s for s in gen.endpoint_status()}
    assert status[dead]["requests"] == 1 and "cannot reach" in status[dead]["last_error"]
    assert all(s["outstanding"] == 0 for s in status.values())


def test_a_busy_or_failing_server_moves_the_request_at_once(two_servers):
    a, b = two_servers
    gen = client([a.url, b.url], retry_backoff_s=5.0, recheck_s=60)
    a.steps.append(("status", 429))
    start = time.perf_counter()
    assert generate(gen, request()).strip() == "Hello there. Welcome!"
    assert (len(a.requests), len(b.requests)) == (1, 1)
    assert up(gen) == {a.url: True, b.url: True}  # busy is not down
    a.steps.append(("status", 503))  # both idle: the one picked longest ago (a) goes first
    assert generate(gen, request()).strip() == "Hello there. Welcome!"
    assert (len(a.requests), len(b.requests)) == (2, 2)
    assert up(gen) == {a.url: False, b.url: True}  # 503: not serving, skipped until a probe passes
    assert time.perf_counter() - start < 2  # no backoff while another server was left
    generate(gen, request())
    assert (len(a.requests), len(b.requests)) == (2, 3)


def test_all_servers_down_fails_at_once_then_the_probe_brings_them_back(two_servers):
    a, b = two_servers
    gen = client([a.url, b.url], recheck_s=0.1)
    gen.pool.mark_down(a.url, "scripted a")
    gen.pool.mark_down(b.url, "scripted b")
    start = time.perf_counter()
    with pytest.raises(
        EngineDown, match=r"all 2 model servers for 'base-model' marked down \(scripted a; scripted b"
    ):
        generate(gen, request())
    assert time.perf_counter() - start < 0.05 and a.requests == b.requests == []
    deadline = time.monotonic() + 3
    while not all(up(gen).values()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert up(gen) == {a.url: True, b.url: True}
    assert generate(gen, request()).strip() == "Hello there. Welcome!"


def test_warm_up_and_health_need_one_answering_server(fake_openai):
    dead = f"http://127.0.0.1:{free_port()}"
    gen = client([dead, fake_openai.url], recheck_s=60)
    gen.warm_up()  # one answers: fine, the other is marked down
    assert up(gen) == {dead: False, fake_openai.url: True}
    assert gen.health() == ["base-model", "cs-lora"]
    with pytest.raises(GeneratorError, match="none of the 2 model servers answers"):
        client([dead, f"http://127.0.0.1:{free_port()}"]).warm_up()


def test_the_breaker_opens_only_when_every_server_is_down(settings, two_servers):
    a, b = two_servers
    settings.generator.url = [a.url, b.url]
    settings.generator.served_model = "base-model"
    settings.generator.retry_backoff_s = 0.01
    settings.generator.recheck_s = 60
    gen = create_generator("vllm", settings=settings)
    assert isinstance(gen, CircuitBreaker)
    a.die()
    for _ in range(3):
        assert generate(gen, request()).strip() == "Hello there. Welcome!"
    assert gen.down_since is None and up(gen.inner) == {a.url: False, b.url: True}
    b.die()
    with pytest.raises(GeneratorError, match="cannot reach the model server"):
        generate(gen, request())
    assert gen.down_since is not None
    with pytest.raises(EngineDown, match="down since"):
        generate(gen, request())


@pytest.mark.integration
def test_a_server_killed_mid_run_fails_no_request_and_comes_back():
    """30 requests, 8 at a time, over two servers that each take 0.1 s; one dies after a few. The
    requests it held (no token yet) and the later ones go to the survivor; none fails. The dead one
    is skipped until it listens again and the probe passes, then gets requests again."""
    a, b = FakeOpenAI(delay=0.1), FakeOpenAI(delay=0.1)
    gen = client([a.url, b.url], retries=0, recheck_s=0.1)
    before_kill: dict[str, int] = {}
    peak = {a.url: 0, b.url: 0}

    def one(i: int) -> str:
        if not a.dead.is_set():
            for s in gen.endpoint_status():
                peak[s["url"]] = max(peak[s["url"]], s["outstanding"])
        return generate(gen, request(f"q{i}"))

    try:
        with ThreadPoolExecutor(8) as pool:
            replies = [pool.submit(one, i) for i in range(30)]
            deadline = time.monotonic() + 5
            while len(a.requests) < 6 and time.monotonic() < deadline:
                time.sleep(0.005)
            before_kill = {"a": len(a.requests), "b": len(b.requests)}
            a.die()
            assert [f.result(timeout=10).strip() for f in replies] == ["Hello there. Welcome!"] * 30
        # Least outstanding: while both were up they shared the 8 in flight about evenly.
        assert before_kill["a"] >= 6 and before_kill["b"] >= 4
        assert max(peak.values()) <= 5
        assert up(gen) == {a.url: False, b.url: True}
        # a dropped the requests it held: they (and every later one) were answered by b.
        assert len(a.requests) + len(b.requests) > 30
        revived = FakeOpenAI(port=a.port)
        try:
            deadline = time.monotonic() + 3
            while not up(gen)[a.url] and time.monotonic() < deadline:
                time.sleep(0.02)
            assert up(gen)[a.url]
            for i in range(4):
                generate(gen, request(f"again {i}"))
            assert len(revived.requests) == 2
        finally:
            revived.die()
    finally:
        a.die()
        b.die()
        gen.close()
