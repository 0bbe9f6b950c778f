"""The sync client and worker against a scripted session and a fake clock: no network, no sleeping."""

from __future__ import annotations

import random
from datetime import timedelta
from email.utils import format_datetime

import pytest
import requests
from sync_fakes import FakeSession, acks, reply

from haochaping.signing import HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, signature_matches
from kiosk.errors import ServerRefused, ServerUnavailable
from kiosk.identity import DeviceIdentity
from kiosk.sync import SyncClient, SyncPolicy, backoff_delay, parse_retry_after
from kiosk.syncworker import SyncWorker, plan_acks, plan_refusal

SECRET = bytes(range(32))
POLICY = SyncPolicy(batch_size=3, backoff_base_s=1.0, backoff_cap_s=300.0)


@pytest.fixture
def identity():
    return DeviceIdentity("dev-test", SECRET, enrolled=True, server_url="http://server.test", window="A01")


@pytest.fixture
def session():
    return FakeSession()


@pytest.fixture
def client(identity, session, clock, outbox):
    return SyncClient(
        "http://server.test",
        identity,
        session,
        clock,
        policy=POLICY,
        on_offset=lambda v: outbox.set_state("clock_offset_s", v),
    )


@pytest.fixture
def worker(client, outbox, clock, tmp_path):
    return SyncWorker(
        client, outbox, data_dir=tmp_path / "data", window="A01", clock=clock, policy=POLICY, rand=lambda: 0.5
    )


def add_ratings(outbox, clock, n):
    return [outbox.append("rating", clock(), window="A01", case_no=f"C{i:04d}", level=5, channel=4) for i in range(n)]


def pending_ids(outbox):
    return [r["id"] for r in outbox.pending(1000)]


# ---------------------------------------------------------------- backoff


@pytest.mark.parametrize("failures", [1, 2, 3, 5, 8, 9, 12, 40, 1000])
def test_backoff_stays_within_full_jitter_bounds(failures):
    ceiling = min(300.0, 1.0 * 2 ** (failures - 1))
    rng = random.Random(failures)
    samples = [backoff_delay(failures, POLICY, rng.random) for _ in range(500)]
    assert all(0.0 <= s <= ceiling for s in samples)
    assert max(samples) > 0.9 * ceiling and min(samples) < 0.1 * ceiling  # jittered across the whole range
    assert backoff_delay(failures, POLICY, lambda: 0.0) == 0.0


def test_backoff_is_zero_before_any_failure():
    assert backoff_delay(0, POLICY, lambda: 0.99) == 0.0


def test_backoff_ceiling_doubles_then_caps():
    top = [backoff_delay(n, POLICY, lambda: 1.0) for n in range(1, 12)]
    assert top == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


# ---------------------------------------------------------------- Retry-After


def test_parse_retry_after_seconds_and_http_date(clock):
    now = clock()
    assert parse_retry_after("120", now, 3600) == 120
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now, 3600) == 90
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now, 3600) == 0
    assert parse_retry_after("999999", now, 3600) == 3600
    assert parse_retry_after("soon", now, 3600) is None
    assert parse_retry_after(None, now, 3600) is None


@pytest.mark.parametrize("status", [429, 503])
def test_worker_waits_as_long_as_retry_after_says(worker, session, outbox, clock, status):
    add_ratings(outbox, clock, 2)
    session.script = [reply(status, {"ok": False, "error": "忙", "status": status}, headers={"Retry-After": "120"})]
    delay = worker.push_once()
    assert delay == 120  # jitter alone would have been 0.5 s
    assert worker.hold_s == 120  # a new record must not wake it earlier
    assert outbox.depth() == 2
    assert outbox.state("sync_status") == "连接失败，120 秒后重试（待同步 2 条）"


def test_retry_after_as_http_date(worker, session, outbox, clock):
    add_ratings(outbox, clock, 1)
    when = format_datetime(clock() + timedelta(seconds=45), usegmt=True)
    session.script = [reply(503, {}, headers={"Retry-After": when})]
    assert worker.push_once() == pytest.approx(45, abs=1)


# ---------------------------------------------------------------- explicit acks only


