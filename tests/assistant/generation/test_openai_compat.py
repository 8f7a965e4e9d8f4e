"""The 'vllm' engine against a tiny local OpenAI-compatible server (real HTTP, real SSE, no vLLM)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from assistant.config import load_settings
from assistant.generation import ChatMessage, GenerationRequest, GeneratorError, create_generator, generate
from assistant.generation.base import engine_problem
from assistant.generation.breaker import CircuitBreaker
from assistant.generation.fake import FakeGenerator
from assistant.generation.fallback import FallbackGenerator
from assistant.generation.openai_compat import OpenAICompatGenerator
from tests.helpers import free_port


class FakeOpenAI:
    """Scripted /v1/chat/completions: each request takes the next step, default a streamed reply.

    A step is ("reply", text), ("status", code), ("stall", seconds) (headers sent, then silence),
    ("events", [data, ...]) (raw `data:` payloads, no `[DONE]`) or ("drop", text) (a chunked reply
    cut off after its first word).
    """

    def __init__(self) -> None:
        self.steps: deque[tuple[str, Any]] = deque()
        self.requests: list[dict[str, Any]] = []
        self.models = ["base-model", "cs-lora"]
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

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.server.shutdown()
    server.server.server_close()


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
    assert gen.route(None) == ("base-model", "http://default:1")
    assert gen.route("cs-lora") == ("cs-lora", "http://lora-box:2")
    assert gen.route("merged") == ("merged", fake_openai.url)


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
    assert gen.route("x") == ("x", fake_openai.url)
    settings.generator.fallback = "fake"
    wrapped = create_generator("openai", settings=settings)
    assert isinstance(wrapped, FallbackGenerator) and wrapped.fallback.name == "fake"
    settings.generator.fallback = "vllm"
    with pytest.raises(GeneratorError, match="fall back to itself"):
        create_generator("vllm", settings=settings)


def test_default_url_and_name_follow_the_serving_settings(settings):
    settings.serving.port = 8123
    gen = create_generator("vllm", settings=settings)
    assert gen.route(None) == ("smollm2-135m-instruct", "http://127.0.0.1:8123")


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
