"""Catalogue versions kept in a Chroma server: two "replicas" (ShopIndex objects with their own
lexical caches, as two API processes on two hosts) follow each other's ingests within the check
interval; an unchanged re-sync switches nothing; a killed ingest leaves every replica on the
previous version. The lease and the commit's compare-and-set are tested on an in-memory Chroma."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import chromadb
import pytest

from retrieval.index import ShopIndex
from retrieval.schema import FAQEntry
from retrieval.shared_versions import ChromaVersions
from retrieval.store import open_client
from retrieval.versions import Version, VersionConflict
from tests import helpers
from tests.conftest import TextEmbedding
from tests.retrieval import test_chroma_server
from tests.retrieval.test_store import products

chroma_url = test_chroma_server.chroma_url  # the `chroma run` server, one per module

CHECK_S = 0.3  # version_check_s of the replicas here
MARGIN_S = 10.0  # loading a 60-product version takes well under a second; this is for a busy machine


def replica(url: str, name: str, cache: Path) -> ShopIndex:
    """One API process's index: its own client, its own lexical cache, the shared collections."""
    index = ShopIndex(
        open_client(url=url),
        TextEmbedding(),
        products_collection=name,
        faq_collection=f"{name}_faq",
        lexical_dir=cache,
        version_check_s=CHECK_S,
    )
    index.products.warm_up()  # serving already, as an API replica is after start-up
    return index


def view(index: ShopIndex) -> dict[str, Any]:
    """What shoppers of this replica get: hits and scores of two searches, a price, the count."""
    hits = [
        [(h.product.id, round(h.score, 6)) for h in index.products.run(q, top_k=6).hits]
        for q in ("trail boot 3", "boot 12")
    ]
    p0 = index.products.get("P0")
    return {"hits": hits, "p0": p0.price if p0 else None, "count": len(index.products.products)}


def until(check: Callable[[], bool], limit: float) -> float:
    """Seconds until `check()` holds, polled finely: the follow time itself is what is measured."""
    return helpers.until(check, limit, interval=0.02)


@pytest.fixture
def replicas(chroma_url: str, tmp_path: Path) -> Iterator[tuple[ShopIndex, ShopIndex]]:
    name = f"shared{uuid.uuid4().hex[:8]}"
    a, b = replica(chroma_url, name, tmp_path / "a"), replica(chroma_url, name, tmp_path / "b")
    yield a, b
    a.close()
    b.close()


@pytest.mark.integration
def test_an_ingest_on_one_replica_is_served_by_the_other(replicas, tmp_path):
    a, b = replicas
    assert view(b)["count"] == 0

    a.ingest_products(products(30))
    took = until(lambda: view(b) == view(a), CHECK_S + MARGIN_S)
    assert view(b)["count"] == 30 and b.catalogue.current() == a.catalogue.current()
    assert took < CHECK_S + MARGIN_S
    # B built the version's lexical index in its own cache, named by number and manifest hash
    cached = tmp_path / "b" / a.products_collection.name
    assert [p.name.split("-")[0] for p in cached.iterdir()] == [f"v{b.catalogue.current()}"]

    changed = products(40)
    changed[:5] = [p.model_copy(update={"price": 300.0 + i}) for i, p in enumerate(changed[:5])]
    a.ingest_products(changed, prune=True)
    until(lambda: view(b) == view(a), CHECK_S + MARGIN_S)
    assert view(b)["p0"] == 300.0 and view(b)["count"] == 40

    # an unchanged re-sync (from B this time) switches nothing: no new version, no reload anywhere
    served_a, served_b, number = a.products._snapshot, b.products._snapshot, a.catalogue.current()
    stats = b.ingest_products(changed)
    assert (stats.unchanged, stats.embedded) == (40, 0)
    time.sleep(3 * CHECK_S)
    assert a.catalogue.current() == b.catalogue.current() == number
    assert a.products._snapshot is served_a and b.products._snapshot is served_b


