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
