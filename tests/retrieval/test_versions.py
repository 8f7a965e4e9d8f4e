"""Catalogue versions: a new catalogue goes live whole or not at all, a rerun resumes, an unchanged
re-sync reads nothing back, stores from before versions are adopted, superseded documents go."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from retrieval.index import ShopIndex
from retrieval.schema import Product
from retrieval.store import open_client
from tests.conftest import REPO, HashEmbedding, TextEmbedding
from tests.retrieval.test_store import old_layout, products, record_ids


class Killed(Exception):
    pass


@pytest.fixture
def index(tmp_path: Path) -> ShopIndex:
    return ShopIndex(open_client(tmp_path / "chroma"), TextEmbedding())


def open_index(path: Path) -> ShopIndex:
    """Another ShopIndex on the same store, as a second process would open it; it checks for a new
    live version on every query."""
    index = ShopIndex(open_client(path), TextEmbedding())
    index.products.recheck_s = 0.0
    return index


def view(index: ShopIndex) -> dict[str, Any]:
    """What shoppers get: a search's hits with their scores, one product's price, the count."""
    hits = index.products.run("trail boot 3", top_k=8).hits
    p0 = index.products.get("P0")
    return {
        "hits": [(h.product.id, round(h.score, 6)) for h in hits],
        "p0": p0.price if p0 else None,
        "count": index.counts()["products"],
    }


FRESH_PROCESS = """
import json, sys
from retrieval.index import ShopIndex
from retrieval.store import open_client
from tests.conftest import TextEmbedding
from tests.retrieval.test_versions import view
print(json.dumps(view(ShopIndex(open_client(sys.argv[1]), TextEmbedding()))))
"""


def fresh_process_view(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(path)], cwd=REPO, capture_output=True, text=True, check=True
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    got["hits"] = [tuple(h) for h in got["hits"]]
    return got


def next_catalogue() -> list[Product]:
    """products(30) with P0-P9 repriced (their search text is the same) and P30-P49 added."""
    items = products(50)
    return [p.model_copy(update={"price": 500.0 + i}) if i < 10 else p for i, p in enumerate(items)]


def test_killed_ingest_leaves_the_previous_version_serving_and_the_rerun_resumes(index, tmp_path):
    index.ingest_products(products(30))
    reader = open_index(tmp_path / "chroma")
    before = view(reader)
    assert before["count"] == 30 and before["p0"] == 10.0

    def die_after_first_batch(n: int) -> None:
        raise Killed

    with pytest.raises(Killed):
        index.ingest_products(next_catalogue(), batch_size=8, progress=die_after_first_batch)
    # 8 records' documents are written (beside the old ones of P0-P7), but nothing of them serves
    assert index.products_collection.count() == 38
    assert view(reader) == view(index) == view(open_index(tmp_path / "chroma")) == before

    calls = HashEmbedding.calls
    stats = index.ingest_products(next_catalogue(), batch_size=8)
    assert (stats.added, stats.updated, stats.unchanged, stats.deleted) == (20, 10, 20, 0)
    # 30 records to write, each with a full text and a title; the first batch of 8 was already there
    assert stats.embedded == 30 - 8 and HashEmbedding.calls - calls == 2 * (30 - 8)
    reader.products.warm_up()
    after = view(reader)
    assert after["count"] == 50 and after["p0"] == 500.0 and after != before
    assert view(open_index(tmp_path / "chroma")) == after
    assert index.products_collection.count() == index.titles_collection.count() == 50


def test_the_switch_is_atomic_for_a_reader_in_this_process_and_a_fresh_process(index, tmp_path):
    path = tmp_path / "chroma"
    index.ingest_products(products(30))
    reader = open_index(path)
    before = view(reader)
    during: list[dict[str, Any]] = []

    def look(n: int) -> None:
        during.append(view(reader))
        if len(during) == 2:
            during.append(fresh_process_view(path))

    index.ingest_products(next_catalogue(), batch_size=8, progress=look)
    assert len(during) == 5 and all(seen == before for seen in during)
    # A running reader notices the switch on its next query, loads the new version in the
    # background and answers from the one it has meanwhile.
    assert reader.products._current().pointer == index.catalogue.current() - 1
    deadline = time.monotonic() + 10
    while reader.products._snapshot.pointer != index.catalogue.current() and time.monotonic() < deadline:
        time.sleep(0.02)
    after = view(reader)
    assert after["count"] == 50 and after["p0"] == 500.0 and after["hits"] != before["hits"]
    fresh = fresh_process_view(path)
    # The same version: the same products in the same order, price and count. The scores may move
    # in the fourth decimal: a fresh process reads Chroma's persisted HNSW graph, whose approximate
    # neighbours deep in the dense lists can differ from the writer's in-memory one (seen once in CI).
    assert [h[0] for h in fresh["hits"]] == [h[0] for h in after["hits"]]
    assert [h[1] for h in fresh["hits"]] == pytest.approx([h[1] for h in after["hits"]], abs=1e-3)
    assert (fresh["p0"], fresh["count"]) == (after["p0"], after["count"])


def test_an_unchanged_resync_neither_embeds_nor_reads_the_store(index, tmp_path, monkeypatch):
    index.ingest_products(products(40))
    fresh = ShopIndex(open_client(tmp_path / "chroma"), TextEmbedding())  # as the next CLI run opens it

    def no_reads(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an unchanged re-sync read the collection")

    for collection in (fresh.products_collection, fresh.titles_collection):
        monkeypatch.setattr(collection, "get", no_reads)
    calls = HashEmbedding.calls
    stats = fresh.ingest_products(products(40))
    assert (stats.added, stats.updated, stats.unchanged, stats.deleted, stats.embedded) == (0, 0, 40, 0, 0)
    assert HashEmbedding.calls == calls


def test_a_dry_run_reports_changes_and_stores_nothing(index, tmp_path):
    index.ingest_products(products(10))
    folder = tmp_path / "chroma" / "lexical" / "products"
    files = sorted(p.name for p in folder.iterdir())
    incoming = next_catalogue()[5:12]  # P5-P9 repriced, P10, P11 added; P0-P4 missing
    stats = index.ingest_products(incoming, prune=True, dry_run=True)
    assert (stats.added, stats.updated, stats.unchanged, stats.deleted, stats.embedded) == (2, 5, 0, 5, 0)
    assert stats.examples == {
        "updated": ["P5", "P6", "P7", "P8", "P9"],
        "deleted": ["P0", "P1", "P2", "P3", "P4"],
        "added": ["P10", "P11"],
    }
    assert sorted(p.name for p in folder.iterdir()) == files
    assert index.products_collection.count() == 10 and view(open_index(tmp_path / "chroma"))["p0"] == 10.0


def test_a_store_from_before_versions_is_adopted_without_loss(index, tmp_path):
    path = tmp_path / "chroma"
    old_layout(index, products(12))
    (path / "lexical" / "products" / "full").mkdir(parents=True)  # its lexical index, left over
    reader = open_index(path)
    assert reader.counts()["products"] == 12 and reader.products.get("P11").price == 21.0
    assert reader.products.run("trail boot 7", top_k=1).hits[0].product.id == "P7"

    changed = products(13)
    changed[0] = changed[0].model_copy(update={"price": 99.0})
    calls = HashEmbedding.calls
    stats = index.ingest_products(changed)
    assert (stats.added, stats.updated, stats.unchanged, stats.embedded) == (1, 1, 11, 2)
    assert HashEmbedding.calls - calls == 4  # P0 and P12, full text and title each
    ids = set(index.products_collection.get(include=[])["ids"])
    assert {f"P{i}" for i in range(1, 12)} <= ids and "P0" not in ids and len(ids) == 13
    assert record_ids(index.titles_collection) == sorted(f"P{i}" for i in range(13))
    fresh = open_index(path)
    assert fresh.counts()["products"] == 13 and fresh.products.get("P0").price == 99.0
    reader.products.warm_up()
    assert reader.products.get("P0").price == 99.0 and reader.products.get("P5").price == 15.0
    assert not (path / "lexical" / "products" / "full").exists()


def test_superseded_documents_manifests_and_orphans_are_collected(index, tmp_path):
    folder = tmp_path / "chroma" / "lexical" / "products"
    index.ingest_products(products(10))
    for price in (50.0, 60.0):  # two more versions, P0-P2 repriced in each
        items = products(10)
        items[:3] = [p.model_copy(update={"price": price + i}) for i, p in enumerate(items[:3])]
        index.ingest_products(items)
    live = index.catalogue.live()
    assert live.number == 3
    for collection, docs in (
        (index.products_collection, live.docs()),
        (index.titles_collection, live.mirrored()),
    ):
        assert sorted(collection.get(include=[])["ids"]) == sorted(docs)
    assert sorted(p.name for p in folder.iterdir()) == ["current", "lock", "v2", "v2.json", "v3", "v3.json"]

    with pytest.raises(Killed):  # a run that is never finished: the catalogue goes back to version 3

        def die(n: int) -> None:
            raise Killed

        index.ingest_products(products(20), batch_size=4, progress=die)
    assert index.products_collection.count() == 14
    stats = index.ingest_products(items)
    assert (stats.unchanged, stats.embedded) == (10, 0)
    assert index.products_collection.count() == index.titles_collection.count() == 10
