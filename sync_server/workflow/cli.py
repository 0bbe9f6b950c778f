"""``hcp server audit verify``, ``hcp server webhooks set|deliver``, ``hcp server notices deliver`` and
``hcp server workdays load``."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path


def register(ssub, command) -> None:
    """Add the workflow's subcommands to ``hcp server`` (``command`` is the server CLI's parser factory)."""
    audit = ssub.add_parser("audit", help="审计日志")
    asub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    command(asub, "verify", "校验审计日志的散列链：完整时退出码 0，否则指出第一条被改动的记录并退出码 1", _audit_verify)
    hooks = ssub.add_parser("webhooks", help="新差评推送到外部平台（如 12345 热线）")
    hsub = hooks.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")
    set_ = command(hsub, "set", "设置推送地址与签名密钥（默认关闭；设置即启用）", _webhooks_set)
    set_.add_argument("--url", required=True, help="外部平台接收新差评的 HTTP(S) 地址")
    set_.add_argument("--secret-stdin", action="store_true", help="从标准输入读取签名密钥（否则生成一个并显示一次）")
    set_.add_argument("--off", action="store_true", help="停用推送（已排队的不再新增）")
    deliver = command(hsub, "deliver", "发送到期的推送（失败按指数退避重试；多进程同时运行不会重复发送）", _deliver)
    deliver.add_argument("--watch", type=float, metavar="SECONDS", help="持续运行，每隔这么多秒检查一次")
    notices = ssub.add_parser("notices", help="差评工单待回访的通知（[workflow] notify_sender = webhook 时）")
    nsub = notices.add_subparsers(dest="notices_command", required=True, metavar="ACTION")
    send = command(nsub, "deliver", "发送到期的回访通知（失败按指数退避重试；多进程同时运行不会重复发送）", _notices)
    send.add_argument("--watch", type=float, metavar="SECONDS", help="持续运行，每隔这么多秒检查一次")
    send.add_argument(
        "--settings", type=Path, default=argparse.SUPPRESS, help="服务设置文件（[workflow] 节给出通知地址与密钥）"
    )
    days = ssub.add_parser("workdays", help="节假日安排（差评处理期限按工作日计算）")
    dsub = days.add_subparsers(dest="workdays_command", required=True, metavar="ACTION")
    load = command(dsub, "load", "载入国务院办公厅公布的某年节假日安排（TOML，见 config/workdays/README.md）", _load)
    load.add_argument("file", type=Path, help="节假日安排文件，如 config/workdays/2027.toml")


def _now() -> datetime:
    return datetime.now(UTC)


def _audit_verify(args) -> int:
    from sync_server.commands import open_store
    from sync_server.workflow.auditchain import verify_chain

    with open_store(args).read() as conn:
        checked, broken = verify_chain(conn)
    if broken:
        print(f"审计日志被改动：{broken.describe()}（此前 {checked} 条完整）")
        return 1
    print(f"审计日志完整（共 {checked} 条）")
    return 0


def _webhooks_set(args) -> int:
    from sync_server.console.accounts import write_audit
    from sync_server.workflow.webhook import set_target

    if not args.url.startswith(("http://", "https://")):
        print("hcp: --url 应以 http:// 或 https:// 开头", file=sys.stderr)
        return 2
    given = sys.stdin.readline().strip() if args.secret_stdin else None
    now = _now()
    with _store_of(args).write() as conn:
        secret = set_target(conn, args.url, given, not args.off, "cli", now)
        write_audit(conn, now, "cli", "webhook.set", args.url, {"enabled": not args.off})
    print(f"差评推送已{'停用' if args.off else '启用'}：{args.url}")
    if not given and not args.off:
        print(f"签名密钥（HMAC-SHA256，请配置到接收方，只显示这一次）：{secret}")
    return 0


def _store_of(args):
    from sync_server.commands import open_store

    return open_store(args)


def _deliver(args) -> int:
    from sync_server.workflow.webhook import deliver_due

    store = _store_of(args)
    return _send_until_done(args, lambda: deliver_due(store, _now()), "推送", "delivery_id")


def _notices(args) -> int:
    from sync_server.settings import load_server_settings
    from sync_server.workflow.notify import deliver_due

    settings = load_server_settings(getattr(args, "settings", None)).workflow
    store = _store_of(args)
    return _send_until_done(args, lambda: deliver_due(store, _now(), settings), "回访通知", "notice_id")


def _send_until_done(args, send_due, what: str, id_field: str) -> int:
    """Send what is due and say how each went; with ``--watch N``, again every N seconds."""
    while True:
        attempts = send_due()
        for attempt in attempts:
            outcome = "已送达" if attempt.delivered else f"失败（{attempt.status or '无应答'}），稍后重试"
            print(f"{what} #{getattr(attempt, id_field)}：{outcome}", flush=True)
        if not args.watch:
            if not attempts:
                print(f"没有到期的{what}")
            return 0
        time.sleep(args.watch)


def _load(args) -> int:
    from haochaping.errors import ConfigError
    from sync_server.workflow.schedules import load_schedule, read_schedule

    try:
        schedule = read_schedule(args.file)
    except ConfigError as e:
        print(f"hcp: {e}", file=sys.stderr)
        return 2
    load_schedule(_store_of(args), schedule, str(args.file), "cli", _now())
    print(f"已载入 {schedule.year} 年节假日安排（{schedule.source or args.file}）：放假 {len(schedule.holidays)} 天，"
          f"调休上班 {len(schedule.workdays)} 天")  # fmt: skip
    return 0
