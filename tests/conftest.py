"""Shared fixtures: a fast hashing embedding for store logic, the scripted generator for chat
logic, and, once per test run, the real MiniLM and SmolLM2 models for the few end-to-end tests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

from assistant.generation.fake import FakeGenerator
from retrieval.text import tokenize

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_cache() -> Path:
    """Converted models are reused across test runs (and by `make run`): conversion takes ~25 s."""
    configured = os.environ.get("SHOPASSIST_MODEL_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "shopassist" / "models"


class HashEmbedding(EmbeddingFunction[Documents]):
    """Bag-of-words hashed into 128 dims: deterministic, instant, good enough for storage tests."""

    calls = 0

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:
        HashEmbedding.calls += len(input)
        out = []
        for text in input:
            vec = np.zeros(128, dtype=np.float32)
            for tok in tokenize(text) or ["empty"]:
                vec[int(hashlib.md5(tok.encode()).hexdigest(), 16) % 128] += 1.0
            out.append(vec / (np.linalg.norm(vec) or 1.0))
        return out

    @staticmethod
    def name() -> str:
        return "test-hash"

    def default_space(self) -> Any:
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> HashEmbedding:
        return HashEmbedding()


class TextEmbedding(HashEmbedding):
    """A random unit vector per distinct text (counted in `HashEmbedding.calls`): no two products
    tie in dense search, so "the same results" means the same order (the nearest-neighbour index
    may order tied documents differently once more documents are added)."""

    def __call__(self, input: Documents) -> Embeddings:
        super().__call__(input)
        out = []
        for text in input:
            seed = int(hashlib.md5(text.encode()).hexdigest()[:8], 16)
            vec = np.random.default_rng(seed).normal(size=128).astype(np.float32)
            out.append(vec / np.linalg.norm(vec))
        return out

    @staticmethod
    def name() -> str:
        return "test-text"

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> TextEmbedding:
        return TextEmbedding()


@pytest.fixture
def hash_index(tmp_path: Path) -> Any:
    from retrieval.index import ShopIndex
    from retrieval.store import open_client

    return ShopIndex(open_client(tmp_path / "chroma"), HashEmbedding())


@pytest.fixture
def fake_generator() -> FakeGenerator:
    return FakeGenerator()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Settings isolated from the user's environment: a fresh home, the shared model cache."""
    for key in list(os.environ):
        if key.startswith("SHOPASSIST_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    from assistant.config import load_settings

    return load_settings(home=tmp_path / "home", model_cache=shared_cache())


@pytest.fixture(scope="session")
def demo_shop_real(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The demo shop on real MiniLM embeddings, ingested once per test run (no generator loaded)."""
    from assistant.config import load_settings
    from assistant.shop import Shop

    home = tmp_path_factory.mktemp("demo-home")
    shop = Shop(load_settings(home=home, model_cache=shared_cache()), generator=FakeGenerator())
    shop.ensure_ready()
    return shop


@pytest.fixture(scope="session")
def smollm_dir() -> Path:
    """The converted SmolLM2 folder (converted at most once per cache)."""
    from assistant.generation.models import ensure_default_model

    return ensure_default_model(shared_cache())


@pytest.fixture(scope="session")
def embedded_generator(smollm_dir: Path) -> Any:
    from assistant.generation.embedded import EmbeddedGenerator

    gen = EmbeddedGenerator(smollm_dir, max_batch_size=8, batch_wait_ms=50)
    gen.warm_up()
    yield gen
    gen.close()


@pytest.fixture(scope="session")
def llamacpp_generator() -> Any:
    """llama.cpp on the packaged GGUF in the default weight format, with the shipped adapters (loads
    in about a second; the format's conversion, a few seconds, once per cache)."""
    from assistant.config import GeneratorSettings
    from assistant.generation.adapters import shipped_records
    from assistant.generation.gguf_requant import requantized
    from assistant.generation.llamacpp import LlamaCppGenerator
    from assistant.generation.models import locate_smollm_gguf

    adapters = {name: record.path for name, record in shipped_records().items()}
    weights = locate_smollm_gguf()
    fmt = GeneratorSettings().gguf_format
    if fmt is not None:
        weights = requantized(weights, fmt, shared_cache() / "gguf")
    gen = LlamaCppGenerator(weights, parallel=4, adapters=adapters, lora_cache=shared_cache() / "lora-gguf")
    gen.warm_up()
    yield gen
    gen.close()
