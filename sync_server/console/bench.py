"""``hcp bench console``: generate a database of N ratings straight into SQLite (plus the rollup), then measure the
p95 of the dashboard and the ratings list over HTTP (in-process ASGI client), one ``<name> <value> <unit>`` line
per figure.

The generated rows are shaped like real ones (ids, windows, clerks, matters, channels, levels, reasons, comments)
but skip what the read paths never look at: hashes are placeholders and the cases table is left empty (the case
rollup carries the prompted/unrated counts).
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from haochaping.config import HallConfig, ReasonList, Rules, read_toml
from sync_server.db import records

ROOT = Path(__file__).resolve().parents[2]
DEPARTMENTS, WINDOWS_PER_DEPT, DAYS = 10, 3, 365
LEVELS = (5, 4, 3, 2, 1)
LEVEL_WEIGHTS = (60, 20, 10, 6, 4)
CHANNEL_CHOICES = (4, 3, 0)
CHANNEL_WEIGHTS = (75, 20, 5)
BENCH_NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
CHINA = timedelta(hours=8)
RECORD_COLUMNS = tuple(records.c.keys())  # the generator writes rows in the table's own column order


def register(which) -> None:
    p = which.add_parser("console", help="管理后台：生成 N 条评价后测统计概览与评价明细的 p95")
    p.add_argument("--ratings", type=int, default=10_000_000, help="生成的评价条数（默认 10000000）")
    p.add_argument("--db", type=Path, help="数据库文件（默认临时目录，结束后删除）")
    p.add_argument("--reuse", action="store_true", help="--db 已有生成好的数据时直接测量")
    p.add_argument("--requests", type=int, default=40, help="每种页面的请求次数（默认 40）")
    p.set_defaults(func=run)


def synthetic_config() -> HallConfig:
    reasons = ReasonList.model_validate(read_toml(ROOT / "config" / "reasons.toml"))
    departments = [{"code": f"D{d:02d}", "name": f"第{d + 1}部门"} for d in range(DEPARTMENTS)]
    windows, clerks, matters = [], [], []
    for d in range(DEPARTMENTS):
        for k in range(WINDOWS_PER_DEPT):
            w = f"W{d:02d}{k}"
            ms = [f"M{d:02d}{k}{j}" for j in range(2)]
            matters += [{"code": m, "name": f"事项{m}", "department": f"D{d:02d}"} for m in ms]
            windows.append({"code": w, "name": f"{w} 窗口", "department": f"D{d:02d}", "matters": ms})
            clerks += [
                {"no": f"{w}{j}", "name": f"工作人员{w}{j}", "department": f"D{d:02d}", "pin_hash": "x"}
                for j in range(2)
            ]
    hall = {
        "code": "BENCH",
        "name": "基准测试政务服务中心",
        "region_code": "450102",
        "departments": departments,
        "windows": windows,
        "clerks": clerks,
        "matters": matters,
    }
    return HallConfig.model_validate({"hall": hall, "reasons": reasons.model_dump(), "rules": Rules().model_dump()})


def generate(path: Path, n: int, seed: int = 7) -> float:
    """Fill a migrated database with ``n`` ratings over the last year; returns seconds taken."""
    from sync_server.console.auth import hash_password
    from sync_server.db import Store, migrate, utc_iso

    started = time.perf_counter()
    store = Store.from_url(f"sqlite:///{path}")
    migrate(store)
    store.dispose()
    config = synthetic_config()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-400000")
    db.execute(
        "INSERT INTO config_versions (version, content, source, imported_at) VALUES (?, ?, 'bench', ?)",
        (config.version, config.model_dump_json(), utc_iso(BENCH_NOW)),
    )
    db.execute(
        "INSERT INTO users (username, password_hash, role, department, created_at) VALUES (?, ?, 'admin', NULL, ?)",
        ("bench", hash_password("bench-password"), utc_iso(BENCH_NOW)),
    )
    indexes = _drop_indexes(db, ("records", "ratings"))
    rating_counts, case_counts = _load(db, config, n, random.Random(seed))
    for sql in indexes:
        db.execute(sql)
    _load_rollup(db, rating_counts, case_counts)
    db.execute("ANALYZE")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    return time.perf_counter() - started


def _drop_indexes(db, tables) -> list[str]:
    rows = db.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL AND tbl_name IN "
        f"({','.join('?' * len(tables))})",
        tables,
    ).fetchall()
    for name, _ in rows:
        db.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in rows]


def _load(db, config: HallConfig, n: int, rng: random.Random) -> tuple[Counter, Counter]:
    windows = [(w.code, w.department, w.matters) for w in config.hall.windows]
    start = BENCH_NOW - timedelta(days=DAYS)
    step = DAYS * 86400 / max(n, 1)
    ratings_counter: Counter = Counter()
    cases_counter: Counter = Counter()
    chunk = 200_000
    for first in range(0, n, chunk):
        recs, rats = [], []
        levels = rng.choices(LEVELS, LEVEL_WEIGHTS, k=min(chunk, n - first))
        channels = rng.choices(CHANNEL_CHOICES, CHANNEL_WEIGHTS, k=len(levels))
        for j, level in enumerate(levels):
            i = first + j
            window, dept, matters = windows[rng.randrange(len(windows))]
            clerk, matter, channel = f"{window}{rng.randrange(2)}", matters[rng.randrange(2)], channels[j]
            moment = start + timedelta(seconds=i * step)
            occurred = moment.isoformat(timespec="milliseconds")
            prompted = (moment - timedelta(seconds=25)).isoformat(timespec="milliseconds")
            rid, case_no = f"b{i:09d}", f"K{i:09d}"
            reasons = "[213]" if level <= 2 else "[]"
            comment = "窗口人员业务不熟练，等了很久" if level <= 2 and i % 3 == 0 else None
            source = "default" if channel == 0 else ("qr" if channel == 3 else "device")
            recs.append(
                (
                    rid,
                    f"dev-{window}",
                    i if source == "device" else None,
                    "rating",
                    window,
                    clerk,
                    case_no,
                    matter,
                    level,
                    reasons,
                    "national-2019-v1",
                    comment,
                    channel,
                    prompted,
                    occurred,
                    "{}",
                    None,
                    "h",
                    "h",
                    source,
                    occurred,
                    "bench",
                    "",
                )
            )
            rats.append((rid, case_no, level, channel, occurred, "counting", 1))
            day = (moment + CHINA).date().isoformat()
            ratings_counter[(day, dept, window, clerk, matter, channel, level, "effective")] += 1
            key = (day, dept, window, clerk, matter)
            cases_counter[key + ("prompted",)] += 1 + (1 if i % 12 == 0 else 0)  # ~8% prompted, never rated
            cases_counter[key + ("rated",)] += 0 if channel == 0 else 1
            cases_counter[key + ("default_only",)] += 1 if channel == 0 else 0
        db.execute("BEGIN")
        db.executemany(
            f"INSERT INTO records ({','.join(RECORD_COLUMNS)}) VALUES ({','.join('?' * len(RECORD_COLUMNS))})", recs
        )
        db.executemany("INSERT INTO ratings VALUES (?,?,?,?,?,?,?)", rats)
        db.execute("COMMIT")
    return ratings_counter, cases_counter


def _load_rollup(db, ratings_counter: Counter, cases_counter: Counter) -> None:
    """Daily, monthly and trend rollups, projected from the daily keys exactly as ingest's deltas are."""
    from sync_server.console.rollup import CASE_COUNTS, project_cases, project_ratings

    db.execute("BEGIN")
    for table, counts in project_ratings(ratings_counter).items():
        names = [c.name for c in table.primary_key.columns] + ["n"]
        db.executemany(_insert_sql(table.name, names), [k + (n,) for k, n in counts.items()])
    for table, counts in project_cases(cases_counter).items():
        names = [c.name for c in table.primary_key.columns] + list(CASE_COUNTS)
        grouped: dict[tuple, list[int]] = {}
        for k, n in counts.items():
            grouped.setdefault(k[:-1], [0, 0, 0])[CASE_COUNTS.index(k[-1])] += n
        db.executemany(_insert_sql(table.name, names), [k + tuple(v) for k, v in grouped.items()])
    db.execute("COMMIT")