def test_plan_acks_takes_only_explicit_results_for_sent_records():
    sent = [{"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": "d"}]
    response = {
        "ok": True,
        "results": [
            {"id": "a", "status": "stored"},
            {"id": "b", "status": "duplicate"},
            {"id": "c", "status": "conflict"},
            {"id": "d", "status": "rejected"},  # not an acknowledgement
            {"id": "zz", "status": "stored"},  # never sent
            {"id": "a", "status": "conflict"},  # repeated: the first answer counts
            "garbage",
        ],
    }
    assert plan_acks(sent, response) == [("a", "stored"), ("b", "duplicate"), ("c", "conflict")]


@pytest.mark.parametrize("response", [{}, {"ok": True}, {"results": None}, {"results": "x"}, [], None])
def test_plan_acks_of_a_response_without_results_is_empty(response):
    assert plan_acks([{"id": "a"}], response) == []


def test_records_missing_from_the_response_stay_pending(worker, session, outbox, clock):
    records = add_ratings(outbox, clock, 3)
    session.script = [acks(records[:1]), acks(records[1:])]
    assert worker.push_once() == 0.0  # progress: go on at once
    assert pending_ids(outbox) == [r["id"] for r in records[1:]]
    assert outbox.state("sync_status") == "待同步 2 条"
    worker.push_once()
    assert outbox.depth() == 0
    assert session.sent[1].json()["records"] == records[1:]  # exactly the outbox rows, resent
    assert outbox.state("sync_status") == "已同步"
    assert outbox.state("last_sync_at") == "2026-11-27T09:00:00+00:00"


def test_duplicate_and_conflict_are_acknowledgements(worker, session, outbox, clock):
    records = add_ratings(outbox, clock, 3)
    body = {"ok": True, "results": [{"id": records[0]["id"], "status": "duplicate"}]}
    body["results"].append({"id": records[1]["id"], "status": "conflict"})
    session.script = [reply(200, body)]
    worker.push_once()
    assert pending_ids(outbox) == [records[2]["id"]]
    result = dict(outbox.db.execute("SELECT record_id, result FROM acks").fetchall())
    assert result == {records[0]["id"]: "duplicate", records[1]["id"]: "conflict"}


def test_a_response_acknowledging_nothing_backs_off(worker, session, outbox, clock):
    add_ratings(outbox, clock, 2)
    session.script = [reply(200, {"ok": True, "results": []})]
    assert worker.push_once() == 0.5
    assert worker.failures == 1 and outbox.depth() == 2


def test_batches_are_at_most_batch_size_and_oldest_first(worker, session, outbox, clock):
    records = add_ratings(outbox, clock, 5)
    session.script = [lambda sent: acks(sent.json()["records"]) for _ in range(2)]
    worker.push_once()
    worker.push_once()
    assert [len(s.json()["records"]) for s in session.sent] == [3, 2]
    assert [r["id"] for s in session.sent for r in s.json()["records"]] == [r["id"] for r in records]


def test_413_halves_the_batch(worker, session, outbox, clock):
    add_ratings(outbox, clock, 3)
    session.script = [reply(413, {"ok": False, "error": "批次过大", "status": 413})]
    session.script.append(lambda sent: acks(sent.json()["records"]))
    assert worker.push_once() == 0.0
    worker.push_once()
    assert len(session.sent[1].json()["records"]) == 1
    assert outbox.depth() == 2


# ---------------------------------------------------------------- retryable failures


@pytest.mark.parametrize(
    "answer",
    [
        reply(200, raw=b'{"ok": true, "results": [{"id": "'),  # truncated JSON
        reply(200, raw=b"<html>proxy error</html>"),
        reply(200, raw=b'["not", "an", "object"]'),
        reply(500, raw=b"Internal Server Error"),
        reply(502, {}),
        requests.exceptions.ChunkedEncodingError("IncompleteRead(10 bytes read, 90 more expected)"),
        requests.ConnectionError("refused"),
        requests.ReadTimeout("read timed out"),
        requests.ConnectTimeout("connect timed out"),
    ],
    ids=["truncated", "html", "json-list", "500", "502", "incomplete", "conn-refused", "read-timeout", "conn-timeout"],
)
def test_unusable_answers_are_retried_with_nothing_marked(worker, session, outbox, clock, answer):
    records = add_ratings(outbox, clock, 2)
    session.script = [answer, acks(records)]
    first = worker.push_once()
    assert 0 < first <= POLICY.backoff_base_s
    assert outbox.depth() == 2 and worker.failures == 1
    assert outbox.state("sync_status").startswith("连接失败")
    worker.push_once()  # the retry sends the same records again and they are acknowledged
    assert session.sent[1].json()["records"] == records
    assert outbox.depth() == 0 and worker.failures == 0


