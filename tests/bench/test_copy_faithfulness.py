"""bench/copy_faithfulness.py: the independent count of numbers, colours and materials a text names
that its attributes lack, and where it disagrees with the project's checker."""

import ast
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "copy_faithfulness.py"


@pytest.fixture(scope="module")
def cf():
    spec = importlib.util.spec_from_file_location("copy_faithfulness", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ATTRS = {
    "Title": "Oak Side Table",
    "Colour": "Gray",
    "Material": "Wood",
    "Width": "1,299 mm",
    "Price": "499.50",
}


def test_it_shares_no_code_with_the_checker():
    tree = ast.parse(SCRIPT.read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported and not {m.split(".")[0] for m in imported} & {
        "assistant",
        "finetune",
        "retrieval",
        "prompts",
    }


def test_numbers_colours_and_materials_absent_from_the_attributes_are_counted(cf):
    verdict = cf.judge(
        ATTRS, "A grey wooden table, 1299 mm wide, at 499.5. Steel legs, black top, 2 drawers."
    )
    assert verdict["mentions"] == 7
    assert sorted(verdict["absent"]) == ["2 (number)", "black (colour)", "steel (material)"]
    assert verdict["absent_share"] == round(3 / 7, 4) and verdict["flagged"]
    assert verdict["by_kind"] == {"number": [3, 1], "colour": [2, 1], "material": [2, 1]}
    clean = cf.judge(ATTRS, "A gray oak side table in wood, 1,299 mm wide.")
    assert clean["absent"] == [] and not clean["flagged"]
    assert cf.judge(ATTRS, "A lovely table.")["absent_share"] is None  # names nothing: no share
    assert cf.mentions("SKU12 fits 2-in-1 rust-proof") == [("number", "2"), ("number", "1")]


def test_disagreements_with_the_checker_are_listed_both_ways(cf):
    records = [
        {"product_id": "a", "attributes": ATTRS, "text": "A grey table.", "text_unsupported": []},
        {"product_id": "b", "attributes": ATTRS, "text": "A black table.", "text_unsupported": []},
        {"product_id": "c", "attributes": ATTRS, "text": "A table by Acme.", "text_unsupported": ["Acme"]},
        {"product_id": "d", "attributes": ATTRS, "text": "A red table.", "text_unsupported": ["red"]},
        {"product_id": "e", "attributes": ATTRS, "text": "A blue table."},  # no verdict: not compared
    ]
    summary = cf.summarize(records, ["text"])["text"]
    assert summary["texts"] == 5 and summary["checker_judged"] == 4 and summary["agree"] == 2
    assert [r["product_id"] for r in summary["checker_passed_script_flags"]] == ["b"]
    assert [r["product_id"] for r in summary["checker_flags_script_passes"]] == ["c"]
    assert summary["flagged_share"] == 0.6 and summary["colour_absent_share"] == 0.75
    assert not cf.in_scope(["Acme"]) and cf.in_scope(["2-year warranty"])


def test_the_command_reads_eval_records_prints_and_writes_json(cf, tmp_path, capsys):
    records = [
        {
            "product_id": "a",
            "variant": "base",
            "attributes": ATTRS,
            "text": "A black wood table.",
            "text_unsupported": [],
            "draft": "A black table.",
            "draft_unsupported": ["black"],
            "merchant_text": "",
        }
    ]
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records))
    out = tmp_path / "out.json"
    assert cf.main([str(path), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "base:text" in printed and "base:draft" in printed
    assert "the checker passed, this measure flags (1)" in printed and "absent black (colour)" in printed
    result = json.loads(out.read_text())
    assert result["base:draft"]["agree"] == 1 and result["base:text"]["agree"] == 0
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert cf.main([str(empty)]) == 1


def test_it_runs_on_the_records_the_copy_eval_writes(cf, tmp_path):
    from assistant.copystudio.service import CopyService
    from assistant.generation.fake import FakeGenerator
    from assistant.shop import demo_shop_dir
    from finetune.copy_eval import evaluate_copy
    from finetune.data import load_copy_products

    products = {p.id: p for p in load_copy_products([demo_shop_dir() / "products.csv"])}
    service = CopyService(
        FakeGenerator(default="A black boot, 3 sizes, for long hikes in any weather."), products
    )
    path = tmp_path / "records.json"
    evaluate_copy(service, [products["HP-1001"], products["HP-1002"]], [None], records_path=path)
    summary = cf.summarize(cf.load_records(path), ["text", "draft", "merchant_text"])
    assert summary["base:draft"]["flagged_share"] == 1.0  # black and 3 are not in either product
    assert summary["base:draft"]["checker_flagged"] == 2
    assert summary["base:text"]["checker_flagged"] == 0  # the final text always passes the checker
    assert summary["base:merchant_text"]["texts"] == 2
