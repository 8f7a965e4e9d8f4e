"""Issue 19: the same API load against 1 replica and against 2 (round-robin), with per-process CPU.

Not a test: run `.venv/bin/python bench/replicas.py [--requests 200] [--concurrency 8] [--demo-shop]`.
It starts what tests/test_replicas.py starts (a throwaway PostgreSQL cluster, `chroma run`, two
`shopassist api` replicas on the scripted engine, `replica_set`), then sends chat turns from
`concurrency` clients: first all to replica A alone, then round-robin to A and B. For each run it
prints turns/s, p50/p95 latency, errors, and the CPU each part used (cores: CPU seconds per wall
second, from psutil, children included: PostgreSQL's backends, Chroma's workers), and what the rest
of the machine used meanwhile (other people's processes count: the box is shared).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.chat.bench import CHAT_QUESTIONS, percentile  # noqa: E402
from tests.test_replicas import ReplicaSet, replica_set, unavailable  # noqa: E402


def groups(rs: ReplicaSet) -> dict[str, list[psutil.Process]]:
    """The processes of each part, children included."""

    def tree(pid: int) -> list[psutil.Process]:
        try:
            proc = psutil.Process(pid)
            return [proc, *proc.children(recursive=True)]
        except psutil.Error:
            return []

    parts = {"postgres": tree(rs.pg_pid), "chroma": tree(rs.procs[0].pid)}
    for i, proc in enumerate(rs.procs[1:]):
        parts[f"replica {chr(ord('a') + i)}"] = tree(proc.pid)
    parts["bench client"] = [psutil.Process(os.getpid())]
    return parts


def cpu_seconds(procs: list[psutil.Process]) -> dict[int, float]:
    out = {}
    for proc in procs:
        try:
            t = proc.cpu_times()
            out[proc.pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


_local = threading.local()


def turn(url: str, message: str) -> tuple[int, float]:
    """One chat turn on this thread's keep-alive client (a new client per request costs the bench
    more CPU than the replica spends on the turn)."""
    client = getattr(_local, "client", None)
    if client is None:
        client = _local.client = httpx.Client(timeout=120)
    start = time.perf_counter()
    try:
        status = client.post(f"{url}/v1/chat", json={"message": message}).status_code
    except httpx.HTTPError:
        status = -1
    return status, time.perf_counter() - start


def run(rs: ReplicaSet, urls: list[str], requests: int, concurrency: int) -> dict[str, Any]:
    """`requests` chat turns from `concurrency` clients, round-robin over `urls`."""
    targets = list(itertools.islice(itertools.cycle(urls), requests))
    questions = [CHAT_QUESTIONS[i % len(CHAT_QUESTIONS)] for i in range(requests)]
    parts = groups(rs)
    before = {name: cpu_seconds(procs) for name, procs in parts.items()}
    machine = psutil.cpu_times()
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(turn, targets, questions))
    wall = time.perf_counter() - start
    after_machine = psutil.cpu_times()
    # backends opened during the run are there now; their CPU before it was 0
    parts = groups(rs)
    cores = {}
    for name, procs in parts.items():
        now, then = cpu_seconds(procs), before.get(name, {})
        cores[name] = round(sum(v - then.get(pid, 0.0) for pid, v in now.items()) / wall, 2)
    busy = sum(
        getattr(after_machine, f) - getattr(machine, f)
        for f in ("user", "nice", "system", "irq", "softirq", "steal")
    )
    cores["whole machine"] = round(busy / wall, 2)
    cores["others (not this bench)"] = round(
        cores["whole machine"] - sum(v for k, v in cores.items() if k != "whole machine"), 2
    )
    ok = [t for s, t in results if s == 200]
    return {
        "replicas": len(urls),
        "requests": requests,
        "concurrency": concurrency,
        "turns_per_s": round(len(ok) / wall, 2),
        "p50_s": percentile(ok, 0.5),
        "p95_s": percentile(ok, 0.95),
        "errors": dict(Counter(str(s) for s, _ in results if s != 200)),
        "cores_used": cores,
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="chat turns per run")
    parser.add_argument("--concurrency", type=int, default=8, help="clients at once")
    parser.add_argument(
        "--demo-shop", action="store_true", help="the 200-product demo shop (else 12 products)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        sys.exit(f"cannot run: {reason}")
    with (
        tempfile.TemporaryDirectory(prefix="shopassist-replicas-") as tmp,
        replica_set(Path(tmp), replicas=2, demo_shop=args.demo_shop) as rs,
    ):
        print("start-up (s):", {k: round(v, 1) for k, v in rs.timings.items()}, file=sys.stderr)
        for url in rs.urls:  # warm both: first turns load lazily built parts
            run(rs, [url], 8, 4)
        results = [
            run(rs, rs.urls[:1], args.requests, args.concurrency),
            run(rs, rs.urls, args.requests, args.concurrency),
        ]
    for r in results:
        print(json.dumps(r))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
