"""The copy eval on the scripted generator: its metrics (no repeated 4-gram, p50/p95 time per
product, candidates), configurations compared in one run, and the records it writes for a second
opinion on faithfulness."""

import json

import pytest

from assistant.config import CopySettings
from assistant.copystudio.service import CopyService
from assistant.generation.fake import FakeGenerator
from assistant.shop import demo_shop_dir
from finetune.copy_eval import _percentile, evaluate_copy, sample

CLEAN = "A dependable pick from our shelves, chosen for everyday use and easy care at home or away."
LOOPY = "Buy it now and enjoy it now, buy it now and enjoy it now, every single day of the year."


@pytest.fixture(scope="module")
def products():
    from finetune.data import load_copy_products

    return {p.id: p for p in load_copy_products([demo_shop_dir() / "products.csv"])}


def service_for(products, reply):
    # One draft per attempt (copy.candidates defaults to 3), so "c1" below is the service as built.
    return CopyService(
        FakeGenerator(default=reply),
        products,
        settings=CopySettings(candidates=1),
        shop_name="Harbor & Pine",
        model_id="fake",
    )


def test_the_metrics_include_repeated_4grams_candidates_and_time_percentiles(products):
    chosen = sample(list(products.values()), 6)
    half = {p.id for p in chosen[:3]}

    # The loopy draft for half of the products (a retry too: its prompt is the first user turn).
    def reply(request):
        title = request.messages[1].content.split("- Title: ")[1].split("\n")[0]
        return LOOPY if any(products[i].title == title for i in half) else CLEAN

    result = evaluate_copy(service_for(products, reply), chosen, [None], workers=2)
    base = result["models"]["base"]
    assert base["products"] == 6
    assert base["model_no_repeat_4"] == 0.5  # the first drafts: half loop
    assert base["model_repetition"] > 0
    assert base["no_repeat_4"] == 1.0  # the gate: looping drafts are retried, then their loops dropped
    assert base["candidates_per_product"] == base["drafts_per_product"] >= 1
    assert 0 <= base["p50_seconds"] <= base["p95_seconds"]


def test_configurations_are_compared_on_the_same_products_in_one_run(products, tmp_path):
    chosen = sample(list(products.values()), 4)
    records_path = tmp_path / "records.json"
    service = service_for(products, CLEAN)
    result = evaluate_copy(
        service,
        chosen,
        [None],
        workers=2,
        configs={"c1": {}, "c3": {"candidates": 3}},
        records_path=records_path,
    )
    assert list(result["models"]) == ["base@c1", "base@c3"]
    one, three = result["models"]["base@c1"], result["models"]["base@c3"]
    assert three["candidates_per_product"] == 3 * three["drafts_per_product"]
    assert one["candidates_per_product"] == one["drafts_per_product"]
    assert service.settings.candidates == 1  # the service itself is unchanged
    records = json.loads(records_path.read_text())
    assert result["records"] == str(records_path) and len(records) == 8
    first = records[0]
    assert {"attributes", "merchant_text", "draft", "text", "tone", "source", "adapter", "variant"} <= set(
        first
    )
    assert first["variant"] == "base@c1" and first["adapter"] == "base" and first["config"] == {}
    assert first["merchant_text"] == products[first["product_id"]].description
    assert first["attributes"]["Title"] == products[first["product_id"]].title
    assert first["text_unsupported"] == [] and isinstance(first["merchant_unsupported"], list)
    c3 = [r for r in records if r["variant"] == "base@c3"]
    assert {r["candidates"] for r in c3} <= {3, 6} and c3[0]["config"] == {"candidates": 3}


def test_the_checker_verdicts_in_the_records_are_the_service_s(products, tmp_path):
    """A draft with a colour the product does not have is recorded with that claim unsupported."""
    pid = "HP-1001"  # brown boots
    path = tmp_path / "records.json"
    service = service_for(products, "A black boot for long hikes on rocky trails in any weather.")
    evaluate_copy(service, [products[pid]], [None], records_path=path)
    (record,) = json.loads(path.read_text())
    assert "black" in record["draft_unsupported"] and record["source"] in ("repaired", "template")
    assert "black" not in record["text"]


def test_percentiles_are_measured_values():
    assert _percentile([], 95) == 0.0
    assert _percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert _percentile([float(x) for x in range(1, 101)], 95) == 95.0
    assert _percentile([1.0, 10.0], 95) == 10.0
