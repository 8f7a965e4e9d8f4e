"""Formula cells are neutralised in every CSV the project writes (issue 17)."""

import csv
import io

from assistant.copystudio.batch import COLUMNS, _encode
from assistant.grounding.spreadsheet import safe_cell, safe_row


def test_formula_triggers_get_a_quote_and_plain_values_do_not():
    hostile = [
        '=HYPERLINK("https://evil.example","click")',
        "+cmd|' /C calc'!A0",
        "@SUM(A1:A9)",
        "-2+3",
        "\t=1+1",
    ]
    assert all(safe_cell(v).startswith("'") for v in hostile)
    assert safe_row(["Trail boot", 89.99, None, "waterproof"]) == ["Trail boot", 89.99, None, "waterproof"]


def test_the_copy_batch_csv_writes_no_formula():
    row = dict.fromkeys(COLUMNS, "")
    row.update(product_id="HP-1", text='=HYPERLINK("https://evil.example","x")', unsupported=["@SUM(A1)"])
    cells = next(csv.reader(io.StringIO(_encode(row, ".csv").decode())))
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    assert """'=HYPERLINK("https://evil.example","x")""" in cells
