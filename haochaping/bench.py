"""``hcp bench …``: benchmarks that print one ``<name> <value> <unit>`` line per figure."""

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
    from kiosk.soak import register as register_soak

    register_soak(which)  # hcp bench kiosk-soak
    _register_console(which)


def _register_console(which) -> None:
    try:
        from sync_server.console.bench import register
        from sync_server.upstream.bench import register as register_upstream
    except ImportError:  # the server extra is not installed
        return
    register(which)
    register_upstream(which)  # hcp bench upstream


def _bench_kiosk(args) -> int:
    from kiosk.bench import run

    return run(args)


def _bench_sync(args) -> int:
    from kiosk.bench_sync import run

    return run(args)
