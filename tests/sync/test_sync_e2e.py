"""End to end: a real ``hcp server`` process on 127.0.0.1, a real kiosk outbox file and the real SyncWorker.

Exactly once is checked where it counts: rows in the server's database by id, and its integrity flags.
Every test is bounded (waits have deadlines) and stops the server it started.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from faultproxy import FATES, FaultProxy
from testkit import ADMIN_PIN_HASH

from bench.sync import CONFIG_DIR, ROOT, LocalServer, enrolled_identity, fill_outbox
from kiosk.config_cache import CACHE_FILE, read_config_cache
from kiosk.flow import Flow, Screen, SignIn
from kiosk.identity import load_or_create_identity
from kiosk.outbox import Outbox
from kiosk.sync import SyncClient, SyncPolicy, new_session
from kiosk.syncworker import SyncWorker, TriggerPoller

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

FAST = SyncPolicy(
    batch_size=50,
    backoff_base_s=0.05,
    backoff_cap_s=0.4,
    idle_s=0.2,
    config_every_s=3600,
    status_every_s=3600,
    trigger_wait_s=2,
    connect_timeout_s=1.0,
    read_timeout_s=1.0,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def configured_db(tmp_path_factory) -> Path:
    """A server database with the example hall imported (``hcp server config import``), copied per test."""
    server = LocalServer(tmp_path_factory.mktemp("template"))
    server.import_config()
    return server.db_path


@pytest.fixture
def server(tmp_path, configured_db):
    workdir = tmp_path / "server"
    workdir.mkdir()
    shutil.copy(configured_db, workdir / "server.db")
    server = LocalServer(workdir).start()
    yield server
    server.stop()


@pytest.fixture
def outbox_path(tmp_path):
    (tmp_path / "kiosk").mkdir()
    return tmp_path / "kiosk" / "outbox.db"


class CountingSession:
    """A real requests session that knows how many pushes are in flight (to prove a kill hit mid-batch)."""

    def __init__(self):
        self.session = new_session()
        self.in_flight = 0

    def request(self, method, url, **kwargs):
        self.in_flight += 1
        try:
            return self.session.request(method, url, **kwargs)
        finally:
            self.in_flight -= 1


def make_worker(url, identity, outbox, data_dir, policy=FAST, seed=1, session=None):
    client = SyncClient(url, identity, session or new_session(), utcnow, policy=policy)
    rng = random.Random(seed)
    return SyncWorker(client, outbox, data_dir=data_dir, window="A01", clock=utcnow, policy=policy, rand=rng.random)


def wait_until(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def assert_exactly_once(server: LocalServer, outbox: Outbox, device_id: str) -> None:
    sent = [r["id"] for r in outbox.records()]
    rows = server.query("SELECT id FROM records WHERE device_id = ?", device_id)
    assert sorted(r[0] for r in rows) == sorted(sent)  # every record, none twice
    stored_seqs = [r[0] for r in server.query("SELECT seq FROM records WHERE device_id = ? ORDER BY seq", device_id)]
    assert stored_seqs == list(range(1, len(sent) + 1))
    assert server.query("SELECT count(*) FROM record_conflicts WHERE device_id = ?", device_id) == [(0,)]
    assert server.query("SELECT kind, detail FROM integrity_flags WHERE device_id = ?", device_id) == []
    assert outbox.depth() == 0
    assert outbox.state("sync_status") == "已同步"


def kiosk_settings(tmp_path: Path) -> Path:
    text = (ROOT / "config" / "kiosk.toml").read_text(encoding="utf-8")
    text = text.replace('config_dir = "."', f'config_dir = "{CONFIG_DIR}"')
    text = text.replace('data_dir = "../var/kiosk-A01"', 'data_dir = "kiosk"')
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- exactly once


def test_ratings_made_while_the_server_is_down_arrive_exactly_once_after_it_comes_back(server, tmp_path):
    code = server.enrolment_code("A01")
    settings = kiosk_settings(tmp_path)
    enrol = [sys.executable, "-m", "haochaping.cli", "kiosk", "enroll", "--server", server.url, "--code", code]
    done = subprocess.run([*enrol, "--settings", str(settings)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "窗口 A01" in done.stdout
    identity = load_or_create_identity(tmp_path / "kiosk")
    assert identity.enrolled and identity.server_url == server.url

    server.stop()
    outbox = Outbox(tmp_path / "kiosk" / "outbox.db", identity.device_id)
    fill_outbox(outbox, 120)
    worker = make_worker(identity.server_url, identity, outbox, tmp_path / "kiosk").start()
    try:
        wait_until(lambda: worker.failures >= 3, 20, "the worker to fail against the stopped server")
        assert outbox.state("sync_status").startswith("连接失败")
        assert outbox.depth() == 120
        server.start()
        wait_until(lambda: outbox.depth() == 0, 30, "the outbox to drain")
    finally:
        worker.stop()
    assert_exactly_once(server, outbox, identity.device_id)
    assert outbox.state("last_sync_at")


def test_through_a_faulty_proxy_everything_arrives_exactly_once(server, outbox_path):
    identity = enrolled_identity(server)
    outbox = Outbox(outbox_path, identity.device_id)
    fill_outbox(outbox, 240)
    policy = SyncPolicy(**{**FAST.__dict__, "batch_size": 20, "read_timeout_s": 0.5})
    weights = {fate: 1.0 for fate in FATES} | {"pass": 4.0}
    with FaultProxy(server.port, seed=20261127, weights=weights, stall_s=0.8) as proxy:
        worker = make_worker(proxy.url, identity, outbox, outbox_path.parent, policy=policy).start()
        try:
            wait_until(lambda: outbox.depth() == 0, 55, "the outbox to drain through the proxy")
        finally:
            worker.stop()
    for fate in FATES:
        assert proxy.counts[fate] >= 1, f"fault {fate} never happened: {proxy.counts}"
    assert_exactly_once(server, outbox, identity.device_id)
    results = dict(outbox.db.execute("SELECT result, count(*) FROM acks GROUP BY result").fetchall())
    assert results.get("duplicate", 0) >= 1  # some batches were stored but their answer was lost
    assert set(results) <= {"stored", "duplicate"}


def test_a_server_killed_mid_batch_loses_nothing_and_counts_nothing_twice(server, outbox_path):
    identity = enrolled_identity(server)
    outbox = Outbox(outbox_path, identity.device_id)
    total = 1500
    fill_outbox(outbox, total)
    rng = random.Random(7)
    kills: list[tuple[int, int]] = []  # (outbox depth, pushes in flight) at each kill
    failures: list[BaseException] = []
    session = CountingSession()

    def killer():
        try:
            for round_no in range(1, 4):
                wait_until(lambda r=round_no: outbox.depth() <= total - r * 300, 30, "progress before a kill")
                time.sleep(rng.uniform(0, 0.03))
                in_flight = session.in_flight
                server.kill()
                kills.append((outbox.depth(), in_flight))
                time.sleep(0.2)
                server.start()
        except BaseException as e:  # reported by the main thread
            failures.append(e)

    policy = SyncPolicy(**{**FAST.__dict__, "batch_size": 100, "read_timeout_s": 5.0})
    worker = make_worker(server.url, identity, outbox, outbox_path.parent, policy=policy, session=session).start()
    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        thread.join(60)
        assert not failures, failures
        assert len(kills) == 3 and all(0 < depth < total for depth, _ in kills)
        assert any(in_flight for _, in_flight in kills), f"no kill landed mid-batch: {kills}"
        wait_until(lambda: outbox.depth() == 0, 30, "the outbox to drain after the kills")
    finally:
        worker.stop()
    assert_exactly_once(server, outbox, identity.device_id)
    assert worker.failures == 0


# ---------------------------------------------------------------- config


def test_config_pull_uses_the_etag_and_keeps_the_last_good_copy(server, tmp_path, outbox_path):
    identity = enrolled_identity(server)
    outbox = Outbox(outbox_path, identity.device_id)
    data_dir = tmp_path / "kiosk"
    worker = make_worker(server.url, identity, outbox, data_dir)
    worker.pull_config()
    first = read_config_cache(data_dir, "A01")
    assert first.config.hall.window("A01").name
    assert first.etag == f'"{first.version}"' and outbox.state("config_version") == first.version
    stamp = (data_dir / CACHE_FILE).stat().st_mtime_ns

    worker.pull_config()  # unchanged: 304, nothing rewritten
    assert (data_dir / CACHE_FILE).stat().st_mtime_ns == stamp

    changed = tmp_path / "config2"
    shutil.copytree(CONFIG_DIR, changed)
    rules = changed / "rules" / "default.toml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("prompt_timeout_s = 60", "prompt_timeout_s = 90"))
    server.import_config(changed)
    worker.pull_config()
    second = read_config_cache(data_dir, "A01")
    assert second.version != first.version and second.config.rules.prompt_timeout_s == 90

    with FaultProxy(server.port, seed=3, weights={"cut_json": 1.0}) as proxy:
        garbled = make_worker(proxy.url, identity, outbox, data_dir)
        garbled.etag = None  # ask for the whole copy again, and get it cut in half
        garbled.pull_config()
    assert proxy.counts["cut_json"] == 1
    assert read_config_cache(data_dir, "A01") == second
    assert outbox.state("config_version") == second.version


# ---------------------------------------------------------------- server triggers


def prompt_through_server(server: LocalServer, key: str, case_no: str, matter: str | None) -> str:
    body = json.dumps({"window": "A01", "matter_code": matter}).encode()
    request = urllib.request.Request(
        f"{server.url}/api/v1/cases/{case_no}/prompt",
        data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        return json.loads(response.read())["trigger_id"]


def test_a_case_system_prompt_reaches_the_flow_through_the_server(server, outbox_path, hall_config, clock):
    key = server.case_system_key("测试办件系统")
    identity = enrolled_identity(server)
    outbox = Outbox(outbox_path, identity.device_id)
    flow = Flow(hall_config, "A01", outbox, clock, lambda c, n: f"http://qr.test/r/{c}", ADMIN_PIN_HASH)
    flow.handle(SignIn("1001", "1111"))
    matter = hall_config.hall.window("A01").matters[0]
    client = SyncClient(server.url, identity, new_session(), utcnow, policy=FAST)
    poller = TriggerPoller(client, flow.handle, policy=FAST)

    accepted = prompt_through_server(server, key, "2026-CS-0001", matter)
    refused = prompt_through_server(server, key, "2026-CS-0002", matter)
    assert poller.poll_once() == 0.0
    assert flow.screen is Screen.PROMPT
    assert (flow.state.prompt.case_no, flow.state.prompt.source) == ("2026-CS-0001", "server")
    rows = dict(
        (r[0], (r[1], r[2]))
        for r in server.query(
            "SELECT id, acked_at, refused_message FROM triggers WHERE id IN (?, ?)", accepted, refused
        )
    )
    assert rows[accepted][0] and rows[accepted][1] is None
    assert rows[refused][0] and rows[refused][1] == "上一位群众正在评价，请稍后"

    started = time.monotonic()
    assert client.poll_triggers(1) == []  # acknowledged: not delivered again
    assert time.monotonic() - started >= 0.9  # and the server did hold the long poll


# ---------------------------------------------------------------- clock


def test_a_kiosk_whose_clock_is_20_minutes_fast_corrects_it_and_syncs(server, outbox_path):
    identity = enrolled_identity(server)
    outbox = Outbox(outbox_path, identity.device_id)
    fill_outbox(outbox, 10)

    def fast_clock() -> datetime:
        return utcnow() + timedelta(minutes=20)

    client = SyncClient(
        server.url,
        identity,
        new_session(),
        fast_clock,
        policy=FAST,
        on_offset=lambda v: outbox.set_state("clock_offset_s", v),
    )
    worker = SyncWorker(client, outbox, data_dir=outbox_path.parent, window="A01", clock=fast_clock, policy=FAST)
    assert worker.push_once() == FAST.idle_s  # refused once for its clock, corrected, retried, stored
    assert outbox.depth() == 0
    assert outbox.state("clock_offset_s") == pytest.approx(-1200, abs=5)
    assert server.query("SELECT count(*) FROM records WHERE device_id = ?", identity.device_id) == [(10,)]


# ---------------------------------------------------------------- all of it, as the app starts it


def test_start_sync_carries_a_server_prompt_to_the_flow_and_the_rating_back(server, tmp_path, hall_config):
    from kiosk.flow import Submit, TapLevel
    from kiosk.settings import KioskSettings
    from kiosk.syncworker import start_sync

    key = server.case_system_key()
    identity = enrolled_identity(server)
    settings = KioskSettings(
        window="A01", trigger_token="x" * 16, admin_pin_hash=ADMIN_PIN_HASH, data_dir=tmp_path / "kiosk"
    )
    outbox = Outbox(tmp_path / "kiosk.db", identity.device_id)
    flow = Flow(hall_config, "A01", outbox, utcnow, lambda c, n: f"http://qr.test/r/{c}", ADMIN_PIN_HASH)
    flow.handle(SignIn("1001", "1111"))
    policy = SyncPolicy(**{**FAST.__dict__, "trigger_wait_s": 5, "read_timeout_s": 10.0})
    handle = start_sync(settings, identity, outbox, flow.handle, policy=policy)
    try:
        matter = hall_config.hall.window("A01").matters[0]
        prompt_through_server(server, key, "2026-E2E-0001", matter)
        wait_until(lambda: flow.screen is Screen.PROMPT, 15, "the server prompt to reach the flow")
        flow.handle(TapLevel(5))
        if flow.screen is Screen.REASONS:
            flow.handle(Submit())
        assert flow.screen is Screen.THANKS
        handle.wake()
        wait_until(lambda: outbox.depth() == 0, 15, "the rating to reach the server")
    finally:
        handle.stop()
    rows = server.query("SELECT kind, level FROM records WHERE case_no = ? ORDER BY seq", "2026-E2E-0001")
    assert rows == [("prompt", None), ("rating", 5)]
    assert read_config_cache(tmp_path / "kiosk", "A01") is not None  # and it pulled the hall configuration
