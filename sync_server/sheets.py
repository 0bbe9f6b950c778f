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


def xlsx_stream_row(sheet, values: Iterable[Any]) -> list:
    """One row for a write-only worksheet (``sheet.append`` it) with every text cell stored as text."""
    from openpyxl.cell import WriteOnlyCell

    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            cell.data_type = "s"
        cells.append(cell)
    return cells


# ---------------------------------------------------------------- reading files that people bring


def cell_text(value: Any) -> str:
    """A cell read from a CSV or XLSX as text: empty for none, whole numbers without ``.0``, times in ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value).strip()


def decode_csv(content: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was in: UTF-8 (with or without a BOM), else GB18030 (which reads
    every GBK and GB2312 file, as Excel on a Chinese Windows saves them). Raises UnicodeDecodeError for neither."""
    try:
        return content.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        return content.decode("gb18030"), "GBK"


def csv_read_rows(content: bytes) -> tuple[list[list[str]], str]:
    """Every row of a CSV file as text cells, and the encoding it was read in."""
    text, encoding = decode_csv(content)
    return [[cell_text(c) for c in row] for row in csv.reader(io.StringIO(text, newline=""))], encoding


def xlsx_read_rows(content: bytes) -> list[list[str]]:
    """Every row of the first worksheet of an XLSX file as text cells (dates as ISO 8601)."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        return [[cell_text(c) for c in row] for row in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()
