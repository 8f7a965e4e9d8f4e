"""The measurements behind docs/scaling.md, each a small bounded run on this machine.

    .venv/bin/python deploy/measure.py storage --out /tmp/storage.json   # ~1 min: a `chroma run` server
    .venv/bin/python deploy/measure.py embed --out /tmp/embed.json       # ~1 min: MiniLM, 1 thread
    .venv/bin/python deploy/measure.py chat --out /tmp/chat.json         # ~1 min: demo shop, fake engine
    .venv/bin/python deploy/measure.py snapshot --source homedepot --products 54667   # ~30 s

`storage` ingests Home Depot titles and Crowdflower products (title + description; ../shared/data)
into a Chroma server at two sizes, with stand-in 384-dimension vectors (MiniLM's size; the bytes do
not depend on the values), and reports per product the slope between the sizes: the server's disk,
the BM25 cache, the manifest, a replica's load time and memory. `embed` times MiniLM on one CPU
thread. `chat` runs whole chat turns on the demo shop with the fake engine and reports CPU seconds
per turn (retrieval, grounding and Chroma in this process; no model) and the model requests a turn
sends: how many, prompt tokens (SmolLM2's tokenizer and chat template), and max new tokens.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "search"
sys.path.insert(0, str(REPO))


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _rss_mib(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _Vectors:
    """384-dimension stand-in vectors (MiniLM's size), deterministic per text."""

    def __call__(self, input: list[str]) -> list[Any]:
        import numpy as np

        out = []
        for text in input:
            rng = np.random.default_rng(abs(hash(text)) % 2**32)
            vec = rng.normal(size=384).astype(np.float32)
            out.append(vec / np.linalg.norm(vec))
        return out

    @staticmethod
    def name() -> str:
        return "measure-stand-in"

    def default_space(self) -> str:
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> _Vectors:
        return _Vectors()

    def is_legacy(self) -> bool:
        return False


def _products(source: str, n: int) -> list[Any]:
    from retrieval.schema import Product

    path = DATA / source / "products.csv"
    out = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            title = (row.get("title") or "").strip()
            if not title:
                continue
            out.append(
                Product(
                    id=f"{source[:2]}{row['product_id']}",
                    title=title[:300],
                    description=(row.get("description") or "").strip()[:2000],
                    price=10.0 + len(out) % 90,
                )
            )
            if len(out) == n:
                break
    return out


@contextlib.contextmanager
def _server(folder: Path) -> Iterator[tuple[str, int]]:
    """A `chroma run` server on a free port with its data in `folder`; its URL and PID."""
    from tests.helpers import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    chroma = Path(sys.executable).with_name("chroma")
    cmd = [str(chroma), "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)]
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "server.log").open("w") as log:
        server = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, ANONYMIZED_TELEMETRY="False")
        )
        try:
            for _ in range(120):
                try:
                    urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2)
                    break
                except OSError:
                    time.sleep(0.5)
            yield url, server.pid
        finally:
            server.terminate()
            server.wait(timeout=30)


