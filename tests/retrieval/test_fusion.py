import pytest

from retrieval.fusion import FUSIONS, TITLE_ONLY_SHARE, adaptive_alpha, fuse_adaptive, fuse_rrf, text_ratio

# "a" is BM25's first and dense's tenth; "b" is dense's first and BM25's fourth.
LEXICAL = [[("a", 9.0), ("x", 8.0), ("y", 7.0), ("b", 6.0)]]
DENSE = [[("b", 0.9), *[(f"d{i}", 0.8 - i / 100) for i in range(8)], ("a", 0.5)]]


def _top(scores):
    return max(scores, key=lambda key: scores[key])


def test_adaptive_alpha_follows_how_much_text_products_have():
    assert adaptive_alpha(0.3, 1.0) == pytest.approx(0.3 * TITLE_ONLY_SHARE)  # bare titles
    assert adaptive_alpha(0.3, 2.0) == pytest.approx(0.3)  # texts twice their titles: all of alpha
    assert adaptive_alpha(0.3, 8.3) == pytest.approx(0.3)  # never above alpha
    assert adaptive_alpha(0.3, 1.5) == pytest.approx(0.3 * (TITLE_ONLY_SHARE + (1 - TITLE_ONLY_SHARE) / 2))
    assert adaptive_alpha(0.3, None) == 0.3  # unknown catalogue: plain alpha
    assert adaptive_alpha(0.3, 0.5) == pytest.approx(0.3 * TITLE_ONLY_SHARE)  # clipped below


def test_title_only_catalogue_trusts_bm25_more():
    described = fuse_adaptive(LEXICAL, DENSE, alpha=0.3, text_ratio=8.0)
    titles = fuse_adaptive(LEXICAL, DENSE, alpha=0.3, text_ratio=1.0)
    assert _top(described) == "b"  # with descriptions the dense favourite wins, as plain RRF at 0.3
    assert described == pytest.approx(fuse_rrf(LEXICAL, DENSE, alpha=0.3))
    assert _top(titles) == "a"  # bare titles: the dense weight drops to 0.2 and BM25's first wins
    assert titles == pytest.approx(fuse_rrf(LEXICAL, DENSE, alpha=0.2))


def test_every_fusion_takes_the_catalogue_statistic():
    for name, fuse in FUSIONS.items():
        scores = fuse(LEXICAL, DENSE, k=60, alpha=0.3, text_ratio=1.0)
        assert set(scores) == {"a", "b", "x", "y", *(f"d{i}" for i in range(8))}, name
    assert fuse_rrf(LEXICAL, DENSE, alpha=0.3, text_ratio=1.0) == fuse_rrf(LEXICAL, DENSE, alpha=0.3)


def test_text_ratio():
    assert text_ratio(["red shoe", "pan"], ["red shoe", "pan"]) == 1.0
    assert text_ratio(["red shoe, leather upper", "pan"], ["red shoe", "pan"]) == pytest.approx(26 / 11)
    assert text_ratio([], []) is None


def test_product_search_measures_its_catalogue_for_the_adaptive_fusion(tmp_path):
    from retrieval.datasets import SearchSet
    from retrieval.evaluate import build_search_index
    from retrieval.schema import Product
    from tests.conftest import HashEmbedding

    bare = [Product(id=str(i), title=t) for i, t in enumerate(["red running shoe", "cast iron pan"])]
    built = build_search_index(SearchSet(bare, {}, {}), tmp_path / "bare", HashEmbedding(), fusion="adaptive")
    search = built.index.products
    assert search.fusion == "adaptive" and search._current().text_ratio == pytest.approx(1.0)
    described = [p.model_copy(update={"description": "A long description of it. " * 4}) for p in bare]
    built = build_search_index(
        SearchSet(described, {}, {}), tmp_path / "desc", HashEmbedding(), fusion="adaptive"
    )
    search = built.index.products
    assert search._current().text_ratio > 2.0
    assert [h.product.id for h in search.run("running shoe", top_k=1).hits] == ["0"]
