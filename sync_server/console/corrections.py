"""更正: what changed in a published 通报's figures since it was published (a late appeal upheld, a default rating,
a late 核实…), figure by figure: the published value and the value now. The console shows it beside each published
version, and the next report of the same kind carries it as its 更正 section."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection

from sync_server.console.errors import BadInput
from sync_server.storage.published import latest_before

CORRECTION_TITLE = "更正"
CORRECTION_HEADER = ["已发布通报", "项目", "发布时", "现在"]
KIND_LABELS = {"month": "月度", "quarter": "季度", "year": "年度"}
KEY_COLUMNS = {"排名": 2, "差评汇总": 1}  # columns that name a row (the rest are its figures); others: the first
MOMENT_ROWS = re.compile(r"^(差评处理判定日|黄牌（|红牌（)")  # counted on the day the report is made, not figures
UNCHANGED = "自发布以来各项数字均无变化"


def period_key(spec: str) -> tuple[str, str]:
    """(kind, key) of a period as the 通报 names it: ('month', '2026-11'), ('quarter', '2026Q4'), ('year', '2026')."""
    spec = spec.strip().upper()
    if re.fullmatch(r"\d{4}Q[1-4]", spec):
        return "quarter", spec
    if re.fullmatch(r"\d{4}", spec):
        return "year", spec
    found = re.fullmatch(r"(\d{4})-(\d{1,2})", spec)
    if found and 1 <= int(found.group(2)) <= 12:
        return "month", f"{found.group(1)}-{int(found.group(2)):02d}"
    raise BadInput("统计期应为月份 YYYY-MM、季度 YYYYQn 或年份 YYYY", field="period")


def version_name(row) -> str:
    """2026-11 月度通报（全大厅）第 1 版."""
    scope = f"（{row.department}）" if row.department else ""
    return f"{row.period} {KIND_LABELS[row.kind]}通报{scope}第 {row.version} 版"


def _parts(section) -> tuple[str, list, list]:
    if isinstance(section, dict):
        return section["title"], section["header"], section["rows"]
    return section.title, section.header, section.rows


def figure_map(sections) -> dict[str, object]:
    """Every figure of a report by a readable name (section · row · column); the rows counted on the day the report
    is made (cards, the day itself) and the 更正 section are left out."""
    figures: dict[str, object] = {}
    for section in sections:
        title, header, rows = _parts(section)
        if title == CORRECTION_TITLE:
            continue
        k = KEY_COLUMNS.get(title, 1)
        seen: Counter = Counter()
        for row in rows:
            name = " ".join(str(v) for v in row[:k])
            if MOMENT_ROWS.match(name):
                continue
            seen[name] += 1
            if seen[name] > 1:
                name = f"{name}（第 {seen[name]} 行）"
            for i in range(k, len(row)):
                column = header[i] if i < len(header) else str(i + 1)
                label = f"{title} · {name}" if header[i:] == ["数值"] else f"{title} · {name} · {column}"
                figures[label] = row[i]
    return figures


@dataclass(frozen=True)
class Change:
    figure: str
    published: object
    current: object


def changes(published_sections, current_sections) -> list[Change]:
    """Figures whose value differs, or that appeared or went away, in the order of the current report."""
    before, now = figure_map(published_sections), figure_map(current_sections)
    names = list(now) + [n for n in before if n not in now]
    return [Change(n, before.get(n), now.get(n)) for n in names if _same(before.get(n), now.get(n)) is False]


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) < 1e-12
    return a == b


def shown(value, figure: str = "") -> str:
    """A figure as people read it: rates as percentages, means with two decimals, nothing as —."""
    if value is None:
        return "—"
    if isinstance(value, float):
        is_rate = "率" in figure.rsplit(" · ", 1)[-1] or figure.endswith("率")
        return f"{value * 100:.1f}%" if is_rate else f"{value:.2f}"
    return str(value)


def sections_of(row) -> list[dict]:
    """The sections of a published version, from its stored content."""
    return json.loads(row.content)["sections"]


def correction_rows(
    conn: Connection, spec: str, department: str | None, current_sections, report_of: Callable[[str], list]
) -> list[list] | None:
    """The 更正 section of a report: the changes to the latest published version of the same period (when it was
    published before) and to the latest version of the nearest earlier published period of the same kind, whose
    figures now ``report_of(period)`` gives. None when nothing of the same kind was published before."""
    kind, key = period_key(spec)
    targets = []
    same = latest_before(conn, kind, key, department or "", same_period=True)
    if same is not None:
        targets.append((same, current_sections))
    earlier = latest_before(conn, kind, key, department or "", same_period=False)
    if earlier is not None:
        targets.append((earlier, report_of(earlier.period)))
    if not targets:
        return None
    return [row for published, now in targets for row in change_rows(published, now)]


def change_rows(published, now_sections) -> list[list]:
    """Rows of the 更正 section for one published version against the figures now."""
    name = version_name(published)
    found = changes(sections_of(published), now_sections)
    if not found:
        return [[name, UNCHANGED, "", ""]]
    return [[name, c.figure, shown(c.published, c.figure), shown(c.current, c.figure)] for c in found]
