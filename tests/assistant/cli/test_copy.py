"""`shopassist copy` and `shopassist eval copy` on the demo catalogue file with the scripted engine:
output, JSON, batch and resume, and bad input that gets a clear error saying what to fix."""

import json

import pytest
from click.testing import CliRunner

from assistant.cli.main import cli
from assistant.copystudio.batch import read_rows
from assistant.shop import demo_shop_dir

PRODUCTS = str(demo_shop_dir() / "products.csv")


@pytest.fixture
def env(cli_env):
    return cli_env


def copy(*args):
    return CliRunner().invoke(cli, ["copy", *args, "--products", PRODUCTS, "--engine", "fake"])


def test_copy_prints_checked_copy_and_its_report(env):
    result = copy("HP-1001", "--tone", "playful", "--form", "bullets")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "Say hello to the Ridgeline Waterproof Hiking Boot from Ridgeback Trail Co.!"
    )
    assert "- Size: US 7-13" in result.output
    assert "[source=template" in result.output and "unsupported=0" in result.output


def test_copy_json_is_the_structured_result(env):
    result = copy("HP-1001", "--json", "--length", "short", "--language", "de")
    body = json.loads(result.output)
    assert body["product_id"] == "HP-1001" and body["length"] == "short" and body["length_ok"]
    assert body["language_note"].startswith("Das Modell") and body["unsupported"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["NOPE"], "no product with id 'NOPE' in the catalogue (e.g. HP-1001)"),
        (["HP-1001", "--tone", "loud"], "'loud' is not one of 'friendly', 'premium', 'technical', 'playful'"),
        (["HP-1001", "--language", "english"], "--language: String should match pattern"),
        (["--batch"], "--batch needs --out"),
        (["HP-1001", "--batch", "--out", "x.csv"], "give a PRODUCT_ID, or --batch"),
        (["--batch", "--out", "copy.txt"], "must end in .jsonl or .csv"),
        (["--batch", "--out", "/no/such/folder/copy.csv"], "folder /no/such/folder does not exist"),
        (["--batch", "--out", "c.csv", "--category", "spaceships"], "the filter selects no products"),
        (["--batch", "--out", "c.csv", "--ids", "HP-1001,NOPE"], "unknown product id(s): NOPE"),
    ],
)
def test_bad_input_says_what_to_fix(env, args, message):
    result = copy(*args)
    assert result.exit_code != 0
    assert message in result.output


def test_batch_writes_a_file_and_a_rerun_skips_everything(env):
    out = env / "footwear.jsonl"
    first = copy("--batch", "--category", "footwear", "--out", str(out))
    assert first.exit_code == 0, first.output
    rows = read_rows(out)
    assert rows and all(r["unsupported"] == [] for r in rows)
    assert f"{len(rows)} written, 0 unchanged" in first.output
    again = copy("--batch", "--category", "footwear", "--out", str(out))
    assert f"0 written, {len(rows)} unchanged (skipped)" in again.output


def test_eval_copy_prints_a_table_and_writes_json(env):
    out = env / "eval.json"
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            "copy",
            "--products",
            PRODUCTS,
            "--engine",
            "fake",
            "--max-products",
            "12",
            "--no-adapter",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[0].split()
    assert header[:3] == ["model", "unsup_raw", "unsup_final"]
    data = json.loads(out.read_text())
    base = data["models"]["base"]
    assert data["products"] == 12 and list(data["models"]) == ["base"]
    assert base["unsupported_rate"] == 0.0 and base["coverage"] >= 0.8 and base["share_template"] == 1.0
    assert 0 < base["distinct_2"] <= 1 and base["bleu"] >= 0 and 0 <= base["rouge_l"] <= 1
    assert 0 < data["merchant_distinct_2"] <= 1 and "merchants' own texts: distinct-2" in result.output


def test_eval_copy_compares_configurations_and_writes_the_records(env):
    out, records = env / "eval.json", env / "records.json"
    args = ["eval", "copy", "--products", PRODUCTS, "--engine", "fake", "--max-products", "4", "--no-adapter"]
    result = CliRunner().invoke(
        cli,
        [
            *args,
            "--config",
            "c1",
            "--config",
            "c3:candidates=3",
            "--records-json",
            str(records),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert list(data["models"]) == ["base@c1", "base@c3"]
    assert "no_rep4" in result.output.splitlines()[0]
    rows = json.loads(records.read_text())
    rows = rows["records"] if isinstance(rows, dict) else rows
    assert len(rows) == 8  # 4 products x 2 configurations
    bad = CliRunner().invoke(cli, [*args, "--config", "x:nope=1"])
    assert bad.exit_code == 2 and "KEY one of" in bad.output


def test_eval_copy_refuses_to_leave_out_both_models(env):
    args = ["eval", "copy", "--products", PRODUCTS, "--engine", "fake", "--no-adapter", "--no-base"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "leave nothing to evaluate" in result.output
