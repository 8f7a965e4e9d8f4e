"""llama.cpp in this process (xllamacpp): the fast CPU engine, with continuous batching and LoRA.

Why: on a laptop CPU the transformers engine decodes one stream at about a fifth of what memory
bandwidth allows; llama.cpp's quantized kernels on the packaged GGUF decode the same model several
times faster, and its server loop batches continuously (a request joins the running batch at the
next step instead of waiting for the batch to finish). The shipped PEFT adapters are converted to
GGUF LoRA files once (`lora_gguf`) and loaded at start with scale 0; each request switches its
task's adapter on, so one base serves every task, as vLLM's multi-LoRA does.

The engine keeps the `Generator` contract: it streams, a consumer that stops reading (or a request
whose deadline passes, `admission.RequestScope`) ends its generation at the next token, and a
`pattern` is enforced by llama.cpp's own grammar engine (GBNF, `grammar.regex_to_gbnf`), so a rewrite
always parses, on the prebuilt wheel and on a native build alike.
xllamacpp is imported only when the engine loads.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from assistant.generation.admission import current_scope
from assistant.generation.base import GenerationRequest, GeneratorError
from assistant.generation.grammar import regex_to_gbnf

log = logging.getLogger(__name__)
_DONE = object()


class LlamaCppGenerator:
    name = "llamacpp"

    def __init__(
        self,
        gguf_path: str | Path,
        *,
        parallel: int = 8,
        context_tokens: int = 2048,
        threads: int | None = None,
        adapters: Mapping[str, str | Path] | None = None,
        lora_cache: str | Path | None = None,
    ) -> None:
        self.gguf_path = Path(gguf_path)
        self.parallel = parallel
        self.context_tokens = context_tokens
        self.threads = threads or os.cpu_count() or 1
        self._adapter_dirs = dict(adapters or {})
        self._lora_cache = Path(lora_cache) if lora_cache else self.gguf_path.parent / "lora-gguf"
        self._adapter_ids: dict[str, int] = {}
        self._load_lock = threading.Lock()
        self._server: Any = None
        self._running: set[threading.Thread] = set()
        self._stopping = False
        self.load_seconds: float | None = None
        self.tokenizer = None  # the bench counts streamed chunks (one per token here)

    @property
    def build(self) -> str:
        """The widest vector code the loaded llama.cpp was compiled with ("AVX512" for a native build
        on this CPU, "AVX2" for the prebuilt wheel): the bench labels its rows with it."""
        import xllamacpp

        info = xllamacpp.get_system_info()
        for level in ("AVX512", "AVX2", "AVX", "NEON"):
            if f"{level} = 1" in info:
                return level
        return "generic"

    @property
    def loaded_adapters(self) -> list[str]:
        return list(self._adapter_ids)

    def warm_up(self) -> None:
        with self._load_lock:
            if self._server is not None:
                return
            start = time.perf_counter()
            try:
                import xllamacpp
            except ImportError as exc:  # pragma: no cover - a dependency of the package
                raise GeneratorError(
                    "engine 'llamacpp' needs xllamacpp: pip install xllamacpp (or use engine 'embedded')"
                ) from exc
            if not self.gguf_path.is_file():
                raise GeneratorError(f"no GGUF model at {self.gguf_path}; set generator.gguf to a .gguf file")
            from assistant.generation.lora_gguf import cached_adapter

            params = xllamacpp.CommonParams()
            params.model.path = str(self.gguf_path)
            params.n_parallel = self.parallel
            params.n_ctx = self.context_tokens * self.parallel
            # One KV cache shared by the slots (a long prompt borrows room from idle slots) and flash
            # attention: measured here 117-139 vs 114-122 tok/s at 8 requests (noisy, same at 1).
            params.kv_unified = True
            params.flash_attn_type = xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_ENABLED
            params.cpuparams.n_threads = self.threads
            params.cpuparams_batch.n_threads = self.threads
            params.verbosity = int(os.environ.get("SHOPASSIST_LLAMACPP_VERBOSITY", "-1"))
            params.warmup = True
            loras = []
            for index, (name, folder) in enumerate(sorted(self._adapter_dirs.items())):
                info = xllamacpp.CommonAdapterLoraInfo()
                info.path = str(cached_adapter(Path(folder), self.gguf_path, self._lora_cache, name))
                info.scale = 0.0
                loras.append(info)
                self._adapter_ids[name] = index
            params.lora_adapters = loras
            params.lora_init_without_apply = True
            try:
                self._server = xllamacpp.Server(params)
            except Exception as exc:  # noqa: BLE001 - the native error text is all there is
                raise GeneratorError(f"llama.cpp could not load {self.gguf_path}: {exc}") from exc
            self.load_seconds = time.perf_counter() - start
            log.info(
                "llama.cpp loaded %s with %d adapters in %.2fs",
                self.gguf_path.name,
                len(loras),
                self.load_seconds,
            )
            atexit.register(self.close)

    def close(self) -> None:
        """Stop the requests in flight at their next token, wait for them, then free the server.

        A thread still inside llama.cpp when the interpreter exits aborts the process, so the
        engine closes (at exit too) only after its request threads have returned."""
        self._stopping = True
        for thread in list(self._running):
            thread.join(timeout=10)
        server, self._server = self._server, None
        del server  # the native server stops its loop in its destructor

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
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
        # llama.cpp's server feeds the prompt to the sampler, so both windows below reach back into the
        # prompt at the reply's start; `repeat_window` bounds how far.
        window = request.repeat_window or request.max_new_tokens
        if request.repetition_penalty != 1.0:
            body["repeat_penalty"] = request.repetition_penalty
            body["repeat_last_n"] = window
        if request.no_repeat_ngram:
            # llama.cpp has no hard n-gram ban; its DRY sampler subtracts multiplier * base^(k - allowed)
            # from a token that would extend a k-token repeat, which at these values all but bans a
            # repeated n-gram.
            body["dry_multiplier"] = 4.0
            body["dry_base"] = 1.75
            body["dry_allowed_length"] = max(1, request.no_repeat_ngram - 1)
            body["dry_penalty_last_n"] = window
        if request.pattern:
            body["grammar"] = regex_to_gbnf(request.pattern)
        if self._adapter_ids:
            wanted = request.adapter
            if wanted is not None and wanted not in self._adapter_ids:
                raise GeneratorError(
                    f"adapter {wanted!r} is not loaded in the llama.cpp engine (loaded: "
                    f"{', '.join(self._adapter_ids) or 'none'}); adapters are read at start: restart it"
                )
            body["lora"] = [
                {"id": i, "scale": 1.0 if name == wanted else 0.0} for name, i in self._adapter_ids.items()
            ]
        elif request.adapter is not None:
            raise GeneratorError(
                f"adapter {request.adapter!r} requested but this engine has no adapters; "
                "train one with `shopassist finetune`"
            )
        return body

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        self.warm_up()
        server = self._server
        if server is None:
            raise GeneratorError("the llama.cpp engine is closed")
        body = self._body(request)
        scope = current_scope()
        out: queue.Queue[Any] = queue.Queue()
        state = {"cancelled": False}

        def on_chunk(chunk: Any) -> bool:
            if isinstance(chunk, dict) and chunk.get("error"):
                out.put(GeneratorError(f"llama.cpp: {_error_text(chunk['error'])}"))
                return True
            for choice in chunk.get("choices", ()) if isinstance(chunk, dict) else ():
                text = (choice.get("delta") or {}).get("content")
                if text:
                    out.put(text)
            # Returning True stops this request at the next token: the reader left or time is up.
            return state["cancelled"] or self._stopping or (scope is not None and scope.stopped() is not None)

        def run() -> None:
            try:
                result = server.handle_chat_completions(body, on_chunk)
                if isinstance(result, dict) and result.get("error"):
                    out.put(GeneratorError(f"llama.cpp: {_error_text(result['error'])}"))
            except Exception as exc:  # noqa: BLE001 - the caller hears about every failure
                out.put(exc)
            finally:
                self._running.discard(threading.current_thread())
                out.put(_DONE)

        thread = threading.Thread(target=run, name="shopassist-llamacpp", daemon=True)
        self._running.add(thread)
        thread.start()
        try:
            while True:
                item = out.get()
                if item is _DONE:  # a deadline ends the text early, as in the embedded engine
                    return
                if isinstance(item, GeneratorError):
                    raise item
                if isinstance(item, BaseException):
                    raise GeneratorError(f"generation failed: {item}") from item
                yield item
        finally:
            state["cancelled"] = True


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def from_settings_or_args(*, settings: Any = None, **kwargs: Any) -> LlamaCppGenerator:
    if settings is None:
        return LlamaCppGenerator(**kwargs)
    from assistant.generation.adapters import AdapterRegistry, base_name, base_of
    from assistant.generation.models import locate_smollm_gguf

    gen = settings.generator
    gguf = Path(gen.gguf).expanduser() if gen.gguf is not None else locate_smollm_gguf()
    if gen.gguf_format is not None and gguf.is_file():
        from assistant.generation.gguf_requant import requantized

        gguf = requantized(gguf, gen.gguf_format, Path(settings.models_dir) / "gguf")
    base = base_of(settings)
    registry = AdapterRegistry.for_home(settings.home)
    adapters = {r.name: r.path for r in registry.list() if base_name(r.base_model) == base}
    return LlamaCppGenerator(
        gguf,
        parallel=gen.max_batch_size,
        context_tokens=gen.context_tokens,
        threads=gen.threads,
        adapters=adapters,
        lora_cache=Path(settings.models_dir) / "lora-gguf",
    )
