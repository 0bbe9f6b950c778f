"""The upload to the provincial platform against the stand-in receiver over real HTTP on 127.0.0.1: every counting
rating, 差评工单 step and appeal outcome sent once, signed, under the configured field names; failures retried with
a capped backoff; rejections kept with the platform's code and message until resent; replays harmless; the day
reconciled; two sender processes on PostgreSQL never deliver one item twice."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta

import pytest
from sqlalchemy import select
from workflow_helpers import ROOT, FakeClock, actor, china, empty_pg, make_hall

from bench.kit import free_port
from sync_server.storage import leases
from sync_server.storage import upstream as storage
from sync_server.storage.schema import upstream_items, upstream_receipts
from sync_server.upstream.receiver import serve
from sync_server.upstream.sender import collect, reconcile_day, resend, send_due
from sync_server.upstream.settings import UpstreamSettings
from sync_server.workflow.cases import StepForm, take_step
from sync_server.workflow.machine import Step

SECRET = "province-shared-secret"
NOV = china(2026, 11, 23, 10)


@pytest.fixture
def receiver():
    server = serve("127.0.0.1", 0, SECRET)
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def control(receiver, **how) -> None:
    request = urllib.request.Request(f"{receiver.url}/control", data=json.dumps(how).encode(), method="POST")
    urllib.request.urlopen(request, timeout=5).read()


def received(receiver, what: str = "received"):
    return json.loads(urllib.request.urlopen(f"{receiver.url}/{what}", timeout=5).read())


def settings_for(receiver, **extra) -> UpstreamSettings:
    return UpstreamSettings(url=f"{receiver.url}/api/hcp", secret=SECRET, **extra)


def make_month(store, terminals) -> list[str]:
    """Three ratings, a test rating, a 差评 worked to 办结 and another whose appeal was upheld."""
    t = terminals["A01"]
    ids = [t.rate(5, NOV), t.rate(4, NOV + timedelta(minutes=5)), t.rate(5, NOV, detail={"test": True})]
    ids.append(t.rate(2, NOV + timedelta(minutes=10)))  # 差评工单 1
    ids.append(t.rate(1, NOV + timedelta(minutes=20)))  # 差评工单 2
    sc, admin = actor("sc_reviewer"), actor("admin")
    for step, who, form in [
        (Step.VERIFY_TRUE, sc, StepForm("属实", fix_kind="simple")),
        (Step.RECTIFY, sc, StepForm("已整改")),
        (Step.REVISIT, admin, StepForm("群众满意", method="phone", answer="satisfied")),
        (Step.CLOSE, admin, StepForm("")),
    ]:
        take_step(store, 1, step, who, NOV + timedelta(hours=2), form)
    take_step(store, 2, Step.VERIFY_FALSE, sc, NOV + timedelta(hours=3), StepForm("录像显示群众误触"))
    take_step(store, 2, Step.APPEAL, sc, NOV + timedelta(hours=3), StepForm("误操作", category="mistake"))
    take_step(store, 2, Step.UPHOLD, actor("admin"), NOV + timedelta(hours=4), StepForm("录像显示误触"))
    return ids


@pytest.fixture
def month(store, terminals):
    return make_month(store, terminals)


@pytest.fixture
def terminals(store):
    from workflow_helpers import Terminal

    from sync_server.storage.schema import devices

    with store.read() as conn:
        rows = conn.execute(select(devices.c.id, devices.c.window)).all()
    return {w: Terminal(store, d, w) for d, w in rows}


def states(store) -> dict[str, str]:
    with store.read() as conn:
        return dict(conn.execute(select(upstream_items.c.item_key, upstream_items.c.state)).all())


def test_ratings_steps_and_appeal_outcomes_are_sent_once_signed_and_reconciled(store, month, receiver):
    clock = FakeClock(NOV + timedelta(days=1))
    settings = settings_for(receiver)
    assert reconcile_day(store, "2026-11-23").accepted == 0
    assert collect(store, clock(), settings) == 4 + 5 + 1  # 4 counting ratings (no test), 5 steps, 1 appeal
    assert collect(store, clock(), settings) == 0  # each item once
    before = reconcile_day(store, "2026-11-23")
    assert before.expected == 10 and {s for _, s in before.missing} == {"待上报"}
    sent = send_due(store, clock, settings)
    assert (sent.accepted, sent.rejected, sent.failed) == (10, 0, 0)
    kept = {i["id"]: i for i in received(receiver, "items")}
    assert f"rating:{month[0]}" in kept and f"rating:{month[2]}" not in kept  # the test rating is never sent
    rating = kept[f"rating:{month[3]}"]
    assert (rating["alternate"], rating["satisfaction"], rating["appraisalContent"]) == (2, 4, [213])
    assert rating["assessTime"] == "20261123T100930" and rating["areaCode"] == "450102" and rating["pf"] == 4
    steps = sorted(i["handleStep"] for i in kept.values() if i["dataType"] == "step")
    assert steps == ["办结", "回访", "整改", "核实", "核实"]
    (appeal,) = [i for i in kept.values() if i["dataType"] == "appeal"]  # the 复核 that confirmed the report
    assert (appeal["appealResult"], appeal["appealType"], appeal["handleOpinion"]) == (
        "申诉成立",
        "误操作",
        "录像显示误触",
    )
    after = reconcile_day(store, "2026-11-23")
    assert (after.expected, after.accepted, after.missing, after.unexpected) == (10, 10, [], [])
    with store.read() as conn:
        assert {r.outcome for r in conn.execute(select(upstream_receipts))} == {"accepted"}


def test_field_names_follow_the_province_configuration(store, month, receiver):
    clock = FakeClock(NOV + timedelta(days=1))
    settings = settings_for(receiver, fields={"case_no": "bjbh", "comment": "", "id": "uniqueId"})
    from sync_server.upstream import receiver as stand_in

    stand_in_id = stand_in.Platform  # the stand-in reads its ids from the default field name: run one of its own
    receiver.RequestHandlerClass = stand_in.handler_for(stand_in_id(SECRET, id_field="uniqueId"))
    collect(store, clock(), settings)
    assert send_due(store, clock, settings).accepted == 10
    item = received(receiver, "items")[0]
    assert "bjbh" in item and "projectNo" not in item and "writingEvaluation" not in item and "uniqueId" in item


def test_unknown_or_clashing_field_names_are_refused():
    with pytest.raises(ValueError, match="未知的字段 nope"):
        UpstreamSettings(fields={"nope": "x"})
    with pytest.raises(ValueError, match="不能重复"):
        UpstreamSettings(fields={"case_no": "pf"})


@pytest.mark.parametrize("url", ["http://127.0.0.1:$PORT/api/hcp", "127.0.0.1:8600/api", "ftp://x/y", "http:///api"])
def test_a_platform_address_that_cannot_be_reached_is_refused_when_loaded(url):
    with pytest.raises(ValueError, match="应为 http:// 或 https://"):
        UpstreamSettings(url=url)
    assert UpstreamSettings(url="https://hcp.example.gov.cn:8443/api").enabled


def test_a_failing_platform_is_retried_with_a_doubling_capped_backoff(store, month, receiver):
    clock = FakeClock(NOV + timedelta(days=1))
    settings = settings_for(receiver, backoff_s=30, backoff_max_s=100)
    collect(store, clock(), settings)
    control(receiver, mode="fail")
    first = send_due(store, clock, settings)
    assert (first.failed, first.accepted) == (10, 0) and "503" in first.errors[0]
    clock.advance(29)
    assert send_due(store, clock, settings).batches == 0  # not due yet
    clock.advance(1)
    assert send_due(store, clock, settings).failed == 10  # second failure: wait 60 s
    clock.advance(59)
    assert send_due(store, clock, settings).batches == 0
    clock.advance(1)
    send_due(store, clock, settings)  # third: 120 s, capped at 100
    assert [leases.backoff_s(n, 30, 100) for n in (1, 2, 3, 4)] == [30, 60, 100, 100]
    control(receiver, mode="ok")
    clock.advance(99)
    assert send_due(store, clock, settings).batches == 0
    clock.advance(1)
    assert send_due(store, clock, settings).accepted == 10
    with store.read() as conn:
        attempts = {r.attempts for r in conn.execute(select(upstream_items))}
        outcomes = [r.outcome for r in conn.execute(select(upstream_receipts).order_by(upstream_receipts.c.id))]
    assert attempts == {4} and outcomes == ["failed"] * 30 + ["accepted"] * 10


def test_an_answer_that_is_not_json_is_retried_and_the_replay_is_harmless(store, month, receiver):
    clock = FakeClock(NOV + timedelta(days=1))
    settings = settings_for(receiver)
    collect(store, clock(), settings)
    control(receiver, mode="garbage")  # the platform kept the items but its gateway answered HTML
    sent = send_due(store, clock, settings)
    assert sent.failed == 10 and "省平台应答不是 JSON" in sent.errors[0]
    with store.read() as conn:
        assert {r.message for r in conn.execute(select(upstream_items))} == {sent.errors[0]}
    control(receiver, mode="duplicate")  # and now lists every answer twice
    clock.advance(30)
    assert send_due(store, clock, settings).accepted == 10
    summary = received(receiver)
    assert (summary["kept"], summary["deliveries"]) == (10, 20)  # sent twice, kept once
    assert set(states(store).values()) == {"accepted"}


def test_a_slow_or_absent_platform_fails_the_attempt_and_loses_nothing(store, month, receiver):
    clock = FakeClock(NOV + timedelta(days=1))
    collect(store, clock(), settings_for(receiver))
    control(receiver, mode="delay", delay_s=1.0)
    slow = send_due(store, clock, settings_for(receiver, timeout_s=0.2))
    assert slow.failed == 10 and "无法连接" in slow.errors[0]
    absent = UpstreamSettings(url="http://127.0.0.1:9/none", secret=SECRET)
    clock.advance(30)
    assert send_due(store, clock, absent).failed == 10
    assert len(states(store)) == 10 and set(states(store).values()) == {"pending"}


def test_a_rejected_item_keeps_the_platforms_reason_until_resent(store, month, receiver):
    clock = FakeClock(NOV + timedelta(days=1))
    settings = settings_for(receiver)
    collect(store, clock(), settings)
    control(receiver, reject_kinds=["appeal"], reject_code="E207", reject_message="申诉结果缺少复核意见")
    sent = send_due(store, clock, settings)
    assert (sent.accepted, sent.rejected) == (9, 1)
    with store.read() as conn:
        (bad,) = storage.rejected(conn)
        assert (bad.code, bad.message, bad.item_key.startswith("appeal:")) == ("E207", "申诉结果缺少复核意见", True)
    clock.advance(3600)
    assert send_due(store, clock, settings).batches == 0  # a rejection is not retried by itself
    assert reconcile_day(store, "2026-11-23").missing == [(bad.item_key, "省平台退回")]
    control(receiver, mode="ok")
    assert resend(store, bad.id, clock()) and not resend(store, bad.id, clock())
    assert send_due(store, clock, settings).accepted == 1
    with store.read() as conn:
        assert [r.outcome for r in storage.receipts_of(conn, bad.id)] == ["rejected", "accepted"]


def test_a_wrong_secret_is_refused_by_the_platform_and_retried(store, month, receiver):
    clock = FakeClock(NOV + timedelta(days=1))
    collect(store, clock(), settings_for(receiver))
    sent = send_due(store, clock, UpstreamSettings(url=receiver.url, secret="wrong"))
    assert sent.failed == 10 and "401" in sent.errors[0] and received(receiver)["kept"] == 0


def test_hcp_server_upstream_commands(store, db_url, month, receiver, tmp_path, capsys):
    from haochaping.cli import main

    path = tmp_path / "server.toml"
    path.write_text(f'[upstream]\nurl = "{receiver.url}/api"\nsecret = "{SECRET}"\n', encoding="utf-8")
    assert main(["server", "upstream", "reconcile", "--day", "2026-11-23", "--db", db_url]) == 1
    assert "应上报 10，省平台已接收 0，差异 10" in capsys.readouterr().out
    assert main(["server", "upstream", "send", "--settings", str(path), "--db", db_url]) == 0
    assert "新入队 10；省平台接收 10" in capsys.readouterr().out
    assert main(["server", "upstream", "reconcile", "--day", "2026-11-23", "--db", db_url]) == 0
    assert main(["server", "upstream", "reconcile", "--day", "23/11/2026", "--db", db_url]) == 2
    assert main(["server", "upstream", "send", "--db", db_url]) == 2
    assert "未配置省平台地址" in capsys.readouterr().err


# ---------------------------------------------------------------- two sender processes on PostgreSQL


def test_two_sender_processes_on_postgresql_never_deliver_an_item_twice(pg_url, tmp_path):
    from sync_server.db import Store, migrate

    empty_pg(pg_url)
    pg = Store.from_url(pg_url)
    migrate(pg)
    port = free_port()
    platform = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "haochaping.cli",
            "server",
            "upstream",
            "receiver",
            "--port",
            str(port),
            "--secret",
            SECRET,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "模拟省平台" in platform.stdout.readline()
        items = [
            ({"id": f"rating:r{i}", "kind": "rating", "case_no": f"C{i}"}, f"r{i}", "2026-11-23") for i in range(3000)
        ]
        with pg.write() as conn:
            storage.enqueue(pg, conn, items, "2026-11-23T00:00:00.000+00:00")
        path = tmp_path / "server.toml"
        path.write_text(
            f'[upstream]\nurl = "http://127.0.0.1:{port}/api"\nsecret = "{SECRET}"\nbatch_size = 25\n', encoding="utf-8"
        )
        command = [
            sys.executable,
            "-m",
            "haochaping.cli",
            "server",
            "upstream",
            "send",
            "--settings",
            str(path),
            "--db",
            pg_url,
        ]
        senders = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [s.communicate(timeout=120)[0] for s in senders]
        assert all(s.returncode == 0 for s in senders), outputs
        summary = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/received", timeout=5).read())
        assert (summary["kept"], summary["deliveries"], summary["repeated"]) == (3000, 3000, [])
        shares = [int(o.split("省平台接收 ")[1].split("，")[0]) for o in outputs]
        assert sum(shares) == 3000 and min(shares) > 0, shares  # both processes sent, neither sent another's item
        assert set(states(pg).values()) == {"accepted"}
    finally:
        platform.terminate()
        platform.wait(timeout=10)
        pg.dispose()


def test_the_receiver_process_starts_and_answers(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sync_server.upstream.receiver", "--port", str(port), "--secret", SECRET],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "模拟省平台" in process.stdout.readline()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                summary = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/received", timeout=2).read())
                break
            except OSError:
                time.sleep(0.1)
        assert summary["kept"] == 0 and summary["mode"] == "ok"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_metrics_count_the_items_by_state(store, month, receiver):
    from fastapi.testclient import TestClient

    from sync_server.app import create_app

    clock = FakeClock(NOV + timedelta(days=1))
    settings = settings_for(receiver)
    collect(store, clock(), settings)
    control(receiver, reject_kinds=["appeal"])
    send_due(store, clock, settings)
    with TestClient(create_app(store, clock=clock)) as client:
        text = client.get("/metrics").text
    assert 'hcp_upstream_items{state="accepted"} 9.0' in text and 'hcp_upstream_items{state="rejected"} 1.0' in text
    assert 'hcp_upstream_items{state="pending"} 0.0' in text


def test_hcp_bench_upstream_drains_a_backlog_to_the_receiver_process():
    done = subprocess.run(
        [sys.executable, "-m", "haochaping.cli", "bench", "upstream", "--items", "2000", "--batch", "200"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.strip().splitlines())
    assert set(lines) == {"upstream.drain_2k_s", "upstream.drain_items_per_s"}
    assert lines["upstream.drain_2k_s"].endswith(" s") and lines["upstream.drain_items_per_s"].endswith(" items/s")


def test_on_postgresql_the_month_is_sent_once_and_reconciled(pg_url, receiver):
    from sync_server.db import Store, migrate

    empty_pg(pg_url)
    pg = Store.from_url(pg_url)
    try:
        migrate(pg)
        make_month(pg, make_hall(pg, china(2026, 9, 1)))
        clock = FakeClock(NOV + timedelta(days=1))
        settings = settings_for(receiver)
        assert collect(pg, clock(), settings) == 10 and collect(pg, clock(), settings) == 0
        control(receiver, reject_kinds=["appeal"], reject_code="E207", reject_message="申诉结果缺少复核意见")
        assert (send_due(pg, clock, settings).accepted, reconcile_day(pg, "2026-11-23").accepted) == (9, 9)
        with pg.read() as conn:
            (bad,) = storage.rejected(conn)
        control(receiver, mode="ok")
        assert resend(pg, bad.id, clock()) and send_due(pg, clock, settings).accepted == 1
        after = reconcile_day(pg, "2026-11-23")
        assert (after.expected, after.accepted, after.missing) == (10, 10, [])
        assert received(receiver)["kept"] == 10
    finally:
        pg.dispose()
