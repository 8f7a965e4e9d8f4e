"""Ways to merge a lexical and a dense ranking into one.

Reciprocal rank fusion needs no calibration and is the robust default; convex combination of
min-max normalized scores uses how much better the top hit is, which RRF throws away.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Ranking = Sequence[tuple[str, float]]


def rrf(
    rankings: Sequence[Sequence[str]], k: int = 60, weights: Sequence[float] | None = None
) -> dict[str, float]:
    """Reciprocal rank fusion: sum of w / (k + rank) over the rankings an id appears in."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return scores


def _minmax(ranking: Ranking) -> dict[str, float]:
    if not ranking:
        return {}
    values = [s for _, s in ranking]
    low, high = min(values), max(values)
    span = high - low
    return {key: (s - low) / span if span > 0 else 1.0 for key, s in ranking}


def fuse_rrf(
    lexical: Sequence[Ranking], dense: Sequence[Ranking], k: int = 60, alpha: float = 0.5
) -> dict[str, float]:
    """RRF over all lists; `alpha` is the share of weight given to the dense lists."""
    lists = [*dense, *lexical]
    weights = [alpha / max(len(dense), 1)] * len(dense) + [(1 - alpha) / max(len(lexical), 1)] * len(lexical)
    scale = len(lists)  # keep weights averaging 1 so scores stay comparable to plain RRF
    return rrf([[i for i, _ in r] for r in lists], k=k, weights=[w * scale for w in weights])


def fuse_convex(
    lexical: Sequence[Ranking], dense: Sequence[Ranking], k: int = 60, alpha: float = 0.5
) -> dict[str, float]:
    """alpha * mean of normalized dense scores + (1 - alpha) * mean of normalized lexical scores."""
    total: dict[str, float] = {}
    for lists, weight in ((dense, alpha), (lexical, 1 - alpha)):
        for ranking in lists:
            for key, value in _minmax(ranking).items():
                total[key] = total.get(key, 0.0) + weight * value / len(lists)
    return total


FUSIONS: dict[str, Callable[..., dict[str, float]]] = {"rrf": fuse_rrf, "convex": fuse_convex}
