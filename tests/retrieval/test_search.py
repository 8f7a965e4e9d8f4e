"""Retrieval on the demo shop with the real MiniLM embeddings (ingested once per run)."""

import pytest

from retrieval.filters import Filters
from retrieval.search import rrf

pytestmark = pytest.mark.slow


def test_rrf_rewards_agreement():
    scores = rrf([["a", "b", "c"], ["b", "a", "d"]], k=60)
    assert max(scores, key=lambda key: scores[key]) in {"a", "b"}
    assert scores["a"] == scores["b"] > scores["c"] > 0
    assert scores["d"] == scores["c"]


def test_parsed_price_filter_and_relevance(demo_shop_real):
    results = demo_shop_real.index.products.run("waterproof boots under 100", top_k=4)
    assert results.filters.price_max == 100
    assert len(results.hits) == 4
    for hit in results.hits:
        assert hit.product.price <= 100
        assert "boot" in hit.product.title.lower()
        assert any(r.startswith("price <=") for r in hit.reasons)
    assert results.confidence >= 0.5


def test_explicit_filters_apply_to_both_retrievers(demo_shop_real):
    results = demo_shop_real.index.products.run(
        "shoes", top_k=10, filters=Filters(colors=["red"], price_max=80)
    )
    assert results.hits
    assert all("red" in h.product.color and h.product.price <= 80 for h in results.hits)


def test_no_product_matches_filters(demo_shop_real):
    results = demo_shop_real.index.products.run("tent", filters=Filters(price_max=1))
    assert results.hits == [] and results.confidence == 0.0


@pytest.mark.parametrize(
    ("query", "confident"),
    [
        ("do you sell cars?", False),  # "car" only in a cooler's description/tags, meaning unrelated
        ("do you sell prescription glasses?", False),  # "glass" in a kettle's title, meaning unrelated
        ("what is the meaning of life?", False),
        ("do you sell rain jackets?", True),
        ("i need socks", True),
    ],
)
def test_product_confidence_needs_related_meaning(demo_shop_real, query, confident):
    """Shared words alone do not make an answer: the chat refuses below product_min_score (0.3)."""
    results = demo_shop_real.index.products.run(query, top_k=4)
    assert (results.confidence >= demo_shop_real.settings.retrieval.product_min_score) is confident


def test_faq_confident_match_and_no_confident_match(demo_shop_real):
    hit = demo_shop_real.index.faq.run("how long do i have to send something back").best
    assert hit is not None and hit.entry.category == "returns"
    assert demo_shop_real.index.faq.run("who won the football world cup in 1998").best is None


def test_broad_filter_fast_path_matches_exact_filtered_search(demo_shop_real):
    from retrieval.search import _dense_query

    search = demo_shop_real.index.products
    snap = search._current()
    filters = Filters(in_stock=True)
    mask = search.facets.mask(filters)
    where = filters.to_where(search.schema)
    fast = search._dense(snap, False, "warm jacket", 10, where, mask, int(mask.sum()))
    exact = _dense_query(search.collection, "warm jacket", 10, where)
    assert [pid for pid, _ in fast] == [snap.live[doc] for doc, _ in exact]
    assert all(search.products[pid].in_stock for pid, _ in fast)


def test_dense_feedback_moves_the_query_but_not_the_reported_similarity(demo_shop_real):
    """Rocchio feedback re-ranks the fused dense signal; hits still report their cosine to the
    query itself (the confidence the chat refuses on is calibrated on that)."""
    from retrieval.search import _dense_query

    search = demo_shop_real.index.products
    snap = search._current()
    n = len(snap.ids)
    signals, plain = search._signals(snap, "warm jacket", 20, None, None, n)
    exact = _dense_query(search.collection, "warm jacket", 20, None)
    assert [p for p, _ in plain] == [snap.live[doc] for doc, _ in exact]
    assert [p for p, _ in signals["dense"]] != [p for p, _ in plain] or signals["dense"] != plain
    hits = search.run("warm jacket", top_k=5).hits
    cosine = dict(plain)
    assert all(h.dense == pytest.approx(cosine[h.product.id]) for h in hits if h.dense is not None)
    search.feedback = 0.0
    try:
        off, _ = search._signals(snap, "warm jacket", 20, None, None, n)
        assert off["dense"] == plain
    finally:
        search.feedback = 1.0
