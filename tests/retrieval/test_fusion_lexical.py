import pytest

from retrieval.fusion import FUSIONS, fuse_convex, fuse_rrf, rrf
from retrieval.lexical import LexicalIndex, fingerprint
from retrieval.text import lexical_tokens


def test_rrf_and_weighted_lists():
    assert rrf([["a", "b"], ["b", "a"]])["a"] == pytest.approx(rrf([["a", "b"], ["b", "a"]])["b"])
    fused = fuse_rrf([[("a", 9.0), ("b", 1.0)]], [[("b", 0.9)], [("b", 0.8), ("c", 0.1)]], alpha=0.5)
    assert max(fused, key=lambda k: fused[k]) == "b"


def test_convex_normalizes_each_list():
    fused = fuse_convex([[("a", 100.0), ("b", 50.0)]], [[("b", 0.9), ("a", 0.1)]], alpha=0.5)
    assert fused["a"] == pytest.approx(0.5) and fused["b"] == pytest.approx(0.5)
    assert set(FUSIONS) == {"rrf", "convex", "adaptive"}


def test_lexical_tokens_stem_and_keep_phrases():
    tokens = lexical_tokens("Over the Knee Snow Boots")
    assert "boot" in tokens and "snow_boot" in tokens and "the" not in tokens


def test_lexical_index_ranks_masks_and_persists(tmp_path):
    docs = ["red running shoe", "blue running shoe", "cast iron pan", "snow boots for winter"]
    key = fingerprint(["1", "2", "3", "4"], ["h1", "h2", "h3", "h4"])
    built = LexicalIndex.load_or_build(tmp_path / "lex", docs, key)
    top = built.top("running shoes", 10)
    assert {i for i, _ in top} == {0, 1}
    import numpy as np

    only_blue = np.array([False, True, False, False])
    assert [i for i, _ in built.top("running shoes", 10, only_blue)] == [1]
    assert built.top("zebra", 5) == []
    assert (tmp_path / "lex" / "shopassist.json").exists()
    loaded = LexicalIndex.load_or_build(tmp_path / "lex", docs, key)
    assert [i for i, _ in loaded.top("snow boot", 3)] == [3]
    changed = LexicalIndex.load_or_build(tmp_path / "lex", [*docs, "boot dryer"], fingerprint(["5"], ["h5"]))
    assert changed.num_docs == 5  # a different fingerprint rebuilds
    tuned = LexicalIndex.load_or_build(
        tmp_path / "lex", [*docs, "boot dryer"], fingerprint(["5"], ["h5"]), b=0.4
    )
    assert (tuned.index.k1, tuned.index.b) == (1.5, 0.4)  # other BM25 parameters rebuild too


def test_empty_lexical_index_scores_nothing(tmp_path):
    from retrieval.lexical import LexicalIndex

    index = LexicalIndex.load_or_build(tmp_path / "lex", [], "key")
    assert index.scores("boots").shape == (0,) and index.top("boots", 5) == []
