"""Ingest is idempotent, incremental and never loses stored data on bad input."""

from pathlib import Path

import pytest

from retrieval.catalog import CatalogError, load_products
from retrieval.schema import Product
from tests.conftest import HashEmbedding


def products(n: int, price: float = 10.0) -> list[Product]:
    return [
        Product(id=f"P{i}", title=f"Trail boot {i}", price=price + i, brand="Acme", category="footwear")
        for i in range(n)
    ]


def record_ids(collection) -> list[str]:
    """The record ids of a collection's documents (`<id>@<content hash>`, or plain in an old store)."""
    return sorted(doc.split("@")[0] for doc in collection.get(include=[])["ids"])


def old_layout(
    index, items: list[Product], *, without_title: tuple[str, ...] = (), every_title: bool = False
) -> None:
    """Store `items` as versions before catalogue versions did: plain ids, no manifest or `current`
    file, titles that differ from the full text (or, `every_title`, all) mirrored except those in
    `without_title`."""
    main = [(p.id, p.search_text(), p) for p in items]
    titles = [
        (p.id, p.title, p)
        for p in items
        if (every_title or p.title != p.search_text()) and p.id not in without_title
    ]
    for collection, rows in ((index.products_collection, main), (index.titles_collection, titles)):
        if rows:
            collection.upsert(
                ids=[rid for rid, _, _ in rows],
                documents=[doc for _, doc, _ in rows],
                metadatas=[p.metadata() for _, _, p in rows],
                embeddings=index.embedding_function([doc for _, doc, _ in rows]),
            )


def test_reingest_unchanged_does_no_embedding_work(hash_index):
    first = hash_index.ingest_products(products(20))
    assert (first.added, first.updated, first.unchanged) == (20, 0, 0)
    before = HashEmbedding.calls
    again = hash_index.ingest_products(products(20))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 20)
    assert HashEmbedding.calls == before


def test_changed_products_are_updated_and_prune_deletes_removed(hash_index):
    hash_index.ingest_products(products(10))
    changed = products(8)
    changed[0] = changed[0].model_copy(update={"price": 999.0})
    stats = hash_index.ingest_products(changed)
    assert (stats.added, stats.updated, stats.unchanged, stats.deleted) == (0, 1, 7, 0)
    assert hash_index.products_collection.count() == 10  # no prune: nothing removed
    stats = hash_index.ingest_products(changed, prune=True)
    assert stats.deleted == 2
    assert hash_index.products_collection.count() == 8
    assert hash_index.products.get("P0").price == 999.0


def test_interrupted_ingest_finishes_on_rerun_without_duplicates(hash_index):
    items = products(600)

    class Killed(Exception):
        pass

    seen = {"n": 0}

    def die_after_first_batch(n: int) -> None:
        seen["n"] += n
        if seen["n"] >= 256:
            raise Killed

    with pytest.raises(Killed):
        hash_index.ingest_products(items, progress=die_after_first_batch, batch_size=256)
    assert hash_index.products_collection.count() == 256  # written, but not live
    assert hash_index.counts()["products"] == 0
    stats = hash_index.ingest_products(items)
    assert (stats.added, stats.unchanged, stats.embedded) == (600, 0, 344)
    assert hash_index.counts()["products"] == hash_index.products_collection.count() == 600
    ids = hash_index.products_collection.get(include=[])["ids"]
    assert len(ids) == len(set(ids)) == 600


def test_bad_file_keeps_what_was_stored(hash_index, tmp_path: Path):
    hash_index.ingest_products(products(5))
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\nX,Y\n")
    with pytest.raises(CatalogError):
        load_products(bad)
    partly = tmp_path / "partly.csv"
    partly.write_text("id,title,price\nN1,New lamp,12\nN2,Broken,abc\n")
    result = load_products(partly)
    hash_index.ingest_products(result.items)
    assert hash_index.products_collection.count() == 6
    assert hash_index.products.get("P0") is not None and hash_index.products.get("N1") is not None
    assert [(e.row, e.field) for e in result.errors] == [(3, "price")]


def test_a_missing_mirror_is_filled_from_unchanged_records(hash_index):
    old_layout(hash_index, products(12), without_title=("P3", "P4"))  # written before titles existed
    before = HashEmbedding.calls
    stats = hash_index.ingest_products(products(12))
    assert (stats.added, stats.updated, stats.unchanged, stats.embedded) == (0, 0, 12, 2)
    assert HashEmbedding.calls - before == 2
    assert record_ids(hash_index.titles_collection) == sorted(f"P{i}" for i in range(12))


