"""Strict ingest (issue 17): each hostile file gets its report line, and the good rows still load."""

import json

import pytest

from retrieval.catalog import CatalogError, load_faq, load_products
from retrieval.rows import MAX_FIELD_CHARS

HEADER = "id,title,price\n"


def _load(tmp_path, body: str, name="p.csv", **kwargs):
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return load_products(path, **kwargs)


def _errors(result):
    return {(e.row, e.field): e.reason for e in result.errors}


def test_an_unterminated_quote_is_reported_and_does_not_swallow_the_next_rows(tmp_path):
    result = _load(
        tmp_path, HEADER + 'A1,"Broken title,10\nA2,Good boot,20\nA3,"Quoted, fine",30\nA4,Last,40\n'
    )
    assert [p.id for p in result.items] == ["A2", "A3", "A4"]
    assert (2, "(row)") in _errors(result) and "quote" in _errors(result)[(2, "(row)")]


def test_ragged_rows_are_reported_by_line(tmp_path):
    result = _load(tmp_path, HEADER + "A1,Boot,10,extra\nA2,Boot,20\n")
    assert [p.id for p in result.items] == ["A2"]
    assert "4 fields where the header has 3" in _errors(result)[(2, "(row)")]


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("", "required"),
        ("inf", "finite"),
        ("1e309", "finite"),
        ("1e-320", "below 0.01"),
        ("-5", "greater than"),
        ("nan", "finite"),
        ("2e7", "up to 10,000,000"),
    ],
)
def test_a_price_that_is_missing_or_not_a_price_skips_the_row(tmp_path, price, expected):
    result = _load(tmp_path, HEADER + f"A1,Boot,{price}\nA2,Boot,19.99\n")
    assert [p.id for p in result.items] == ["A2"]
    assert expected in _errors(result)[(2, "price")]


def test_json_null_price_and_optional_prices_for_test_sets(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"id": "A1", "title": "Boot", "price": None}) + "\n")
    assert "required" in _errors(load_products(path))[(1, "price")]
    assert load_products(path, required=("id", "title")).items[0].price is None  # relevance sets


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ("A1,Boot\x00s,10", "title", "control character (U+0000)"),
        ("../../etc/passwd,Boot,10", "id", "not a valid id"),
        ("A\tB,Boot,10", "id", "not a valid id"),
        ("X" * 5000 + ",Boot,10", "id", "the limit is 128"),
    ],
)
def test_control_characters_and_bad_ids_are_refused(tmp_path, row, field, reason):
    result = _load(tmp_path, HEADER + row + "\nOK-1,Fine,10\n")
    assert [p.id for p in result.items] == ["OK-1"]
    assert reason in _errors(result)[(2, field)]


def test_an_oversized_description_names_its_row(tmp_path):
    body = "id,title,price,description\nA1,Boot,10," + "x" * (MAX_FIELD_CHARS + 1) + "\nA2,Boot,10,ok\n"
    result = _load(tmp_path, body)
    assert [p.id for p in result.items] == ["A2"] and "the limit is 20,000" in _errors(result)[
        (2, "description")
    ]


def test_latin1_bytes_name_the_line_and_the_fix(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(HEADER.encode() + b"A1,Boot,10\nA2,Caf\xe9 mug,12\n")
    with pytest.raises(CatalogError, match=r"line 3 is not valid utf-8.*--encoding latin-1"):
        load_products(path)
    assert [p.title for p in load_products(path, encoding="latin-1").items] == ["Boot", "Café mug"]


def test_a_header_only_file_has_no_rows(tmp_path):
    assert _load(tmp_path, HEADER).items == []
    faq = tmp_path / "f.csv"
    faq.write_text("id,question,answer\nq1,How?,Like this.\n")
    assert load_faq(faq).items[0].id == "q1"


def test_relevance_sets_strip_stray_controls_where_a_shop_file_is_refused(tmp_path):
    body = "id,title,price,description\nA1,Boot,10,scraped\x1atext\n"
    assert _load(tmp_path, body).items == []  # a shop's own file: the row is refused
    kept = _load(tmp_path, body, required=("id", "title"), strip_controls=True).items
    assert [p.description for p in kept] == ["scraped text"]
