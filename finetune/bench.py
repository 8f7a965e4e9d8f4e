"""Training-speed benchmark: the naive setup against the optimized one, for the same tokens, one run.

Each setup trains in its own process (so its peak RSS is its own) on the same data, with the same
learning rate and a constant schedule, and checks validation loss at the same token counts, so
"faster" can be read next to "learns as much per token".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# The naive setup is what a first script does: fp32 everywhere, fixed 8 x 256 padded rows, all cores.
# The optimized one: bf16 frozen weights + autocast (AMX), packed rows (no padding), and one core
# fewer than the machine has: on a shared 2-core box OpenMP threads that wait on each other were
# 3x slower than one thread (43 vs 139 tokens/s measured).
_THREADS = max(1, (os.cpu_count() or 2) - 1)
SETUPS: dict[str, dict[str, Any]] = {
    "naive": {"dtype": "float32", "batch_size": 8, "max_length": 256, "packing": False},
    "optimized": {"dtype": "auto", "batch_size": 8, "max_length": 256, "packing": True, "threads": _THREADS},
    "optimized+checkpointing": {
        "dtype": "auto",
        "batch_size": 8,
        "max_length": 256,
        "packing": True,
        "gradient_checkpointing": True,
        "threads": _THREADS,
    },
}
_COMMON = {"lr": 3e-4, "schedule": "constant", "warmup_steps": 2, "grad_accum": 1, "patience": 0, "steps": 0}


def run_setup(
    settings: Any, task: str, data: Sequence[Path] | None, setup: str, tokens: int, evals: int, workdir: Path
) -> dict[str, Any]:
    """Train one setup for `tokens` tokens in this process; what the child process reports."""
    from assistant.models import resolve_generator_model
    from finetune.config import TrainConfig
    from finetune.tasks import build_task_data
    from finetune.train import train

    config = TrainConfig(task=task, **_COMMON, **SETUPS[setup])  # type: ignore[arg-type]
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