@pytest.mark.integration
def test_a_killed_ingest_leaves_every_replica_on_the_previous_version(
    replicas, chroma_url, monkeypatch, tmp_path
):
    a, b = replicas
    a.ingest_products(products(20))
    until(lambda: view(b) == view(a), CHECK_S + MARGIN_S)
    before, number = view(b), a.catalogue.current()

    class Killed(Exception):
        pass

    def killed(version: Version) -> None:
        raise Killed  # documents and manifest written, the commit never made

    monkeypatch.setattr(a.catalogue.store, "switch", killed)
    repriced = [p.model_copy(update={"price": 900.0 + i}) for i, p in enumerate(products(25))]
    with pytest.raises(Killed):
        a.ingest_products(repriced)
    monkeypatch.undo()
    assert a.products_collection.count() == 45  # the new version's documents are there
    time.sleep(3 * CHECK_S)
    fresh = replica(chroma_url, a.products_collection.name, tmp_path / "fresh")  # a replica started now
    assert view(b) == view(a) == view(fresh) == before
    assert a.catalogue.current() == b.catalogue.current() == fresh.catalogue.current() == number
    fresh.close()

    stats = a.ingest_products(repriced)  # the rerun finds the documents written and goes live
    assert stats.embedded == 0 and a.catalogue.current() == number + 1
    until(lambda: view(b) == view(a), CHECK_S + MARGIN_S)
    assert view(b)["p0"] == 900.0 and a.products_collection.count() == 25


@pytest.mark.integration
def test_an_faq_sync_reaches_the_other_replica(replicas):
    a, b = replicas
    entry = FAQEntry(id="returns", question="Can I return shoes?", answer="Yes, within 30 days.")
    a.ingest_faq([entry])
    assert b.faq.run("return shoes").hits[0].entry.answer == "Yes, within 30 days."
    a.ingest_faq([entry.model_copy(update={"answer": "Yes, within 60 days."})])
    until(
        lambda: b.faq.run("return shoes").hits[0].entry.answer == "Yes, within 60 days.", CHECK_S + MARGIN_S
    )


# -- the lease and the commit, on an in-memory Chroma (the same calls as over HTTP) ------------------


def versions(name: str, **kwargs: Any) -> ChromaVersions:
    return ChromaVersions.open(chromadb.EphemeralClient(), name, **kwargs)


def test_of_two_runs_committing_one_version_number_exactly_one_wins() -> None:
    name = f"race{uuid.uuid4().hex[:8]}"
    first, second = versions(name), versions(name)
    mine, theirs = Version(0, {}), Version(0, {})
    first.save(mine)
    second.save(theirs)
    first.switch(mine)
    with pytest.raises(VersionConflict, match="made live by another ingest"):
        second.switch(theirs)
    assert second.current() == 0 and second.load(0) == mine


def test_a_second_ingest_waits_for_the_lease_and_a_dead_one_is_taken_over() -> None:
    name = f"lease{uuid.uuid4().hex[:8]}"
    first, second = versions(name, poll_s=0.02), versions(name, poll_s=0.02)
    order: list[str] = []

    def second_ingest() -> None:
        with second.lock():
            order.append("second")

    with first.lock():
        waiter = threading.Thread(target=second_ingest)
        waiter.start()
        time.sleep(0.3)
        order.append("first done")
    waiter.join(timeout=5)
    assert order == ["first done", "second"]

    # a run killed while holding the lease (no heartbeat any more): the next takes over once it expires
    dead = versions(name, lease_s=0.2)
    dead.collection.upsert(
        ids=["lease"],
        embeddings=[[0.0]],
        metadatas=[{"kind": "lease", "owner": "dead", "expires": time.time() + 0.2}],
    )
    start = time.monotonic()
    with dead.lock():
        assert dead._holder() == dead._lease
    assert 0.15 < time.monotonic() - start < 5


def test_a_run_that_lost_its_lease_does_not_go_live() -> None:
    name = f"lost{uuid.uuid4().hex[:8]}"
    slow = versions(name)
    with slow.lock():
        slow.save(Version(0, {}))
        slow.collection.update(ids=["lease"], metadatas=[{"owner": "someone else"}])  # taken over
        with pytest.raises(VersionConflict, match="lease"):
            slow.switch(Version(0, {}))
    assert slow.current() is None


def test_the_live_version_is_the_highest_commit_however_far_behind_a_reader_is() -> None:
    name = f"walk{uuid.uuid4().hex[:8]}"
    writer, reader = versions(name), versions(name)
    assert reader.current() is None
    writer.save(Version(0, {}))
    writer.switch(Version(0, {}))
    assert reader.current() == 0
    for number in range(1, 20):  # more than one probe's worth of versions while the reader sleeps
        writer.save(Version(number, {}))
        writer.switch(Version(number, {}))
    assert reader.current() == 19 and versions(name).current() == 19
    # a run killed after its commit, before it moved the hint: its version is live all the same
    writer.save(Version(20, {}))
    writer.collection.add(ids=["commit:v20"], embeddings=[[0.0]], metadatas=[writer._saved[20].metadata()])
    assert reader.current() == versions(name).current() == 20
    assert versions(name).load(20) == Version(20, {})
