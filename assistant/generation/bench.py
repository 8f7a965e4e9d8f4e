"""Generation benchmark: the same prompts at several concurrency levels, in one process and run.

Numbers from one run are comparable with each other (ratios); absolute numbers on a shared CPU
are noisy, which is why every level runs back to back on the same prompts.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
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
    generator: Generator,
    prompts: list[str],
    max_new_tokens: int,
    adapter: str | None = None,
    stagger_s: float = 0.0,
) -> list[tuple[float, str, int]]:
    """All prompts at once, or the i-th `i * stagger_s` after the first (arrivals mid-batch, which is
    where continuous batching differs from batches that run to completion)."""

    def run(item: tuple[int, str]) -> tuple[float, str, int]:
        if stagger_s:
            time.sleep(item[0] * stagger_s)
        return _one(generator, item[1], max_new_tokens, adapter)

    with ThreadPoolExecutor(max_workers=len(prompts)) as pool:
        return list(pool.map(run, enumerate(prompts)))


def rss_mib() -> float | None:
    """This process's resident memory now (Linux), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class PeakRss:
    """Samples the resident memory every 50 ms while a run lasts; `peak` is the largest seen."""

    def __init__(self) -> None:
        self.peak = rss_mib() or 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_mib() or 0.0)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib() or 0.0)


def memory_bandwidth_gbs(size_mib: int = 256, repeats: int = 5) -> float:
    """Memory bandwidth one core reaches copying a large array (bytes read plus written), best of
    `repeats`: the bound on single-stream decoding, which reads every weight once per token."""
    import numpy as np

    src = np.ones(size_mib * 1024 * 1024 // 8, dtype=np.float64)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return 2 * src.nbytes / best / 1e9


def gguf_file_type(path: Path) -> str:
    """The weight format a GGUF declares (e.g. Q8_0), not the one its file name suggests."""
    import gguf

    field = gguf.GGUFReader(str(path)).fields.get(gguf.Keys.General.FILE_TYPE)
    if field is None:
        return "unknown"
    return gguf.LlamaFileType(int(field.contents())).name.removeprefix("MOSTLY_")


def weight_bytes(generator: Generator) -> tuple[int | None, str]:
    """Bytes of weights one decode step reads, and their format, for the engines that run here."""
    gguf = getattr(generator, "gguf_path", None)
    if gguf is not None:
        return os.path.getsize(gguf), f"gguf {gguf_file_type(Path(gguf))}"
    model = getattr(generator, "model", None)
    if model is not None and hasattr(model, "parameters"):
        params = list(model.parameters())
        dtype = str(params[0].dtype).removeprefix("torch.")
        return sum(p.numel() * p.element_size() for p in params), dtype
    return None, "remote"


def bench_generate(
    generator: Generator,
    levels: list[int],
    *,
    max_new_tokens: int = 128,
    rounds: int = 1,
    adapter: str | None = None,
    tokenizer: Any = None,
    label: str | None = None,
    stagger_s: float = 0.0,
    bandwidth_gbs: float | None = None,
) -> list[dict[str, Any]]:
    before = rss_mib()
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
    size, weight_format = weight_bytes(generator)
    limit = bandwidth_gbs * 1e9 / size if bandwidth_gbs and size else None
    for level in levels:
        ttfts: list[float] = []
        tokens = 0
        start = time.perf_counter()
        with PeakRss() as peak:
            for r in range(rounds):
                prompts = [PROMPTS[(i + r * level) % len(PROMPTS)] for i in range(level)]
                for ttft, text, chunks in _concurrent(generator, prompts, max_new_tokens, adapter, stagger_s):
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
                "weights": weight_format,
                "build": getattr(generator, "build", None),
                "weight_mib": round(size / 2**20, 1) if size else None,
                # Single-stream decoding reads every weight once per token: bandwidth / weight bytes.
                "bandwidth_limit_tok_s": round(limit, 1) if limit else None,
                "share_of_limit": round(tokens / elapsed / limit, 3) if limit and level == 1 else None,
                "peak_rss_mib": round(peak.peak),
                "rss_added_mib": round(peak.peak - before) if before is not None else None,
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
    stagger_s: float = 0.0,
    bandwidth_gbs: float | None = None,
) -> list[dict[str, Any]]:
    """`bench_generate` for each (label, engine, adapter) in turn, on the same prompts, plus
    `ratio_vs_first_engine`: tokens/s over the first run's at the same concurrency, and
    `ratio_vs_best_other`: over the fastest other engine's."""
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
            stagger_s=stagger_s,
            bandwidth_gbs=bandwidth_gbs,
        )
    first = {r["concurrency"]: float(r["tokens_per_s"]) for r in rows if r["engine"] == runs[0][0]}
    for row in rows:
        base = first.get(row["concurrency"])
        row["ratio_vs_first_engine"] = round(row["tokens_per_s"] / base, 2) if base else None
        others = [
            float(r["tokens_per_s"])
            for r in rows
            if r["concurrency"] == row["concurrency"] and r["engine"] != row["engine"]
        ]
        row["ratio_vs_best_other"] = round(row["tokens_per_s"] / max(others), 2) if others else None
    return rows
