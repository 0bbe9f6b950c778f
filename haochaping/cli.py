"""The ``hcp`` command line: one root, each package adds its own subcommands."""

from __future__ import annotations

import argparse
import sys

from haochaping.errors import HaochapingError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hcp", description="政务服务好差评：窗口评价器与中心服务")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pin = sub.add_parser("pin-hash", help="生成 PIN 的散列，写入 hall.toml 或 kiosk.toml")
    pin.add_argument("pin", help="要散列的 PIN（4–8 位数字）")
    pin.set_defaults(func=_pin_hash)

    from kiosk.cli import register as register_kiosk

    register_kiosk(sub)
    try:
        from sync_server.cli import register as register_server
    except ImportError:  # a kiosk-only install has no server extras
        register_server = None
    if register_server:
        register_server(sub)
    from haochaping.bench import register as register_bench

    register_bench(sub)
    return parser


def _pin_hash(args) -> int:
    from haochaping.pins import hash_pin

    if not (args.pin.isdigit() and 4 <= len(args.pin) <= 8):
        print("hcp: PIN 应为 4–8 位数字", file=sys.stderr)
        return 2
    print(hash_pin(args.pin))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except HaochapingError as e:
        print(f"hcp: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # the kiosk's own errors and the like, as one readable line
        from kiosk.errors import KioskError

        if isinstance(e, KioskError):
            print(f"hcp: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
