import json
from pathlib import Path

import pytest

from retrieval.catalog import CatalogError, load_faq, load_products

HEADER = "id,title,description,brand,category,price,currency,color,size,material,rating,stock,tags\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_catalogue_is_valid_and_large_enough():
    from assistant.shop import demo_shop_dir

    products = load_products(demo_shop_dir() / "products.csv")
    faq = load_faq(demo_shop_dir() / "faq.csv")
    assert products.errors == [] and faq.errors == []
    assert len(products.items) >= 150
    assert len({p.category for p in products.items}) >= 8
    assert len(faq.items) >= 30
    faq_categories = {e.category for e in faq.items}
    assert {
        "shipping",
        "returns",
        "refunds",
        "warranty",
        "payment",
        "account",
        "privacy",
        "contact",
    } <= faq_categories


def test_csv_rows_are_validated_with_row_numbers(tmp_path):
    path = write(
        tmp_path,
        "p.csv",
        HEADER
        + "A1,Good boot,desc,Brand,footwear,10.50,USD,red,US 9,leather,4.5,3,a;b\n"
        + "A2,Bad price,desc,Brand,footwear,abc,USD,red,,,,,\n"
        + "A1,Duplicate,desc,Brand,footwear,12,USD,red,,,,,\n"
        + ",No id,desc,Brand,footwear,12,USD,,,,,,\n"
        + "A3,Bad rating,desc,Brand,footwear,12,USD,,,,9,,\n",
    )
    result = load_products(path)
    assert [p.id for p in result.items] == ["A1"]
    assert result.items[0].tags == ["a", "b"]
    by_row = {e.row: e for e in result.errors}
    assert by_row[3].field == "price" and "abc" in by_row[3].reason
    assert by_row[4].field == "id" and "duplicate id 'A1' (first seen on row 2)" in by_row[4].reason
    assert by_row[5].field == "id"
    assert by_row[6].field == "rating"
    assert "1 valid rows, 4 skipped" in result.report()


def test_missing_required_columns_name_them(tmp_path):
    path = write(tmp_path, "p.csv", "id,name\nA1,Boot\n")
    with pytest.raises(CatalogError) as err:
        load_products(path)
    message = str(err.value)
    assert "missing required column(s): title, price" in message
    assert "Found columns: id, name" in message


def test_field_mapping_reads_other_column_names(tmp_path):
    path = write(tmp_path, "p.csv", "sku,name,cost\nX1,Tent,99.5\n")
    result = load_products(path, mapping={"id": "sku", "title": "name", "price": "cost"})
    assert result.errors == []
    assert result.items[0].id == "X1" and result.items[0].price == 99.5


def test_jsonl_and_json_lists(tmp_path):
    jsonl = write(
        tmp_path,
        "p.jsonl",
        json.dumps({"id": "J1", "title": "Lamp", "price": 20, "tags": ["home"]})
        + "\n{not json}\n"
        + json.dumps({"id": "J2", "title": "Rug", "price": "x"})
        + "\n",
    )
    result = load_products(jsonl)
    assert [p.id for p in result.items] == ["J1"]
    assert {(e.row, e.field) for e in result.errors} == {(2, "(row)"), (3, "price")}
    as_list = write(tmp_path, "p.json", json.dumps([{"id": "L1", "title": "Mug", "price": 5}]))
    assert load_products(as_list).items[0].id == "L1"


def test_unsupported_format_and_missing_file(tmp_path):
    with pytest.raises(CatalogError, match="unsupported format .xlsx"):
        load_products(write(tmp_path, "p.xlsx", "x"))
    with pytest.raises(CatalogError, match="file not found"):
        load_products(tmp_path / "nope.csv")


def test_faq_examples_split_on_pipes_only(tmp_path):
    path = write(
        tmp_path,
        "f.csv",
        'id,category,question,answer,examples\nf1,returns,Q?,A.,"can i, maybe, return | send back"\n',
    )
    entry = load_faq(path).items[0]
    assert entry.examples == ["can i, maybe, return", "send back"]


def test_parquet_rows_are_validated_like_csv(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (it is in the dev extra)")
    import pyarrow.parquet as pq

    table = pa.table({"id": ["P1", "P2", "P1"], "title": ["Lamp", "Rug", "Dup"], "price": ["9.5", "x", "3"]})
    pq.write_table(table, tmp_path / "p.parquet")
    result = load_products(tmp_path / "p.parquet")
    assert [p.id for p in result.items] == ["P1"]
    assert {(e.row, e.field) for e in result.errors} == {(2, "price"), (3, "id")}
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(CatalogError, match="not a readable Parquet file"):
        load_products(tmp_path / "bad.parquet")
