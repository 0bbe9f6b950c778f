"""``hcp bench console``: generate a database of N ratings straight into SQLite or PostgreSQL (plus the rollups),
then measure the p95 of the dashboard and the ratings list over HTTP (in-process ASGI client), one
``<name> <value> <unit>`` line per figure. A second database with a tenth of the ratings over the same days (the
baseline) is measured in turns with it, so that how the pages grow with stored history is read from one run on one
machine, whatever else the machine is doing: ``console.dashboard_growth_10m_over_1m`` and
``console.year_view_growth_10m_over_1m`` (median over median).

Both databases get the same rows from one generator (``synthetic_chunks``) and the same rollups (``rollup_rows``):
SQLite through executemany, PostgreSQL through COPY, each with the secondary indexes of ``records``, ``ratings`` and
``bad_cases`` dropped during the load. The measuring knows only a ``Store``.

The generated rows are shaped like real ones (ids, windows, clerks, matters, channels, levels, reasons, comments)
but skip what the read paths never look at: hashes are placeholders and the cases table is left empty (the case
rollup carries the prompted/unrated counts). Every 差评 gets its handling record (``bad_cases``), as far along as
staff would have taken it by ``BENCH_NOW`` (a 申诉成立 one with its rating's exclusion, as the app makes it), so the
dashboard's 差评处理 panel is measured at scale too.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.kit import ROOT, percentile
from haochaping.config import HallConfig, ReasonList, Rules, read_toml
from sync_server.storage.schema import REVISIT_SUMS, bad_cases, ratings, records, utc_iso

DEPARTMENTS, WINDOWS_PER_DEPT, DAYS = 10, 3, 365
LEVELS = (5, 4, 3, 2, 1)
LEVEL_WEIGHTS = (60, 20, 10, 6, 4)
CHANNEL_CHOICES = (4, 3, 0)
CHANNEL_WEIGHTS = (75, 20, 5)
BENCH_NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
CHINA = timedelta(hours=8)
DEFAULT_LEVEL = 5  # 默认好评: a default rating is never a 差评
RECORD_COLUMNS = tuple(records.c.keys())  # the generator writes rows in the table's own column order
BAD_CASE_COLUMNS = tuple(c for c in bad_cases.c.keys() if c != "id")  # ids: given by the database, in load order
EXCLUSION_COLUMNS = ("record_id", "reason", "excluded_at")
SETTLED_AGE = timedelta(days=20)  # handling records older than this are (nearly all) finished
# A 属实 record's steps and the state each leaves it in; a 不属实 one's.
TRUE_PATH = (
    ("verified_at", "rectifying"),
    ("fixed_at", "rectified"),
    ("visited_at", "revisited"),
    ("closed_at", "closed"),
)
FALSE_PATH = (("verified_at", "unfounded"), ("explained_at", "explained"), ("closed_at", "closed"))


def register(which) -> None:
    p = which.add_parser("console", help="管理后台：生成 N 条评价后测统计概览与评价明细的 p95")
    p.add_argument("--ratings", type=int, default=10_000_000, help="生成的评价条数（默认 10000000）")
    p.add_argument(
        "--db",
        help="SQLite 数据库文件，或 PostgreSQL 地址 postgresql+psycopg://用户@主机:端口/库"
        "（默认临时 SQLite 文件，结束后删除；PostgreSQL 库须为空库）",
    )
    p.add_argument("--reuse", action="store_true", help="--db 已有生成好的数据时直接测量")
    p.add_argument(
        "--baseline",
        type=int,
        help="同一时间跨度内对照库的评价条数（默认 --ratings 的十分之一；0 不做对照），"
        "输出两者之比 console.dashboard_growth_<N>_over_<对照> 与 console.year_view_growth_<N>_over_<对照>",
    )
    p.add_argument(
        "--baseline-db",
        help="对照库：SQLite 文件或空的 PostgreSQL 库（默认 --db 旁的 <文件名>-baseline 文件；PostgreSQL 须指定）",
    )
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


def database_url(db: str | None, tmp_dir: Path) -> str:
    """The SQLAlchemy URL of ``--db``: a PostgreSQL URL as given, else a SQLite file (default: one in ``tmp_dir``)."""
    if db and db.startswith(("postgresql", "sqlite:")):
        return db
    return f"sqlite:///{Path(db) if db else tmp_dir / 'console.db'}"


def sqlite_path(url: str) -> Path:
    return Path(url.split(":///", 1)[1])


def generate(url: str, n: int, seed: int = 7) -> float:
    """Fill a new (SQLite) or empty (PostgreSQL) database with ``n`` ratings over the last year, the same rows and
    rollups on both; returns seconds taken."""
    from sync_server.db import Store, migrate

    started = time.perf_counter()
    store = Store.from_url(url)
    migrate(store)
    config = synthetic_config()
    _seed(store, config)
    dialect = store.dialect
    store.dispose()
    if dialect == "postgresql":
        _generate_postgresql(url, config, n, seed)
    else:
        _generate_sqlite(sqlite_path(url), config, n, seed)
    return time.perf_counter() - started


def _seed(store, config: HallConfig) -> None:
    """The hall's configuration and the ``bench`` administrator the measuring signs in as."""
    from sqlalchemy import insert

    from sync_server.console.accounts import hash_password
    from sync_server.storage.schema import config_versions, users, utc_iso

    with store.write() as conn:
        conn.execute(
            insert(config_versions).values(
                version=config.version, content=config.model_dump_json(), source="bench", imported_at=utc_iso(BENCH_NOW)
            )
        )
        conn.execute(
            insert(users).values(
                username="bench",
                password_hash=hash_password("bench-password"),
                role="admin",
                department=None,
                created_at=utc_iso(BENCH_NOW),
            )
        )


