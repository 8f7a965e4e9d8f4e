"""BM25 over a fixed document list (bm25s), persisted beside the Chroma data.

The index is saved with a fingerprint of the stored records (ids and content hashes); a later
process loads it instead of re-tokenizing the catalogue, and rebuilds it when the catalogue
changed. Scores come back for every document, so filters are a vectorized mask, not a loop.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.offline import set_offline_env
from retrieval.text import lexical_tokens

log = logging.getLogger(__name__)


def fingerprint(ids: Sequence[str], hashes: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for rid, h in zip(ids, hashes, strict=True):
        digest.update(f"{rid}\0{h}\n".encode())
    return digest.hexdigest()[:24]


class LexicalIndex:
    def __init__(self, index: Any, num_docs: int) -> None:
        self.index = index
        self.num_docs = num_docs

    @classmethod
    def build(cls, docs: Sequence[str], k1: float = 1.5, b: float = 0.75) -> LexicalIndex:
        set_offline_env()
        import bm25s

        set_offline_env()  # bm25s configures its logger on import; quiet it again
        index = bm25s.BM25(k1=k1, b=b)
        if docs:  # bm25s cannot index nothing; an empty index scores every query zero
            index.index([lexical_tokens(d) or ["__empty__"] for d in docs], show_progress=False)
        return cls(index, len(docs))

    @classmethod
    def load_or_build(
        cls, folder: Path | None, docs: Sequence[str], key: str, k1: float = 1.5, b: float = 0.75
    ) -> LexicalIndex:
        """Load the index saved in `folder` if it was built from the same records with the same
        parameters, else build and save it."""
        key = f"{key}:k1={k1:g}:b={b:g}"
        if folder is not None:
            meta = folder / "shopassist.json"
            try:
                if json.loads(meta.read_text()).get("fingerprint") == key:
                    import bm25s

                    set_offline_env()
                    return cls(bm25s.BM25.load(str(folder)), len(docs))
            except (OSError, ValueError, KeyError) as exc:
                log.info("rebuilding lexical index in %s (%s)", folder, exc)
        built = cls.build(docs, k1=k1, b=b)
        if folder is not None and docs:  # an empty index is rebuilt in no time and bm25s cannot save it
            tmp = folder.with_name(folder.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            built.index.save(str(tmp), show_progress=False)
            (tmp / "shopassist.json").write_text(json.dumps({"fingerprint": key, "documents": len(docs)}))
            shutil.rmtree(folder, ignore_errors=True)
            tmp.rename(folder)
        return built

    def scores(self, query: str) -> np.ndarray:
        if self.num_docs == 0:
            return np.zeros(0, dtype=np.float32)
        known = [t for t in lexical_tokens(query) if t in self.index.vocab_dict]
        if not known:
            return np.zeros(self.num_docs, dtype=np.float32)
        return np.asarray(self.index.get_scores(known), dtype=np.float32)

    def top(self, query: str, n: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(document position, score) of the n best documents with a positive score inside `mask`."""
        scores = self.scores(query)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        n = min(n, int((scores > 0).sum()))
        if n <= 0:
            return []
        part = np.argpartition(-scores, n - 1)[:n]
        order = part[np.argsort(-scores[part], kind="stable")]
        return [(int(i), float(scores[i])) for i in order]
