"""``hcp bench …``: benchmarks that print one ``<name> <value> <unit>`` line per figure."""

from __future__ import annotations


def register(sub) -> None:
    bench = sub.add_parser("bench", help="运行基准测试，每行输出 <名称> <数值> <单位>")
    which = bench.add_subparsers(dest="bench", required=True, metavar="BENCH")
    kiosk = which.add_parser("kiosk", help="评价器：启动时间、触发到显示、点击到落盘")
    kiosk.set_defaults(func=_bench_kiosk)


def _bench_kiosk(args) -> int:
    from kiosk.bench import run

    return run(args)