@dataclass
class Chunk:
    """The rows of one load step, each tuple in the column order ``LOADED`` gives for its table."""

    records: list[tuple] = field(default_factory=list)
    ratings: list[tuple] = field(default_factory=list)
    bad_cases: list[tuple] = field(default_factory=list)
    rating_exclusions: list[tuple] = field(default_factory=list)


LOADED = (
    ("records", RECORD_COLUMNS),
    ("ratings", tuple(ratings.c.keys())),
    ("bad_cases", BAD_CASE_COLUMNS),
    ("rating_exclusions", EXCLUSION_COLUMNS),
)


def synthetic_chunks(
    config: HallConfig, n: int, seed: int, rating_keys: Counter, case_keys: Counter, chunk: int = 200_000
) -> Iterator[Chunk]:
    """``n`` ratings spread evenly over the year before ``BENCH_NOW`` and the handling records of their 差评, as
    chunks of rows. Counts each rating's daily rollup keys into ``rating_keys`` and ``case_keys`` as it goes, as
    ingest's deltas would. Deterministic from ``seed``; the handling records draw from a stream of their own, so
    the ratings do not depend on them."""
    from sync_server.workdays import WorkdayCalendar

    rng, handling_rng = random.Random(seed), random.Random(f"bad_cases/{seed}")
    clock = (config.rules.deadlines, WorkdayCalendar())  # what the app keeps deadlines with (no schedule loaded)
    windows = [(w.code, w.department, w.matters) for w in config.hall.windows]
    start = BENCH_NOW - timedelta(days=DAYS)
    step = DAYS * 86400 / max(n, 1)
    for first in range(0, n, chunk):
        out = Chunk()
        levels = rng.choices(LEVELS, LEVEL_WEIGHTS, k=min(chunk, n - first))
        channels = rng.choices(CHANNEL_CHOICES, CHANNEL_WEIGHTS, k=len(levels))
        for j, level in enumerate(levels):
            i = first + j
            window, dept, matters = windows[rng.randrange(len(windows))]
            clerk, matter, channel = f"{window}{rng.randrange(2)}", matters[rng.randrange(2)], channels[j]
            level = level if channel else DEFAULT_LEVEL
            moment = start + timedelta(seconds=i * step)
            occurred = moment.isoformat(timespec="milliseconds")
            prompted = (moment - timedelta(seconds=25)).isoformat(timespec="milliseconds")
            rid, case_no = f"b{i:09d}", f"K{i:09d}"
            reasons = "[213]" if level <= 2 else "[]"
            comment = "窗口人员业务不熟练，等了很久" if level <= 2 and i % 3 == 0 else None
            source = "default" if channel == 0 else ("qr" if channel == 3 else "device")
            out.records.append(
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
            out.ratings.append((rid, case_no, level, channel, occurred, "counting", 1))
            day = (moment + CHINA).date().isoformat()
            status = "effective"
            if level <= 2:  # a counting 差评 (never a default rating): its handling record
                rating = dict(
                    record_id=rid, case_no=case_no, window=window, department=dept, clerk_no=clerk, level=level
                )
                status = _add_bad_case(out, handling_rng, clock, rating, moment, day)
            rating_keys[(day, dept, window, clerk, matter, channel, level, status)] += 1
            key = (day, dept, window, clerk, matter)
            case_keys[key + ("prompted",)] += 1 + (1 if i % 12 == 0 else 0)  # ~8% prompted, never rated
            case_keys[key + ("rated",)] += 0 if channel == 0 else 1
            case_keys[key + ("default_only",)] += 1 if channel == 0 else 0
        yield out


# ---------------------------------------------------------------- handling records (差评工单) of the bad ratings
# Only ``bad_cases`` rows (and a 申诉成立 record's exclusion): no case_events or appeals rows, which the 差评处理 panel
# does not read (its join to appeals finds none, as for a record never appealed).


def _add_bad_case(out: Chunk, rng: random.Random, clock, rating: dict, moment: datetime, day: str) -> str:
    """Append the handling record of a bad rating that arrived at ``moment`` (China date ``day``), and its
    exclusion when an appeal was upheld; returns the rating's rollup status."""
    state, fix_kind, done = handling_course(rng, moment)
    opened = utc_iso(moment)
    row = {**rating, "opened_at": opened, "arrival_day": day, "state": state, "fix_kind": fix_kind}
    row.update({column: utc_iso(at) for column, at in done.items()})
    if "verified_at" in row:
        row["finding"] = "经核实，情况属实" if fix_kind else "经核实，情况不属实"
    row.update(kept_dues(clock, row), revisit_reopens=0)
    row.update(dict.fromkeys(REVISIT_SUMS, 0))  # no 回访 rows are generated
    out.bad_cases.append(tuple(row.get(c) for c in BAD_CASE_COLUMNS))
    if state != "upheld":
        return "effective"
    upheld_at = utc_iso(moment + timedelta(days=rng.randint(3, 10)))
    out.rating_exclusions.append((rating["record_id"], "申诉成立：误操作", upheld_at))
    return "excluded"


def handling_course(rng: random.Random, opened: datetime) -> tuple[str, str | None, dict[str, datetime]]:
    """(state, fix kind, {step column: when}) of the handling record of a bad rating that arrived at ``opened``, as
    of ``BENCH_NOW``. Older than 20 days: 92% closed after rectification (about 10% of them fixed after the 5 or 15
    working days), 5% closed as 不属实, 2% 申诉成立, 1% still rectifying; younger: wherever a slower and scattered
    pace has taken them (待核实, 整改中, 已整改, 已回访, 办结). No step lies after ``BENCH_NOW``."""
    day = timedelta(days=1)
    if BENCH_NOW - opened <= SETTLED_AGE:
        kind = _fix_kind(rng)
        verified = opened + day * rng.uniform(0.2, 3.5)
        fixed = verified + day * rng.uniform(0.5, 8 if kind == "simple" else 20)
        visited = fixed + day * rng.uniform(0.5, 3)
        return _walk(TRUE_PATH, (verified, fixed, visited, visited + day * rng.uniform(0.5, 2)), kind)
    verified = opened + day + timedelta(minutes=rng.randrange(480))
    share = rng.random()
    if share < 0.92:
        kind = _fix_kind(rng)
        fixed = verified + day * _fix_days(rng, kind, late=rng.random() < 0.10)
        return _walk(TRUE_PATH, (verified, fixed, fixed + day, fixed + 2 * day), kind)
    if share < 0.97:
        explained = verified + day * rng.randint(1, 3)
        return _walk(FALSE_PATH, (verified, explained, explained + day), None)
    if share < 0.99:
        return "upheld", None, {}  # appealed while 待核实; the appeal's own rows are not generated
    return "rectifying", _fix_kind(rng), {"verified_at": verified}


def _fix_kind(rng: random.Random) -> str:
    return "simple" if rng.random() < 0.85 else "complex"


def _fix_days(rng: random.Random, kind: str, late: bool) -> int:
    """Calendar days from the 属实 finding to the fix: within the 5 (simple) or 15 (complex) working days, or late."""
    if kind == "simple":
        return rng.randint(9, 16) if late else rng.randint(1, 4)
    return rng.randint(24, 35) if late else rng.randint(3, 12)


def _walk(path, moments, fix_kind: str | None) -> tuple[str, str | None, dict[str, datetime]]:
    """The steps of ``path`` taken by ``BENCH_NOW`` and the state they leave the record in."""
    state, done = "pending", {}
    for (column, after), moment in zip(path, moments, strict=True):
        if moment > BENCH_NOW:
            break
        state, done[column] = after, moment
    return state, (fix_kind if done else None), done


def kept_dues(clock, row: dict) -> dict[str, str | None]:
    """The deadlines the app keeps on a record as each step's clock starts (``workflow.deadlines.kept_due``)."""
    from sync_server.workflow.deadlines import fix_clock_start, kept_due

    dues = {"contact_due": kept_due(*clock, "contact", row["opened_at"])}
    start = fix_clock_start(clock[0], row["opened_at"], row["verified_at"]) if row.get("verified_at") else None
    if row.get("fix_kind"):
        dues["fix_due"] = kept_due(*clock, "fix", start, row["fix_kind"])
    elif start:
        dues["explain_due"] = kept_due(*clock, "explain", start)
    if row.get("fixed_at"):  # the 回访 is due from the fix (or, 不属实, from the explanation while it waits)
        dues["revisit_from"], dues["revisit_due"] = row["fixed_at"], kept_due(*clock, "revisit", row["fixed_at"])
    elif row.get("explained_at") and row["state"] == "explained":
        dues["revisit_from"], dues["revisit_due"] = (
            row["explained_at"],
            kept_due(*clock, "revisit", row["explained_at"]),
        )
    return dues


def rollup_rows(rating_keys: Counter, case_keys: Counter) -> Iterator[tuple[str, list[str], list[tuple]]]:
    """(table, columns, rows) of the daily, monthly and trend rollups, projected from the daily keys exactly as
    ingest's deltas are."""
    from sync_server.storage.rollups import CASE_COUNTS, project_cases, project_ratings

    for table, counts in project_ratings(rating_keys).items():
        names = [c.name for c in table.primary_key.columns] + ["n"]
        yield table.name, names, [k + (n,) for k, n in counts.items()]
    for table, counts in project_cases(case_keys).items():
        names = [c.name for c in table.primary_key.columns] + list(CASE_COUNTS)
        grouped: dict[tuple, list[int]] = {}
        for k, n in counts.items():
            grouped.setdefault(k[:-1], [0, 0, 0])[CASE_COUNTS.index(k[-1])] += n
        yield table.name, names, [k + tuple(v) for k, v in grouped.items()]


# ---------------------------------------------------------------- SQLite: executemany with the indexes dropped


def _generate_sqlite(path: Path, config: HallConfig, n: int, seed: int) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-400000")
    indexes = _drop_indexes(db, ("records", "ratings", "bad_cases"))
    rating_keys, case_keys = _load(db, config, n, seed)
    for sql in indexes:
        db.execute(sql)
    _load_rollup(db, rating_keys, case_keys)
    db.execute("ANALYZE")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()


def _drop_indexes(db, tables) -> list[str]:
    rows = db.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL AND tbl_name IN "
        f"({','.join('?' * len(tables))})",
        tables,
    ).fetchall()
    for name, _ in rows:
        db.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in rows]


