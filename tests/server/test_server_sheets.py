"""Every CSV and XLSX cell the server writes is safe from formula injection: text that a spreadsheet would run
as a formula is stored as text."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook, load_workbook

from sync_server.sheets import csv_text, xlsx_append

ATTACK = '=HYPERLINK("http://evil.example/","点此领取补贴")'


@pytest.mark.parametrize("text", [ATTACK, "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_cell_that_could_run_is_prefixed(text):
    rows = list(csv.reader(io.StringIO(csv_text([["意见", text]], bom=False))))
    assert rows[0][1] == "'" + text


def test_csv_keeps_plain_text_and_numbers():
    rows = list(csv.reader(io.StringIO(csv_text([["服务热情", 5, 0.5, None]]))))
    assert rows[0] == ["\ufeff服务热情", "5", "0.5", ""]


def test_xlsx_text_is_never_a_formula():
    wb = Workbook()
    xlsx_append(wb.active, ["办件", ATTACK, 3])
    out = io.BytesIO()
    wb.save(out)
    cells = [c for row in load_workbook(io.BytesIO(out.getvalue())).active.iter_rows() for c in row]
    assert [c.value for c in cells] == ["办件", ATTACK, 3]
    assert [c.data_type for c in cells] == ["s", "s", "n"]
