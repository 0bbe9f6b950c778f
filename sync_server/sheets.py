"""Cells for every CSV and XLSX the server writes, safe from formula injection (CSV injection, OWASP).

A spreadsheet program runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some programs, a tab or a
carriage return) as a formula: a citizen's comment ``=HYPERLINK("http://…","点此领取补贴")`` would become a live
link in a hall administrator's report. Every text value passes through :func:`csv_cell` or :func:`xlsx_cell`; numbers
stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_risky(text: str) -> bool:
    """Whether a spreadsheet could read this text as a formula."""
    return text.startswith(FORMULA_STARTS)


def csv_cell(value: Any) -> Any:
    """A value for a CSV cell: text that could run as a formula gets a leading apostrophe; other values pass."""
    if value is None:
        return ""
    if isinstance(value, str) and is_risky(value):
        return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    """One CSV row with every cell made safe."""
    return [csv_cell(v) for v in values]


def csv_text(rows: Iterable[Sequence[Any]], *, bom: bool = True) -> str:
    """Rows as CSV text (with a UTF-8 BOM so that Excel reads the Chinese), every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(csv_row(row))
    return ("\ufeff" if bom else "") + out.getvalue()


def xlsx_cell(cell, value: Any) -> None:
    """Put a value into an openpyxl cell; text is always stored as text, never as a formula."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"


def xlsx_append(sheet, values: Iterable[Any]) -> None:
    """Append one row to an openpyxl worksheet with every text cell stored as text."""
    row = sheet.max_row + 1 if sheet.max_row > 1 or sheet.cell(1, 1).value is not None else 1
    for column, value in enumerate(values, start=1):
        xlsx_cell(sheet.cell(row=row, column=column), value)