def _load(db, config: HallConfig, n: int, seed: int) -> tuple[Counter, Counter]:
    rating_keys, case_keys = Counter(), Counter()
    for chunk in synthetic_chunks(config, n, seed, rating_keys, case_keys):
        db.execute("BEGIN")
        for table, names in LOADED:
            db.executemany(_insert(table, names), getattr(chunk, table))
        db.execute("COMMIT")
    return rating_keys, case_keys


def _load_rollup(db, rating_keys: Counter, case_keys: Counter) -> None:
    db.execute("BEGIN")
    for table, names, rows in rollup_rows(rating_keys, case_keys):
        db.executemany(_insert(table, names), rows)
    db.execute("COMMIT")


def _insert(table: str, names) -> str:
    return f"INSERT INTO {table} ({_columns(names)}) VALUES ({','.join('?' * len(names))})"


def _columns(names) -> str:
    return ", ".join(f'"{n}"' for n in names)


# ---------------------------------------------------------------- PostgreSQL: COPY with the indexes dropped

# The non-primary-key indexes of the tables the generator fills, with the statement that re-creates each.
_PG_INDEXES = """
SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid IN ('records'::regclass, 'ratings'::regclass, 'bad_cases'::regclass) AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
"""


def _generate_postgresql(url: str, config: HallConfig, n: int, seed: int) -> None:
    """One transaction: drop the indexes, COPY the rows, re-create the indexes, COPY the rollups (a failure leaves
    the database as it was); then VACUUM ANALYZE, so the pages are read as a settled database reads them."""
    import psycopg

    with psycopg.connect(_libpq_url(url)) as db:
        db.execute("SET maintenance_work_mem = '512MB'")
        indexes = db.execute(_PG_INDEXES).fetchall()
        for name, _ in indexes:
            db.execute(f'DROP INDEX "{name}"')
        rating_keys, case_keys = Counter(), Counter()
        with db.cursor() as cur:
            for chunk in synthetic_chunks(config, n, seed, rating_keys, case_keys):
                for table, names in LOADED:
                    _copy(cur, table, names, getattr(chunk, table))
            for _, sql in indexes:
                cur.execute(sql)
            for table, names, rows in rollup_rows(rating_keys, case_keys):
                _copy(cur, table, names, rows)
    with psycopg.connect(_libpq_url(url), autocommit=True) as db:
        db.execute("VACUUM (ANALYZE)")


