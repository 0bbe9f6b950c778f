"""``hcp bench upstream``: a week's offline backlog (50,000 items by default) drained to the stand-in provincial
receiver running as its own process on loopback; prints ``upstream.drain_50k_s`` and the items per second."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from bench.kit import BenchError, free_port

SECRET = "bench-secret"


def register(which) -> None:
    bench = which.add_parser("upstream", help="上报：一周离线积压（默认 5 万条）发往本机模拟省平台所需时间")
    bench.add_argument("--items", type=int, default=50_000, help="积压条数（默认 50000）")
    bench.add_argument("--batch", type=int, default=500, help="每次请求的条数（默认 500）")
    bench.add_argument("--db", default=None, help="数据库地址（默认临时 SQLite 文件；须为空库）")
    bench.set_defaults(func=run)


def backlog(n: int) -> list[tuple[dict, str, str]]:
    """``n`` counting ratings as they are queued (the full 表9 field set)."""
    return [
        (
            {
                "id": f"rating:bench-{i}",
                "kind": "rating",
                "case_no": f"2026112{i % 7}{i:07d}",
                "region_code": "450102",
                "matter_code": "11450102MB1234567X4000111",
                "window": "A01",
                "channel": 4,
                "rater": "匿名",
                "rated_at": f"2026112{i % 7}T09{i % 60:02d}00",
                "assess_number": 1,
                "level": 5 - i % 5,
                "satisfaction": 1 + i % 5,
                "reasons": [510],
                "comment": "",
            },
            f"bench-{i}",
            f"2026-11-2{i % 7}",
        )
        for i in range(n)
    ]


def run(args) -> int:
    from sync_server.db import Store, migrate
    from sync_server.storage import upstream as storage
    from sync_server.upstream.sender import send_due
    from sync_server.upstream.settings import UpstreamSettings

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.from_url(args.db or f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate(store)
        now = datetime.now(UTC)
        with store.write() as conn:
            storage.enqueue(store, conn, backlog(args.items), now.isoformat(timespec="milliseconds"))
        port, receiver = _start_receiver()
        try:
            settings = UpstreamSettings(url=f"http://127.0.0.1:{port}/api", secret=SECRET, batch_size=args.batch)
            started = time.perf_counter()
            sent = send_due(store, lambda: datetime.now(UTC), settings)
            seconds = time.perf_counter() - started
        finally:
            receiver.terminate()
            receiver.wait(timeout=10)
            store.dispose()
    if sent.accepted != args.items:
        print(f"hcp: 只接收了 {sent.accepted}/{args.items} 条：{sent.errors[:1]}", file=sys.stderr)
        return 1
    print(f"upstream.drain_{args.items // 1000}k_s {seconds:.2f} s")
    print(f"upstream.drain_items_per_s {args.items / seconds:.0f} items/s")
    return 0


def _start_receiver() -> tuple[int, subprocess.Popen]:
    port = free_port()
    command = [sys.executable, "-m", "sync_server.upstream.receiver", "--port", str(port), "--secret", SECRET]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/received", timeout=1).read()
            return port, process
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise BenchError("模拟省平台没有启动")
