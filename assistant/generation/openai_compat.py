"""Engine 'vllm': any OpenAI-compatible server (vLLM, llama.cpp's server, a hosted API) over HTTP.

The model runs in another process, possibly on another machine, so this module is only a client:
`/v1/chat/completions` with `stream=true`, read as server-sent events. A LoRA adapter is selected
the way vLLM names it, by the `model` field; a name served elsewhere (a merged adapter on its own
server) is routed by `endpoints`. Failures before the first token (connection refused, 5xx, 429)
are retried with backoff; once text has been streamed a failure is final, because a retry would
repeat words the caller has already shown. Every error is a `GeneratorError` that says what to do.
Only httpx is imported here: no torch, no vllm.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from assistant.generation.base import GenerationRequest, GeneratorError, register_generator

log = logging.getLogger(__name__)

START_HINT = "start it with `shopassist serve-model --detach` (or set generator.url to a running server)"
_RETRYABLE_STATUS = {429, 500, 502, 503, 504}


class _Retryable(Exception):
    """A failure before the first token that another attempt may fix."""


class OpenAICompatGenerator:
    """Streams chat completions from an OpenAI-compatible endpoint; thread-safe (one pooled client)."""

    name = "vllm"

    def __init__(
        self,
        url: str,
        *,
        model: str,
        api_key: str | None = None,
        endpoints: Mapping[str, str] | None = None,
        resolve: Callable[[str], str | None] | None = None,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 60.0,
        retries: int = 2,
        retry_backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.url = url.rstrip("/")
        self.model = model
        self.endpoints = {k: v.rstrip("/") for k, v in (endpoints or {}).items()}
        self.resolve = resolve
        self.read_timeout_s = read_timeout_s
        self.retries = retries
        self.retry_backoff_s = retry_backoff_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
            transport=transport,
        )

    # -- routing -------------------------------------------------------------------------------
    def route(self, adapter: str | None) -> tuple[str, str]:
        """(model field, base URL) for a request: explicit endpoints, then running servers, then `url`."""
        model = adapter or self.model
        if model in self.endpoints:
            return model, self.endpoints[model]
        found = self.resolve(model) if self.resolve else None
        return model, (found or self.url).rstrip("/")

    # -- health ----------------------------------------------------------------------------------
    def health(self, url: str | None = None) -> list[str]:
        """The model names the endpoint serves; raises GeneratorError when it does not answer."""
        url = (url or self.route(None)[1]).rstrip("/")
        try:
            resp = self._client.get(f"{url}/health", timeout=5)
            if resp.status_code == 404:  # not vLLM: /v1/models is the OpenAI way to ask
                resp = self._client.get(f"{url}/v1/models", timeout=5)
                resp.raise_for_status()
                return [m["id"] for m in resp.json().get("data", [])]
            resp.raise_for_status()
            return self.served_models(url)
        except httpx.HTTPError as exc:
            raise GeneratorError(f"the model server at {url} is not answering ({exc}); {START_HINT}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise GeneratorError(f"{url}/v1/models is not an OpenAI model list ({exc})") from exc

    def served_models(self, url: str) -> list[str]:
        resp = self._client.get(f"{url.rstrip('/')}/v1/models", timeout=5)
        resp.raise_for_status()
        return [m["id"] for m in resp.json().get("data", [])]

    def warm_up(self) -> None:
        """Fail early (for the UI and benchmarks) when the base model is not served."""
        model, url = self.route(None)
        served = self.health(url)
        if served and model not in served:
            raise GeneratorError(
                f"the server at {url} serves {', '.join(served)}, not {model!r}; set generator.served_model"
            )

    def close(self) -> None:
        self._client.close()

    # -- generation ------------------------------------------------------------------------------
    def stream(self, request: GenerationRequest) -> Iterator[str]:
        model, url = self.route(request.adapter)
        body: dict[str, Any] = {
            "model": model,
            "messages": [m.model_dump() for m in request.messages],
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stream": True,
        }
        if request.stop:
            body["stop"] = request.stop
        if request.seed is not None:
            body["seed"] = request.seed
        attempt = 0
        while True:
            started = False
            try:
                for chunk in self._attempt(url, model, body):
                    started = True
                    yield chunk
                return
            except _Retryable as exc:
                if attempt >= self.retries:
                    raise GeneratorError(f"{exc} (gave up after {attempt + 1} attempts)") from None
                delay = self.retry_backoff_s * 2**attempt
                log.info("model server: %s; retrying in %.2fs", exc, delay)
                time.sleep(delay)
                attempt += 1
            except httpx.ReadTimeout as exc:
                where = "the next" if started else "the first"
                raise GeneratorError(
                    f"no token from {url} for {self.read_timeout_s:g}s (waiting for {where} one); the server "
                    "is overloaded or stuck: check its log, or raise generator.read_timeout_s"
                ) from exc
            except httpx.TransportError as exc:
                if started:
                    raise GeneratorError(f"the model server at {url} dropped the reply ({exc})") from exc
                if attempt >= self.retries:
                    raise GeneratorError(
                        f"cannot reach the model server at {url} ({type(exc).__name__}: {exc}) after "
                        f"{attempt + 1} attempts; {START_HINT}"
                    ) from exc
                delay = self.retry_backoff_s * 2**attempt
                log.info("model server %s unreachable (%s); retrying in %.2fs", url, exc, delay)
                time.sleep(delay)
                attempt += 1

    def _attempt(self, url: str, model: str, body: dict[str, Any]) -> Iterator[str]:
        with self._client.stream("POST", f"{url}/v1/chat/completions", json=body) as resp:
            if resp.status_code >= 400:
                resp.read()
                message = _error_message(resp)
                if resp.status_code in _RETRYABLE_STATUS:
                    raise _Retryable(f"the model server at {url} answered {resp.status_code}: {message}")
                raise GeneratorError(self._explain(resp.status_code, message, url, model))
            for line in resp.iter_lines():
                text = _parse_event(line)
                if text is None:
                    return
                if text:
                    yield text

    def _explain(self, status: int, message: str, url: str, model: str) -> str:
        if status in (401, 403):
            return (
                f"the model server at {url} refused the request ({status}: {message}); "
                "set generator.api_key (SHOPASSIST_GENERATOR__API_KEY) to the server's --api-key"
            )
        if status == 404 or "does not exist" in message:
            try:
                served = ", ".join(self.served_models(url)) or "nothing"
            except (httpx.HTTPError, ValueError, KeyError):
                served = "unknown"
            return (
                f"the model server at {url} does not serve model {model!r} (it serves: {served}); restart "
                "`shopassist serve-model` after registering the adapter, or fix generator.served_model / "
                "generator.task_adapters"
            )
        return f"the model server at {url} rejected the request ({status}): {message}"


def _error_message(resp: httpx.Response) -> str:
    """The message of an OpenAI/vLLM error body ({"error": {"message"}} or {"message"}), else the text."""
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:300] or resp.reason_phrase
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
        if isinstance(err, str):
            return err[:300]
    return resp.text[:300]


def _parse_event(line: str) -> str | None:
    """One server-sent-event line -> its text ('' for none), or None at the `[DONE]` sentinel."""
    if not line.startswith("data:"):
        return ""  # blank separator, comment (':'), or event/id field
    payload = line[5:].strip()
    if payload == "[DONE]":
        return None
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise GeneratorError(f"the model server sent a malformed event: {payload[:200]!r}") from exc
    if isinstance(data, dict) and data.get("error"):
        raise GeneratorError(f"the model server failed mid-reply: {_event_error(data['error'])}")
    choices = data.get("choices") or [] if isinstance(data, dict) else []
    if not choices:
        return ""  # e.g. a usage-only chunk
    delta = choices[0].get("delta") or {}
    return str(delta.get("content") or "")


def _event_error(error: Any) -> str:
    return str(error.get("message", error)) if isinstance(error, dict) else str(error)


def served_base_name(settings: Any) -> str:
    """The base model's name on the endpoint: configured, else what `serve-model` names it."""
    from assistant.models import DEFAULT_MODEL_NAME

    gen = settings.generator
    if gen.served_model:
        return str(gen.served_model)
    return gen.model.name if gen.model else DEFAULT_MODEL_NAME


