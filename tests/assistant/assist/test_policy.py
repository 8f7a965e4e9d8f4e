"""Policy loading (packaged demo, ABCD's own files), the FAQ -> subflow map, and clear errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from assistant.assist.policy import (
    PolicyError,
    PolicyMap,
    demo_policies_path,
    load_policies,
    load_policy_map,
)
from tests.conftest import SHARED_DATA

ABCD = SHARED_DATA / "policy"
needs_abcd = pytest.mark.skipif(
    not (ABCD / "abcd_kb.json").exists(), reason=f"ABCD policy data is not at {ABCD} (../shared/data)"
)


def _bundle() -> dict:
    return json.loads(demo_policies_path().read_text())


def _write(tmp_path: Path, data: object, name: str = "p.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_demo_policies_cover_the_demo_shops_intents():
    policies = load_policies()
    mapping = load_policy_map()
    demo_faq = Path(__file__).resolve().parents[3] / "assistant" / "demo_shop" / "faq.csv"
    import csv

    rows = list(csv.DictReader(demo_faq.open()))
    mapped = {r["id"]: mapping.subflow_for(r["id"], r["category"], policies) for r in rows}
    for prefix in ("faq-returns", "faq-refunds", "faq-orders-tracking", "faq-shipping", "faq-account"):
        assert all(sub is not None for fid, sub in mapped.items() if fid.startswith(prefix)), prefix
    # every subflow id the map names for the demo shop exists in the demo policies or in ABCD
    assert mapped["faq-refunds-method"].id == "refund_initiate"
    assert mapped["faq-orders-tracking"].id == "status"
    assert mapped["faq-account-password-reset"].id == "recover_password"


def test_refund_subflow_verifies_identity_before_paying():
    sub = load_policies().get("refund_initiate")
    assert sub is not None and sub.name == "Initiate Refund"
    actions = sub.actions
    assert actions.index("pull-up-account") < actions.index("verify-identity") < actions.index("offer-refund")
    verify = sub.steps[actions.index("verify-identity")]
    assert verify.kind == "kb_query" and "order_id" in verify.slots and verify.details


@needs_abcd
def test_abcd_files_load_with_guideline_texts():
    policies = load_policies(ABCD)
    assert len(policies.subflows) == 55
    refund = policies.get("refund_initiate")
    assert refund is not None and refund.flow == "product_defect"
    assert refund.actions == [
        "pull-up-account",
        "validate-purchase",
        "record-reason",
        "enter-details",
        "offer-refund",
    ]
    assert all(step.text for step in refund.steps)
    # buttons named differently from their kb action (aliases and "Boots" -> search-boots)
    boots = policies.get("boots")
    assert boots is not None and [s.label for s in boots.steps] == ["Search FAQ", "Boots", "Select Answer"]
    mapping = load_policy_map()
    assert mapping.subflow_for("get_refund", "REFUND", policies).id == "refund_initiate"
    assert mapping.subflow_for("track_order", "ORDER", policies).id == "status"


def test_map_prefers_entry_ids_then_categories_and_skips_absent_subflows():
    policies = load_policies()
    mapping = PolicyMap.model_validate(
        {
            "entries": {"x": ["no_such_subflow", "refund_status"], "y": "policy"},
            "categories": {"Returns": ["return_item"]},
            "order_actions": ["offer-refund"],
        }
    )
    assert mapping.subflow_for("x", "returns", policies).id == "refund_status"
    assert mapping.subflow_for("y", "returns", policies).id == "policy"
    assert mapping.subflow_for("z", "RETURNS", policies).id == "return_item"
    assert mapping.subflow_for("z", "other", policies) is None
    assert mapping.about_orders(policies.get("refund_initiate"))
    assert not mapping.about_orders(policies.get("policy"))


def _broken(change) -> dict:
    data = copy.deepcopy(_bundle())
    change(data)
    return data


@pytest.mark.parametrize(
    "data, message",
    [
        ("{not json", "not valid JSON (line 1"),
        ([], "must be a JSON object"),
        ({"guidelines": {}, "kb": {}}, "lacks the key(s) ontology"),
        (
            _broken(lambda d: d["kb"].pop("refund_initiate")),
            "has no required actions for subflow 'refund_initiate'",
        ),
        (
            _broken(lambda d: d["ontology"]["intents"]["subflows"].pop("order_issue")),
            "intents.subflows has no flow 'order_issue'",
        ),
        (
            _broken(lambda d: d["ontology"]["intents"]["subflows"]["order_issue"].pop()),
            "lists 1 subflow ids but the guidelines' 'Order Issue' has 2",
        ),
        (_broken(lambda d: d["kb"]["policy"].append("fly-to-the-moon")), "'fly-to-the-moon' is not among"),
        (_broken(lambda d: d["guidelines"]["Order Issue"].pop("subflows")), "needs a subflows object"),
    ],
)
def test_bad_policy_files_name_the_file_and_the_problem(tmp_path, data, message):
    path = _write(tmp_path, data)
    with pytest.raises(PolicyError) as err:
        load_policies(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(PolicyError, match="no such policy file"):
        load_policies(tmp_path / "nope.json")
    (tmp_path / "abcd").mkdir()
    (tmp_path / "abcd" / "abcd_guidelines.json").write_text("{}")
    with pytest.raises(PolicyError, match=r"abcd_kb\.json: no such policy file"):
        load_policies(tmp_path / "abcd")


def test_bad_map_files_name_the_file_and_the_problem(tmp_path):
    with pytest.raises(PolicyError, match="unknown key"):
        load_policy_map(_write(tmp_path, {"entries": {}, "intents": {}}))
    with pytest.raises(PolicyError, match=r"m\.json: entries\.a"):
        load_policy_map(_write(tmp_path, {"entries": {"a": 3}}, "m.json"))
