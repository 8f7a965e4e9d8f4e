"""Copy-studio fixtures: the demo catalogue read from its file (no vector store) and a service over
it with the scripted generator, so the flow is tested without a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.config import CopySettings
from assistant.copystudio.service import CopyService
from assistant.generation.fake import FakeGenerator
from assistant.shop import demo_shop_dir

FLIPKART = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "copy" / "flipkart_products.csv"


@pytest.fixture(scope="session")
def demo_products() -> dict[str, Any]:
    from finetune.data import load_copy_products

    return {p.id: p for p in load_copy_products([demo_shop_dir() / "products.csv"])}


@pytest.fixture
def demo_orders(tmp_path: Path, demo_products: dict[str, Any]) -> Any:
    from assistant.stores.orders import OrderStore

    store = OrderStore(tmp_path / "orders.db")
    store.seed(
        json.loads((demo_shop_dir() / "orders.json").read_text()),
        {k: p.title for k, p in demo_products.items()},
    )
    return store


@pytest.fixture
def copy_service(
    fake_generator: FakeGenerator, demo_products: dict[str, Any], demo_orders: Any
) -> CopyService:
    # One draft per attempt, so a queue of scripted replies maps to attempts (candidates: test_candidates).
    return CopyService(
        fake_generator,
        demo_products,
        settings=CopySettings(candidates=1),
        shop_name="Harbor & Pine",
        orders=demo_orders,
        model_id="fake",
    )


@pytest.fixture(scope="session")
def flipkart_products() -> dict[str, Any]:
    if not FLIPKART.exists():
        pytest.skip(f"the Flipkart sample is not here ({FLIPKART}); it lives in the shared data folder")
    from finetune.data import load_copy_products

    return {p.id: p for p in load_copy_products([FLIPKART])}
