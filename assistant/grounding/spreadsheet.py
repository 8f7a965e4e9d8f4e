"""CSV cells that a spreadsheet will not run: shop and customer text is data, also when exported.

A cell starting with = + - @ (or a tab/carriage return before one) is a formula to Excel, Sheets and
LibreOffice (`=HYPERLINK(...)`, `+cmd|...`, `@SUM(...)`); OWASP's advice is to prefix it with a
single quote, which the spreadsheet shows as text. Every CSV the project writes goes through this.
"""

from __future__ import annotations

from typing import Any

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """`value` with a leading quote if a spreadsheet would read it as a formula; non-text unchanged."""
    if isinstance(value, str) and value.startswith(_TRIGGERS):
        return "'" + value
    return value


def safe_row(row: list[Any]) -> list[Any]:
    return [safe_cell(v) for v in row]
