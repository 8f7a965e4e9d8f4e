"""The GPU check: the embedded engine's generation bench on a CUDA device, in one prepared run.

Run where a GPU is lent (see bench/README.md, "GPU check"):

    python3 bench/gpu_check.py --model-config .gpu/smollm2 --json $OUT/gpu-check.json

Why random weights: the lent machine reaches nothing outside it and takes at most 64 MiB of files
per call, less than the SmolLM2 weights (94 MB as Q4_1 GGUF, 269 MB as bf16). Throughput does not
depend on the weights' values, so the check builds the same architecture from its config.json with
random weights (seed 0) and the real tokenizer; the text is noise, the timings are the model's.
vLLM's CUDA build and llama.cpp's CUDA wheel are each several hundred MB, over the same limit, so
they cannot run there; the table says so instead of guessing.

It uses the project's own engine and bench (`assistant.generation.embedded`, `.bench`), which need
only pydantic beyond what the machine has (carried as wheels).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def gpu_bandwidth_gbs(size_mib: int = 1024, repeats: int = 10) -> float:
    """Device memory bandwidth from a large copy (bytes read plus written), best of `repeats`."""
    import torch

    src = torch.ones(size_mib * 2**20 // 2, dtype=torch.bfloat16, device="cuda")
    dst = torch.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        dst.copy_(src)
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * src.numel() * 2 / best / 1e9


def random_model(config_dir: Path, out: Path) -> Path:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(config_dir)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    for name in config_dir.iterdir():
        if name.suffix in {".json", ".jinja"} and name.name != "config.json":
            shutil.copy(name, out / name.name)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-config", type=Path, required=True, help="config.json + tokenizer folder")
    parser.add_argument("--levels", default="1,8,32,64")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--device", default="cuda", help="cpu only to try the script itself")
    args = parser.parse_args()

    import torch
    import transformers

    from assistant.generation.adapters import SHIPPED_DIR
    from assistant.generation.bench import bench_generate
    from assistant.generation.embedded import EmbeddedGenerator

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: this check runs only where a GPU is lent")
    levels = [int(x) for x in args.levels.split(",")]
    model_dir = random_model(args.model_config, Path("/tmp/smollm2-random"))
    bandwidth = gpu_bandwidth_gbs() if args.device == "cuda" else None
    adapters = {p.name: p for p in SHIPPED_DIR.iterdir() if (p / "adapter_config.json").exists()}
    rows = []
    for label, adapter, batch, stagger in (
        ("embedded-cuda", None, max(levels), 0.0),
        ("embedded-cuda:rewrite-lora", "rewrite-lora", max(levels), 0.0),
        ("embedded-cuda staggered 50ms", None, max(levels), 0.05),
    ):
        gen = EmbeddedGenerator(model_dir, device=args.device, max_batch_size=batch, adapters=adapters)
        run_levels = levels if stagger == 0.0 and adapter is None else [1, 8]
        rows += bench_generate(
            gen,
            run_levels,
            max_new_tokens=args.max_new_tokens,
            rounds=args.rounds,
            adapter=adapter,
            label=label,
            stagger_s=stagger,
            bandwidth_gbs=bandwidth,
        )
        gen.close()
        del gen
        if args.device == "cuda":
            torch.cuda.empty_cache()
    header = list(rows[0])
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(str(row.get(k)) for k in header))
    report = {
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else platform.processor(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "weights": "random (SmolLM2-135M architecture, bf16, seed 0): timings only",
        "gpu_bandwidth_gbs": round(bandwidth, 1) if bandwidth else None,
        "not_run": {
            "vllm": "vLLM's CUDA wheel (hundreds of MB) exceeds the 64 MiB a call may carry; no network there",
            "llamacpp-cuda": "xllamacpp's CUDA wheel is on its own index, not reachable there",
        },
        "results": rows,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "results"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
