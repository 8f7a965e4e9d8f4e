"""The learned re-ranking stage: features, training, the model file, and its use in search."""

import random

import numpy as np
import pytest

from retrieval.rerank import FEATURES, LearnedRanker, RankerError, TrainingQuery, features, product_tokens


def _col(name: str) -> int:
    return FEATURES.index(name)


def test_features_rank_score_and_coverage():
    signals = {
        "lexical": [("a", 8.0), ("b", 4.0)],
        "dense": [("b", 0.9), ("c", 0.5)],
    }
    titles = {"a": "red running shoe", "b": "blue shoe", "c": "kettle"}
    tokens = {pid: product_tokens(t, t) for pid, t in titles.items()}
    cands = features("red running shoe", signals, tokens)
    assert cands.ids == ["a", "b", "c"]
    rows = dict(zip(cands.ids, cands.matrix, strict=True))
    assert rows["a"][_col("lexical_rrf")] == pytest.approx(1 / 61)
    assert rows["b"][_col("lexical_score")] == pytest.approx(0.5)  # divided by the best BM25 score
    # Missing from a list: no rank credit, and that list's lowest score.
    assert rows["c"][_col("lexical_rrf")] == 0.0
    assert rows["c"][_col("lexical_score")] == pytest.approx(0.5)
    assert rows["a"][_col("dense_score")] == pytest.approx(0.5)
    assert rows["a"][_col("title_covers_all")] == 1.0
    assert rows["b"][_col("title_coverage")] == pytest.approx(1 / 3)
    assert rows["c"][_col("title_coverage")] == 0.0
    assert rows["a"][_col("query_length")] == 3
    assert features("x", {}, {}).ids == []


def _synthetic(n_queries: int, seed: int) -> list[TrainingQuery]:
    """Relevance follows title coverage, which plain rank fusion would not see."""
    rng = random.Random(seed)
    out = []
    for q in range(n_queries):
        ids = [f"q{q}p{i}" for i in range(12)]
        signals = {
            "lexical": [(pid, rng.random()) for pid in ids],
            "dense": [(pid, rng.random()) for pid in ids],
        }
        signals = {k: sorted(v, key=lambda kv: -kv[1]) for k, v in signals.items()}
        good = set(rng.sample(ids, 3))
        tokens = {pid: product_tokens("alpha beta" if pid in good else "gamma", "") for pid in ids}
        out.append(TrainingQuery(features("alpha beta", signals, tokens), {pid: 2.0 for pid in good}))
    return out


def test_ranker_learns_and_round_trips(tmp_path):
    ranker = LearnedRanker.fit(_synthetic(60, 0), trees=30, min_samples=5)
    held_out = _synthetic(10, 1)
    for query in held_out:
        scores = ranker.score(query.candidates)
        top3 = {query.candidates.ids[i] for i in np.argsort(-scores)[:3]}
        assert top3 == set(query.gains)
    path = ranker.save(tmp_path / "ranker.json")
    again = LearnedRanker.load(path)
    np.testing.assert_allclose(again.score(held_out[0].candidates), ranker.score(held_out[0].candidates))
    assert again.meta["queries"] == 60


def test_ranker_file_errors_say_what_to_do(tmp_path):
    with pytest.raises(RankerError, match="train-ranker"):
        LearnedRanker.load(tmp_path / "missing.json")
    stale = tmp_path / "stale.json"
    stale.write_text('{"format": "shopassist-ranker/1", "features": ["old"], "model": ""}')
    with pytest.raises(RankerError, match="other features"):
        LearnedRanker.load(stale)
    with pytest.raises(RankerError, match="two or more candidates"):
        LearnedRanker.fit([])


def test_search_and_eval_use_the_ranker(tmp_path):
    from retrieval.datasets import SearchSet
    from retrieval.evaluate import build_search_index, evaluate_search
    from retrieval.schema import Product
    from tests.conftest import HashEmbedding

    words = ["shoe", "boot", "pan", "sock", "lamp", "kettle"]
    products = [Product(id=f"p{i}", title=f"{w} model {i}") for i, w in enumerate(words * 3)]
    queries = {f"q{i}": w for i, w in enumerate(words)}
    qrels = {f"q{i}": {f"p{i + 6 * r}": 2.0 for r in range(3)} for i in range(len(words))}
    search_set = SearchSet(products, queries, qrels)
    built = build_search_index(search_set, tmp_path, HashEmbedding())
    search = built.index.products
    search.ranker = LearnedRanker.fit(
        [TrainingQuery(search.training_candidates(queries[q]), qrels[q]) for q in queries],
        trees=20,
        min_samples=2,
    )
    hits = search.run("boot", top_k=3).hits
    assert {h.product.id for h in hits} == {"p1", "p7", "p13"}
    assert any(r.startswith("learned rank") for r in hits[0].reasons)
    search.ranker = None
    result = evaluate_search(built, search_set, learned_folds=2)
    assert set(result["modes"]) == {"lexical", "dense", "hybrid", "learned"}
    assert result["learned"]["folds"] == 2
    assert 0.0 <= result["modes"]["learned"]["ndcg@10"] <= 1.0
    assert search.ranker is None  # the evaluation leaves the index as it found it


def test_shown_and_far_keeps_graded_candidates_and_the_far_tail():
    from retrieval.rerank import SIGNALS, Candidates

    ids = [f"p{i}" for i in range(6)]
    matrix = np.zeros((6, len(FEATURES)), dtype=np.float32)
    for i in range(6):  # p0 is ranked first by every signal, p5 last
        for s in SIGNALS:
            matrix[i, _col(f"{s}_rrf")] = 1 / (61 + i)
    query = TrainingQuery(Candidates(ids, matrix), {"p0": 1.0, "p2": 0.0, "zz": 3.0})
    kept = query.shown_and_far(far=3)
    assert kept.candidates.ids == ["p0", "p2", "p3", "p4", "p5"] and kept.gains is query.gains  # p1: unknown
    np.testing.assert_array_equal(kept.candidates.matrix, matrix[[0, 2, 3, 4, 5]])
