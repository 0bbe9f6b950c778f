"""``hcp server cases import FILE``: closed cases from a CSV or XLSX export of the case system.

The first row names the columns, in Chinese or in the API's field names (other columns are ignored). Times without
a time zone are China time (UTC+8); an empty 办结时间 means the case is still open. A CSV may be UTF-8 or GBK
(as Excel on a Chinese Windows saves it). Every bad row is named by its line; nothing is stored from a file with
a bad row unless ``skip_bad``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from haochaping.config import Hall
from sync_server import sheets
from sync_server.closedcases.errors import BatchRefused, FileUnreadable
from sync_server.closedcases.intake import ClosedCase, problems_of, store_checked
from sync_server.db import Store

CHINA = timezone(timedelta(hours=8))
COLUMNS = {  # field → the headers accepted for it
    "case_no": ("办件编号", "case_no"),
    "matter_code": ("事项编码", "matter_code"),
    "window": ("窗口", "窗口编号", "window"),
    "clerk_no": ("工号", "经办人工号", "clerk_no"),
    "accepted_at": ("受理时间", "accepted_at"),
    "closed_at": ("办结时间", "closed_at"),
    "promised_days": ("承诺办结工作日", "承诺时限", "promised_days"),
}
REQUIRED = ("case_no", "matter_code", "window", "clerk_no", "accepted_at")
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")


@dataclass
class ImportResult:
    encoding: str
    results: list[tuple[str, str]] = field(default_factory=list)  # (case number, status) of what was stored
    skipped: list[str] = field(default_factory=list)  # the problems of the rows left out (with skip_bad)


def read_rows(path: Path) -> tuple[list[list[str]], str]:
    """The rows of the file, and how it was read."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise FileUnreadable(f"{path.name}：只能导入 .csv 或 .xlsx 文件")
    try:
        content = path.read_bytes()
    except OSError as e:
        raise FileUnreadable(f"{path}：无法读取（{e.strerror}）") from None
    if suffix == ".xlsx":
        try:
            return sheets.xlsx_read_rows(content), "XLSX"
        except (zipfile.BadZipFile, KeyError, ValueError, IndexError):
            raise FileUnreadable(f"{path.name}：不是有效的 Excel（.xlsx）文件") from None
    try:
        return sheets.csv_read_rows(content)
    except UnicodeDecodeError:
        raise FileUnreadable(f"{path.name}：既不是 UTF-8 也不是 GBK 编码的文本，请另存为 UTF-8 的 CSV") from None


def header_map(header: list[str]) -> dict[str, int]:
    """Column index per field; raises BatchRefused naming the missing columns."""
    names = {name: i for i, name in enumerate(c.strip().lstrip("\ufeff") for c in header)}
    found = {}
    for key, accepted in COLUMNS.items():
        index = next((names[a] for a in accepted if a in names), None)
        if index is not None:
            found[key] = index
    missing = [COLUMNS[k][0] for k in REQUIRED if k not in found]
    if missing:
        raise BatchRefused([f"第 1 行（表头）缺少列：{'、'.join(missing)}"])
    return found


def parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = next((m for m in (_strptime(text, f) for f in TIME_FORMATS) if m), None)
        if moment is None:
            raise ValueError(f"时间“{text}”无法识别（应为 2026-11-27 09:30:00 或 ISO 8601）") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA)


def _strptime(text: str, fmt: str) -> datetime | None:
    try:
        return datetime.strptime(text, fmt)
    except ValueError:
        return None


def parse_row(cells: list[str], columns: dict[str, int]) -> tuple[ClosedCase | None, list[str]]:
    """One row as a case, or the problems that keep it from being one."""

    def cell(key: str) -> str:
        i = columns.get(key)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    problems = [f"{COLUMNS[k][0]}为空" for k in REQUIRED if not cell(k)]
    times = {}
    for key in ("accepted_at", "closed_at"):
        if cell(key):
            try:
                times[key] = parse_time(cell(key))
            except ValueError as e:
                problems.append(f"{COLUMNS[key][0]}：{e}")
    promised = cell("promised_days")
    if promised and not promised.isdigit():
        problems.append(f"承诺办结工作日“{promised}”不是整数")
    if problems:
        return None, problems
    case = ClosedCase(
        case_no=cell("case_no"),
        matter_code=cell("matter_code"),
        window=cell("window"),
        clerk_no=cell("clerk_no"),
        accepted_at=times["accepted_at"],
        closed_at=times.get("closed_at"),
        promised_days=int(promised) if promised else None,
    )
    return case, []


def import_file(store: Store, path: Path, hall: Hall, now: datetime, skip_bad: bool = False) -> ImportResult:
    """Check every row, then store the good ones (all of them, or none when a row is bad and not ``skip_bad``)."""
    rows, encoding = read_rows(path)
    if not rows:
        raise BatchRefused([f"{path.name} 是空文件"])
    columns = header_map(rows[0])
    good, bad = [], []
    for line, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        case, problems = parse_row(cells, columns)
        problems = problems or problems_of(case, hall, now)
        label = f"第 {line} 行" + (f"（{cells[columns['case_no']]}）" if columns["case_no"] < len(cells) else "")
        bad += [f"{label}：{p}" for p in problems]
        if not problems:
            good.append(case)
    if bad and not skip_bad:
        raise BatchRefused(bad)
    if not good and not bad:
        raise BatchRefused([f"{path.name} 只有表头，没有办件"])
    result = ImportResult(encoding, skipped=bad)
    if good:
        result.results = store_checked(store, good, f"文件:{path.name}"[:80], now, hall)
    return result
