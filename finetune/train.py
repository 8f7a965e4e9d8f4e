"""The LoRA training loop: our own, small, so checkpoints, resume and packing are under our control.

A run is identified by its config, data fingerprint and base model (`TrainConfig.run_key`); its
checkpoint (adapter, optimizer, scheduler, RNG states, data position, history) is rewritten
atomically every `checkpoint_every` steps, so a run killed at any moment resumes from the last
checkpoint with the same step counter, optimizer moments and batch order. The frozen base weights
sit in bfloat16 where the CPU has fast bf16 (half the memory traffic of fp32, which is what limits a
CPU here); the LoRA weights and AdamW state stay float32. torch, transformers and peft are imported
only inside the functions.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import BadInput
from finetune.config import TrainConfig
from finetune.data import Batch, Encoded, Example, collate, encode_all, pack_rows

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint"
TRAINING_JSON = "training.json"


class TrainError(BadInput):
    """Training cannot start or continue; the message says what to change."""


@dataclass
class TrainResult:
    output_dir: Path
    adapter_dir: Path | None
    step: int
    total_steps: int
    tokens_seen: int
    finished: bool
    stopped_early: bool
    resumed_from_step: int | None
    best_val_loss: float | None
    history: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


def peak_rss_gib() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)


def resolve_device_dtype(config: TrainConfig) -> tuple[str, Any]:
    import torch

    from retrieval.offline import cpu_has_fast_bf16

    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if config.dtype == "auto":
        fast = device != "cpu" or cpu_has_fast_bf16()
        return device, torch.bfloat16 if fast else torch.float32
    return device, getattr(torch, config.dtype)


def device_defaults(overrides: dict[str, Any]) -> dict[str, Any]:
    """On CUDA (bf16 via dtype=auto) use a larger micro-batch unless the user chose one: a GPU has
    the memory, and the CPU default of 4 would leave it mostly idle."""
    import torch

    device = overrides.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and "batch_size" not in overrides:
        return {**overrides, "batch_size": 16, "grad_accum": overrides.get("grad_accum", 1)}
    return overrides


def _micro_batches(encoded: list[Encoded], config: TrainConfig, epoch: int, pad_id: int) -> list[Batch]:
    """The epoch's micro-batches in a fixed order (seed + epoch), so a resumed run replays it exactly."""
    order = list(encoded)
    random.Random(config.seed * 1000 + epoch).shuffle(order)
    if config.packing:
        rows = pack_rows(order, config.max_length)
        return [
            collate(rows[i : i + config.batch_size], pad_id, packed=True)
            for i in range(0, len(rows), config.batch_size)
        ]
    return [
        collate(
            [[e] for e in order[i : i + config.batch_size]], pad_id, packed=False, pad_to=config.max_length
        )
        for i in range(0, len(order), config.batch_size)
    ]


# TrainConfig.schedule -> transformers scheduler name; each warms up linearly from 0 over
# `warmup_steps` (lr factor step / warmup_steps), then decays to 0 at `total_steps` or stays flat.
HF_SCHEDULES = {"cosine": "cosine", "linear": "linear", "constant": "constant_with_warmup"}


def make_scheduler(optimizer: Any, config: TrainConfig, total_steps: int) -> Any:
    """The learning-rate schedule (`transformers.get_scheduler`, a `LambdaLR`), stepped once per
    optimizer step. Its state (`last_epoch`, base lrs) is saved in the checkpoint and reloaded into a
    scheduler built the same way, so a resumed run continues the same curve."""
    from transformers import get_scheduler

    return get_scheduler(
        HF_SCHEDULES[config.schedule],
        optimizer,
        num_warmup_steps=config.warmup_steps,
        num_training_steps=total_steps,
    )


def _tensors(batch: Batch, device: str) -> dict[str, Any]:
    import torch

    out = {
        "input_ids": torch.tensor(batch.input_ids, device=device),
        "position_ids": torch.tensor(batch.position_ids, device=device),
    }
    if batch.attention_mask is not None:
        out["attention_mask"] = torch.tensor(batch.attention_mask, device=device)
    out["labels"] = torch.tensor(batch.labels, device=device)
    return out


