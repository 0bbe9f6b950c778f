"""The ``hcp`` command line: one root, each installed part adds its own subcommands.

Which parts are there depends on the extras installed (``[kiosk]``, ``[server]``, ``[bench]``, or ``[all]``);
a part that is missing still has its command, which says which extra to install. Every error the project raises
on purpose is a ``HaochapingError``: it is printed as one readable line and the exit code is 2.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module
from importlib.util import find_spec

from haochaping.errors import HaochapingError

# command, the modules it needs, the extra that brings them, the module that registers it
PARTS = (
    ("kiosk", ("kivy", "requests"), "kiosk", "kiosk.cli"),
    ("server", ("fastapi", "sqlalchemy", "holidays"), "server", "sync_server.cli"),
    ("bench", ("bench", "kivy", "fastapi", "httpx"), "bench", "bench.cli"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hcp", description="政务服务好差评：窗口评价器与中心服务")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pin = sub.add_parser("pin-hash", help="生成 PIN 的散列，写入 hall.toml 或 kiosk.toml")
    pin.add_argument("pin", help="要散列的 PIN（4–8 位数字）")
    pin.set_defaults(func=_pin_hash)

    for command, needs, extra, registrar in PARTS:
        missing = [module for module in needs if find_spec(module) is None]
        if missing:
            _register_missing(sub, command, extra, missing)
        else:
            import_module(registrar).register(sub)
    return parser


def _register_missing(sub, command: str, extra: str, missing: list[str]) -> None:
    """A command whose extra is not installed: it says so, with the pip command that installs it."""
    hint = f"需要安装 haochaping[{extra}]（pip install 'haochaping[{extra}]'；缺少 {', '.join(missing)}）"
    part = sub.add_parser(command, help=hint, add_help=False)
    part.add_argument("rest", nargs=argparse.REMAINDER)
    part.set_defaults(func=lambda _args: _missing(command, hint), missing_part=True)


def _missing(command: str, hint: str) -> int:
    print(f"hcp {command}: {hint}", file=sys.stderr)
    return 2


def _pin_hash(args) -> int:
    from haochaping.pins import hash_pin

    if not (args.pin.isdigit() and 4 <= len(args.pin) <= 8):
        print("hcp: PIN 应为 4–8 位数字", file=sys.stderr)
        return 2
    print(hash_pin(args.pin))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "missing_part", False):  # a missing part takes any arguments: it only says why
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.func(args) or 0
    except HaochapingError as e:
        print(f"hcp: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
