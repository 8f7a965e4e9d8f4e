"""The zero-setup engine: transformers in this process, with dynamic batching and streaming.

Requests that arrive while the engine is idle wait a few milliseconds for company, then are
decoded together in one left-padded batch (one forward pass per token for all of them), which is
where a CPU gets its throughput. Each request still streams its own text as tokens come out;
finished or abandoned rows leave the batch so the rest decode faster. torch and transformers are
imported only when the engine loads.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.generation.admission import RequestScope, current_scope
from assistant.generation.base import GenerationRequest, GeneratorError
from retrieval.offline import cpu_has_fast_bf16, set_offline_env

log = logging.getLogger(__name__)
_DONE = object()
_STOP = object()


@dataclass
class _Job:
    request: GenerationRequest
    out: queue.Queue[Any] = field(default_factory=queue.Queue)
    cancelled: bool = False  # the consumer stopped reading
    submitted: float = field(default_factory=time.perf_counter)
    # The request's deadline and cancellation (admission.RequestScope), checked at every token.
    scope: RequestScope | None = None

    def gone(self) -> bool:
        """Nobody will read more of this row: drop it from its batch."""
        return self.cancelled or (self.scope is not None and self.scope.stopped() is not None)


class EmbeddedGenerator:
    name = "embedded"

    def __init__(
        self,
        model_dir: str | Path,
        *,
        dtype: str = "auto",
        max_batch_size: int = 8,
        batch_wait_ms: int = 10,
        threads: int | None = None,
        device: str | None = None,
        adapters: Mapping[str, str | Path] | Callable[[str], str | Path] | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.dtype_name = dtype
        self.max_batch_size = max_batch_size
        self.batch_wait = batch_wait_ms / 1000
        self.threads = threads
        self.device_name = device
        self._queue: queue.Queue[_Job] = queue.Queue()
        self._load_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self.model: Any = None
        self.tokenizer: Any = None
        self.load_seconds: float | None = None
        self.batches_run = 0
        self._stopping = False
        self.largest_batch = 0
        # LoRA adapters by name: a mapping, or a lookup (the adapter registry) called on first use.
        self._adapter_source = adapters
        self._peft: Any = None  # the PeftModel wrapping self.model once an adapter is loaded
        self.loaded_adapters: list[str] = []

    # -- loading -------------------------------------------------------------------------------
    def warm_up(self) -> None:
        with self._load_lock:
            if self.model is not None:
                return
            set_offline_env()
            start = time.perf_counter()
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            if self.threads:
                torch.set_num_threads(self.threads)
            device = self.device_name or ("cuda" if torch.cuda.is_available() else "cpu")
            if self.dtype_name == "auto":
                dtype = torch.bfloat16 if device != "cpu" or cpu_has_fast_bf16() else torch.float32
            else:
                dtype = getattr(torch, self.dtype_name)
            try:
                self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
                model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=dtype)
            except OSError as exc:
                raise GeneratorError(f"cannot load the model from {self.model_dir}: {exc}") from exc
            self.model = model.to(device).eval()  # type: ignore[arg-type]
            # transformers 5.2x renamed `past_key_values` to `cache`; support both spellings.
            import inspect

            self._cache_arg = (
                "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
            )
            self.device = device
            self.dtype = dtype
            eos = {self.tokenizer.eos_token_id}
            gen_eos = getattr(model.generation_config, "eos_token_id", None)
            eos |= set(gen_eos if isinstance(gen_eos, list) else [gen_eos])
            im_end = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
            if isinstance(im_end, int) and im_end != self.tokenizer.unk_token_id:
                eos.add(im_end)
            self.eos_ids = {e for e in eos if e is not None}
            self.pad_id = self.tokenizer.pad_token_id
            if self.pad_id is None:
                self.pad_id = next(iter(self.eos_ids))
            self.load_seconds = time.perf_counter() - start
            log.info("loaded %s (%s, %s) in %.2fs", self.model_dir, device, dtype, self.load_seconds)
            self._worker = threading.Thread(target=self._loop, name="shopassist-embedded", daemon=True)
            self._worker.start()
            # A daemon thread killed inside a torch kernel at interpreter exit aborts the process;
            # stop it cleanly first.
            atexit.register(self.close)

    def close(self) -> None:
        """Finish the batch in flight (its callers stop early) and stop the worker thread."""
        self._stopping = True
        if self._worker is not None and self._worker.is_alive():
            self._queue.put(_STOP)  # type: ignore[arg-type]
            self._worker.join(timeout=30)

    # -- the Generator contract -----------------------------------------------------------------
    def stream(self, request: GenerationRequest) -> Iterator[str]:
        self.warm_up()
        job = _Job(request, scope=current_scope())
        self._queue.put(job)
        try:
            while True:
                item = job.out.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise GeneratorError(f"generation failed: {item}") from item
                yield item
        finally:
            job.cancelled = True  # a consumer that stops early frees its batch row

    # -- the batching worker --------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            deadline = time.perf_counter() + self.batch_wait
            while len(batch) < self.max_batch_size:
                remaining = deadline - time.perf_counter()
                try:
                    job = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP:
                    self._queue.put(job)  # handled after this batch
                    break
                batch.append(job)
            live = []
            for job in batch:
                if job.gone():  # abandoned while queued: tell a consumer still waiting, skip the work
                    job.out.put(_DONE)
                else:
                    live.append(job)
            batch = live
            # One adapter per forward pass: requests for different adapters decode in separate
            # batches (in arrival order of their first request).
            groups: dict[str | None, list[_Job]] = {}
            for job in batch:
                groups.setdefault(job.request.adapter, []).append(job)
            for adapter, jobs in groups.items():
                try:
                    self._activate_adapter(adapter)
                    self._run_batch(jobs)
                except Exception as exc:  # noqa: BLE001 - every waiting caller must hear about it
                    log.exception("batch failed")
                    for job in jobs:
                        job.out.put(exc)
                finally:
                    for job in jobs:
                        job.out.put(_DONE)  # a second one for a finished row is never read

    # -- adapters (run on the worker thread only, so never during a forward pass) -----------------
    def _adapter_path(self, name: str) -> Path:
        source = self._adapter_source
        if source is None:
            raise GeneratorError(
                f"adapter {name!r} requested but this engine has no adapters; train one with `shopassist finetune`"
            )
        if callable(source):
            return Path(source(name))
        if name not in source:
            raise GeneratorError(f"no adapter named {name!r}; known: {', '.join(source) or 'none'}")
        return Path(source[name])

    def _activate_adapter(self, name: str | None) -> None:
        """Make `name` the active LoRA (loading it on first use); None means the base model."""
        if name is None:
            if self._peft is not None:
                self._peft.base_model.disable_adapter_layers()
            return
        if name not in self.loaded_adapters:
            path = self._adapter_path(name)
            if not (path / "adapter_config.json").exists():
                raise GeneratorError(f"adapter {name!r}: {path} has no adapter_config.json")
            from peft import PeftModel

            if self._peft is None:
                self._peft = PeftModel.from_pretrained(self.model, str(path), adapter_name=name)
                self._peft.to(self.device)
                self._peft.eval()
            else:
                self._peft.load_adapter(str(path), adapter_name=name)
                self._peft.to(self.device)
            self.loaded_adapters.append(name)
            log.info("loaded adapter %s from %s", name, path)
        self._peft.base_model.enable_adapter_layers()
        self._peft.base_model.set_adapter(name)

    def _prompt_ids(self, request: GenerationRequest) -> list[int]:
        messages = [m.model_dump() for m in request.messages]
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _run_batch(self, jobs: list[_Job]) -> None:
        import torch

        self.batches_run += 1
        self.largest_batch = max(self.largest_batch, len(jobs))
        prompts = [self._prompt_ids(j.request) for j in jobs]
        width = max(len(p) for p in prompts)
        input_ids = torch.full((len(jobs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(jobs), width), dtype=torch.long)
        for row, ids in enumerate(prompts):
            input_ids[row, width - len(ids) :] = torch.tensor(ids)
            mask[row, width - len(ids) :] = 1
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        generated: list[list[int]] = [[] for _ in jobs]
        emitted = [""] * len(jobs)
        active = list(range(len(jobs)))  # indices into jobs of rows still in the batch
        generators = [
            torch.Generator().manual_seed(j.request.seed) if j.request.seed is not None else None
            for j in jobs
        ]
        with torch.inference_mode():
            out = self.model(
                input_ids=input_ids,
                attention_mask=mask,
                position_ids=positions,
                use_cache=True,
                logits_to_keep=1,
            )
            cache = self._cache_of(out)
            logits = out.logits[:, -1, :].float()
            while active:
                next_tokens = [
                    self._choose(logits[k], jobs[j].request, generators[j], generated[j])
                    for k, j in enumerate(active)
                ]
                keep: list[int] = []
                for k, j in enumerate(active):
                    job, token = jobs[j], next_tokens[k]
                    finished = job.gone() or self._stopping or token in self.eos_ids
                    if not finished:
                        generated[j].append(token)
                        finished = self._emit(job, generated[j], emitted, j)
                        finished = finished or len(generated[j]) >= job.request.max_new_tokens
                    if finished:
                        job.out.put(_DONE)  # its caller goes on now, not when the whole batch ends
                    else:
                        keep.append(k)
                if not keep:
                    break
                if len(keep) < len(active):
                    index = torch.tensor(keep, device=self.device)
                    cache.batch_select_indices(index)
                    mask, positions = mask[index], positions[index]
                    next_tokens = [next_tokens[k] for k in keep]
                    active = [active[k] for k in keep]
                step_ids = torch.tensor(next_tokens, device=self.device).unsqueeze(1)
                mask = torch.cat(
                    [mask, torch.ones((len(active), 1), dtype=mask.dtype, device=self.device)], dim=1
                )
                positions = positions[:, -1:] + 1
                out = self.model(
                    input_ids=step_ids,
                    attention_mask=mask,
                    position_ids=positions,
                    use_cache=True,
                    **{self._cache_arg: cache},
                )
                cache = self._cache_of(out)
                logits = out.logits[:, -1, :].float()

    @staticmethod
    def _cache_of(out: Any) -> Any:
        cache = getattr(out, "cache", None)
        return cache if cache is not None else out.past_key_values

    def _choose(
        self, logits: Any, request: GenerationRequest, generator: Any, generated: list[int] | None = None
    ) -> int:
        """The next token of one row. Repetition penalty (CTRL's, as transformers applies it: positive
        logits divided, negative multiplied) and n-gram blocking look only at the tokens this row has
        generated, not its prompt: copy must repeat the attributes' words, and a row's own tokens are
        few, so both cost a set and one scan per step. Greedy stays a pure argmax of the adjusted
        logits (reproducible); sampling draws with the row's seeded generator."""
        import torch

        penalty, n = request.repetition_penalty, request.no_repeat_ngram
        if generated and request.repeat_window is not None:
            generated = generated[-request.repeat_window :]
        if generated and (penalty != 1.0 or n > 0):
            logits = logits.clone()  # a view of the batch's logits: leave the other rows alone
            if penalty != 1.0:
                seen = torch.tensor(sorted(set(generated)), dtype=torch.long, device=logits.device)
                values = logits[seen]
                logits[seen] = torch.where(values > 0, values / penalty, values * penalty)
            if n == 1:
                banned = set(generated)
            elif n > 1:
                # the tokens that followed this row's last n-1 tokens before would repeat an n-gram
                tail, last = generated[len(generated) - n + 1 :], generated[-1]
                banned = {
                    generated[i + n - 1]
                    for i in range(len(generated) - n + 1)
                    if generated[i + n - 2] == last and generated[i : i + n - 1] == tail
                }
            else:
                banned = set()
            if banned:
                logits[sorted(banned)] = float("-inf")
        if request.temperature <= 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits / request.temperature, dim=-1)
        if request.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            keep = sorted_probs.cumsum(-1) - sorted_probs < request.top_p
            probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
        return int(torch.multinomial(probs, 1, generator=generator))

    def _emit(self, job: _Job, ids: list[int], emitted: list[str], row: int) -> bool:
        """Send the new text of one row; True when a stop string ended it."""
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        stop_at = min((text.find(s) for s in job.request.stop if s and s in text), default=-1)
        if stop_at >= 0:
            text = text[:stop_at]
        elif text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
            return False
        delta = text[len(emitted[row]) :]
        if delta:
            emitted[row] = text
            job.out.put(delta)
        return stop_at >= 0


def from_settings_or_args(*, settings: Any = None, **kwargs: Any) -> EmbeddedGenerator:
    if settings is None:
        return EmbeddedGenerator(**kwargs)
    from assistant.generation.adapters import AdapterRegistry
    from assistant.generation.models import resolve_generator_model

    gen = settings.generator
    registry = AdapterRegistry.for_home(settings.home)
    return EmbeddedGenerator(
        resolve_generator_model(gen.model, settings.models_dir),
        dtype=gen.dtype,
        max_batch_size=gen.max_batch_size,
        batch_wait_ms=gen.batch_wait_ms,
        threads=gen.threads,
        adapters=lambda name: registry.get(name).path,
    )
