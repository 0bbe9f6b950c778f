"""``hcp server assessment propose|panel|sheet``: 考核 and 考勤 from the command line."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path


def register(ssub, command) -> None:
    """Add ``hcp server assessment …`` (``command`` is the server CLI's parser factory)."""
    top = ssub.add_parser("assessment", help="窗口工作人员考核与考勤")
    sub = top.add_subparsers(dest="assessment_command", required=True, metavar="ACTION")
    propose = command(sub, "propose", "按评价器记录、差评工单更新考核事件建议（可重复运行，已处理的不变）", _propose)
    propose.add_argument(
        "--from", dest="first", type=date.fromisoformat, help="开始日期 YYYY-MM-DD（默认今年 1 月 1 日）"
    )
    propose.add_argument("--to", dest="last", type=date.fromisoformat, help="结束日期 YYYY-MM-DD（默认昨天）")
    panel = command(sub, "panel", "把管理后台用户加入考核领导小组（决定复核）", _panel)
    panel.add_argument("username", help="管理后台用户名")
    sheet = command(sub, "sheet", "导出年度考核结果表（Excel 或 CSV，与管理后台下载的相同）", _sheet)
    sheet.add_argument("--year", type=int, required=True, help="年度")
    sheet.add_argument("--department", help="部门编码（默认全大厅）")
    sheet.add_argument("--out", type=Path, required=True, help="输出文件，.xlsx 或 .csv")


def _now() -> datetime:
    return datetime.now(UTC)


def _propose(args) -> int:
    from sync_server.assessment.attendance import china_day
    from sync_server.assessment.proposals import refresh
    from sync_server.commands import open_store

    today = china_day(_now())
    first, last = args.first or date(today.year, 1, 1), args.last or today
    counts = refresh(open_store(args), first, last, _now())
    print(f"{first} 至 {last}：新建议 {counts.proposed} 条，撤回 {counts.withdrawn} 条，恢复 {counts.reopened} 条")
    return 0


def _panel(args) -> int:
    from sync_server.assessment.events import Person
    from sync_server.assessment.scores import panel_add
    from sync_server.commands import open_store

    panel_add(open_store(args), args.username, Person("cli", "admin"), _now())
    print(f"{args.username} 已加入考核领导小组")
    return 0


def _sheet(args) -> int:
    from sync_server.assessment.errors import InputRejected
    from sync_server.assessment.rules import current_rules
    from sync_server.assessment.sheets import sheet_csv, sheet_rows, sheet_xlsx
    from sync_server.commands import open_store
    from sync_server.configs import current_config

    suffix = args.out.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise InputRejected(f"输出文件应以 .xlsx 或 .csv 结尾：{args.out}")
    with open_store(args).read() as conn:
        cv = current_config(conn)
        if cv is None:
            raise InputRejected("尚未导入大厅配置，请先运行 hcp server config import")
        if args.department and args.department not in {d.code for d in cv.config.hall.departments}:
            raise InputRejected(f"未知部门“{args.department}”")
        titles, rows = sheet_rows(conn, current_rules(conn), cv.config.hall, args.year, args.department)
    if suffix == ".xlsx":
        args.out.write_bytes(sheet_xlsx(titles, rows))
    else:
        args.out.write_text(sheet_csv(titles, rows), encoding="utf-8")
    print(f"已写入 {args.out}（{len(rows)} 人）")
    return 0