def _loss_sum(model: Any, batch: Batch, device: str, dtype: Any) -> Any:
    """Summed next-token cross entropy over the labelled (assistant) tokens of one micro-batch.

    The vocabulary projection runs only on the labelled positions: full logits for every prompt
    token (49k floats each, kept for backward) were most of the peak memory, and wasted work.
    """
    import torch
    import torch.nn.functional as F

    t = _tensors(batch, device)
    labels = t.pop("labels")
    shift_labels = labels[:, 1:]
    keep = shift_labels != -100
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    autocast = dtype != torch.float32
    with torch.autocast(device_type=device.split(":")[0], dtype=dtype, enabled=autocast):
        hidden = base.model(**t, use_cache=False).last_hidden_state
        logits = base.lm_head(hidden[:, :-1, :][keep])
    return F.cross_entropy(logits.float(), shift_labels[keep], reduction="sum")


def evaluate_loss(model: Any, batches: list[Batch], device: str, dtype: Any) -> float:
    """Mean loss per assistant token over the validation batches."""
    import torch

    was_training = model.training
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for b in batches:
            total += float(_loss_sum(model, b, device, dtype))
            n += b.target_tokens
    if was_training:
        model.train()
    return total / max(1, n)


def load_lora_model(model_dir: Path, config: TrainConfig, device: str, dtype: Any) -> tuple[Any, Any]:
    """Base model (frozen, in `dtype`) with fresh LoRA layers (float32), and its tokenizer."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from retrieval.offline import set_offline_env

    set_offline_env()
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    except OSError as exc:
        raise TrainError(f"cannot load the base model from {model_dir}: {exc}") from exc
    if config.gradient_checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        base.enable_input_require_grads()
    names = {n.rsplit(".", 1)[-1] for n, _ in base.named_modules()}
    missing = [m for m in config.target_modules if m not in names]
    if missing:
        raise TrainError(
            f"target module(s) {', '.join(missing)} do not exist in {model_dir.name}; "
            f"pick from the linear layers, e.g. {', '.join(sorted(n for n in names if n.endswith('proj')))}"
        )
    torch.manual_seed(config.seed)
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, lora)
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    return model.to(device), tokenizer


def _save_checkpoint(
    ckpt_dir: Path, model: Any, optimizer: Any, scheduler: Any, state: dict[str, Any]
) -> None:
    """Write the checkpoint into a temporary folder, then swap it in: a kill never leaves half of one.
    The state keeps the peak memory so far, so a resumed run reports the peak of all its processes."""
    import numpy as np
    import torch

    state["peak_rss_gib"] = max(float(state.get("peak_rss_gib") or 0.0), peak_rss_gib())

    tmp = ckpt_dir.with_name(ckpt_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp / "adapter")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    rng = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    torch.save(rng, tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps(state, indent=2))
    old = ckpt_dir.with_name(ckpt_dir.name + ".old")
    if ckpt_dir.exists():
        if old.exists():
            shutil.rmtree(old)
        ckpt_dir.rename(old)
    tmp.rename(ckpt_dir)
    if old.exists():
        shutil.rmtree(old)


def _load_checkpoint(ckpt_dir: Path, model: Any, optimizer: Any, scheduler: Any) -> dict[str, Any]:
    import numpy as np
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = load_file(str(ckpt_dir / "adapter" / "adapter_model.safetensors"))
    set_peft_model_state_dict(model, weights)
    optimizer.load_state_dict(torch.load(ckpt_dir / "optimizer.pt", weights_only=False))
    scheduler.load_state_dict(torch.load(ckpt_dir / "scheduler.pt", weights_only=False))
    rng = torch.load(ckpt_dir / "rng.pt", weights_only=False)
    random.setstate(rng["python"])
    np.random.set_state(rng["numpy"])
    torch.set_rng_state(rng["torch"])
    if rng.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    state: dict[str, Any] = json.loads((ckpt_dir / "state.json").read_text())
    return state


def find_checkpoint(output_dir: Path, run_key: str) -> Path | None:
    """The checkpoint of this exact run (same config, data and base model), if one was written."""
    ckpt = output_dir / CHECKPOINT
    if not (ckpt / "state.json").exists():
        return None
    state = json.loads((ckpt / "state.json").read_text())
    return ckpt if state.get("run_key") == run_key else None


def train(
    config: TrainConfig,
    model_dir: str | Path,
    train_examples: list[Example],
    val_examples: list[Example],
    output_dir: str | Path,
    *,
    data_fingerprint: str,
    resume: bool | None = None,
    stop_at_step: int | None = None,
    token_budget: int | None = None,
    eval_every_tokens: int | None = None,
    progress: bool = True,
    export: bool = True,
) -> TrainResult:
    """Train (or resume) one adapter; export the best adapter (by validation loss) to `output_dir/adapter`.

    resume: None resumes when a checkpoint of the same run exists, True requires one, False starts over.
    stop_at_step: end the process's work after that step's checkpoint (as if killed), without export.
    token_budget / eval_every_tokens: stop and evaluate by tokens seen instead of steps (the benchmark).
    """
    import torch
    from tqdm import tqdm

    model_dir, output_dir = Path(model_dir), Path(output_dir)
    if not train_examples:
        raise TrainError("no training examples; check --data and --max-examples")
    if not val_examples:
        raise TrainError("no validation examples; raise val_fraction or give more data")
    if config.threads:
        torch.set_num_threads(config.threads)
    device, dtype = resolve_device_dtype(config)
    random.seed(config.seed)
    model, tokenizer = load_lora_model(model_dir, config, device, dtype)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    encoded, dropped = encode_all(tokenizer, train_examples, config.max_length)
    val_sorted = sorted(val_examples, key=lambda e: e.id)[: config.max_eval_examples]
    val_encoded, _ = encode_all(tokenizer, val_sorted, config.max_length)
    if not encoded or not val_encoded:
        raise TrainError(f"every example's prompt is longer than max_length={config.max_length}; raise it")
    val_batches = [
        collate([[e] for e in val_encoded[i : i + 8]], pad_id, packed=False)
        for i in range(0, len(val_encoded), 8)
    ]
    epoch_batches = len(_micro_batches(encoded, config, 0, pad_id))
    steps_per_epoch = max(1, epoch_batches // config.grad_accum)
    total_steps = config.steps or max(1, math.ceil(config.epochs * steps_per_epoch))
    if token_budget:
        total_steps = 10**9  # stop on tokens

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = make_scheduler(optimizer, config, total_steps if not token_budget else 10**6)

    run_key = config.run_key(data_fingerprint, str(model_dir.resolve()))
    output_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = output_dir / CHECKPOINT
    existing = find_checkpoint(output_dir, run_key)
    if resume is True and existing is None:
        other = (ckpt_dir / "state.json").exists()
        raise TrainError(
            f"--resume: no checkpoint of this run in {output_dir}"
            + (
                " (the one there is for other settings or data; run with --no-resume to start over)"
                if other
                else ""
            )
        )
    state: dict[str, Any] = {
        "run_key": run_key,
        "step": 0,
        "epoch": 0,
        "batch_index": 0,
        "tokens_seen": 0,
        "best_val_loss": None,
        "best_step": None,
        "bad_evals": 0,
        "history": [],
        "train_seconds": 0.0,
    }
    resumed_from = None
    if existing is not None and resume is not False:
        state = _load_checkpoint(existing, model, optimizer, scheduler)
        resumed_from = state["step"]
        log.info("resuming %s from step %d", output_dir, resumed_from)
    elif resume is False and ckpt_dir.exists():
        shutil.rmtree(ckpt_dir)
    best_dir = ckpt_dir.with_name("best-adapter")

    model.train()
    batches = _micro_batches(encoded, config, state["epoch"], pad_id)
    bar = tqdm(
        total=token_budget if token_budget else total_steps,
        initial=state["step"] if not token_budget else state["tokens_seen"],
        desc=f"finetune {config.task}",
        unit="step" if not token_budget else "tok",
        disable=not progress,
        dynamic_ncols=True,
    )
    stopped_early = False
    window_tokens, window_start = 0, time.perf_counter()
    next_eval_tokens = (
        (state["tokens_seen"] // eval_every_tokens + 1) * eval_every_tokens if eval_every_tokens else None
    )

    def record_eval() -> bool:
        """Validation loss now; True when early stopping says to stop."""
        val = evaluate_loss(model, val_batches, device, dtype)
        entry = {"step": state["step"], "tokens_seen": state["tokens_seen"], "val_loss": round(val, 5)}
        state["history"].append(entry)
        bar.write(f"step {state['step']}: val loss {val:.4f} after {state['tokens_seen']} tokens")
        if state["best_val_loss"] is None or val < state["best_val_loss"] - 1e-4:
            state["best_val_loss"], state["best_step"], state["bad_evals"] = val, state["step"], 0
            model.save_pretrained(best_dir)
        else:
            state["bad_evals"] += 1
        return bool(config.patience and state["bad_evals"] >= config.patience)

    if not state["history"]:
        record_eval()  # the base model's loss, for "better than base" at a glance
    step_start = time.perf_counter()
    while state["step"] < total_steps:
        if token_budget and state["tokens_seen"] >= token_budget:
            break
        group: list[Batch] = []
        while len(group) < config.grad_accum:
            if state["batch_index"] >= len(batches):
                state["epoch"] += 1
                state["batch_index"] = 0
                batches = _micro_batches(encoded, config, state["epoch"], pad_id)
            group.append(batches[state["batch_index"]])
            state["batch_index"] += 1
        targets = sum(b.target_tokens for b in group) or 1
        loss_total = 0.0
        for b in group:
            loss = _loss_sum(model, b, device, dtype) / targets
            loss.backward()
            loss_total += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        state["step"] += 1
        real = sum(b.real_tokens for b in group)
        state["tokens_seen"] += real
        window_tokens += real
        now = time.perf_counter()
        state["train_seconds"] += now - step_start
        step_start = now
        bar.update(1 if not token_budget else real)
        if state["step"] % config.log_every == 0:
            elapsed = max(1e-9, now - window_start)
            bar.set_postfix(
                loss=f"{loss_total:.3f}",
                tok_s=f"{window_tokens / elapsed:.0f}",
                lr=f"{scheduler.get_last_lr()[0]:.1e}",
            )
            window_tokens, window_start = 0, now
        due = (
            state["tokens_seen"] >= next_eval_tokens
            if next_eval_tokens is not None
            else state["step"] % config.eval_every == 0
        )
        if due:
            if next_eval_tokens is not None and eval_every_tokens:
                next_eval_tokens = (state["tokens_seen"] // eval_every_tokens + 1) * eval_every_tokens
            if record_eval():
                stopped_early = True
        last = state["step"] >= total_steps or stopped_early
        if state["step"] % config.checkpoint_every == 0 or last or state["step"] == stop_at_step:
            _save_checkpoint(ckpt_dir, model, optimizer, scheduler, state)
        step_start = time.perf_counter()  # evaluation and checkpoint time is not training time
        if stopped_early or state["step"] == stop_at_step:
            break
    bar.close()
    if not stopped_early and state["history"][-1]["step"] != state["step"] and state["step"] != stop_at_step:
        record_eval()
        _save_checkpoint(ckpt_dir, model, optimizer, scheduler, state)

    finished = state["step"] != stop_at_step or state["step"] >= total_steps or stopped_early
    metrics = {
        "steps": state["step"],
        "tokens_seen": state["tokens_seen"],
        "train_seconds": round(state["train_seconds"], 2),
        "tokens_per_second": round(state["tokens_seen"] / max(1e-9, state["train_seconds"]), 1),
        "base_val_loss": state["history"][0]["val_loss"],
        "best_val_loss": state["best_val_loss"] and round(state["best_val_loss"], 5),
        "best_step": state["best_step"],
        "stopped_early": stopped_early,
        "train_examples": len(encoded),
        "val_examples_scored": len(val_encoded),
        "dropped_long_prompts": dropped,
        "peak_rss_gib": max(peak_rss_gib(), float(state.get("peak_rss_gib") or 0.0)),
        "device": device,
        "dtype": str(dtype).replace("torch.", ""),
        "threads": torch.get_num_threads(),
    }
    adapter_dir = None
    if finished and export:
        adapter_dir = output_dir / "adapter"
        if adapter_dir.exists():
            shutil.rmtree(adapter_dir)
        shutil.copytree(best_dir if best_dir.exists() else ckpt_dir / "adapter", adapter_dir)
        config.save(
            adapter_dir / TRAINING_JSON,
            data_fingerprint=data_fingerprint,
            base_model=str(model_dir),
            metrics=metrics,
            history=state["history"],
        )
    return TrainResult(
        output_dir=output_dir,
        adapter_dir=adapter_dir,
        step=state["step"],
        total_steps=total_steps,
        tokens_seen=state["tokens_seen"],
        finished=finished,
        stopped_early=stopped_early,
        resumed_from_step=resumed_from,
        best_val_loss=state["best_val_loss"],
        history=state["history"],
        metrics=metrics,
    )


def set_threads_env(threads: int | None) -> None:
    """OpenMP reads its thread count at start-up; set it before torch loads where we can."""
    if threads:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
