"""Decode throughput of the model shapes behind docs/scaling.md on one GPU, with plain transformers.

    python3 deploy/measure_gpu.py --out gpu.json    # on a CUDA machine with torch, transformers, peft

No weights travel: each model is SmolLM2-135M's or a Llama-3-8B-shaped architecture with random
weights (throughput depends on the shapes, not the values; every request is forced to its full
length). transformers' `generate` has no continuous batching, paged KV cache or CUDA graphs, so
these are lower bounds for what vLLM serves from the same GPU. Prompt and reply lengths default to
what `deploy/measure.py chat` measured per model request (prompts up to 249 tokens, replies up to
80: 256 and 64 here).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

SHAPES: dict[str, dict[str, Any]] = {
    "smollm2-135m": {
        "hidden_size": 576,
        "intermediate_size": 1536,
        "num_hidden_layers": 30,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
        "head_dim": 64,
        "vocab_size": 49152,
        "tie_word_embeddings": True,
        "max_position_embeddings": 8192,
    },
    "llama-8b-shape": {
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "vocab_size": 128256,
        "tie_word_embeddings": False,
        "max_position_embeddings": 8192,
    },
}
ADAPTER = Path(__file__).resolve().parents[1] / "assistant" / "generation" / "shipped" / "answer-lora"


def run(model: Any, batch: int, prompt: int, new: int, vocab: int) -> dict[str, Any]:
    import torch

    ids = torch.randint(3, vocab, (batch, prompt), device="cuda")
    torch.cuda.synchronize()
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=new,
            min_new_tokens=new,
            do_sample=False,
            pad_token_id=0,
        )
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    made = (out.shape[1] - prompt) * batch
    return {"batch": batch, "seconds": round(seconds, 3), "new_tokens_per_s": round(made / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--prompt", type=int, default=256)
    parser.add_argument("--new", type=int, default=64)
    args = parser.parse_args()
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    result: dict[str, Any] = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}
    batches = {"smollm2-135m": [1, 16, 64, 256], "llama-8b-shape": [1, 16, 64, 128]}
    for name, shape in SHAPES.items():
        torch.set_default_dtype(torch.bfloat16)
        with torch.device("cuda"):
            model = LlamaForCausalLM(LlamaConfig(**shape)).eval()
        torch.set_default_dtype(torch.float32)
        run(model, 2, 16, 4, shape["vocab_size"])  # warm-up
        rows = [run(model, b, args.prompt, args.new, shape["vocab_size"]) for b in batches[name]]
        result[name] = rows
        print(name, rows, flush=True)
        if name == "smollm2-135m":
            try:
                from peft import PeftModel

                lora = PeftModel.from_pretrained(model, str(ADAPTER)).eval()
                run(lora, 2, 16, 4, shape["vocab_size"])
                result["smollm2-135m+answer-lora"] = [
                    run(lora, b, args.prompt, args.new, shape["vocab_size"]) for b in (16, 64)
                ]
                print("lora", result["smollm2-135m+answer-lora"], flush=True)
            except Exception as exc:  # noqa: BLE001 - the base rows stand on their own
                result["smollm2-135m+answer-lora"] = f"failed: {exc}"
        del model
        torch.cuda.empty_cache()
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