def from_settings(settings: Any) -> OpenAICompatGenerator:
    """The client for `settings.generator`, routing names that `serve-model` serves to their servers."""
    from assistant import serving

    gen = settings.generator
    model = served_base_name(settings)
    url = gen.url or serving.endpoint_for(settings.home, model) or serving.default_url(settings)

    def resolve(name: str) -> str | None:
        return serving.endpoint_for(settings.home, name)

    return OpenAICompatGenerator(
        url,
        model=model,
        api_key=gen.api_key,
        endpoints=gen.endpoints,
        resolve=None if gen.url else resolve,
        connect_timeout_s=gen.connect_timeout_s,
        read_timeout_s=gen.read_timeout_s,
        retries=gen.retries,
        retry_backoff_s=gen.retry_backoff_s,
    )


def _make(*, settings: Any = None, **kwargs: Any) -> Any:
    if settings is None:
        return OpenAICompatGenerator(**kwargs)
    primary = from_settings(settings)
    fallback = settings.generator.fallback
    if not fallback:
        return primary
    if fallback in ("vllm", "openai"):
        raise GeneratorError(f"generator.fallback {fallback!r} would fall back to itself; use 'embedded'")
    from assistant.generation.base import create_generator
    from assistant.generation.fallback import FallbackGenerator

    return FallbackGenerator(primary, lambda: create_generator(fallback, settings=settings))


register_generator("vllm")(_make)
register_generator("openai")(_make)
