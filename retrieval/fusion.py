"""Ways to merge a lexical and a dense ranking into one.

Reciprocal rank fusion needs no calibration and is the robust default; convex combination of
min-max normalized scores uses how much better the top hit is, which RRF throws away. "adaptive"
is RRF whose dense weight follows how much text the catalogue's products carry beyond their titles
(`text_ratio`, an index-time statistic): see `adaptive_alpha`.
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
    lexical: Sequence[Ranking],
    dense: Sequence[Ranking],
    k: int = 60,
    alpha: float = 0.5,
    *,
    text_ratio: float | None = None,
) -> dict[str, float]:
    """RRF over all lists; `alpha` is the share of weight given to the dense lists (fixed:
    `text_ratio` is only read by the adaptive fusion)."""
    lists = [*dense, *lexical]
    weights = [alpha / max(len(dense), 1)] * len(dense) + [(1 - alpha) / max(len(lexical), 1)] * len(lexical)
    scale = len(lists)  # keep weights averaging 1 so scores stay comparable to plain RRF
    return rrf([[i for i, _ in r] for r in lists], k=k, weights=[w * scale for w in weights])


def fuse_convex(
    lexical: Sequence[Ranking],
    dense: Sequence[Ranking],
    k: int = 60,
    alpha: float = 0.5,
    *,
    text_ratio: float | None = None,
) -> dict[str, float]:
    """alpha * mean of normalized dense scores + (1 - alpha) * mean of normalized lexical scores
    (`text_ratio` is only read by the adaptive fusion)."""
    total: dict[str, float] = {}
    for lists, weight in ((dense, alpha), (lexical, 1 - alpha)):
        for ranking in lists:
            for key, value in _minmax(ranking).items():
                total[key] = total.get(key, 0.0) + weight * value / len(lists)
    return total


# Dense weight kept, as a share of `alpha`, for a catalogue of bare titles (see `adaptive_alpha`).
TITLE_ONLY_SHARE = 2 / 3


def adaptive_alpha(alpha: float, text_ratio: float | None) -> float:
    """The dense weight for a catalogue whose product texts are `text_ratio` times as long as their
    titles (total characters; 1.0 when every product is its title alone, None when unknown).

    A title-only catalogue gives the dense model a few words per product while BM25 still sees
    every exact word (model numbers, sizes), so the dense lists get `TITLE_ONLY_SHARE` of
    `alpha`; the share rises linearly to all of `alpha` once texts are on average twice their
    titles (descriptions). Measured (nDCG@10, dev, `eval search`): Home Depot (ratio 1.0) is best
    at dense weight ~0.2 and Crowdflower (ratio 8.3) at ~0.3; per-query agreement of the lexical
    and dense top 10, top-1 match and score gaps did not predict the better weight within either
    set (docs/benchmarks.md), so the weight adapts to the catalogue, not the query.
    """
    if text_ratio is None:
        return alpha
    described = min(1.0, max(0.0, text_ratio - 1.0))
    return alpha * (TITLE_ONLY_SHARE + (1.0 - TITLE_ONLY_SHARE) * described)


def fuse_adaptive(
    lexical: Sequence[Ranking],
    dense: Sequence[Ranking],
    k: int = 60,
    alpha: float = 0.5,
    *,
    text_ratio: float | None = None,
) -> dict[str, float]:
    """RRF with the dense weight `adaptive_alpha(alpha, text_ratio)`."""
    return fuse_rrf(lexical, dense, k=k, alpha=adaptive_alpha(alpha, text_ratio))


def text_ratio(texts: Sequence[str], titles: Sequence[str]) -> float | None:
    """Total characters of the products' full texts over those of their titles (None if no titles)."""
    title_chars = sum(len(t) for t in titles)
    return sum(len(t) for t in texts) / title_chars if title_chars else None


FUSIONS: dict[str, Callable[..., dict[str, float]]] = {
    "rrf": fuse_rrf,
    "convex": fuse_convex,
    "adaptive": fuse_adaptive,
}