def _copy(cur, table: str, names, rows: list[tuple]) -> None:
    with cur.copy(f"COPY {table} ({_columns(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _libpq_url(url: str) -> str:
    """``postgresql+psycopg://…`` as libpq writes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def ratings_held(store) -> int:
    return rows_held(store, ratings)


def rows_held(store, table) -> int:
    from sqlalchemy import func, select

    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def database_size_mb(store, url: str) -> float:
    from sqlalchemy import text

    if store.dialect == "postgresql":
        with store.read() as conn:
            return conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one() / 1e6
    return sqlite_path(url).stat().st_size / 1e6


# ---------------------------------------------------------------- measuring


def _p95(samples: list[float]) -> float:
    return percentile(samples, 95)


class PageViews:
    """Milliseconds per page view of one database through the real app, taken a round at a time, so that two
    databases are measured in turns under the same load."""

    def __init__(self, url: str):
        from sync_server.db import Store, migrate

        self.store = Store.from_url(url)
        migrate(self.store)  # a reused database may predate newer migrations
        self.client = signed_in_client(self.store)
        today = (BENCH_NOW + CHINA).date()
        month = {"from": today.replace(day=1).isoformat(), "to": today.isoformat()}
        self.year = {"from": (today - timedelta(days=364)).isoformat(), "to": today.isoformat()}
        self.dashboards = [
            ("/console/dashboard", {}),
            ("/console/dashboard", {"department": "D03"}),
            ("/console/dashboard", {**_last_month(today), "by": "day"}),
            ("/console/dashboard", {**month, "by": "week"}),
        ]
        self.lists = [
            ("/console/ratings", {}),
            ("/console/ratings", {"department": "D05"}),
            ("/console/ratings", {"level": "bad"}),
            ("/console/ratings", {**self.year, "window": "W041", "level": "1"}),
            ("/console/ratings", {**self.year, "clerk": "W0720"}),
            ("/console/ratings", {"channel": "3", "department": "D01"}),
        ]
        self.samples: dict[str, list[float]] = {"dashboard": [], "list": [], "list_next": [], "dashboard_year": []}

    def round(self, i: int) -> None:
        """One dashboard, one ratings list page and its next page."""
        import re

        self.samples["dashboard"].append(_timed(self.client, *self.dashboards[i % len(self.dashboards)]))
        path, params = self.lists[i % len(self.lists)]
        self.samples["list"].append(_timed(self.client, path, params))
        body = self.client.get(path, params=params).text
        more = re.search(r'href="(/console/ratings\?[^"]*after=[^"]+)" id="more"', body)
        if more:
            self.samples["list_next"].append(_timed(self.client, more.group(1).replace("&amp;", "&"), {}))

    def year_round(self) -> None:
        """The dashboard of the last 365 days by month (the year view)."""
        self.samples["dashboard_year"].append(_timed(self.client, "/console/dashboard", {**self.year, "by": "month"}))

    def close(self) -> None:
        self.store.dispose()


def measure(url: str, requests: int, baseline_url: str | None = None) -> list[dict[str, list[float]]]:
    """The samples of ``url`` (and of ``baseline_url``, in turns with it)."""
    sides = [PageViews(u) for u in (url, baseline_url) if u]
    try:
        for i in range(requests):
            for side in sides:
                side.round(i)
        for _ in range(max(3, requests // 4)):
            for side in sides:
                side.year_round()
    finally:
        for side in sides:
            side.close()
    return [side.samples for side in sides]


def signed_in_client(store):
    """An in-process client of the real console app on ``store``, signed in as the bench's administrator."""
    import re

    from fastapi.testclient import TestClient

    from sync_server.app import create_app

    client = TestClient(create_app(store, clock=lambda: BENCH_NOW), raise_server_exceptions=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").text).group(1)
    client.post("/console/login", data={"username": "bench", "password": "bench-password", "csrf_token": token})
    return client


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
    with tempfile.TemporaryDirectory(prefix="hcp-bench-console-") as tmp:
        url = database_url(args.db, Path(tmp))
        baseline_n = args.ratings // 10 if args.baseline is None else args.baseline
        baseline_url = _baseline_url(url, args.baseline_db) if baseline_n > 0 else None
        ratings_n = _prepare(url, args.ratings, args.reuse)
        if ratings_n is None:
            return 1
        if baseline_url:
            baseline_n = _prepare(baseline_url, baseline_n, args.reuse)
            if baseline_n is None:
                return 1
        _report(url, ratings_n, args.requests, baseline_url, baseline_n)
    return 0


def _baseline_url(url: str, given: str | None) -> str | None:
    """The comparison database: ``--baseline-db``, else a SQLite file beside the measured one (PostgreSQL: none)."""
    if given:
        return database_url(given, Path("."))
    if url.startswith("postgresql"):
        print("hcp: PostgreSQL 上的对照测量需要 --baseline-db（另一个空库）；本次只测一个库", file=sys.stderr)
        return None
    path = sqlite_path(url)
    return f"sqlite:///{path.with_name(path.stem + '-baseline' + path.suffix)}"


def size_label(n: int) -> str:
    """10000000 → 10m, 1000000 → 1m, 2000 → 2k: how a figure's name tells the sizes compared."""
    for unit, label in ((1_000_000, "m"), (1_000, "k")):
        if n >= unit and n % unit == 0:
            return f"{n // unit}{label}"
    return str(n)


def _prepare(url: str, n: int, reuse: bool) -> int | None:
    """Generate the ratings unless reused; returns how many the database holds, None when it refuses."""
    from sync_server.db import Store, migrate

    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if reuse and path.exists():
            return _counted(url)
        path.unlink(missing_ok=True)
    else:
        store = Store.from_url(url)
        migrate(store)
        held = ratings_held(store)
        store.dispose()
        if held and reuse:
            return held
        if held:
            print(
                f"hcp: 该 PostgreSQL 数据库已有 {held} 条评价，不会写入或覆盖；"
                "加 --reuse 直接测量已有数据，或换一个空数据库",
                file=sys.stderr,
            )
            return None
    seconds = generate(url, n)
    print(f"console.generate_s {seconds:.1f} s", flush=True)
    print(f"console.generate_rate {n / seconds:.0f} ratings/s", flush=True)
    return n


def _counted(url: str) -> int:
    from sync_server.db import Store

    store = Store.from_url(url)
    try:
        return ratings_held(store)
    finally:
        store.dispose()


def _report(url: str, ratings_n: int, requests: int, baseline_url: str | None, baseline_n: int) -> None:
    import os

    from sync_server.db import Store

    store = Store.from_url(url)
    print(f"console.database {store.dialect} -", flush=True)
    print(f"console.ratings {ratings_n} ratings", flush=True)
    print(f"console.bad_cases {rows_held(store, bad_cases)} count", flush=True)
    print(f"console.db_size {database_size_mb(store, url):.0f} MB", flush=True)
    store.dispose()
    print(f"console.load_before {os.getloadavg()[0]:.2f} load-1min", flush=True)
    samples, *baseline = measure(url, requests, baseline_url)
    print(f"console.load_after {os.getloadavg()[0]:.2f} load-1min")
    print(f"console.dashboard_p95_ms {_p95(samples['dashboard']):.1f} ms")
    print(f"console.dashboard_median_ms {statistics.median(samples['dashboard']):.1f} ms")
    print(f"console.ratings_list_p95_ms {_p95(samples['list'] + samples['list_next']):.1f} ms")
    print(f"console.ratings_list_median_ms {statistics.median(samples['list']):.1f} ms")
    if samples["list_next"]:
        print(f"console.ratings_list_next_page_p95_ms {_p95(samples['list_next']):.1f} ms")
    print(f"console.dashboard_year_p95_ms {_p95(samples['dashboard_year']):.1f} ms")
    print(f"console.dashboard_year_median_ms {statistics.median(samples['dashboard_year']):.1f} ms")
    if baseline:
        _report_growth(samples, baseline[0], ratings_n, baseline_n)


def _report_growth(samples: dict, baseline: dict, ratings_n: int, baseline_n: int) -> None:
    """The comparison database's figures and how much slower the pages are on the larger one: medians over medians,
    measured in turns (the same span of days, ``ratings_n`` against ``baseline_n`` ratings)."""
    growth = f"{size_label(ratings_n)}_over_{size_label(baseline_n)}"
    print(f"console.baseline_ratings {baseline_n} ratings")
    for name, key in (("dashboard", "dashboard"), ("dashboard_year", "dashboard_year")):
        print(f"console.baseline_{name}_p95_ms {_p95(baseline[key]):.1f} ms")
        print(f"console.baseline_{name}_median_ms {statistics.median(baseline[key]):.1f} ms")
    for name, key in (("dashboard", "dashboard"), ("year_view", "dashboard_year")):
        ratio = statistics.median(samples[key]) / statistics.median(baseline[key])
        print(f"console.{name}_growth_{growth} {ratio:.2f} x")
