"""``hcp kiosk …``: run the terminal, trigger a prompt from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    kiosk = sub.add_parser("kiosk", help="运行窗口评价器")
    kiosk.add_argument(
        "--settings",
        type=Path,
        default=Path("config/kiosk.toml"),
        help="评价器设置文件（默认 config/kiosk.toml）",
    )
    kiosk.set_defaults(func=_run)
    ksub = kiosk.add_subparsers(dest="kiosk_command", metavar="SUBCOMMAND")
    trig = ksub.add_parser("trigger", help="办件办结：在评价器上发起评价")
    trig.add_argument("--case", required=True, help="办件编号")
    trig.add_argument("--matter", help="事项编码（默认为本窗口的第一个事项）")
    trig.add_argument("--settings", type=Path, default=argparse.SUPPRESS, help="评价器设置文件")
    trig.set_defaults(func=_trigger)
    enrol = ksub.add_parser("enroll", help="用服务器发放的一次性登记码登记本评价器")
    enrol.add_argument("--server", required=True, help="中心服务器地址，如 http://10.0.0.5:8000")
    enrol.add_argument("--code", required=True, help="一次性登记码（hcp server device add 生成）")
    enrol.add_argument("--settings", type=Path, default=argparse.SUPPRESS, help="评价器设置文件")
    enrol.add_argument("--force", action="store_true", help="旧设备仍有未同步记录时也重新登记（旧记录另存）")
    enrol.set_defaults(func=_enroll)


def _run(args) -> int:
    _check_configuration(args.settings)  # a bad file fails here, before Kivy or any window starts
    from kiosk.app import run

    return run(args.settings)


def _check_configuration(settings_path: Path) -> None:
    from haochaping.config import load_hall_config
    from haochaping.errors import ConfigError
    from kiosk.settings import load_settings

    settings = load_settings(settings_path)
    hall = load_hall_config(settings.config_dir, settings.rules_file).hall
    if settings.window not in {w.code for w in hall.windows}:
        known = "、".join(w.code for w in hall.windows)
        raise ConfigError(str(settings_path), "window", f"大厅配置中没有窗口 {settings.window!r}（已有：{known}）")


def _trigger(args) -> int:
    from kiosk.triggers import trigger_from_cli

    return trigger_from_cli(args.settings, args.case, args.matter)


def _enroll(args) -> int:
    from kiosk.enrol import enroll

    identity = enroll(args.settings, args.server, args.code, force=args.force)
    print(f"已登记：设备 {identity.device_id}，窗口 {identity.window}，服务器 {identity.server_url}")
    print("请（重新）启动评价器，以新身份同步")
    return 0