def test_consecutive_failures_grow_the_backoff(worker, session, outbox, clock):
    add_ratings(outbox, clock, 1)
    session.script = [requests.ConnectionError("down") for _ in range(6)]
    delays = [worker.push_once() for _ in range(6)]
    assert delays == [0.5, 1, 2, 4, 8, 16]
    assert outbox.state("sync_status") == "连接失败，16 秒后重试（待同步 1 条）"


def test_a_client_error_is_reported_in_chinese_and_retried(worker, session, outbox, clock):
    add_ratings(outbox, clock, 1)
    session.script = [reply(403, {"ok": False, "error": "记录的设备与签名设备不符", "status": 403})]
    assert worker.push_once() == 0.5
    assert outbox.depth() == 1
    assert "记录的设备与签名设备不符" in outbox.state("sync_status")


def test_the_client_raises_typed_errors(client, session):
    session.script = [reply(400, {"ok": False, "error": "格式错误", "status": 400}), reply(503, {})]
    with pytest.raises(ServerRefused, match="格式错误") as refused:
        client.push([])
    assert refused.value.status == 400
    with pytest.raises(ServerUnavailable):
        client.push([])


# ---------------------------------------------------------------- signing and the clock


def test_every_request_is_signed_over_method_path_query_and_body(client, session):
    session.script = [reply(200, {"ok": True, "results": []}), reply(200, {"ok": True, "triggers": []})]
    client.push([])
    client.poll_triggers(5)
    for sent, path in zip(session.sent, ["/api/v1/records", "/api/v1/triggers?wait=5"], strict=True):
        assert sent.url == "http://server.test" + path
        h = sent.headers
        assert h["X-HCP-Device"] == "dev-test"
        assert signature_matches(
            SECRET, h[HEADER_SIGNATURE], sent.method, path, h[HEADER_TIMESTAMP], h[HEADER_NONCE], sent.body or b""
        )
    assert session.sent[0].headers[HEADER_NONCE] != session.sent[1].headers[HEADER_NONCE]


def test_the_clock_offset_follows_the_server_and_is_kept(client, session, outbox, clock):
    local = clock().timestamp()
    session.script = [reply(200, {"ok": True, "results": []}, server_time=local + 400.0)] * 2
    client.push([])
    assert client.offset_s == pytest.approx(400.0)
    assert outbox.state("clock_offset_s") == pytest.approx(400.0)
    client.push([])
    assert int(session.sent[1].headers[HEADER_TIMESTAMP]) == int(local + 400)


def test_a_tiny_first_offset_is_kept_so_the_maintenance_screen_knows_the_clock_is_right(client, session, outbox, clock):
    local = clock().timestamp()
    session.script = [reply(200, {"ok": True, "results": []}, server_time=local + 0.2)]
    assert outbox.state("clock_offset_s") is None
    client.push([])
    assert outbox.state("clock_offset_s") == pytest.approx(0.2)


def test_a_401_after_a_clock_correction_is_retried_once_with_the_new_offset(client, session, clock):
    local = clock().timestamp()
    refused = {"ok": False, "error": "请求时间超出允许范围", "status": 401}
    session.script = [
        reply(401, refused, server_time=local - 900.0),
        reply(200, {"ok": True, "results": []}, server_time=local - 900.0),
    ]
    client.push([])
    assert len(session.sent) == 2
    assert int(session.sent[0].headers[HEADER_TIMESTAMP]) == int(local)
    assert int(session.sent[1].headers[HEADER_TIMESTAMP]) == int(local - 900)


def test_a_401_without_a_clock_correction_is_not_retried(client, session):
    session.script = [reply(401, {"ok": False, "error": "设备已吊销", "status": 401})]
    with pytest.raises(ServerRefused, match="设备已吊销"):
        client.push([])
    assert len(session.sent) == 1