def _insert_sql(table: str, names: list[str]) -> str:
    columns = ", ".join(f'"{n}"' for n in names)
    return f"INSERT INTO {table} ({columns}) VALUES ({','.join('?' * len(names))})"


# ---------------------------------------------------------------- measuring


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def measure(path: Path, requests: int) -> dict[str, list[float]]:
    import re

    from fastapi.testclient import TestClient

    from sync_server.app import create_app
    from sync_server.db import Store, migrate

    store = Store.from_url(f"sqlite:///{path}")
    migrate(store)  # a reused database may predate newer migrations
    client = TestClient(create_app(store, clock=lambda: BENCH_NOW), raise_server_exceptions=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").text).group(1)
    client.post("/console/login", data={"username": "bench", "password": "bench-password", "csrf_token": token})
    today = (BENCH_NOW + CHINA).date()
    month = {"from": today.replace(day=1).isoformat(), "to": today.isoformat()}
    year = {"from": (today - timedelta(days=364)).isoformat(), "to": today.isoformat()}
    dashboards = [
        ("/console/dashboard", {}),
        ("/console/dashboard", {"department": "D03"}),
        ("/console/dashboard", {**_last_month(today), "by": "day"}),
        ("/console/dashboard", {**month, "by": "week"}),
    ]
    lists = [
        ("/console/ratings", {}),
        ("/console/ratings", {"department": "D05"}),
        ("/console/ratings", {"level": "bad"}),
        ("/console/ratings", {**year, "window": "W041", "level": "1"}),
        ("/console/ratings", {**year, "clerk": "W0720"}),
        ("/console/ratings", {"channel": "3", "department": "D01"}),
    ]
    out: dict[str, list[float]] = {"dashboard": [], "list": [], "list_next": [], "dashboard_year": []}
    for i in range(requests):
        out["dashboard"].append(_timed(client, *dashboards[i % len(dashboards)]))
        out["list"].append(_timed(client, *lists[i % len(lists)]))
        body = client.get("/console/ratings", params=lists[i % len(lists)][1]).text
        more = re.search(r'href="(/console/ratings\?[^"]*after=[^"]+)" id="more"', body)
        if more:
            out["list_next"].append(_timed(client, more.group(1).replace("&amp;", "&"), {}))
    for _ in range(max(3, requests // 8)):
        out["dashboard_year"].append(_timed(client, "/console/dashboard", {**year, "by": "month"}))
    store.dispose()
    return out


def _last_month(today: date) -> dict[str, str]:
    last = today.replace(day=1) - timedelta(days=1)
    return {"from": last.replace(day=1).isoformat(), "to": last.isoformat()}


def _timed(client, path: str, params: dict) -> float:
    started = time.perf_counter()
    response = client.get(path, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{path} {params}: HTTP {response.status_code}")
    return elapsed


def run(args) -> int:
    tmp = None
    path = args.db
    if path is None:
        tmp = tempfile.TemporaryDirectory(prefix="hcp-bench-console-")
        path = Path(tmp.name) / "console.db"
    try:
        if not (args.reuse and path.exists()):
            if path.exists():
                path.unlink()
            seconds = generate(path, args.ratings)
            print(f"console.generate_s {seconds:.1f} s", flush=True)
            print(f"console.generate_rate {args.ratings / seconds:.0f} ratings/s", flush=True)
        print(f"console.ratings {args.ratings} ratings", flush=True)
        print(f"console.db_size {path.stat().st_size / 1e6:.0f} MB", flush=True)
        samples = measure(path, args.requests)
        print(f"console.dashboard_p95_ms {_p95(samples['dashboard']):.1f} ms")
        print(f"console.dashboard_median_ms {statistics.median(samples['dashboard']):.1f} ms")
        print(f"console.ratings_list_p95_ms {_p95(samples['list'] + samples['list_next']):.1f} ms")
        print(f"console.ratings_list_median_ms {statistics.median(samples['list']):.1f} ms")
        if samples["list_next"]:
            print(f"console.ratings_list_next_page_p95_ms {_p95(samples['list_next']):.1f} ms")
        print(f"console.dashboard_year_p95_ms {_p95(samples['dashboard_year']):.1f} ms")
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0
