"""Loaders for the shared sets; the tests on real files skip where ../shared/data is absent."""

import pytest

from retrieval import datasets
from retrieval.catalog import CatalogError
from tests.conftest import SHARED_DATA

needs_shared = pytest.mark.skipif(not SHARED_DATA.exists(), reason=f"shared data not found at {SHARED_DATA}")


def test_generic_search_set_from_small_files(tmp_path):
    (tmp_path / "p.csv").write_text("product_id,title,description\n1,Red kettle,Steel\n2,Blue mug,\n")
    (tmp_path / "q.csv").write_text("query_id,query\nq1,kettle\nq2,lamp\n")
    (tmp_path / "r.csv").write_text("query_id,product_id,grade\nq1,1,4\nq1,2,1\nq2,2,1\n")
    s = datasets.load_search_set(tmp_path / "p.csv", tmp_path / "q.csv", tmp_path / "r.csv")
    assert [p.id for p in s.products] == ["1", "2"] and s.products[0].price is None
    assert s.qrels == {"q1": {"1": 3.0, "2": 0.0}, "q2": {"2": 0.0}}
    assert s.judged_queries() == ["q1"]


def test_wands_labels_and_missing_files(tmp_path):
    (tmp_path / "l.csv").write_text(
        "id\tquery_id\tproduct_id\tlabel\n0\t1\t10\tExact\n1\t1\t11\tPartial\n2\t1\t12\tIrrelevant\n"
    )
    assert datasets.load_qrels(tmp_path / "l.csv") == {"1": {"10": 2.0, "11": 1.0, "12": 0.0}}
    with pytest.raises(CatalogError, match="WANDS files missing"):
        datasets.wands(tmp_path / "none")


def test_intent_faq_and_questions(tmp_path):
    (tmp_path / "faq.csv").write_text("intent,category,answer\ncancel_order,ORDER,Use the button.\n")
    entry = datasets.load_intent_faq(tmp_path / "faq.csv")[0]
    assert (entry.id, entry.question, entry.answer) == ("cancel_order", "cancel order", "Use the button.")
    (tmp_path / "q.csv").write_text("question,intent,category\nstop my order,cancel_order,ORDER\n")
    assert datasets.load_labelled_questions(tmp_path / "q.csv") == [("stop my order", "cancel_order")]


@needs_shared
def test_shared_sets_load_completely():
    cf = datasets.crowdflower(SHARED_DATA / "search" / "crowdflower")
    assert len(cf.products) == 9913 and cf.errors == [] and len(cf.judged_queries()) == 169
    faq = datasets.load_intent_faq(SHARED_DATA / "cs" / "faq.csv")
    assert len(faq) == 27
    flip = datasets.flipkart(SHARED_DATA / "copy" / "flipkart_products.csv")
    assert len(flip.items) == 1002 and flip.errors == []
    shoe = flip.items[0]
    assert shoe.currency == "INR" and shoe.category == "footwear" and shoe.color == "Red"
