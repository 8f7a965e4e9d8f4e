"""Engine 'vllm': any OpenAI-compatible server (vLLM, llama.cpp's server, a hosted API) over HTTP.

The model runs in another process, possibly on another machine, so this module is only a client,
built on the official `openai` SDK (one SDK client per endpoint URL, its own retries off): streamed
`/v1/chat/completions`. A LoRA adapter is selected the way vLLM names it, by the `model` field; a
name served elsewhere (a merged adapter on its own server) is routed by `endpoints`. A model may
have several servers (replicas): each request goes to the least busy one that is up
(`endpoints.EndpointPool`). Failures before the first token (connection refused, 5xx, 429) move the
request to another server at once, then are retried with backoff; a server that cannot be reached
or answers 502/503/504 is skipped until a background probe finds it back. Once text has been
streamed a failure is final, because a retry would repeat words the caller has already shown. Every
error is a `GeneratorError` that says what to do. No torch, no vllm.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx2
import openai
from openai import APIConnectionError, APIError, APIStatusError, APITimeoutError, NotFoundError, omit

from assistant.generation.admission import DeadlineExceeded, current_scope
from assistant.generation.base import GenerationRequest, GeneratorError
from assistant.generation.breaker import EngineDown
from assistant.generation.endpoints import EndpointPool

log = logging.getLogger(__name__)

START_HINT = "start it with `shopassist serve-model --detach` (or set generator.url to a running server)"
_RETRYABLE_STATUS = {429, 500, 502, 503, 504}
# Answers that say the server is not serving at all (a 429 is a busy server, a 500 often one request's
# failure): the server is skipped until a probe passes, instead of only this request moving on.
_DOWN_STATUS = {502, 503, 504}
# Timeouts before the request is on the wire: the server is unreachable, not slow.
_NOT_SENT = (httpx2.ConnectTimeout, httpx2.PoolTimeout, httpx2.WriteTimeout)


class OpenAICompatGenerator:
    """Streams chat completions from OpenAI-compatible servers; thread-safe (one client per URL).

    `url` and each `endpoints` value may be one URL or several serving the same names."""

    name = "vllm"

    def __init__(
        self,
        url: str | Sequence[str],
        *,
        model: str,
        api_key: str | None = None,
        endpoints: Mapping[str, str | Sequence[str]] | None = None,
        resolve: Callable[[str], str | None] | None = None,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 60.0,
        retries: int = 2,
        retry_backoff_s: float = 0.5,
        recheck_s: float = 10.0,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.urls = _url_list(url)
        self.model = model
        self.endpoints = {k: _url_list(v) for k, v in (endpoints or {}).items()}
        self.resolve = resolve
        self.read_timeout_s = read_timeout_s
        self.retries = retries
        self.retry_backoff_s = retry_backoff_s
        self._api_key = api_key or ""
        self._timeout = httpx2.Timeout(read_timeout_s, connect=connect_timeout_s)
        # Sent with every request: no key means no Authorization header at all (a local server), and
        # never the OPENAI_* organization/project that the SDK would otherwise read from the environment.
        self._headers: dict[str, str | openai.Omit] = {"OpenAI-Organization": omit, "OpenAI-Project": omit}
        if not api_key:
            self._headers["Authorization"] = omit
        self._clients: dict[str, openai.OpenAI] = {}
        self._lock = threading.Lock()
        configured = [*self.urls, *(u for urls in self.endpoints.values() for u in urls)]
        self.pool = EndpointPool(self.health, recheck_s=recheck_s, urls=configured)

    def _client(self, url: str) -> openai.OpenAI:
        """The SDK client for one endpoint, made on first use; retries are ours (before the first token)."""
        with self._lock:
            client = self._clients.get(url)
            if client is None:
                client = self._clients[url] = openai.OpenAI(
                    base_url=f"{url}/v1",
                    # "EMPTY" is vLLM's convention for a server without --api-key (an empty key would make
                    # the SDK read OPENAI_API_KEY from the environment); the header itself is omitted then.
                    api_key=self._api_key or "EMPTY",
                    timeout=self._timeout,
                    max_retries=0,
                )
            return client

    # -- routing -------------------------------------------------------------------------------
    def route(self, adapter: str | None) -> tuple[str, list[str]]:
        """(model field, base URLs) for a request: explicit endpoints, then running servers, then `url`."""
        model = adapter or self.model
        if model in self.endpoints:
            return model, self.endpoints[model]
        found = self.resolve(model) if self.resolve else None
        return model, [found.rstrip("/")] if found else self.urls

    def endpoint_status(self) -> list[dict[str, Any]]:
        """Each model server's state: url, up, outstanding (requests in flight), requests, down_since,
        last_error. Named apart from a generic `status` so the wrappers' attribute forwarding finds it."""
        return self.pool.status()

    # -- health ----------------------------------------------------------------------------------
    def health(self, url: str | None = None) -> list[str]:
        """The model names the server serves; raises GeneratorError when it does not answer. Without
        `url`, the base model's servers are asked in turn: the first that answers is marked up (the
        circuit breaker's probe thereby brings back the pool too) and its names returned."""
        if url is not None:
            return self._health(url.rstrip("/"))
        errors: list[GeneratorError] = []
        for candidate in self.route(None)[1]:
            try:
                served = self._health(candidate)
            except GeneratorError as exc:
                errors.append(exc)
                continue
            self.pool.mark_up(candidate)
            return served
        if len(errors) == 1:
            raise errors[0]
        raise GeneratorError(
            f"none of the {len(errors)} model servers answers: " + "; ".join(map(str, errors))
        )

    def _health(self, url: str) -> list[str]:
        try:
            try:  # vLLM's liveness check (it fails when the engine died while the API still answers)
                options: openai.RequestOptions = {"timeout": 5, "headers": self._headers}
                self._client(url).get(f"{url}/health", cast_to=httpx2.Response, options=options)
            except NotFoundError:
                pass  # not vLLM: /v1/models is the OpenAI way to ask
            return self.served_models(url)
        except APIError as exc:
            raise GeneratorError(
                f"the model server at {url} is not answering ({_describe(exc)}); {START_HINT}"
            ) from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise GeneratorError(f"{url}/v1/models is not an OpenAI model list ({exc})") from exc

    def served_models(self, url: str) -> list[str]:
        url = url.rstrip("/")
        page = self._client(url).models.list(timeout=5, extra_headers=self._headers)
        return [m.id for m in page.data]

    def warm_up(self) -> None:
        """Fail early (for the UI and benchmarks) when the base model is not served: by none of its
        servers answering, or by one that answers with other names (a configuration error). A server
        that does not answer while another does is only marked down."""
        model, urls = self.route(None)
        errors: list[GeneratorError] = []
        for url in urls:
            try:
                served = self._health(url)
            except GeneratorError as exc:
                errors.append(exc)
                self.pool.mark_down(url, str(exc))
                continue
            self.pool.mark_up(url)
            if served and model not in served:
                raise GeneratorError(
                    f"the server at {url} serves {', '.join(served)}, not {model!r}; set generator.served_model"
                )
        if len(errors) == len(urls):
            if len(errors) == 1:
                raise errors[0]
            raise GeneratorError(
                f"none of the {len(errors)} model servers answers: " + "; ".join(map(str, errors))
            )

    def close(self) -> None:
        self.pool.close()
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    # -- generation ------------------------------------------------------------------------------
    def stream(self, request: GenerationRequest) -> Iterator[str]:
        model, urls = self.route(request.adapter)
        messages: list[Any] = [m.model_dump() for m in request.messages]
        scope = current_scope()
        tried: list[str] = []  # servers that failed this request before its first token
        attempts = retries = 0
        error, unreachable, cause = "", False, None  # the last failure, for the final message
        while True:
            if scope is not None and (why := scope.stopped()):
                raise DeadlineExceeded(f"generation stopped: {why}") from cause
            # Another server that is up at once; when every one has failed (or is down), back off and
            # retry the least busy: a blip on a single server should not fail the request.
            url = self.pool.pick(urls, avoid=tried)
            picked_down = False
            if url is None:
                if not tried:
                    raise EngineDown(self._all_down(model, urls))
                servers = len(set(tried))
                if retries >= self.retries:
                    on = f" on {servers} servers" if servers > 1 else ""
                    if unreachable:
                        raise GeneratorError(
                            f"{error} after {attempts} attempts{on}; {START_HINT}"
                        ) from cause
                    raise GeneratorError(f"{error} (gave up after {attempts} attempts{on})") from None
                delay = self.retry_backoff_s * 2**retries
                log.info("model server: %s; retrying in %.2fs", error, delay)
                if scope is not None and scope.wait(delay):
                    raise DeadlineExceeded(f"generation stopped: {scope.stopped()}")
                if scope is None:
                    time.sleep(delay)
                retries += 1
                url = self.pool.pick(urls, anyway=True)
                assert url is not None  # `anyway` always picks one of the (never empty) candidates
                picked_down = not self.pool.is_up(url)
            attempts += 1
            started = False
            # A request with a deadline waits for tokens no longer than it has left.
            left = scope.remaining() if scope is not None else None
            timeout = (
                self._timeout
                if left is None
                else httpx2.Timeout(max(0.1, min(left, self.read_timeout_s)), connect=self._timeout.connect)
            )
            try:
                chunks = self._client(url).chat.completions.create(
                    timeout=timeout,
                    model=model,
                    messages=messages,
                    stream=True,
                    max_tokens=request.max_new_tokens,
                    temperature=request.temperature,
                    top_p=request.top_p,
                    stop=request.stop or omit,
                    seed=request.seed if request.seed is not None else omit,
                    extra_headers=self._headers,
                    # vLLM decodes under the grammar, so the reply always parses there.
                    extra_body=_extra_body(request),
                )
                if picked_down:  # a server marked down answered this retry: it is back
                    self.pool.mark_up(url)
                with chunks:
                    for chunk in chunks:
                        text = _delta_text(chunk)
                        if text:
                            started = True
                            yield text
                return
            except APIConnectionError as exc:  # APITimeoutError included
                if scope is not None and (why := scope.stopped()):
                    raise DeadlineExceeded(f"generation stopped: {why}") from exc
                if isinstance(exc, APITimeoutError) and not isinstance(exc.__cause__, _NOT_SENT):
                    where = "the next" if started else "the first"
                    raise GeneratorError(
                        f"no token from {url} for {self.read_timeout_s:g}s (waiting for {where} one); the "
                        "server is overloaded or stuck: check its log, or raise generator.read_timeout_s"
                    ) from exc
                if started:
                    raise GeneratorError(
                        f"the model server at {url} dropped the reply ({_describe(exc)})"
                    ) from exc
                error, unreachable, cause = (
                    f"cannot reach the model server at {url} ({_describe(exc)})",
                    True,
                    exc,
                )
                self.pool.mark_down(url, error)
            except APIStatusError as exc:
                message = _error_message(exc)
                if exc.status_code not in _RETRYABLE_STATUS:
                    raise GeneratorError(self._explain(exc.status_code, message, url, model)) from exc
                error, unreachable, cause = (
                    f"the model server at {url} answered {exc.status_code}: {message}",
                    False,
                    None,
                )
                if exc.status_code in _DOWN_STATUS:
                    self.pool.mark_down(url, error)
            except APIError as exc:  # an error event in the stream
                raise GeneratorError(f"the model server failed mid-reply: {exc.message}") from exc
            except ValueError as exc:  # an event whose data is not JSON
                payload = exc.doc[:200] if isinstance(exc, json.JSONDecodeError) else str(exc)
                raise GeneratorError(f"the model server sent a malformed event: {payload!r}") from exc
            finally:
                self.pool.release(url)
            tried.append(url)
            log.info("model server: %s; trying another", error)

    def _all_down(self, model: str, urls: list[str]) -> str:
        """Why a request fails at once: every server for its model is marked down (and being probed)."""
        reasons = "; ".join(s["last_error"] or s["url"] for s in self.pool.status(urls))
        which = "the model server" if len(urls) == 1 else f"all {len(urls)} model servers"
        return (
            f"{which} for {model!r} marked down ({reasons}); checked again every "
            f"{self.pool.recheck_s:g}s; {START_HINT}"
        )

    def _explain(self, status: int, message: str, url: str, model: str) -> str:
        if status in (401, 403):
            return (
                f"the model server at {url} refused the request ({status}: {message}); "
                "set generator.api_key (SHOPASSIST_GENERATOR__API_KEY) to the server's --api-key"
            )
        if status == 404 or "does not exist" in message:
            try:
                served = ", ".join(self.served_models(url)) or "nothing"
            except (APIError, ValueError, KeyError, TypeError, AttributeError):
                served = "unknown"
            return (
                f"the model server at {url} does not serve model {model!r} (it serves: {served}); restart "
                "`shopassist serve-model` after registering the adapter, or fix generator.served_model / "
                "generator.task_adapters"
            )
        return f"the model server at {url} rejected the request ({status}): {message}"


