"""The same index over a Chroma server: `chroma run` on 127.0.0.1, reached with HttpClient."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from retrieval.filters import Filters
from retrieval.index import ShopIndex
from retrieval.schema import Product
from retrieval.store import open_client
from tests.conftest import HashEmbedding
from tests.helpers import free_port, running_server

pytestmark = pytest.mark.integration

CHROMA = Path(sys.executable).with_name("chroma")


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    if not CHROMA.exists():
        pytest.skip(f"no `chroma` executable beside {sys.executable}")
    folder = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(CHROMA), "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)]
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False")
    with running_server(cmd, f"{url}/api/v2/heartbeat", folder / "server.log", env, timeout=60):
        yield url


def catalogue(n: int = 40) -> list[Product]:
    brands = ["Stridewell", "Tidewalk"]
    return [
        Product(id=f"S{i}", title=f"Trail shoe {i}", price=20.0 + i, brand=brands[i % 2], category="footwear")
        for i in range(n)
    ]


def test_ingest_sync_and_filtered_search_over_http(chroma_url):
    index = ShopIndex(open_client(url=chroma_url), HashEmbedding())
    first = index.ingest_products(catalogue())
    assert (first.added, index.products_collection.count()) == (40, 40)
    again = index.ingest_products(catalogue())
    assert (again.added, again.unchanged) == (0, 40)
    changed = catalogue()
    changed[0] = changed[0].model_copy(update={"price": 5.0})
    assert index.ingest_products(changed).updated == 1
    hits = index.products.run("trail shoe", top_k=10, filters=Filters(price_max=30, brands=["Tidewalk"])).hits
    assert hits and all(h.product.brand == "Tidewalk" and h.product.price <= 30 for h in hits)
    pruned = index.ingest_products(changed[:30], prune=True)
    assert pruned.deleted == 10 and index.products_collection.count() == 30
    fresh = ShopIndex(open_client(url=chroma_url), HashEmbedding())  # a new client sees the same data
    assert fresh.products_collection.count() == 30 and fresh.products.get("S0").price == 5.0
