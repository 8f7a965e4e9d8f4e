"""Training-speed benchmark: the naive setup against the optimized one, for the same tokens, one run.

Each setup trains in its own process (so its peak RSS is its own) on the same data, with the same
learning rate and a constant schedule, and checks validation loss at the same token counts, so
"faster" can be read next to "learns as much per token".
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from finetune.config import ALL_LINEAR_TARGETS, ATTENTION_TARGETS

# The naive setup is what a first script does: fp32 everywhere, fixed 8 x 256 padded rows, all cores,
# LoRA (with dropout) on every linear layer. The optimized one, each part measured on this CPU
# (SmolLM2-135M, 8 x 256 rows, 2 threads, forward + backward + step): bf16 frozen weights (AMX;
# 277 vs 234 tokens/s for fp32), no LoRA dropout (a full-size dropout of each adapted layer's input:
# 200 vs 277 tokens/s with 0.05), LoRA on the attention projections only (420 vs 277 tokens/s with
# the MLP projections too: their skinny rank-16 products are slow on CPU), and packed rows, so no
# padding is computed. Fewer adapted layers learn less per step at the same rate, so the optimized
# setup uses lr 1e-3 (3e-4 gave 1.679 vs naive's 1.530 at 16k tokens; 1e-3 gives 1.449). Packed rows
# also mean fewer optimizer steps per token, hence lr 4e-4 for "optimized-all-modules", which keeps
# every linear layer to show what that costs. These are TrainConfig's defaults since 2026-11-29, so
# `shopassist finetune --task cs` trains this way; the naive setup pins the old ones.
# Threads: all cores, which is fastest on an idle machine; on a busy one set `threads` lower.
_ATTENTION = list(ATTENTION_TARGETS)
_FAST = {"dtype": "auto", "batch_size": 8, "max_length": 256, "packing": True, "dropout": 0.0}
SETUPS: dict[str, dict[str, Any]] = {
    "naive": {
        "dtype": "float32",
        "batch_size": 8,
        "max_length": 256,
        "packing": False,
        "dropout": 0.05,
        "target_modules": list(ALL_LINEAR_TARGETS),
    },
    "optimized": {**_FAST, "target_modules": _ATTENTION, "lr": 1e-3},
    "optimized-all-modules": {**_FAST, "target_modules": list(ALL_LINEAR_TARGETS), "lr": 4e-4},
    "optimized+checkpointing": {**_FAST, "target_modules": _ATTENTION, "gradient_checkpointing": True},
}
_COMMON = {"lr": 3e-4, "schedule": "constant", "warmup_steps": 2, "grad_accum": 1, "patience": 0, "steps": 0}


def run_setup(
    settings: Any, task: str, data: Sequence[Path] | None, setup: str, tokens: int, evals: int, workdir: Path
) -> dict[str, Any]:
    """Train one setup for `tokens` tokens in this process; what the child process reports."""
    from assistant.generation.models import resolve_generator_model
    from finetune.config import TrainConfig
    from finetune.tasks import build_task_data
    from finetune.train import train

    config = TrainConfig(task=task, **{**_COMMON, **SETUPS[setup]})
    built = build_task_data(task, data, settings.shop.name, None)
    train_ex, val_ex = built.split(config.val_fraction)
    model_dir = resolve_generator_model(settings.generator.model, settings.models_dir)
    result = train(
        config,
        model_dir,
        train_ex,
        val_ex,
        workdir / setup,
        data_fingerprint=built.fingerprint(),
        resume=False,
        token_budget=tokens,
        eval_every_tokens=max(1, tokens // evals),
        progress=False,
        export=False,
    )
    m = result.metrics
    return {
        "setup": setup,
        "tokens": m["tokens_seen"],
        "tokens_per_s": m["tokens_per_second"],
        "peak_rss_gib": m["peak_rss_gib"],
        "dtype": m["dtype"],
        "final_val_loss": result.history[-1]["val_loss"],
        "base_val_loss": m["base_val_loss"],
        "history": result.history,
        "config": SETUPS[setup],
    }


def bench_finetune(
    settings: Any, task: str, data: Sequence[Path] | None, *, tokens: int, evals: int, setups: Sequence[str]
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="shopassist-bench-ft-") as tmp:
        for setup in setups:
            out = Path(tmp) / f"{setup}.json"
            cmd = [
                sys.executable,
                "-m",
                "finetune.bench",
                setup,
                task,
                str(tokens),
                str(evals),
                tmp,
                str(out),
            ]
            cmd += [str(p) for p in data or []]
            subprocess.run(cmd, check=True, env=None)
            rows.append(json.loads(out.read_text()))
    base = next((r for r in rows if r["setup"] == "naive"), None)
    table = []
    for r in rows:
        table.append(
            {
                "setup": r["setup"],
                "tokens": r["tokens"],
                "tokens_per_s": r["tokens_per_s"],
                "speedup": round(r["tokens_per_s"] / base["tokens_per_s"], 2) if base else "",
                "peak_rss_gib": r["peak_rss_gib"],
                "val_loss_start": r["base_val_loss"],
                "val_loss_end": r["final_val_loss"],
                "val_loss_by_tokens": " ".join(
                    f"{h['tokens_seen']}:{h['val_loss']:.3f}" for h in r["history"]
                ),
            }
        )
    return {"task": task, "tokens": tokens, "rows": table, "runs": rows}


def _main(argv: list[str]) -> None:
    from assistant.config import load_settings

    setup, task, tokens, evals, workdir, out, *data = argv
    result = run_setup(
        load_settings(), task, [Path(d) for d in data] or None, setup, int(tokens), int(evals), Path(workdir)
    )
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    _main(sys.argv[1:])
