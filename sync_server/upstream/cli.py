"""``hcp server upstream send|reconcile|receiver``: the upload to the provincial 好差评 platform."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path


def register(ssub, command) -> None:
    """Add ``hcp server upstream …`` (``command`` is the server CLI's parser factory)."""
    up = ssub.add_parser("upstream", help="上报省好差评平台（评价、差评办理、申诉结果）")
    usub = up.add_subparsers(dest="upstream_command", required=True, metavar="ACTION")
    send = command(usub, "send", "补齐待上报项并发送到期的（失败按指数退避重试；多进程同时运行不会重复发送）", _send)
    send.add_argument("--watch", type=float, metavar="SECONDS", help="持续运行，每隔这么多秒检查一次")
    _settings_option(send)
    rec = command(usub, "reconcile", "核对某日省平台已接收的与应上报的，列出差异（无差异退出码 0，否则 1）", _reconcile)
    rec.add_argument("--day", required=True, help="日期 YYYY-MM-DD（北京时间）")
    _settings_option(rec)
    recv = usub.add_parser("receiver", help="运行模拟省平台（演示与测试用，仅监听本机）")
    recv.add_argument("--port", type=int, default=8600, help="监听端口（默认 8600）")
    recv.add_argument("--secret", required=True, help="与中心服务约定的签名密钥（同 [upstream] secret）")
    recv.set_defaults(func=_receiver)


def _settings_option(parser) -> None:
    parser.add_argument(
        "--settings", type=Path, default=argparse.SUPPRESS, help="服务设置文件（[upstream] 节给出省平台地址与密钥）"
    )


def _upstream_settings(args):
    from sync_server.settings import load_server_settings

    return load_server_settings(getattr(args, "settings", None)).upstream


def _send(args) -> int:
    from sync_server.commands import open_store
    from sync_server.upstream.sender import collect, send_due

    settings = _upstream_settings(args)
    if not settings.enabled:
        print("hcp: 未配置省平台地址（服务设置文件 [upstream] url），不上报", file=sys.stderr)
        return 2
    store = open_store(args)
    while True:
        queued = collect(store, _now(), settings)
        sent = send_due(store, _now, settings)
        print(
            f"新入队 {queued}；省平台接收 {sent.accepted}，退回 {sent.rejected}，失败待重试 {sent.failed}",
            flush=True,
        )
        for error in sent.errors[:3]:
            print(f"  失败原因：{error}", flush=True)
        if not args.watch:
            return 0
        time.sleep(args.watch)


def _reconcile(args) -> int:
    from sync_server.commands import open_store
    from sync_server.upstream.sender import reconcile_day

    try:
        day = date.fromisoformat(args.day).isoformat()
    except ValueError:
        print(f"hcp: --day 应为 YYYY-MM-DD：{args.day}", file=sys.stderr)
        return 2
    found = reconcile_day(open_store(args), day)
    differences = len(found.missing) + len(found.unexpected)
    print(f"{day}：应上报 {found.expected}，省平台已接收 {found.accepted}，差异 {differences}")
    for key, state in found.missing:
        print(f"未被接收\t{key}\t{state}")
    for key in found.unexpected:
        print(f"已接收但不应上报\t{key}")
    return 0 if not found.missing and not found.unexpected else 1


def _receiver(args) -> int:
    from sync_server.upstream.receiver import main

    return main(["--port", str(args.port), "--secret", args.secret])


def _now() -> datetime:
    return datetime.now(UTC)
