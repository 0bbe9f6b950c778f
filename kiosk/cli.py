"""``hcp kiosk …``: run the terminal, trigger a prompt from the command line."""

from __future__ import annotations

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
    trig.set_defaults(func=_trigger)


def _run(args) -> int:
    from kiosk.app import run

    return run(args.settings)


def _trigger(args) -> int:
    from kiosk.triggers import trigger_from_cli

    return trigger_from_cli(args.settings, args.case, args.matter)
