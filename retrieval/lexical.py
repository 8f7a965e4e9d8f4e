"""BM25 over a fixed document list (bm25s), persisted beside the Chroma data.

The index is saved with a fingerprint of the stored records (ids and content hashes); a later
process loads it instead of re-tokenizing the catalogue, and rebuilds it when the catalogue
changed. Scores come back for every document, so filters are a vectorized mask, not a loop.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.languages import ENGLISH, Analyzer
from retrieval.offline import set_offline_env

log = logging.getLogger(__name__)


def fingerprint(ids: Sequence[str], hashes: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for rid, h in zip(ids, hashes, strict=True):
        digest.update(f"{rid}\0{h}\n".encode())
    return digest.hexdigest()[:24]


def _analyzer(analyzer: Analyzer | None) -> Analyzer:
    """The given analyzer, or the English one every index used before languages existed."""
    return ENGLISH if analyzer is None else analyzer


class LexicalIndex:
    def __init__(self, index: Any, num_docs: int, analyzer: Analyzer | None = None) -> None:
        """`analyzer` turns documents and queries into terms (retrieval.languages); default English."""
        self.index = index
        self.num_docs = num_docs
        self.analyzer = _analyzer(analyzer)

    @classmethod
    def build(
        cls, docs: Sequence[str], k1: float = 1.5, b: float = 0.75, analyzer: Analyzer | None = None
    ) -> LexicalIndex:
        set_offline_env()
        import bm25s

        set_offline_env()  # bm25s configures its logger on import; quiet it again
        analyzer = _analyzer(analyzer)
        index = bm25s.BM25(k1=k1, b=b)
        if docs:  # bm25s cannot index nothing; an empty index scores every query zero
            index.index([t or ["__empty__"] for t in analyzer.documents(docs)], show_progress=False)
        return cls(index, len(docs), analyzer)

    @classmethod
    def load_or_build(
        cls,
        folder: Path | None,
        docs: Sequence[str],
        key: str,
        k1: float = 1.5,
        b: float = 0.75,
        analyzer: Analyzer | None = None,
    ) -> LexicalIndex:
        """Load the index saved in `folder` if it was built from the same records with the same
        parameters and analyzer, else build and save it."""
        analyzer = _analyzer(analyzer)
        key = f"{key}:k1={k1:g}:b={b:g}" + (f":analyzer={analyzer.name}" if analyzer.name else "")
        if folder is not None:
            meta = folder / "shopassist.json"
            try:
                if json.loads(meta.read_text()).get("fingerprint") == key:
                    import bm25s

                    set_offline_env()
                    return cls(bm25s.BM25.load(str(folder)), len(docs), analyzer)
            except (OSError, ValueError, KeyError) as exc:
                log.info("rebuilding lexical index in %s (%s)", folder, exc)
        built = cls.build(docs, k1=k1, b=b, analyzer=analyzer)
        if folder is not None and docs:  # an empty index is rebuilt in no time and bm25s cannot save it
            # A temporary folder of this process's own: two processes sharing a cache may build the
            # same version at once; the second rename then fails and its index serves unsaved.
            tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}-{threading.get_ident()}")
            shutil.rmtree(tmp, ignore_errors=True)
            built.index.save(str(tmp), show_progress=False)
            (tmp / "shopassist.json").write_text(json.dumps({"fingerprint": key, "documents": len(docs)}))
            shutil.rmtree(folder, ignore_errors=True)
            try:
                tmp.rename(folder)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
        return built

    def scores(self, query: str) -> np.ndarray:
        if self.num_docs == 0:
            return np.zeros(0, dtype=np.float32)
        known = [t for t in self.analyzer.query(query) if t in self.index.vocab_dict]
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
