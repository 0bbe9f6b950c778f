"""Contract: what the kiosk's client sends is what the server's schemas accept, and what they answer the
client understands. Payloads are captured from the real client (fake session) and fed to the server's models."""

from __future__ import annotations

import pytest
from sync_fakes import FakeSession, reply

from kiosk.identity import DeviceIdentity
from kiosk.sync import SyncClient
from kiosk.syncworker import plan_acks
from sync_server import schemas


@pytest.fixture
def client(clock):
    identity = DeviceIdentity("dev-test", bytes(32), enrolled=True)
    return SyncClient("http://server.test", identity, FakeSession(), clock)


def test_every_kind_of_outbox_record_is_accepted_by_the_server_schema(client, outbox, clock):
    outbox.append("sign_in", clock(), window="A01", clerk_no="1001")
    outbox.append("prompt", clock(), window="A01", clerk_no="1001", case_no="C-1", matter_code="M1", channel=4)
    outbox.append(
        "rating",
        clock(),
        window="A01",
        clerk_no="1001",
        case_no="C-1",
        matter_code="M1",
        level=1,
        reasons=[113, 115],
        reasons_version="national-2019-v1",
        comment="等了很久" * 30,
        channel=4,
        prompted_at="2026-11-27T09:00:00.000+00:00",
        detail={"tap_ms": 12},
    )
    outbox.append("timeout", clock(), window="A01", case_no="C-2")
    records = outbox.pending(10)
    client.session.script = [
        reply(200, {"ok": True, "results": [{"id": r["id"], "status": "stored"} for r in records]})
    ]
    client.push(records)
    batch = schemas.RecordBatch.model_validate_json(client.session.sent[0].body)
    assert [r.id for r in batch.records] == [r["id"] for r in records]
    response = schemas.RecordsResponse.model_validate(
        {"ok": True, "results": [{"id": r["id"], "status": "stored"} for r in records], "server_time": 1.0}
    )
    assert plan_acks(records, response.model_dump(mode="json")) == [(r["id"], "stored") for r in records]


def test_status_and_trigger_ack_payloads_are_accepted(client):
    client.session.script = [reply(200, {"ok": True}), reply(200, {"ok": True})]
    client.report_status(outbox_depth=3, config_version="v1", clock_offset_s=-0.25, last_sync_at=None)
    client.ack_triggers(["t1", "t2"], {"t2": "上一位群众正在评价，请稍后"})
    schemas.StatusRequest.model_validate_json(client.session.sent[0].body)
    ack = schemas.TriggerAck.model_validate_json(client.session.sent[1].body)
    assert ack.refused == {"t2": "上一位群众正在评价，请稍后"}


def test_the_servers_trigger_answer_is_understood(client):
    body = schemas.TriggersResponse.model_validate(
        {
            "ok": True,
            "triggers": [
                {"id": "t1", "case_no": "C-1", "matter_code": None, "created_at": "2026-11-27T09:00:00.000+00:00"}
            ],
            "server_time": 1.0,
        }
    ).model_dump(mode="json")
    client.session.script = [reply(200, body)]
    assert [t["case_no"] for t in client.poll_triggers(0)] == ["C-1"]


def test_only_the_sync_module_imports_requests():
    import ast
    from pathlib import Path

    kiosk_dir = Path(__file__).resolve().parents[2] / "kiosk"
    importers = set()
    for path in kiosk_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "requests" or n.startswith("requests.") for n in names):
                importers.add(path.relative_to(kiosk_dir).as_posix())
    assert importers == {"sync.py"}
