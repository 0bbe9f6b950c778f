"""The assessment sheet (考核结果表) per department, to announce to the clerk's own unit, and for the whole hall:
XLSX or CSV, every cell through ``sync_server.sheets`` so no text runs as a formula."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font

from haochaping.config import Hall
from sync_server.assessment.rules import AssessmentRules
from sync_server.assessment.scores import year_scores
from sync_server.sheets import csv_text, xlsx_append

HEADER = ["部门", "工号", "姓名", "基础分", "扣分", "加分", "复核更正", "得分", "等次", "计入事件数"]


def sheet_rows(conn, rules: AssessmentRules, hall: Hall, year: int, department: str | None) -> tuple[list, list]:
    """(title lines, rows) of one year's sheet: the department's clerks, or the whole hall's."""
    clerks, closed = year_scores(conn, rules, hall, year)
    names = {d.code: d.name for d in hall.departments}
    chosen = [c for c in clerks if department in (None, c.department)]
    chosen.sort(key=lambda c: (c.department, c.clerk_no))
    rows = [
        [names.get(c.department, c.department), c.clerk_no, c.name, rules.base_points, c.deductions, c.bonuses,
         c.corrected, c.score, c.grade, len(c.events)]
        for c in chosen
    ]  # fmt: skip
    scope = names.get(department, department) if department else "全大厅"
    status = (
        f"已于 {closed.closed_at[:10]} 结束，内容散列 {closed.content_hash}" if closed else "年度考核进行中（未定稿）"
    )
    titles = [[f"{hall.name} {year} 年度窗口工作人员考核结果（{scope}）"], [status], [f"考核细则版本 {rules.version}"]]
    return titles, rows


def sheet_xlsx(titles: list, rows: list) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "考核结果"
    for line in titles:
        xlsx_append(sheet, line)
    xlsx_append(sheet, HEADER)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for row in rows:
        xlsx_append(sheet, row)
    for column, width in zip("ABCDEFGHIJ", (16, 8, 10, 8, 8, 8, 10, 8, 10, 10), strict=True):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def sheet_csv(titles: list, rows: list) -> str:
    return csv_text([*titles, HEADER, *rows])
