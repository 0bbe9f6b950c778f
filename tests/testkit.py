"""What the test folders share, importable by name from any of them (``tests/`` is on the path through its
conftest): a fake clock, China-time moments, chained terminal records, the PostgreSQL probe, Chromium's flags."""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from haochaping.chain import GENESIS_HASH, RECORD_FIELDS, record_hash

CHROMIUM = "/usr/bin/chromium"  # Debian's; no browser is downloaded
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PG_ADMIN_URLS = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "postgresql+psycopg://root@127.0.0.1:5432/postgres",
)


class FakeClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        self.now = moment


def random_seed() -> int:
    """The seed of a random test: ``HCP_TEST_SEED`` when set, else a fresh one. Printed, so pytest shows it with a
    failure and ``HCP_TEST_SEED=<seed>`` repeats the run."""
    seed = int(os.environ.get("HCP_TEST_SEED") or secrets.randbits(32))
    print(f"random seed {seed} (HCP_TEST_SEED={seed} repeats this run)")
    return seed


def china(y: int, m: int, d: int, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    """A moment given in China time (UTC+8)."""
    return datetime(y, m, d, hour, minute, second, tzinfo=UTC) - timedelta(hours=8)


def iso(moment: datetime) -> str:
    """A moment as the terminals and the server store it (UTC, milliseconds)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


class ChainedRecords:
    """Makes records as one kiosk would: one sequence and one hash chain for every kind."""

    def __init__(self, device_id: str, window: str):
        self.device_id, self.window, self.seq, self.prev = device_id, window, 0, GENESIS_HASH

    def record(self, kind: str, when: datetime, **fields) -> dict:
        self.seq += 1
        rec = {k: None for k in RECORD_FIELDS}
        rec.update(
            id=uuid.uuid4().hex,
            seq=self.seq,
            kind=kind,
            device_id=self.device_id,
            window=self.window,
            reasons=[],
            detail={},
            occurred_at=iso(when),
            prev_hash=self.prev,
            channel=4,
        )
        if kind == "rating":
            rec["reasons_version"] = "national-2019-v1"
        rec.update(fields)
        rec["hash"] = record_hash(rec)
        self.prev = rec["hash"]
        return rec


def pg_admin_url() -> str:
    """A superuser URL of the test PostgreSQL (``HCP_TEST_PG_ADMIN_URL``, else 127.0.0.1:5432 with trust auth).
    FAILS, never skips, when none answers: the PostgreSQL tests are part of the suite."""
    from sqlalchemy import create_engine, text

    problems = []
    override = os.environ.get("HCP_TEST_PG_ADMIN_URL")  # a PostgreSQL elsewhere than the CI default
    for url in (override,) if override else PG_ADMIN_URLS:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return url
        except Exception as e:  # noqa: BLE001 - report every attempt
            problems.append(f"{url}: {type(e).__name__}: {str(e).splitlines()[0]}")
        finally:
            engine.dispose()
    pytest.fail("PostgreSQL 不可用（需要 127.0.0.1:5432，信任认证）：\n" + "\n".join(problems), pytrace=False)


@contextlib.contextmanager
def fresh_pg_database(prefix: str) -> Iterator[str]:
    """The URL of an empty PostgreSQL database of its own, dropped afterwards (even with connections left open)."""
    from sqlalchemy import create_engine, text

    admin_url = pg_admin_url()
    name = f"{prefix}_{secrets.token_hex(5)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin_url.rsplit("/", 1)[0] + "/" + name
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


ADMIN_PIN_HASH = "scrypt$16384$8$1$J8icMjbEf+Kz8a7pn2Jw+A==$btOW0cXBSO7u7XhrYa/6MzzeeTYNQUJkhgJQ6P+wKZE="  # PIN 8888


def example_flow(hall_config, outbox, clock, **options):
    """The screen flow of window A01 of the example hall, with QR links to ``http://qr.test/r/<case>``."""
    from kiosk.flow import Flow

    def qr_url_for(case, now):
        return f"http://qr.test/r/{case}"

    return Flow(hall_config, "A01", outbox, clock, qr_url_for, ADMIN_PIN_HASH, **options)
