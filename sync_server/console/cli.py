"""``hcp server user add`` and ``hcp server report``: the console's command-line side."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path


def register(ssub, command) -> None:
    """Add the console's subcommands to ``hcp server`` (``command`` is the server CLI's parser factory)."""
    user = ssub.add_parser("user", help="管理后台用户")
    usub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = command(usub, "add", "新增管理后台用户（密码以 argon2 散列保存）", _user_add)
    add.add_argument("--username", required=True, help="用户名")
    add.add_argument(
        "--role",
        required=True,
        choices=["admin", "reviewer", "supervisor", "revisitor"],
        help="角色：admin 大厅管理员，reviewer 部门审核员，supervisor 督查，revisitor 回访员（差评工单的回访）",
    )
    add.add_argument("--department", help="部门编码（部门审核员必填）")
    add.add_argument("--password-stdin", action="store_true", help="从标准输入读取密码（否则交互输入两次）")
    disable = command(usub, "disable", "停用管理后台用户（立即失去登录和所有会话，记录保留）", _user_disable)
    disable.add_argument("--username", required=True, help="用户名")
    report = command(ssub, "report", "生成月度、季度或年度通报（Excel 或 CSV，与管理后台下载的文件相同）", _report)
    _period_options(report, required=False)
    report.add_argument("--out", type=Path, help="输出文件，扩展名 .xlsx 或 .csv")
    rsub = report.add_subparsers(dest="report_command", metavar="ACTION")
    publish_help = "发布通报：数字冻结，原样保存（散列记入审计日志）；同一统计期再次发布须 --reason，生成新版本"
    publish = command(rsub, "publish", publish_help, _publish)
    _period_options(publish, required=True)
    publish.add_argument("--reason", default="", help="更正说明（再次发布同一统计期时必填，生成第 2 版……）")
    publish.add_argument("--out", type=Path, help="另存发布的文件（扩展名 .xlsx 或 .csv，与保存的字节相同）")
    rollup = ssub.add_parser("rollup", help="统计汇总表（评价入库时已自动维护）")
    rsub = rollup.add_subparsers(dest="rollup_command", required=True, metavar="ACTION")
    rebuild = command(
        rsub, "rebuild", "按已存评价重算汇总表（如窗口改属其他部门后）；不带 --day 则全部重算", _rollup_rebuild
    )
    rebuild.add_argument("--day", action="append", help="只重算这一天（北京时间 YYYY-MM-DD，可重复）")


def _period_options(parser, required: bool) -> None:
    which = parser.add_mutually_exclusive_group(required=required)
    which.add_argument("--month", help="月份，如 2026-11")
    which.add_argument("--quarter", help="季度，如 2026Q4")
    which.add_argument("--year", help="年份，如 2026")
    parser.add_argument("--department", help="部门编码（默认全大厅）")


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码：")
    if getpass.getpass("再输入一次：") != first:
        raise SystemExit("hcp: 两次输入的密码不一致")
    return first


def _user_add(args) -> int:
    from sync_server.commands import open_store
    from sync_server.console.accounts import add_user
    from sync_server.console.errors import BadInput

    try:
        add_user(
            open_store(args),
            args.username,
            args.role,
            _password(args),
            datetime.now(UTC),
            "cli",
            department=args.department,
        )
    except BadInput as e:
        flag = f"（--{e.field.replace('_', '-')}）" if e.field else ""
        print(f"hcp: {e.message}{flag}", file=sys.stderr)
        return 2
    print(f"已新增用户 {args.username}（{args.role}{'，部门 ' + args.department if args.department else ''}）")
    return 0


def _spec(args) -> str:
    return args.month or args.quarter or args.year


def _report(args) -> int:
    from sync_server.commands import open_store
    from sync_server.configs import current_config
    from sync_server.console.accounts import Scope, write_audit
    from sync_server.console.errors import ConsoleError
    from sync_server.console.labels import Names, china_today
    from sync_server.console.reports import csv_text, monthly_report, workbook_bytes
    from sync_server.console.settings import ConsoleSettings

    if not _spec(args) or args.out is None:
        print("hcp: 请给出 --month、--quarter 或 --year 之一，以及 --out", file=sys.stderr)
        return 2
    suffix = args.out.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        print("hcp: --out 的扩展名应为 .xlsx 或 .csv", file=sys.stderr)
        return 2
    store = open_store(args)
    today = china_today(datetime.now(UTC))  # the cards count today, as on the dashboard
    try:
        with store.read() as conn:
            cv = current_config(conn)
            names = Names.of(cv.config if cv else None)
            sections = monthly_report(conn, Scope(), _spec(args), args.department, names, ConsoleSettings(), today)
    except ConsoleError as e:
        print(f"hcp: {e.message}", file=sys.stderr)
        return 2
    if suffix == ".xlsx":
        args.out.write_bytes(workbook_bytes(sections))
    else:
        args.out.write_text("\ufeff" + csv_text(sections), encoding="utf-8")
    with store.write() as conn:
        detail = {"period": _spec(args), "department": args.department, "out": str(args.out)}
        write_audit(conn, datetime.now(UTC), "cli", "export", f"monthly{suffix}", detail)
    print(f"已生成 {_spec(args)} 通报：{args.out}")
    return 0


def _publish(args) -> int:
    from sync_server.commands import open_store
    from sync_server.configs import current_config
    from sync_server.console.accounts import ADMIN
    from sync_server.console.errors import ConsoleError
    from sync_server.console.labels import Names
    from sync_server.console.publish import publish
    from sync_server.console.settings import ConsoleSettings
    from sync_server.storage.published import published

    suffix = args.out.suffix.lower() if args.out else ""
    if args.out and suffix not in (".xlsx", ".csv"):
        print("hcp: --out 的扩展名应为 .xlsx 或 .csv", file=sys.stderr)
        return 2
    store = open_store(args)
    with store.read() as conn:
        cv = current_config(conn)
    names = Names.of(cv.config if cv else None)
    try:
        done = publish(
            store, _spec(args), args.department, "cli", ADMIN, datetime.now(UTC), names, ConsoleSettings(), args.reason
        )
    except ConsoleError as e:
        print(f"hcp: {e.message}", file=sys.stderr)
        return 2
    if args.out:
        with store.read() as conn:
            row = published(conn, done.id)
        args.out.write_bytes(bytes(row.xlsx if suffix == ".xlsx" else row.csv))
    saved = f"；文件：{args.out}" if args.out else ""
    print(f"已发布 {done.name}，数据散列 {done.content_hash}（已记入审计日志）{saved}")
    return 0


def _rollup_rebuild(args) -> int:
    from sync_server.commands import open_store
    from sync_server.console.accounts import write_audit
    from sync_server.storage.rollups import rebuild, recompute_days

    store = open_store(args)
    with store.write() as conn:
        if args.day:
            recompute_days(conn, args.day)
            count = len(set(args.day))
        else:
            count = rebuild(conn)
        write_audit(conn, datetime.now(UTC), "cli", "rollup.rebuild", None, {"days": args.day or "all"})
    print(f"已重算 {count} 天的统计汇总")
    return 0


def _user_disable(args) -> int:
    from sync_server.commands import open_store
    from sync_server.console.accounts import disable_user
    from sync_server.console.errors import BadInput

    try:
        disable_user(open_store(args), args.username, datetime.now(UTC), "cli")
    except BadInput as e:
        print(f"hcp: {e.message}", file=sys.stderr)
        return 2
    print(f"已停用用户 {args.username}")
    return 0