def test_a_second_401_is_not_retried_again(client, session, clock):
    local = clock().timestamp()
    session.script = [reply(401, {}, server_time=local + 1000), reply(401, {}, server_time=local + 2000)]
    with pytest.raises(ServerRefused):
        client.push([])
    assert len(session.sent) == 2


# ---------------------------------------------------------------- a contact record an older server refuses


def add_kinds(outbox, clock, kinds):
    """Records of these kinds in this order; a contact carries a number, as the kiosk writes it."""
    made = []
    for i, kind in enumerate(kinds):
        detail = {"mobile": "13800138000", "rating": made[-1]["id"] if made else "r"} if kind == "contact" else {}
        made.append(outbox.append(kind, clock(), window="A01", case_no=f"C{i:04d}", level=None, detail=detail))
    return made


def older_server(sent):
    """A server from before the contact record: a batch holding one is refused whole, as pydantic's Literal does."""
    records = sent.json()["records"]
    if any(r["kind"] == "contact" for r in records):
        i = next(i for i, r in enumerate(records) if r["kind"] == "contact")
        error = f"请求内容不符合要求：records.{i}.kind：Input should be …"
        return reply(422, {"ok": False, "error": error, "status": 422})
    return acks(records)


def test_a_contact_refused_by_an_older_server_is_set_aside_and_the_records_after_it_go(
    worker, session, outbox, clock, caplog
):
    records = add_kinds(outbox, clock, ["prompt", "rating", "contact", "sign_out", "sign_in", "prompt"])
    session.script = [older_server] * 10
    delays = [worker.push_once() for _ in range(5)]
    sent = [[r["kind"] for r in s.json()["records"]] for s in session.sent]
    assert sent == [
        ["prompt", "rating", "contact"],  # refused whole
        ["prompt", "rating"],  # the records before the contact on their own: stored
        ["contact", "sign_out", "sign_in"],  # refused again
        ["contact"],  # alone: refused, so it is the contact → set aside
        ["sign_out", "sign_in", "prompt"],  # and everything after it goes on
    ]
    assert delays == [0.0] * 4 + [POLICY.idle_s] and worker.failures == 0  # no backoff: the server just says no
    assert outbox.depth() == 0 and outbox.state("sync_status") == "已同步"
    result = dict(outbox.db.execute("SELECT record_id, result FROM acks").fetchall())
    assert result[records[2]["id"]] == "refused"
    assert {result[r["id"]] for r in records if r["kind"] != "contact"} == {"stored"}
    assert [r["kind"] for r in outbox.records(kind="contact")] == ["contact"]  # kept in the outbox, never sent again
    assert "13800138000" not in caplog.text


def test_a_refused_batch_without_a_contact_is_retried_as_before(worker, session, outbox, clock):
    add_kinds(outbox, clock, ["prompt", "rating"])
    session.script = [reply(422, {"ok": False, "error": "请求内容不符合要求", "status": 422})]
    assert worker.push_once() == 0.5 and worker.failures == 1 and outbox.depth() == 2


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_of_the_device_never_sets_a_contact_aside(worker, session, outbox, clock, status):
    add_kinds(outbox, clock, ["contact"])
    session.script = [reply(status, {"ok": False, "error": "设备已停用", "status": status})]
    worker.push_once()
    assert outbox.depth() == 1 and worker.failures == 1


def test_a_contact_refused_by_its_own_result_is_set_aside_and_a_refused_rating_is_not():
    sent = [{"id": "r", "kind": "rating"}, {"id": "c", "kind": "contact"}, {"id": "p", "kind": "prompt"}]
    response = {
        "results": [
            {"id": "r", "status": "refused"},
            {"id": "c", "status": "refused"},
            {"id": "p", "status": "stored"},
        ]
    }
    assert plan_acks(sent, response) == [("c", "refused"), ("p", "stored")]


def test_plan_refusal_narrows_to_the_contact():
    def kinds(*names):
        return [{"kind": k} for k in names]

    assert plan_refusal(kinds("prompt", "rating", "contact", "sign_out")) == 2
    assert plan_refusal(kinds("contact", "sign_out")) == 1
    assert plan_refusal(kinds("contact")) == 0
    assert plan_refusal(kinds("prompt", "rating")) is None
    assert plan_refusal([]) is None