def _storage_run(root: Path, source: str, n: int) -> dict[str, Any]:
    """One catalogue in a server of its own: its disk and memory, and what a replica pays for it."""
    from retrieval.index import ShopIndex
    from retrieval.store import open_client

    name = f"{source}{n}"
    items = _products(source, n)
    with _server(root / name) as (url, pid):
        rss_empty = _rss_mib(pid)
        writer = ShopIndex(open_client(url=url), _Vectors(), products_collection=name, lexical_dir=root / "a")
        start = time.perf_counter()
        writer.ingest_products(items, batch_size=1024)
        ingest_s = time.perf_counter() - start
        writer.close()
        time.sleep(2)  # let the server flush its write-ahead log into the segments
        server_bytes = _du(root / name / "data")
        lexical_bytes = _du(root / "a" / name)
        store = writer.catalogue.store
        manifest = store.collection.get(where={"kind": "manifest"}, include=["metadatas"])
        manifest_bytes = sum(len(str(m["data"])) for m in manifest["metadatas"] or [])
        reader = ShopIndex(open_client(url=url), _Vectors(), products_collection=name, lexical_dir=root / "b")
        start = time.perf_counter()
        reader.products.warm_up()  # read every document, build BM25, save it to the cache
        load_s = time.perf_counter() - start
        for q in ("cordless drill", "white ceiling fan", "patio chair", "led bulb"):
            reader.products.run(q, top_k=10)
        again = ShopIndex(open_client(url=url), _Vectors(), products_collection=name, lexical_dir=root / "b")
        start = time.perf_counter()
        again.products.warm_up()  # documents read again, BM25 loaded from the cache
        cached_s = time.perf_counter() - start
        # a sync that changes 1% of the products: how long the reader takes to follow it
        changed = [p.model_copy(update={"price": 500.0}) if i % 100 == 0 else p for i, p in enumerate(items)]
        writer.ingest_products(changed)
        start = time.perf_counter()
        reader.follow()
        follow_s = time.perf_counter() - start
        assert reader.products.get(changed[0].id).price == 500.0
        rss_server = _rss_mib(pid) - rss_empty
        for index in (reader, again):
            index.close()
    return {
        "products": len(items),
        "text_chars": sum(len(p.search_text()) for p in items),
        "ingest_s": round(ingest_s, 2),
        "server_bytes": server_bytes,
        "server_rss_mib": round(rss_server, 1),
        "lexical_bytes": lexical_bytes,
        "manifest_bytes": manifest_bytes,
        "replica_load_s": round(load_s, 3),
        "replica_load_cached_s": round(cached_s, 3),
        "replica_follow_1pct_s": round(follow_s, 3),
    }


