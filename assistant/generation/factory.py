"""Engines by name: the one place that knows which module builds which engine.

Built-in engines are named by "module:function" and imported only when asked for, so importing
the contract (`base`) never loads torch or an HTTP client, and no engine module imports this one
(there is no registration side effect to create an import cycle). A plugin adds its own engine with
`register_generator`. Wrapping a remote engine in its stand-in (`generator.fallback`) is
composition, so it happens here too, not inside the engine.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from assistant.generation.base import Generator, GeneratorError

GeneratorFactory = Callable[..., Generator]

_BUILTIN: dict[str, str] = {
    "embedded": "assistant.generation.embedded:from_settings_or_args",
    "llamacpp": "assistant.generation.llamacpp:from_settings_or_args",
    "fake": "assistant.generation.fake:from_settings_or_args",
    "vllm": "assistant.generation.openai_compat:from_settings_or_args",
    "openai": "assistant.generation.openai_compat:from_settings_or_args",
}
# Engines that talk to a server and may take `generator.fallback` as their stand-in.
REMOTE = frozenset({"vllm", "openai"})
_REGISTRY: dict[str, GeneratorFactory] = {}


def register_generator(name: str, factory: GeneratorFactory | None = None) -> Any:
    """Register `factory` under `name` (also usable as a decorator)."""

    def wrap(f: GeneratorFactory) -> GeneratorFactory:
        _REGISTRY[name] = f
        return f

    return wrap(factory) if factory is not None else wrap


def available_generators() -> list[str]:
    return sorted(set(_BUILTIN) | set(_REGISTRY))


def _factory(name: str) -> GeneratorFactory:
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name not in _BUILTIN:
        raise GeneratorError(
            f"unknown generator engine {name!r}; available: {', '.join(available_generators())}"
        )
    module, attr = _BUILTIN[name].split(":")
    factory: GeneratorFactory = getattr(importlib.import_module(module), attr)
    return factory


def create_generator(name: str, **kwargs: Any) -> Generator:
    """Build an engine by name; unknown names list the known ones. A remote engine built from
    settings gets a circuit breaker (an outage is remembered, not paid for on every request), then
    its stand-in when `generator.fallback` names one."""
    generator = _factory(name)(**kwargs)
    settings = kwargs.get("settings")
    if settings is None or name not in REMOTE:
        return generator
    from assistant.generation.breaker import CircuitBreaker

    gen = settings.generator
    generator = CircuitBreaker(generator, failures=gen.breaker_failures, recheck_s=gen.recheck_s)
    fallback = gen.fallback
    if not fallback:
        return generator
    if fallback in REMOTE:
        raise GeneratorError(f"generator.fallback {fallback!r} would fall back to itself; use 'embedded'")
    from assistant.generation.fallback import FallbackGenerator

    return FallbackGenerator(generator, lambda: create_generator(fallback, settings=settings))


def with_admission(generator: Generator, settings: Any) -> Generator:
    """`generator` behind a bounded queue with deadlines (`admission.AdmissionGenerator`), as the
    serving surfaces use it; benchmarks and evaluations use engines without one, to measure them."""
    from assistant.generation.admission import AdmissionGenerator

    gen = settings.generator
    active = gen.max_active or (64 if gen.engine in REMOTE else gen.max_batch_size)
    return AdmissionGenerator(
        generator, max_active=active, max_queue=gen.max_queue, queue_timeout_s=gen.queue_timeout_s
    )
