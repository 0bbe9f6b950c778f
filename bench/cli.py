"""``hcp bench …``: benchmarks that print one ``<name> <value> <unit>`` line per figure.

Registered by the ``hcp`` command line when this package and the extras it measures are installed (``[all]``);
``haochaping.cli`` checks that with ``importlib.util.find_spec`` before importing anything here.
"""

from __future__ import annotations


def register(sub) -> None:
    bench = sub.add_parser("bench", help="运行基准测试，每行输出 <名称> <数值> <单位>")
    which = bench.add_subparsers(dest="bench", required=True, metavar="BENCH")
    kiosk = which.add_parser("kiosk", help="评价器：启动时间、触发到显示、点击到落盘")
    kiosk.add_argument("--rounds", type=int, default=40, help="评价轮数（默认 40；p99 需要更多轮才稳定）")
    kiosk.set_defaults(func=_bench_kiosk)
    sync = which.add_parser("sync", help="同步：服务器入库速率、清空 1 万条待传记录、扫码页 p99（本机真实服务进程）")
    sync.add_argument("--ratings", type=int, default=10_000, help="入库测试的评价条数（默认 10000）")
    sync.set_defaults(func=_bench_sync)
    from bench.kiosk_soak import register as register_soak

    register_soak(which)  # hcp bench kiosk-soak
    from bench.console import register as register_console

    register_console(which)  # hcp bench console
    from bench.upstream import register as register_upstream

    register_upstream(which)  # hcp bench upstream


def _bench_kiosk(args) -> int:
    from bench.kiosk import run

    return run(args)


def _bench_sync(args) -> int:
    from bench.sync import run

    return run(args)
