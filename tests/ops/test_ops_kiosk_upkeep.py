"""What keeps a terminal healthy for years, without a window: the WAL stays bounded with checkpoints, the logs
rotate within their budget, outbox queries stay fast on a year of records, a configuration pulled from the server
applies at the next idle moment without a restart, and the maintenance screen warns about a clock that is off."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from testkit import ADMIN_PIN_HASH

from kiosk.flow import Flow, NewConfig, Screen, SignIn, Submit, TapLevel, Tick, Trigger
from kiosk.logs import configure_logs, log_bytes
from kiosk.outbox import Outbox


def wal_size(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_checkpoints_keep_the_wal_file_bounded_and_every_record_stays(tmp_path):
    box = Outbox(tmp_path / "outbox.db", "dev-wal")
    box.db.execute("PRAGMA synchronous=OFF")  # only to write quickly: the WAL grows the same way
    now = datetime(2026, 11, 27, 9, tzinfo=UTC)
    biggest = 0
    for i in range(2000):
        box.append("prompt", now, case_no=f"W{i}", detail={"note": "x" * 200})
        biggest = max(biggest, wal_size(box.path))
        if i % 100 == 99:
            assert box.checkpoint() == 0
            assert wal_size(box.path) == 0  # truncated, not just reused
    box.close()
    assert biggest < 3 * 2**20  # 100 records between checkpoints, never the whole history
    with sqlite3.connect(tmp_path / "outbox.db") as conn:
        assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 2000
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    reopened = Outbox(tmp_path / "outbox.db", "dev-wal")
    assert reopened.verify_chain() is None
    reopened.close()


def test_logs_rotate_within_their_budget(tmp_path):
    handler = configure_logs(tmp_path, max_bytes=20_000, backups=3)
    log = logging.getLogger("kiosk.test.rotation")
    try:
        for i in range(3000):
            log.warning("评价器日志第 %d 行：同步失败，5 秒后重试（待同步 12 条）", i)
    finally:
        for name in ("", "kivy"):
            logging.getLogger(name).removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == ["kiosk.log", "kiosk.log.1", "kiosk.log.2", "kiosk.log.3"]
    assert log_bytes(tmp_path) <= 4 * 20_000
    assert "第 2999 行" in (tmp_path / "logs" / "kiosk.log").read_text(encoding="utf-8")


def test_a_year_of_records_keeps_the_outbox_queries_on_indexes(tmp_path):
    box = Outbox(tmp_path / "outbox.db", "dev-year")
    box.db.execute("PRAGMA synchronous=OFF")  # only to write the year quickly
    now = datetime(2026, 11, 27, 9, tzinfo=UTC)
    ids = [box.append("prompt" if i % 2 == 0 else "rating", now, case_no=f"Y{i // 2}")["id"] for i in range(20_000)]
    box.mark_acknowledged(ids[:-10], "stored", now)
    plans = {
        "case_status": "SELECT kind FROM outbox WHERE case_no = ? AND kind IN ('prompt', 'rating')",
        "last_prompt_at": "SELECT occurred_at FROM outbox WHERE kind = 'prompt' ORDER BY seq DESC LIMIT 1",
    }
    for name, sql in plans.items():
        plan = " ".join(row[3] for row in box.db.execute("EXPLAIN QUERY PLAN " + sql, ["Y1"] if "?" in sql else []))
        assert "USING" in plan and "INDEX" in plan, f"{name}: {plan}"
    assert len(box.pending(100)) == 10 and box.depth() == 10
    assert box.case_status("Y123") == "rated" and box.last_prompt_at() is not None
    box.close()
    # How fast these answer on a year of records is a figure of `hcp bench kiosk` (kiosk.outbox_year_query_ms.max).


@pytest.fixture
def flow(hall_config, outbox, clock):
    return Flow(hall_config, "A01", outbox, clock, lambda case, now: f"http://qr.test/r/{case}", ADMIN_PIN_HASH)


def renamed(config, window_name: str):
    hall = config.hall.model_copy(
        update={
            "windows": [
                w.model_copy(update={"name": window_name}) if w.code == "A01" else w for w in config.hall.windows
            ]
        }
    )
    return config.model_copy(update={"hall": hall})


def test_a_new_configuration_waits_for_the_citizen_then_applies_without_restart(flow, clock, hall_config):
    flow.handle(SignIn("1001", "1111"))
    flow.handle(Trigger("CFG-1"))
    assert flow.screen is Screen.PROMPT
    flow.handle(NewConfig(renamed(hall_config, "综合受理窗口（新）")))
    assert flow.window.name != "综合受理窗口（新）"  # never in the middle of a rating
    flow.handle(TapLevel(5))
    flow.handle(Submit())
    assert flow.screen is Screen.THANKS and flow.window.name != "综合受理窗口（新）"
    clock.advance(flow.config.rules.thanks_s + 1)
    seen = []
    flow.listeners.append(seen.append)
    flow.handle(Tick())
    assert flow.screen is Screen.IDLE
    assert flow.window.name == "综合受理窗口（新）" and flow.config.hall.window("A01").name == "综合受理窗口（新）"
    assert seen and flow.state.clerk.no == "1001"  # the screens were told; the clerk stays signed in


def test_the_sync_worker_hands_a_pulled_configuration_to_the_idle_flow(flow, outbox, clock, hall_config, tmp_path):
    from kiosk.config_cache import PARTS
    from kiosk.sync import ConfigPull
    from kiosk.syncworker import SyncWorker

    new = renamed(hall_config, "不动产登记（调整后）")
    body = {part: getattr(new, part).model_dump(mode="json") for part in PARTS}

    class Server:
        offset_s = 0.0

        def pull_config(self, etag):
            return ConfigPull("v-new", '"v-new"', body)

    flow.handle(SignIn("1001", "1111"))
    worker = SyncWorker(
        Server(), outbox, data_dir=tmp_path, window="A01", clock=clock, on_config=lambda c: flow.handle(NewConfig(c))
    )
    worker.pull_config()
    assert flow.screen is Screen.IDLE
    assert flow.window.name == "不动产登记（调整后）"
    assert outbox.state("config_version") == "v-new"


@pytest.mark.parametrize(
    ("offset", "warn_s", "shown", "warned"),
    [
        (None, 120, "未知", False),
        (3.25, 120, "+3.2 秒（服务器减本机）", False),
        (-119.0, 120, "-119.0 秒", False),
        (300.0, 120, "本机时钟慢了 300 秒，超过 120 秒，请校准时钟", True),
        (-45.0, 30, "本机时钟快了 45 秒，超过 30 秒", True),
    ],
)
def test_the_maintenance_screen_warns_when_the_clock_is_off(offset, warn_s, shown, warned, outbox):
    from kiosk.view.maintenance import maintenance_facts

    if offset is not None:
        outbox.set_state("clock_offset_s", offset)
    app = SimpleNamespace(
        kiosk=SimpleNamespace(
            outbox=outbox,
            settings=SimpleNamespace(clock_warn_s=warn_s, data_dir=Path(".")),
            identity=SimpleNamespace(device_id="dev-clock"),
        ),
        flow=SimpleNamespace(
            window=SimpleNamespace(code="A01", name="综合窗口"),
            config=SimpleNamespace(version="v1", reasons=SimpleNamespace(version="national-2019-v1")),
        ),
        sync=None,
    )
    value = dict(maintenance_facts(app))["时钟偏差"]
    assert shown in value
    assert ("警告" in value) is warned


def test_clock_warn_s_is_a_documented_setting_with_a_default():
    from kiosk.settings import KioskSettings

    field = KioskSettings.model_fields["clock_warn_s"]
    assert field.default == 120 and "校准" in field.description