def bare(n: int) -> list[Product]:
    """Products whose title is their whole search text (like the Home Depot catalogue)."""
    return [Product(id=f"B{i}", title=f"Cordless drill {i}") for i in range(n)]


def test_titles_equal_to_the_full_text_get_no_mirror_copy(hash_index):
    stats = hash_index.ingest_products(bare(6) + products(4))
    assert stats.added == 10
    assert record_ids(hash_index.titles_collection) == ["P0", "P1", "P2", "P3"]
    search = hash_index.products
    search.warm_up()
    signals, plain_dense = search._signals(search._current(), "cordless drill", 10, None, None, 10)
    # the bare products still reach the title signal, with their full-text similarity
    title_dense = dict(signals["title_dense"])
    for pid, sim in plain_dense:
        if pid.startswith("B"):
            assert title_dense[pid] == pytest.approx(sim)
    assert {pid for pid in title_dense if pid.startswith("P")} == {"P0", "P1", "P2", "P3"}
    assert search.run("cordless drill 3", top_k=1).hits[0].product.id == "B3"


def test_a_title_that_becomes_the_full_text_leaves_the_mirror(hash_index):
    hash_index.ingest_products(products(3))
    assert hash_index.titles_collection.count() == 3
    plain = [p.model_copy(update={"brand": "", "category": ""}) for p in products(3)]
    stats = hash_index.ingest_products(plain[:1] + products(3)[1:])
    assert stats.updated == 1
    assert record_ids(hash_index.titles_collection) == ["P1", "P2"]


def test_stale_mirror_copies_of_plain_titles_are_removed(hash_index):
    old_layout(hash_index, bare(3), every_title=True)  # as a version that mirrored every product left it
    stats = hash_index.ingest_products(bare(3))
    assert (stats.added, stats.updated, stats.unchanged, stats.embedded) == (0, 0, 3, 0)
    assert hash_index.titles_collection.count() == 0


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8123", ("127.0.0.1", 8123, False)),
        ("127.0.0.1:9000", ("127.0.0.1", 9000, False)),
        ("https://chroma.example.com", ("chroma.example.com", 443, True)),
        ("http://chroma.local", ("chroma.local", 8000, False)),
        ("http://[::1]:8123", ("[::1]", 8123, False)),
    ],
)
def test_server_urls_become_client_arguments(monkeypatch, url, expected):
    import chromadb

    from retrieval.store import open_client

    seen = {}
    monkeypatch.setattr(chromadb, "HttpClient", lambda **kw: seen.update(kw) or "client")
    assert open_client(url=url) == "client"
    assert (seen["host"], seen["port"], seen["ssl"]) == expected


class _AdaptedHash(HashEmbedding):
    """The same name as HashEmbedding (as MiniLM with and without an adapter) but other vectors."""

    def __call__(self, input):  # type: ignore[no-untyped-def]
        return [v[::-1].copy() for v in super().__call__(input)]

    def get_config(self):  # type: ignore[no-untyped-def]
        return {"adapter": "/a", "adapter_tag": "abc123"}


def test_a_collection_embedded_by_another_adapter_is_re_embedded_and_nothing_is_lost(tmp_path: Path):
    import chromadb

    from retrieval.store import get_embedded_collection, read_all

    client = chromadb.PersistentClient(path=str(tmp_path))
    plain = client.get_or_create_collection("faq", embedding_function=HashEmbedding())  # as before tags
    plain.upsert(
        ids=["a", "b"], documents=["how to return shoes", "track my order"], metadatas=[{"e": 1}, {"e": 2}]
    )
    adapted = get_embedded_collection(client, "faq", _AdaptedHash())
    assert adapted.metadata["embedding"] == "test-hash+abc123"
    ids, docs, metas = read_all(adapted)
    assert sorted(zip(ids, docs, [m["e"] for m in metas], strict=True)) == [
        ("a", "how to return shoes", 1),
        ("b", "track my order", 2),
    ]
    stored = adapted.get(ids=["a"], include=["embeddings"])["embeddings"][0]
    assert list(stored) == list(_AdaptedHash()(["how to return shoes"])[0])  # the new model's vectors
    assert get_embedded_collection(client, "faq", _AdaptedHash()).id == adapted.id  # same model: kept as is
    # A swap that died after dropping the old collection: the next open finishes it.
    client.get_or_create_collection("faq__reembed", embedding_function=HashEmbedding()).upsert(
        ids=["a"], documents=["how to return shoes"], metadatas=[{"e": 1}]
    )
    client.delete_collection("faq")
    back = get_embedded_collection(client, "faq", HashEmbedding())
    assert back.count() == 1 and {c.name for c in client.list_collections()} == {"faq"}
