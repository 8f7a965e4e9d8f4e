import math

import pytest

from retrieval.evaluate import ndcg_at, percentile, recall_at


def test_ndcg_perfect_worst_and_partial():
    gains = {"a": 3.0, "b": 1.0, "c": 0.0}
    assert ndcg_at(["a", "b", "c"], gains) == pytest.approx(1.0)
    assert ndcg_at(["x", "y"], gains) == 0.0
    expected = (1.0 / math.log2(2) + 3.0 / math.log2(3)) / (3.0 / math.log2(2) + 1.0 / math.log2(3))
    assert ndcg_at(["b", "a"], gains) == pytest.approx(expected)
    assert ndcg_at(["a"], {"a": 0.0}) == 0.0  # nothing relevant: no credit, no division by zero


def test_ndcg_cutoff_and_recall():
    gains = {f"p{i}": 1.0 for i in range(4)}
    assert ndcg_at(["x"] * 10 + ["p0"], gains, k=10) == 0.0
    assert recall_at(["p0", "x", "p2"], gains, k=100) == 0.5
    assert recall_at(["p0", "p1"], gains, k=1) == 0.25


def test_percentile():
    assert percentile([5, 1, 3], 0.5) == 3
    assert percentile(list(range(101)), 0.95) == 95
    assert percentile([], 0.5) == 0.0


def test_evaluate_search_end_to_end_on_a_tiny_set(tmp_path):
    from retrieval.datasets import SearchSet
    from retrieval.evaluate import build_search_index, evaluate_search
    from retrieval.schema import Product
    from tests.conftest import HashEmbedding

    products = [
        Product(id=str(i), title=t)
        for i, t in enumerate(
            ["red running shoe", "blue running shoe", "cast iron pan", "snow boot", "wool sock"]
        )
    ]
    search_set = SearchSet(
        products,
        {"q1": "running shoe", "q2": "pan"},
        {"q1": {"0": 2.0, "1": 1.0, "2": 0.0}, "q2": {"2": 3.0}},
    )
    first = build_search_index(search_set, tmp_path, HashEmbedding())
    assert first.ingest["cached"] is False and first.ingest["embedded"] == 5
    again = build_search_index(search_set, tmp_path, HashEmbedding())
    assert again.ingest["cached"] is True  # same content: nothing re-embedded
    result = evaluate_search(again, search_set, depth=5)
    assert set(result["modes"]) == {"lexical", "dense", "hybrid"}
    lexical = result["modes"]["lexical"]
    assert (
        lexical["recall@5"] == 1.0
        and lexical["ndcg@10"] > 0.9
        and lexical["ndcg@10_judged"] >= lexical["ndcg@10"]
    )


def test_evaluate_intents_cross_validates_when_examples_are_the_questions():
    from retrieval.evaluate import evaluate_intents
    from retrieval.schema import FAQEntry
    from tests.conftest import HashEmbedding

    entries = [
        FAQEntry(id="refund", question="get refund", answer="Refunds take 5 days."),
        FAQEntry(id="track", question="track order", answer="Use the tracking link."),
    ]
    questions = [
        ("i want a refund", "refund"),
        ("refund my money", "refund"),
        ("where is my order", "track"),
        ("track my parcel order", "track"),
    ]
    cold = evaluate_intents(entries, questions, HashEmbedding())
    assert cold["cross_validated_folds"] == 0 and set(cold["modes"]) == {"lexical", "dense", "fused"}
    warm = evaluate_intents(entries, questions, HashEmbedding(), examples=questions, folds=2)
    assert warm["cross_validated_folds"] == 2 and warm["questions"] == 4
    assert warm["modes"]["lexical"]["accuracy@3"] == 1.0
    with pytest.raises(ValueError, match="missing from the FAQ"):
        evaluate_intents(entries, [("hi", "greeting")], HashEmbedding())


