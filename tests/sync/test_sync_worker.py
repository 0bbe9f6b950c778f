"""Config pull with ETag and the last good copy, server triggers reaching the flow, status, the thread."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from sync_fakes import FakeSession, acks, reply
from testkit import ADMIN_PIN_HASH, example_flow

from kiosk.config_cache import CACHE_FILE, read_config_cache
from kiosk.errors import TriggerRefused
from kiosk.flow import Flow, Screen, SignIn, Trigger
from kiosk.identity import DeviceIdentity
from kiosk.sync import SyncClient, SyncPolicy
from kiosk.syncworker import SyncWorker, TriggerPoller, start_sync

SECRET = bytes(range(32))
POLICY = SyncPolicy(batch_size=50, idle_s=10, config_every_s=300, status_every_s=60)


@pytest.fixture
def identity():
    return DeviceIdentity("dev-test", SECRET, enrolled=True, server_url="http://server.test", window="A01")


@pytest.fixture
def session():
    return FakeSession()


@pytest.fixture
def client(identity, session, clock):
    return SyncClient("http://server.test", identity, session, clock, policy=POLICY)


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def worker(client, outbox, clock, data_dir):
    return SyncWorker(client, outbox, data_dir=data_dir, window="A01", clock=clock, policy=POLICY, rand=lambda: 0.5)


def config_reply(hall_config, version="v7", etag='"v7"'):
    body = {"ok": True, "version": version, **hall_config.model_dump(mode="json")}
    return reply(200, body, headers={"ETag": etag} if etag else {})


# ---------------------------------------------------------------- config


def test_config_is_pulled_validated_and_cached(worker, session, outbox, hall_config, data_dir):
    seen = []
    worker.on_config = seen.append
    session.script = [config_reply(hall_config), reply(200, {"ok": True})]
    assert worker.step() == POLICY.idle_s  # config, no records, status report
    cached = read_config_cache(data_dir, "A01")
    assert cached.version == "v7" and cached.etag == '"v7"'
    assert cached.config == hall_config
    assert seen == [hall_config]
    assert outbox.state("config_version") == "v7"
    assert [s.url.rsplit("/", 1)[1] for s in session.sent] == ["config", "status"]
    status = session.sent[1].json()
    assert status["outbox_depth"] == 0 and status["config_version"] == "v7"


def test_config_pull_sends_the_etag_and_keeps_the_copy_on_304(worker, session, clock, hall_config, data_dir):
    session.script = [config_reply(hall_config), reply(200, {"ok": True})]
    worker.step()
    before = (data_dir / CACHE_FILE).read_bytes()
    clock.advance(301)
    session.script = [reply(304, raw=b""), reply(200, {"ok": True})]
    worker.step()
    assert session.sent[2].headers["If-None-Match"] == '"v7"'
    assert (data_dir / CACHE_FILE).read_bytes() == before


def test_config_is_pulled_only_when_due(worker, session, clock, hall_config):
    session.script = [config_reply(hall_config), reply(200, {"ok": True})]
    worker.step()
    clock.advance(30)
    worker.step()  # nothing due, nothing pending: no request at all
    assert len(session.sent) == 2


@pytest.mark.parametrize(
    "garbage",
    [
        reply(200, raw=b'{"ok": true, "version": "v8", "hall": {"code"'),
        reply(200, {"ok": True, "version": "v8", "hall": {"code": "X"}, "reasons": {}, "rules": {}}),
        reply(200, {"ok": True, "version": "v8"}),
        reply(500, {"ok": False, "error": "内部错误", "status": 500}),
    ],
    ids=["truncated", "invalid-hall", "missing-parts", "500"],
)
def test_a_bad_copy_from_the_server_is_refused_and_the_old_one_kept(
    worker, session, clock, hall_config, data_dir, outbox, garbage
):
    session.script = [config_reply(hall_config), reply(200, {"ok": True})]
    worker.step()
    before = (data_dir / CACHE_FILE).read_bytes()
    clock.advance(301)
    session.script = [garbage, reply(200, {"ok": True})]
    worker.step()
    assert (data_dir / CACHE_FILE).read_bytes() == before
    assert read_config_cache(data_dir, "A01").version == "v7"
    assert outbox.state("config_version") == "v7"
    assert worker.etag == '"v7"'


def test_a_config_without_this_window_is_refused(worker, session, hall_config, data_dir):
    body = hall_config.model_dump(mode="json")
    body["hall"]["windows"] = [w for w in body["hall"]["windows"] if w["code"] != "A01"]
    session.script = [reply(200, {"ok": True, "version": "v9", **body}), reply(200, {"ok": True})]
    worker.step()
    assert not (data_dir / CACHE_FILE).exists()


def test_a_damaged_cache_file_is_ignored(data_dir):
    data_dir.mkdir()
    (data_dir / CACHE_FILE).write_text('{"version": "v1", "hall": ')
    assert read_config_cache(data_dir) is None


def test_a_new_worker_starts_from_the_cached_etag(client, outbox, clock, data_dir, session, hall_config):
    session.script = [config_reply(hall_config, etag='"v3"')]
    SyncWorker(client, outbox, data_dir=data_dir, window="A01", clock=clock, policy=POLICY).pull_config()
    again = SyncWorker(client, outbox, data_dir=data_dir, window="A01", clock=clock, policy=POLICY)
    assert again.etag == '"v3"'


# ---------------------------------------------------------------- server triggers


@pytest.fixture
def flow(hall_config, outbox, clock):
    flow = example_flow(hall_config, outbox, clock)
    flow.handle(SignIn("1001", "1111"))
    return flow


def triggers_reply(*items):
    return reply(200, {"ok": True, "triggers": list(items)})


def test_a_server_trigger_prompts_and_is_acked(client, session, flow, outbox, hall_config):
    matter = hall_config.hall.window("A01").matters[0]
    poller = TriggerPoller(client, flow.handle, policy=POLICY)
    session.script = [triggers_reply({"id": "t1", "case_no": "2026-0001", "matter_code": matter}), reply(200, {})]
    assert poller.poll_once() == 0.0
    assert flow.screen is Screen.PROMPT
    assert flow.state.prompt.case_no == "2026-0001" and flow.state.prompt.source == "server"
    assert session.sent[1].json() == {"ids": ["t1"]}
    prompt = list(outbox.records(kind="prompt"))[-1]
    assert prompt["detail"] == {"source": "server"}


def test_a_refused_trigger_is_acked_with_the_flow_message(client, session, flow):
    poller = TriggerPoller(client, flow.handle, policy=POLICY)
    session.script = [
        triggers_reply({"id": "t1", "case_no": "C-1", "matter_code": None}, {"id": "t2", "case_no": "C-2"}),
        reply(200, {}),
    ]
    poller.poll_once()
    ack = session.sent[1].json()
    assert ack["ids"] == ["t1", "t2"]
    assert ack["refused"] == {"t2": "上一位群众正在评价，请稍后"}


def test_a_redelivered_trigger_is_acked_again_without_prompting_twice(client, session):
    submitted = []
    poller = TriggerPoller(client, submitted.append, policy=POLICY, rand=lambda: 0.5)
    item = {"id": "t1", "case_no": "C-1", "matter_code": None}
    session.script = [triggers_reply(item), requests.ConnectionError("ack lost"), triggers_reply(item), reply(200, {})]
    assert poller.poll_once() == 0.5  # the ack failed: back off
    assert poller.poll_once() == 0.0
    assert submitted == [Trigger("C-1", None, source="server")]
    assert session.sent[3].json() == {"ids": ["t1"]}


def test_a_trigger_the_flow_cannot_take_while_signed_out(client, session, hall_config, outbox, clock):
    flow = Flow(hall_config, "A01", outbox, clock, lambda c, n: "http://qr.test", ADMIN_PIN_HASH)
    poller = TriggerPoller(client, flow.handle, policy=POLICY)
    session.script = [triggers_reply({"id": "t9", "case_no": "C-9"}), reply(200, {})]
    poller.poll_once()
    assert session.sent[1].json()["refused"] == {"t9": "本窗口尚未签到，不能发起评价"}


def test_the_long_poll_asks_for_the_wait_and_allows_for_it(client, session):
    poller = TriggerPoller(client, lambda t: None, policy=POLICY)
    session.script = [triggers_reply()]
    poller.poll_once()
    sent = session.sent[0]
    assert sent.url.endswith("/api/v1/triggers?wait=25")
    assert sent.timeout[1] > 25


def test_a_broken_submit_is_reported_as_refused(client, session):
    def boom(trigger):
        raise RuntimeError("bug")

    poller = TriggerPoller(client, boom, policy=POLICY)
    session.script = [triggers_reply({"id": "t1", "case_no": "C-1"}), reply(200, {})]
    poller.poll_once()
    assert session.sent[1].json()["refused"] == {"t1": "评价器内部错误，未能发起评价"}


def test_trigger_refused_is_the_flows_exception():
    assert issubclass(TriggerRefused, Exception)


# ---------------------------------------------------------------- the threads


class ServingSession(FakeSession):
    """Acknowledges every pushed record and answers everything else with ok; thread-safe enough."""

    def request(self, method, url, data=None, headers=None, timeout=None):
        self.sent.append((method, url))
        if url.endswith("/api/v1/records"):
            return acks(json.loads(data)["records"])
        if "/api/v1/triggers" in url and method == "GET":
            time.sleep(0.05)
            return reply(200, {"ok": True, "triggers": []})
        return reply(304 if url.endswith("/config") else 200, {"ok": True})


def test_start_sync_wakes_early_when_a_record_is_committed(tmp_path, outbox, identity):
    from kiosk.settings import KioskSettings

    settings = KioskSettings(
        window="A01", trigger_token="x" * 16, admin_pin_hash=ADMIN_PIN_HASH, data_dir=tmp_path / "kdata"
    )
    policy = SyncPolicy(idle_s=60, config_every_s=600, status_every_s=600, trigger_wait_s=1)
    handle = start_sync(settings, identity, outbox, lambda t: None, policy=policy, session_factory=ServingSession)
    try:
        time.sleep(0.2)  # the worker has looked at the empty outbox and now idles for 60 s
        from datetime import UTC, datetime

        outbox.append("sign_in", datetime.now(UTC), window="A01", clerk_no="1001")
        handle.wake()
        deadline = time.monotonic() + 30  # an upper limit only: the idle wait it must cut short is 60 s
        while outbox.depth() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert outbox.depth() == 0
        assert outbox.state("sync_status") == "已同步"
    finally:
        handle.stop()
    assert not handle.worker._thread.is_alive()


def test_start_sync_does_nothing_when_not_enrolled(tmp_path, outbox):
    from kiosk.settings import KioskSettings

    settings = KioskSettings(window="A01", trigger_token="x" * 16, admin_pin_hash=ADMIN_PIN_HASH)
    local = DeviceIdentity("local-1", SECRET)
    assert start_sync(settings, local, outbox, lambda t: None) is None
    assert start_sync(settings, DeviceIdentity("d", SECRET, enrolled=True), outbox, lambda t: None) is None


def test_the_terminal_prefers_the_last_good_copy_and_falls_back_to_local_files(tmp_path, hall_config, clock):
    from haochaping.config import load_hall_config
    from kiosk.config_cache import hall_config_preferring_cache, write_config_cache
    from kiosk.settings import KioskSettings

    root = Path(__file__).resolve().parents[2]
    settings = KioskSettings(
        window="A01",
        trigger_token="x" * 16,
        admin_pin_hash=ADMIN_PIN_HASH,
        config_dir=root / "config",
        data_dir=tmp_path / "kdata",
    )
    assert hall_config_preferring_cache(settings) == load_hall_config(root / "config")
    pulled = hall_config.model_dump(mode="json")
    pulled["rules"]["prompt_timeout_s"] = 90
    write_config_cache(settings.data_dir, "v5", '"v5"', pulled, clock())
    assert hall_config_preferring_cache(settings).rules.prompt_timeout_s == 90
    (settings.data_dir / CACHE_FILE).write_text("{ damaged")
    assert hall_config_preferring_cache(settings).rules.prompt_timeout_s == 60


class RecordingEvent:
    """A threading.Event stand-in that answers at once and keeps the timeouts it was asked to wait."""

    def __init__(self, flag: bool = False):
        self.flag, self.waits = flag, []

    def wait(self, timeout=None) -> bool:
        self.waits.append(timeout)
        return self.flag

    def set(self) -> None:
        self.flag = True

    def clear(self) -> None:
        self.flag = False


def test_a_wake_does_not_cut_a_retry_after_short(worker):
    worker._stop, worker.wake = RecordingEvent(), RecordingEvent(flag=True)
    worker._wait(5.0)  # no Retry-After: a committed record wakes the worker at once
    assert (worker._stop.waits, worker.wake.waits, worker.wake.flag) == ([], [5.0], False)
    worker._stop, worker.wake = RecordingEvent(), RecordingEvent(flag=True)
    worker.hold_s = 0.3
    worker._wait(0.3)  # the server asked for 0.3 s: only stopping may cut that short, a wake may not
    assert (worker._stop.waits, worker.wake.waits, worker.wake.flag) == ([0.3], [], True)
    worker._stop, worker.wake = RecordingEvent(), RecordingEvent(flag=True)
    worker._wait(2.0)  # held first, then the rest of the delay, which the wake ends
    assert (worker._stop.waits, worker.wake.waits) == ([0.3], [pytest.approx(1.7)])


class FullDiskOutbox:
    """The real outbox, except that every write fails as on a full disk."""

    def __init__(self, outbox):
        self._outbox = outbox

    def __getattr__(self, name):
        return getattr(self._outbox, name)

    def mark_acknowledged(self, *args):
        from kiosk.errors import OutboxFull

        raise OutboxFull("存储空间已满")

    set_state = mark_acknowledged


def test_a_full_disk_does_not_stop_the_worker_and_nothing_is_marked(identity, outbox, clock, tmp_path):
    outbox.append("sign_in", clock(), window="A01", clerk_no="1001")
    session = ServingSession()
    client = SyncClient("http://server.test", identity, session, clock, policy=POLICY)
    policy = SyncPolicy(backoff_base_s=0.01, backoff_cap_s=0.02, config_every_s=3600)
    worker = SyncWorker(client, FullDiskOutbox(outbox), data_dir=tmp_path, window="A01", clock=clock, policy=policy)
    worker.start()
    try:
        deadline = time.monotonic() + 30  # an upper limit only: five failures need 0.1 s of backoff
        while worker.failures < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert worker.failures >= 5 and worker._thread.is_alive()
    finally:
        worker.stop()
    assert outbox.depth() == 1  # still pending: it will be sent again when the disk has room


def test_the_trigger_poller_comes_back_within_30_seconds_of_an_outage(client, session):
    poller = TriggerPoller(client, lambda t: None, policy=SyncPolicy(), rand=lambda: 1.0)
    session.script = [requests.ConnectionError("down") for _ in range(12)]
    delays = [poller.poll_once() for _ in range(12)]
    assert delays[:3] == [1, 2, 4] and max(delays) == 30


# ---------------------------------------------------------------- after an outage


def test_the_push_backoff_never_grows_past_a_minute(worker, outbox, session, clock):
    """Six minutes of outage used to leave a queued rating waiting 224.8 s; the ceiling is now 60 s."""
    worker.rand = lambda: 1.0
    outbox.append("sign_in", clock(), window="A01", clerk_no="1001")
    session.script = [requests.ConnectionError("down") for _ in range(12)]
    delays = [worker.push_once() for _ in range(12)]
    assert delays[:4] == [1, 2, 4, 8] and max(delays) == 60.0 == SyncPolicy().backoff_cap_s


def test_a_trigger_poll_that_gets_through_makes_the_waiting_worker_push_at_once(worker, outbox, client, session, clock):
    outbox.append("sign_in", clock(), window="A01", clerk_no="1001")
    session.script = [requests.ConnectionError("down") for _ in range(6)]
    for _ in range(6):
        worker.push_once()
    assert worker.failures == 6 and not worker.wake.is_set()
    poller = TriggerPoller(client, lambda t: None, on_answer=worker.server_answered)
    session.script = [reply(200, {"ok": True, "triggers": []})]
    assert poller.poll_once() == 0.0
    assert worker.wake.is_set() and worker.failures == 0  # the worker's wait ends now, not in up to 60 s
    started = time.monotonic()
    worker._wait(60.0)
    assert time.monotonic() - started < 1.0


def test_a_retry_after_is_still_honoured_when_the_server_answers_elsewhere(worker):
    worker.failures, worker.hold_s = 3, 0.3
    worker.server_answered()
    started = time.monotonic()
    worker._wait(0.3)
    assert time.monotonic() - started >= 0.29


def test_sync_now_forgets_the_backoff(worker):
    worker.failures = 9
    worker.sync_now()
    assert worker.failures == 0 and worker.wake.is_set()


def test_the_long_poll_answer_that_the_case_on_screen_was_rated_by_phone_reaches_the_flow(client, session):
    from kiosk.flow import RatedByPhone

    handed = []
    poller = TriggerPoller(client, handed.append)
    session.script = [reply(200, {"ok": True, "triggers": [], "phone_rated": ["C-7"]})]
    assert poller.poll_once() == 0.0
    assert handed == [RatedByPhone("C-7")]
    session.script = [reply(200, {"ok": True, "triggers": [], "phone_rated": "garbage"})]
    poller.poll_once()
    assert handed == [RatedByPhone("C-7")]  # an answer it cannot read is ignored
