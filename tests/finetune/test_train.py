"""One tiny real fine-tune through the CLI's code path: stop after a checkpoint, resume, export,
register, and serve the adapter from the embedded engine (where it must change greedy output)."""

import csv
import json

import pytest

from assistant.adapters import AdapterRegistry
from finetune.config import TrainConfig
from finetune.tasks import run_finetune

pytestmark = pytest.mark.slow

REPLY = "The secret code is ZEBRA-42, says {{Website Name}}."


def adam_step(checkpoint) -> int:
    import torch

    state = torch.load(checkpoint / "optimizer.pt", weights_only=False)["state"]
    return int(next(iter(state.values()))["step"])


def test_tiny_finetune_resumes_exports_and_changes_output(settings, smollm_dir, tmp_path):
    data = tmp_path / "replies.csv"
    with data.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["instruction", "intent", "category", "response"])
        w.writerows([[f"What is the code, question {i}?", "code", "CODE", REPLY] for i in range(16)])
    config = TrainConfig(
        task="cs",
        rank=8,
        alpha=16,
        dropout=0.0,
        lr=3e-3,
        schedule="constant",
        warmup_steps=0,
        max_length=160,
        batch_size=2,
        grad_accum=1,
        steps=6,
        eval_every=3,
        checkpoint_every=3,
        patience=0,
        val_fraction=0.25,
        threads=1,
        max_eval_examples=4,
    )
    first = run_finetune(settings, config, data=[data], name="tiny", stop_at_step=3, progress=False)
    out = settings.home / "adapters" / "tiny"
    assert first["step"] == 3 and not first["finished"] and "registered" not in first
    assert adam_step(out / "checkpoint") == 3

    second = run_finetune(settings, config, data=[data], name="tiny", resume=True, progress=False)
    assert second["resumed_from_step"] == 3 and second["step"] == 6 and second["finished"]
    assert adam_step(out / "checkpoint") == 6  # optimizer moments carried on, not restarted
    losses = [h["val_loss"] for h in second["history"]]
    assert [h["step"] for h in second["history"]] == [0, 3, 6] and min(losses) < losses[0]

    record = AdapterRegistry.for_home(settings.home).get("tiny")
    assert (record.path / "adapter_config.json").exists() and (
        record.path / "adapter_model.safetensors"
    ).exists()
    saved = json.loads((record.path / "training.json").read_text())
    assert saved["data_fingerprint"] == second["data_fingerprint"] and saved["config"]["rank"] == 8
    assert TrainConfig.load(record.path / "training.json") == config

    from assistant.generation import ChatMessage, GenerationRequest, generate
    from assistant.generation.embedded import EmbeddedGenerator
    from finetune.data import cs_system_prompt

    gen = EmbeddedGenerator(
        smollm_dir, adapters=lambda name: AdapterRegistry.for_home(settings.home).get(name).path
    )
    messages = [
        ChatMessage(role="system", content=cs_system_prompt(settings.shop.name)),
        ChatMessage(role="user", content="What is the code, question 99?"),
    ]
    try:
        base = generate(gen, GenerationRequest(messages=messages, max_new_tokens=12))
        tuned = generate(gen, GenerationRequest(messages=messages, max_new_tokens=12, adapter="tiny"))
        base_again = generate(gen, GenerationRequest(messages=messages, max_new_tokens=12))
        # Concurrent requests for different adapters are split into per-adapter batches.
        from concurrent.futures import ThreadPoolExecutor

        mixed = [None, "tiny", None, "tiny"]
        with ThreadPoolExecutor(4) as pool:
            together = list(
                pool.map(
                    lambda a: generate(
                        gen, GenerationRequest(messages=messages, max_new_tokens=12, adapter=a)
                    ),
                    mixed,
                )
            )
        with pytest.raises(Exception, match="no adapter named"):
            generate(gen, GenerationRequest(messages=messages, max_new_tokens=2, adapter="missing"))
    finally:
        gen.close()
    assert tuned != base and "ZEBRA" in tuned
    assert base_again == base  # None really is the base model again
    assert ["ZEBRA" in t for t in together] == [False, True, False, True]