def storage(sizes: tuple[int, int]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for source in ("homedepot", "crowdflower"):
            small, large = (_storage_run(Path(tmp), source, n) for n in sizes)
            dn = large["products"] - small["products"]
            slope = {key: round((large[key] - small[key]) / dn, 6) for key in small if key != "products"}
            results[source] = {"runs": [small, large], "per_product": slope}
    return results


def embed(n: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    from retrieval.embeddings import MiniLMEmbeddingFunction

    fn = MiniLMEmbeddingFunction(cache=False)
    out: dict[str, Any] = {"threads": 1, "dtype": str(getattr(fn, "dtype", ""))}
    for source in ("homedepot", "crowdflower"):
        texts = [p.search_text() for p in _products(source, n)]
        fn(texts[:32])  # load and warm
        start = time.process_time()
        wall = time.perf_counter()
        fn(texts)
        cpu = time.process_time() - start
        out[source] = {
            "texts": len(texts),
            "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
            "texts_per_cpu_s": round(len(texts) / cpu, 1),
            "texts_per_wall_s": round(len(texts) / (time.perf_counter() - wall), 1),
        }
    return out


def chat(rounds: int) -> dict[str, Any]:
    os.environ["SHOPASSIST_HOME"] = tempfile.mkdtemp(prefix="measure-chat-")
    os.environ["SHOPASSIST_GENERATOR__ENGINE"] = "fake"
    from transformers import AutoTokenizer

    from assistant.chat.bench import CHAT_QUESTIONS, FOLLOW_UPS
    from assistant.chat.protocol import ChatRequest
    from assistant.config import load_settings
    from assistant.generation.fake import FakeGenerator
    from assistant.generation.models import resolve_generator_model
    from assistant.shop import Shop

    settings = load_settings()
    generator = FakeGenerator()
    shop = Shop(settings, generator=generator)
    shop.ensure_ready()
    chat_service = shop.chat
    tokenizer = AutoTokenizer.from_pretrained(
        str(resolve_generator_model(None, Path.home() / ".cache/shopassist/models"))
    )
    chat_service.respond(ChatRequest(message=CHAT_QUESTIONS[0]))  # warm: MiniLM, the indexes
    generator.requests.clear()
    turns = 0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    wall0 = time.perf_counter()
    for r in range(rounds):
        for i, question in enumerate(CHAT_QUESTIONS):
            first = chat_service.respond(ChatRequest(message=question))
            turns += 1
            if first.route == "products":
                chat_service.respond(
                    ChatRequest(message=FOLLOW_UPS[(i + r) % len(FOLLOW_UPS)], state=first.state)
                )
                turns += 1
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    wall = time.perf_counter() - wall0
    prompts = [
        len(
            tokenizer.apply_chat_template(
                [m.model_dump() for m in req.messages], add_generation_prompt=True, return_dict=True
            )["input_ids"]
        )
        for req in generator.requests
    ]
    new = [req.max_new_tokens for req in generator.requests]
    adapters: dict[str, int] = {}
    for req in generator.requests:
        adapters[req.adapter or "base"] = adapters.get(req.adapter or "base", 0) + 1
    return {
        "turns": turns,
        "cpu_s_per_turn": round(cpu / turns, 4),
        "wall_s_per_turn": round(wall / turns, 4),
        "model_requests_per_turn": round(len(prompts) / turns, 3),
        "prompt_tokens_mean": round(sum(prompts) / max(len(prompts), 1), 1),
        "prompt_tokens_max": max(prompts, default=0),
        "prompt_tokens_per_turn": round(sum(prompts) / turns, 1),
        "max_new_tokens_per_turn": round(sum(new) / turns, 1),
        "requests_by_adapter": adapters,
    }


def snapshot(source: str, n: int) -> dict[str, Any]:
    """What one catalogue version costs a replica in memory (a fresh process: products, BM25 over
    the full text and titles, facet arrays), and a BM25 query's time over it."""
    from retrieval.filters import CatalogSchema, FacetArrays
    from retrieval.lexical import LexicalIndex

    rss0 = _rss_mib()
    items = _products(source, n)
    docs = [p.search_text() for p in items]
    start = time.process_time()
    full = LexicalIndex.build(docs, k1=1.2, b=0.4)
    titles = [p.title for p in items]
    title = full if titles == docs else LexicalIndex.build(titles, k1=1.2, b=0.4)
    build_cpu = time.process_time() - start
    facets, schema = FacetArrays(items), CatalogSchema.from_products(items)
    del docs, titles
    gc.collect()
    rss1 = _rss_mib()
    queries = ["cordless drill 18v", "white ceiling fan with light", "outdoor patio chair", "led bulb"]
    for q in queries:
        full.top(q, 100)
    start = time.perf_counter()
    for _ in range(5):
        for q in queries:
            full.top(q, 100)
            title.top(q, 100)
    query_ms = (time.perf_counter() - start) / (5 * len(queries)) * 1000
    assert facets is not None and schema is not None
    return {
        "source": source,
        "products": len(items),
        "rss_mib": round(rss1 - rss0, 1),
        "kib_per_product": round((rss1 - rss0) * 1024 / len(items), 2),
        "bm25_build_cpu_s": round(build_cpu, 2),
        "bm25_query_ms": round(query_ms, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["storage", "embed", "chat", "snapshot"])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--sizes", default="4000,16000", help="storage: the two catalogue sizes")
    parser.add_argument("--texts", type=int, default=512, help="embed: texts per data set")
    parser.add_argument("--rounds", type=int, default=3, help="chat: rounds of the 8 bench questions")
    parser.add_argument("--source", default="homedepot", help="snapshot: homedepot or crowdflower")
    parser.add_argument("--products", type=int, default=54667, help="snapshot: catalogue size")
    args = parser.parse_args()
    if args.what == "storage":
        small, large = (int(x) for x in args.sizes.split(","))
        result = storage((small, large))
    elif args.what == "snapshot":
        result = snapshot(args.source, args.products)
    elif args.what == "embed":
        result = embed(args.texts)
    else:
        result = chat(args.rounds)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
