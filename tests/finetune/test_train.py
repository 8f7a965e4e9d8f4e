"""One tiny real fine-tune through the CLI's code path: stop after a checkpoint, resume, export,
merge, register, and serve the adapter from the embedded engine (where it must change greedy output).
The learning-rate schedule (transformers' schedulers) is checked on its own, without a model."""

import csv
import io
import json

import pytest

from assistant.generation.adapters import AdapterRegistry
from finetune.config import TrainConfig
from finetune.tasks import run_finetune
from finetune.train import make_scheduler

REPLY = "The secret code is ZEBRA-42, says {{Website Name}}."


def adam_step(checkpoint) -> int:
    import torch

    state = torch.load(checkpoint / "optimizer.pt", weights_only=False)["state"]
    return int(next(iter(state.values()))["step"])


def scheduler_step(checkpoint) -> int:
    import torch

    return int(torch.load(checkpoint / "scheduler.pt", weights_only=False)["last_epoch"])


@pytest.mark.parametrize("schedule", ["cosine", "linear", "constant"])
def test_schedule_warms_up_decays_and_resumes_from_its_saved_state(schedule):
    import torch

    config = TrainConfig(schedule=schedule, warmup_steps=4, lr=1e-3)

    def fresh():
        optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=config.lr)
        return optimizer, make_scheduler(optimizer, config, total_steps=20)

    def run(optimizer, scheduler, steps):
        lrs = []
        for _ in range(steps):
            lrs.append(scheduler.get_last_lr()[0])
            optimizer.step()
            scheduler.step()
        return lrs

    optimizer, scheduler = fresh()
    lrs = run(optimizer, scheduler, 8)
    saved = io.BytesIO()  # as the checkpoint does: torch.save of both state dicts, then torch.load
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, saved)
    lrs += run(optimizer, scheduler, 12)
    assert lrs[:5] == pytest.approx([0.0, 0.25e-3, 0.5e-3, 0.75e-3, 1e-3])  # linear warmup from 0
    if schedule == "constant":
        assert lrs[4:] == pytest.approx([1e-3] * 16)
    else:  # half way through the decay at step 12, and 0 at the end
        assert lrs[12] == pytest.approx(0.5e-3) and scheduler.get_last_lr()[0] == pytest.approx(0.0)
        assert all(a > b for a, b in zip(lrs[4:], lrs[5:], strict=False))

    optimizer, scheduler = fresh()
    saved.seek(0)
    state = torch.load(saved, weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    assert run(optimizer, scheduler, 12) == pytest.approx(lrs[8:])  # the same curve, not restarted


@pytest.mark.slow
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
    assert adam_step(out / "checkpoint") == 3 and scheduler_step(out / "checkpoint") == 3
    # the peak memory so far travels with the checkpoint: a resumed run reports the peak of all its runs
    assert json.loads((out / "checkpoint" / "state.json").read_text())["peak_rss_gib"] > 0.1

    second = run_finetune(settings, config, data=[data], name="tiny", resume=True, merge=True, progress=False)
    assert second["resumed_from_step"] == 3 and second["step"] == 6 and second["finished"]
    assert adam_step(out / "checkpoint") == 6  # optimizer moments carried on, not restarted
    assert scheduler_step(out / "checkpoint") == 6  # and the schedule too
    losses = [h["val_loss"] for h in second["history"]]
    assert [h["step"] for h in second["history"]] == [0, 3, 6] and min(losses) < losses[0]

    record = AdapterRegistry.for_home(settings.home).get("tiny")
    assert (record.path / "adapter_config.json").exists() and (
        record.path / "adapter_model.safetensors"
    ).exists()
    saved = json.loads((record.path / "training.json").read_text())
    assert saved["data_fingerprint"] == second["data_fingerprint"] and saved["config"]["rank"] == 8
    assert TrainConfig.load(record.path / "training.json") == config
    merged = AdapterRegistry.for_home(settings.home).get("tiny").merged_path
    assert merged == out / "merged" and str(merged) == second["merged_dir"]
    assert (merged / "config.json").exists() and (merged / "shopassist-merge.json").exists()

    from assistant.generation import ChatMessage, GenerationRequest, generate
    from assistant.generation.embedded import EmbeddedGenerator
    from prompts.tasks import cs_system_prompt

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