def _extra_body(request: GenerationRequest) -> dict[str, Any] | None:
    """vLLM's sampling extensions: a grammar (the reply then always parses) and repetition_penalty."""
    body: dict[str, Any] = {}
    if request.pattern:
        body["structured_outputs"] = {"regex": request.pattern}
    if request.repetition_penalty != 1.0:
        body["repetition_penalty"] = request.repetition_penalty
    return body or None


def _url_list(value: str | Sequence[str]) -> list[str]:
    """Base URLs, once each: one URL, a comma-separated string (as an environment variable gives it),
    or a list."""
    items = value.split(",") if isinstance(value, str) else value
    urls = list(dict.fromkeys(u.strip().rstrip("/") for u in items if u.strip()))
    if not urls:
        raise ValueError("a model server URL is needed")
    return urls


def _delta_text(chunk: Any) -> str:
    """The text of one streamed chunk; '' for role-only, usage-only or otherwise empty chunks."""
    choices = getattr(chunk, "choices", None)
    delta = getattr(choices[0], "delta", None) if choices else None
    return str(getattr(delta, "content", None) or "")


def _error_message(exc: APIStatusError) -> str:
    """The message of an OpenAI/vLLM error body ({"error": {"message"}} or {"message"}), else the text."""
    body = exc.body  # the SDK has already taken "error" out of {"error": {...}}
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
        if isinstance(err, str):
            return err[:300]
    if isinstance(body, str) and body:
        return body[:300]
    return exc.response.reason_phrase or exc.message


def _describe(exc: APIError) -> str:
    """The SDK's message plus the transport error beneath it ("Connection error: [Errno 111] ...")."""
    cause = exc.__cause__
    return f"{exc.message.rstrip('.')}: {type(cause).__name__}: {cause}" if cause else exc.message


def from_settings(settings: Any) -> OpenAICompatGenerator:
    """The client for `settings.generator`, routing names that `serve-model` serves to their servers."""
    from assistant.generation import serving

    gen = settings.generator
    model = serving.served_base_name(settings)
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
        recheck_s=gen.recheck_s,
    )


def from_settings_or_args(*, settings: Any = None, **kwargs: Any) -> OpenAICompatGenerator:
    return OpenAICompatGenerator(**kwargs) if settings is None else from_settings(settings)
