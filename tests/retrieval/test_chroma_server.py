"""ShopIndex over a real Chroma server: `chroma run` on 127.0.0.1, reached through `open_client(url=...)`.

One server per module; each test works in its own collections, so the tests do not depend on order.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.filters import Filters
from retrieval.index import ShopIndex
from retrieval.schema import Product
from retrieval.store import open_client
from tests.conftest import HashEmbedding
from tests.helpers import free_port, running_server

pytestmark = [pytest.mark.integration]

CHROMA = Path(sys.executable).with_name("chroma")
BRANDS = ["Stridewell", "Tidewalk"]
COLORS = ["red", "blue", "black"]


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `chroma run` server on a free loopback port with a temporary data path, stopped by PID."""
    if not CHROMA.exists():
        pytest.skip(f"no `chroma` executable beside {sys.executable} (chromadb's server CLI)")
    folder = tmp_path_factory.mktemp("chroma-run")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(CHROMA), "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)]
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False")
    with running_server(cmd, f"{url}/api/v2/heartbeat", folder / "server.log", env, timeout=60):
        yield url


def shop_index(url: str, name: str) -> ShopIndex:
    """An index in collections of its own (`name`, `name`_titles, `name`_faq) on the server."""
    return ShopIndex(
        open_client(url=url), HashEmbedding(), products_collection=name, faq_collection=f"{name}_faq"
    )


def catalogue(n: int = 40) -> list[Product]:
    return [
        Product(
            id=f"S{i}",
            title=f"Trail shoe {i}",
            price=20.0 + i,
            brand=BRANDS[i % 2],
            category="footwear",
            color=COLORS[i % 3],
        )
        for i in range(n)
    ]


def test_ingest_is_incremental_over_http(chroma_url: str) -> None:
    index = shop_index(chroma_url, "sync")
    first = index.ingest_products(catalogue())
    assert (first.added, first.updated, first.unchanged, first.deleted) == (40, 0, 0, 0)
    assert index.products_collection.count() == 40
    assert index.titles_collection.count() == 40

    before = HashEmbedding.calls
    again = index.ingest_products(catalogue())
    assert (again.added, again.updated, again.unchanged, again.deleted) == (0, 0, 40, 0)
    assert HashEmbedding.calls == before  # nothing re-embedded

    changed = catalogue()
    changed[7] = changed[7].model_copy(update={"price": 5.0})
    stats = index.ingest_products(changed)
    assert (stats.added, stats.updated, stats.unchanged, stats.deleted) == (0, 1, 39, 0)
    assert index.products.get("S7").price == 5.0

    pruned = index.ingest_products(changed[:30], prune=True)
    assert (pruned.unchanged, pruned.deleted) == (30, 10)
    assert index.products_collection.count() == 30
    assert index.titles_collection.count() == 30
    assert index.products.get("S35") is None


def test_filtered_search_over_http_returns_only_matches(chroma_url: str) -> None:
    index = shop_index(chroma_url, "search")
    index.ingest_products(catalogue())
    expected = {f"S{i}" for i in range(40) if BRANDS[i % 2] == "Tidewalk" and 20.0 + i <= 30}
    assert expected == {"S1", "S3", "S5", "S7", "S9"}

    hits = index.products.run("trail shoe", top_k=10, filters=Filters(price_max=30, brands=["Tidewalk"])).hits
    assert {h.product.id for h in hits} == expected
    assert all(h.product.brand == "Tidewalk" and h.product.price <= 30 for h in hits)

    hits = index.products.run(
        "trail shoe", top_k=5, filters=Filters(price_min=50, brands=["stridewell"])
    ).hits
    assert hits and all(h.product.brand == "Stridewell" and h.product.price >= 50 for h in hits)

    assert index.products.run("trail shoe", top_k=5, filters=Filters(price_max=10)).hits == []


def test_data_survives_a_new_client(chroma_url: str) -> None:
    writer = shop_index(chroma_url, "persist")
    writer.ingest_products(catalogue(25))
    del writer

    reader = shop_index(chroma_url, "persist")
    assert reader.products_collection.count() == 25
    assert reader.titles_collection.count() == 25
    got = reader.products.get("S12")
    assert got is not None and (got.title, got.price, got.brand) == ("Trail shoe 12", 32.0, "Stridewell")
    again = reader.ingest_products(catalogue(25))
    assert (again.added, again.unchanged) == (0, 25)  # the hashes stored by the first client are seen