def test_ndcg_and_recall_match_ranx_on_random_runs():
    """Cross-check against ranx on random graded judgements (0-3) and runs: its `ndcg` is
    Järvelin-Kekäläinen (linear gains, log2(rank + 1) discount, ideal list from the qrels) like
    ours, and its recall counts relevance >= 1 as relevant, as ours counts gain > 0. Compared on the
    full run (ndcg@10, recall@100) and on the condensed judged-only run that `ndcg@10_judged` uses."""
    ranx = pytest.importorskip("ranx", reason="ranx (dev extra) is not installed")
    import random

    rng = random.Random(7)
    qrels: dict[str, dict[str, int]] = {}
    runs: dict[str, list[str]] = {}
    for q in range(80):
        pool = [f"d{i}" for i in range(rng.randint(5, 300))]
        judged = rng.sample(pool, rng.randint(1, min(40, len(pool))))
        # Every 10th query has only non-relevant judgements: both must score it 0.
        qrels[f"q{q}"] = {d: 0 if q % 10 == 0 else rng.choice((0, 0, 1, 2, 3)) for d in judged}
        runs[f"q{q}"] = rng.sample(pool, rng.randint(1, min(150, len(pool))))
    condensed = {q: [d for d in ranked if d in qrels[q]] for q, ranked in runs.items()}

    def compare(lists: dict[str, list[str]], k: int, depth: int) -> None:
        # ranx takes plain dicts (same query order in both) and ranks each query's docs by score;
        # it cannot take an empty run, so a query with nothing judged retrieved (0 for us) is left out.
        kept = [q for q in qrels if lists[q]]
        run = {q: {d: float(len(lists[q]) - i) for i, d in enumerate(lists[q])} for q in kept}
        theirs = ranx.evaluate(
            {q: qrels[q] for q in kept}, run, [f"ndcg@{k}", f"recall@{depth}"], return_mean=False
        )
        for name, ours in ((f"ndcg@{k}", ndcg_at), (f"recall@{depth}", recall_at)):
            cut = k if name.startswith("ndcg") else depth
            mine = [ours(lists[q], {d: float(g) for d, g in qrels[q].items()}, cut) for q in kept]
            assert 0 < sum(mine) < len(mine)  # neither trivial nor perfect
            assert mine == pytest.approx([float(x) for x in theirs[name]], abs=1e-9), name

    compare(runs, 10, 100)
    compare(condensed, 10, 100)


class _PreferOne:
    """A stand-in learned ranker that puts one product first whatever the query."""

    meta = {"format": "test", "queries": 7}

    def __init__(self, favourite: str) -> None:
        self.favourite = favourite
        self.calls = 0

    def score(self, candidates):
        import numpy as np

        self.calls += 1
        return np.array([1.0 if pid == self.favourite else 0.0 for pid in candidates.ids])


def test_evaluate_search_ranks_hybrid_with_the_configured_ranker(tmp_path):
    from retrieval.datasets import SearchSet
    from retrieval.evaluate import build_search_index, evaluate_search
    from retrieval.schema import Product
    from tests.conftest import HashEmbedding

    titles = ["red running shoe", "blue running shoe", "cast iron pan", "snow boot", "wool sock"]
    products = [Product(id=str(i), title=t) for i, t in enumerate(titles)]
    search_set = SearchSet(
        products, {"q1": "running shoe", "q2": "pan"}, {"q1": {"0": 2.0}, "q2": {"2": 3.0}}
    )
    built = build_search_index(search_set, tmp_path, HashEmbedding())
    plain = evaluate_search(built, search_set, depth=5)
    assert plain["hybrid_ranker"] is None and plain["modes"]["hybrid"]["ndcg@10"] == 1.0
    ranker = _PreferOne("4")  # the sock, relevant to neither query
    built.index.products.ranker = ranker
    ranked = evaluate_search(built, search_set, depth=5)
    assert ranker.calls == 2  # one call per query, in the hybrid mode only
    assert ranked["hybrid_ranker"] == {"format": "test", "queries": 7}
    assert ranked["modes"]["hybrid"]["ndcg@10"] < 1.0  # the sock now ranks first
    assert ranked["modes"]["lexical"]["ndcg@10"] == plain["modes"]["lexical"]["ndcg@10"]
    assert built.index.products.ranker is ranker  # the configured ranker stays in place
