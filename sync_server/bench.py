"""Measurement helpers for ``hcp bench sync``: the plain-SQLite ingest ceiling and the phone page's latency."""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

from haochaping.chain import GENESIS_HASH, RECORD_FIELDS, record_hash


def sample_ratings(
    n: int, device_id: str = "dev-bench", start_seq: int = 1, prev_hash: str = GENESIS_HASH
) -> list[dict]:
    """``n`` chained rating records as a terminal would send them."""
    out = []
    for seq in range(start_seq, start_seq + n):
        rec = {k: None for k in RECORD_FIELDS}
        rec.update(
            id=uuid.uuid4().hex,
            seq=seq,
            kind="rating",
            device_id=device_id,
            window="A01",
            clerk_no="1001",
            case_no=f"BENCH-{seq}",
            matter_code="11450102MB1234567X4000111",
            level=5,
            reasons=[510],
            reasons_version="national-2019-v1",
            channel=4,
            prompted_at="2026-11-27T09:00:00.000+00:00",
            occurred_at="2026-11-27T09:00:05.000+00:00",
            detail={},
            prev_hash=prev_hash,
        )
        rec["hash"] = prev_hash = record_hash(rec)
        out.append(rec)
    return out


def ingest_ceiling(n: int = 10_000, batch: int = 500) -> float:
    """Rows per second of a plain batched ``executemany`` of the same rows into a SQLite file
    (WAL, synchronous=FULL, one transaction per batch): what the server's ingest is compared with."""
    rows = [
        tuple(json.dumps(r[k]) if isinstance(r[k], list | dict) else r[k] for k in RECORD_FIELDS)
        for r in sample_ratings(n)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "ceiling.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"CREATE TABLE records ({', '.join(RECORD_FIELDS)}, PRIMARY KEY (id))")
        sql = f"INSERT OR IGNORE INTO records VALUES ({', '.join('?' * len(RECORD_FIELDS))})"
        started = time.perf_counter()
        for i in range(0, n, batch):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows[i : i + batch])
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.close()
    return n / elapsed


def page_latencies_ms(urls: list[str], concurrency: int = 100, timeout_s: float = 30) -> list[float]:
    """GET each URL with ``concurrency`` parallel clients; the sorted latencies in milliseconds."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(timeout=timeout_s, limits=limits) as client:

        def one(url: str) -> float:
            started = time.perf_counter()
            client.get(url).raise_for_status()
            return (time.perf_counter() - started) * 1000

        with ThreadPoolExecutor(concurrency) as pool:
            return sorted(pool.map(one, urls))


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
