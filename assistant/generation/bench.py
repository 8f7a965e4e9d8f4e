"""Generation benchmark: the same prompts at several concurrency levels, in one process and run.

Numbers from one run are comparable with each other (ratios); absolute numbers on a shared CPU
are noisy, which is why every level runs back to back on the same prompts.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from assistant.generation.base import ChatMessage, GenerationRequest, Generator

PROMPTS = [
    "Write two sentences welcoming a shopper who is looking for waterproof hiking boots.",
    "Describe in three sentences why a good sleeping bag matters on a cold night.",
    "Explain briefly how to choose running shoes for a beginner.",
    "Write a short friendly note thanking a customer for their order.",
    "Give three tips for packing a backpack for a day hike.",
    "Describe a cosy reading lamp for a living room in three sentences.",
    "Write a short paragraph about caring for a cast iron pan.",
    "Suggest what to bring to a weekend camping trip, in a few sentences.",
]


def _count_tokens(generator: Generator, text: str, chunks: int, tokenizer: Any = None) -> int:
    """Tokens in the reply by the engine's tokenizer, else the given one (same model), else chunks."""
    tokenizer = getattr(generator, "tokenizer", None) or tokenizer
    if tokenizer is not None:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])
    return chunks


def _one(
    generator: Generator, prompt: str, max_new_tokens: int, adapter: str | None = None
) -> tuple[float, str, int]:
    """(time to first chunk, text, chunk count) of one streamed request."""
    req = GenerationRequest(
        messages=[ChatMessage(role="user", content=prompt)], max_new_tokens=max_new_tokens, adapter=adapter
    )
    t0 = time.perf_counter()
    first = None
    parts = []
    for chunk in generator.stream(req):
        if first is None:
            first = time.perf_counter() - t0
        parts.append(chunk)
    return first or 0.0, "".join(parts), len(parts)


def _concurrent(
    generator: Generator, prompts: list[str], max_new_tokens: int, adapter: str | None = None
) -> list[tuple[float, str, int]]:
    with ThreadPoolExecutor(max_workers=len(prompts)) as pool:
        return list(pool.map(lambda p: _one(generator, p, max_new_tokens, adapter), prompts))


def bench_generate(
    generator: Generator,
    levels: list[int],
    *,
    max_new_tokens: int = 128,
    rounds: int = 1,
    adapter: str | None = None,
    tokenizer: Any = None,
    label: str | None = None,
) -> list[dict[str, Any]]:
    warm = getattr(generator, "warm_up", None)
    if warm:
        warm()
    # One untimed request so that lazy initialisation (and a LoRA's first load) is not billed.
    "".join(
        generator.stream(
            GenerationRequest(
                messages=[ChatMessage(role="user", content="Hi")], max_new_tokens=4, adapter=adapter
            )
        )
    )
    rows: list[dict[str, Any]] = []
    for level in levels:
        ttfts: list[float] = []
        tokens = 0
        start = time.perf_counter()
        for r in range(rounds):
            prompts = [PROMPTS[(i + r * level) % len(PROMPTS)] for i in range(level)]
            for ttft, text, chunks in _concurrent(generator, prompts, max_new_tokens, adapter):
                ttfts.append(ttft)
                tokens += _count_tokens(generator, text, chunks, tokenizer)
        elapsed = time.perf_counter() - start
        ttfts.sort()
        rows.append(
            {
                "engine": label or getattr(generator, "name", "?"),
                "concurrency": level,
                "requests": level * rounds,
                "tokens": tokens,
                "seconds": round(elapsed, 2),
                "tokens_per_s": round(tokens / elapsed, 1),
                "ttft_p50_s": round(statistics.median(ttfts), 3),
                "ttft_p95_s": round(ttfts[min(len(ttfts) - 1, int(0.95 * len(ttfts)))], 3),
            }
        )
    base = float(rows[0]["tokens_per_s"]) if rows else 0.0
    for row in rows:
        row["ratio_vs_first"] = round(row["tokens_per_s"] / base, 2) if base else None
    return rows


def compare_engines(
    runs: list[tuple[str, Generator, str | None]],
    levels: list[int],
    *,
    max_new_tokens: int = 128,
    rounds: int = 1,
    tokenizer: Any = None,
) -> list[dict[str, Any]]:
    """`bench_generate` for each (label, engine, adapter) in turn, on the same prompts, plus
    `ratio_vs_first_engine`: tokens/s over the first run's at the same concurrency."""
    rows: list[dict[str, Any]] = []
    for label, generator, adapter in runs:
        rows += bench_generate(
            generator,
            levels,
            max_new_tokens=max_new_tokens,
            rounds=rounds,
            adapter=adapter,
            tokenizer=tokenizer,
            label=label,
        )
    first = {r["concurrency"]: float(r["tokens_per_s"]) for r in rows if r["engine"] == runs[0][0]}
    for row in rows:
        base = first.get(row["concurrency"])
        row["ratio_vs_first_engine"] = round(row["tokens_per_s"] / base, 2) if base else None
    return rows
