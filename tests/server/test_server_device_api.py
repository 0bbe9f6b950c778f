"""The device API as a terminal uses it: enrolment, signed and idempotent record batches, refusals."""

from __future__ import annotations

import json

from server_helpers import Kiosk, count

from haochaping.signing import MAX_SKEW_S
from sync_server.storage.schema import devices, integrity_flags, nonces, record_conflicts, records


def test_enrolment_gives_a_device_id_and_secret_and_the_code_is_single_use(client, server_clock):
    from sync_server.devices import add_enrolment_code

    code, _ = add_enrolment_code(client.app.state.store, "A01", server_clock())
    first = client.post("/api/v1/enroll", json={"code": code.lower()})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["ok"] is True and body["window"] == "A01"
    assert len(bytes.fromhex(body["secret"])) == 32
    assert "X-HCP-Server-Time" in first.headers
    again = client.post("/api/v1/enroll", json={"code": code})
    assert again.status_code == 410
    assert again.json() == {"ok": False, "error": "登记码已被使用，请管理员重新生成", "status": 410}


def test_enrolment_code_expires(client, server_clock):
    from datetime import timedelta

    from sync_server.devices import add_enrolment_code

    code, expires = add_enrolment_code(client.app.state.store, "A01", server_clock(), timedelta(hours=24))
    server_clock.advance(24 * 3600 + 1)
    answer = client.post("/api/v1/enroll", json={"code": code})
    assert answer.status_code == 410 and "过期" in answer.json()["error"]


def test_unknown_enrolment_code_is_refused(client):
    answer = client.post("/api/v1/enroll", json={"code": "AAAA-BBBB-CCCC"})
    assert answer.status_code == 404 and answer.json()["error"].startswith("登记码无效")


def test_batch_is_stored_once_and_acknowledged_per_record(kiosk, store):
    batch = [kiosk.record("prompt", case_no="C1"), kiosk.record(case_no="C1")]
    first = kiosk.push(batch)
    assert first.status_code == 200, first.text
    assert [r["status"] for r in first.json()["results"]] == ["stored", "stored"]
    assert [r["id"] for r in first.json()["results"]] == [r["id"] for r in batch]
    again = kiosk.push(batch)
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert count(store, records) == 2
    assert count(store, integrity_flags) == 0


def test_same_id_other_content_is_a_conflict_kept_and_flagged(kiosk, store):
    rec = kiosk.record(case_no="C1", level=5)
    kiosk.push([rec])
    forged = dict(rec, level=1, reasons=[213])
    answer = kiosk.push([forged])
    assert answer.json()["results"] == [{"id": rec["id"], "status": "conflict"}]
    assert count(store, records) == 1
    assert count(store, record_conflicts) == 1
    with store.read() as conn:
        flag = conn.execute(integrity_flags.select()).one()
        kept = conn.execute(record_conflicts.select()).one()
    assert flag.kind == "conflict" and flag.record_id == rec["id"]
    assert json.loads(kept.content)["level"] == 1


def test_a_missing_sequence_number_is_flagged_as_a_gap(kiosk, store):
    first, lost, third = kiosk.record(case_no="C1"), kiosk.record(case_no="C2"), kiosk.record(case_no="C3")
    kiosk.push([first])
    answer = kiosk.push([third])
    assert answer.json()["results"][0]["status"] == "stored"
    with store.read() as conn:
        flags = conn.execute(integrity_flags.select()).all()
    assert [(f.kind, f.seq) for f in flags] == [("gap", 3)]
    assert lost["seq"] == 2


def test_an_altered_record_and_a_wrong_link_are_flagged_as_broken_links(kiosk, store):
    first = kiosk.record(case_no="C1", level=1, reasons=[213])
    altered = dict(first, level=5, reasons=[])  # content changed after hashing
    second = kiosk.record(case_no="C2")
    second_bad_link = dict(second, prev_hash="f" * 64)
    from haochaping.chain import record_hash

    second_bad_link["hash"] = record_hash(second_bad_link)
    answer = kiosk.push([altered, second_bad_link])
    assert [r["status"] for r in answer.json()["results"]] == ["stored", "stored"]
    with store.read() as conn:
        kinds = sorted((f.seq, f.kind) for f in conn.execute(integrity_flags.select()))
    assert kinds == [(1, "broken_link"), (2, "broken_link")]
    assert count(store, records) == 2  # flagged, never dropped


def test_forged_signature_is_refused_and_stores_nothing(kiosk, store):
    answer = kiosk.push([kiosk.record()], secret=b"x" * 32)
    assert answer.status_code == 401
    assert answer.json()["ok"] is False and answer.json()["status"] == 401
    assert count(store, records) == 0


def test_replayed_request_is_refused(kiosk, store):
    body = json.dumps({"records": [kiosk.record()]}).encode()
    headers = kiosk.headers("POST", "/api/v1/records", body)
    assert kiosk.client.post("/api/v1/records", content=body, headers=headers).status_code == 200
    replay = kiosk.client.post("/api/v1/records", content=body, headers=headers)
    assert replay.status_code == 401 and "重复" in replay.json()["error"]
    assert count(store, records) == 1


def test_stale_and_future_timestamps_are_refused(kiosk, store, server_clock):
    now = server_clock().timestamp()
    for skewed in (now - MAX_SKEW_S - 5, now + MAX_SKEW_S + 5):
        answer = kiosk.push([kiosk.record()], now_s=skewed)
        assert answer.status_code == 401 and "时间" in answer.json()["error"]
    assert count(store, records) == 0
    assert count(store, nonces) == 0


def test_revoked_device_is_refused(kiosk, store, server_clock):
    from sync_server.devices import revoke

    revoke(store, kiosk.device_id, server_clock())
    answer = kiosk.push([kiosk.record()])
    assert answer.status_code == 401
    assert count(store, records) == 0
    with store.read() as conn:
        assert conn.execute(devices.select()).one().revoked_at is not None


def test_unsigned_request_is_refused(client):
    answer = client.post("/api/v1/records", json={"records": []})
    assert answer.status_code == 401 and answer.json()["error"].startswith("请求未签名")


def test_records_of_another_device_refuse_the_whole_batch(client, server_clock, store):
    mine, other = Kiosk(client, server_clock), Kiosk(client, server_clock, "B03")
    answer = mine.push([mine.record(), other.record()])
    assert answer.status_code == 403
    assert answer.json()["error"] == "记录的设备编号与签名设备不一致，整批拒收"
    assert count(store, records) == 0


def test_malformed_batches_get_a_clear_422(kiosk, store):
    for payload in (b"{not json", {"records": [{"id": "x"}]}, {"records": "many"}, [1, 2]):
        answer = kiosk.post("/api/v1/records", payload)
        assert answer.status_code == 422, payload
        assert answer.json()["ok"] is False and answer.json()["error"].startswith("请求内容不符合要求")
    assert count(store, records) == 0


def test_oversized_batches_get_413(kiosk, store):
    too_many = [kiosk.record() for _ in range(501)]
    answer = kiosk.push(too_many)
    assert answer.status_code == 413 and "500" in answer.json()["error"]
    huge = kiosk.record(detail={"pad": "x" * (1024 * 1024)})
    answer = kiosk.push([huge])
    assert answer.status_code == 413 and answer.json()["status"] == 413
    assert count(store, records) == 0


def test_unparseable_bodies_get_the_error_shape_in_chinese(client):
    answer = client.post("/api/v1/enroll", content=b"[" * 200_000, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json() == {"ok": False, "error": "请求体无法解析", "status": 400}
    unknown = client.get("/api/v1/nothing-here")
    assert unknown.status_code == 404 and unknown.json()["error"] == "没有这个地址"


def test_a_locked_database_answers_503_with_retry_after(kiosk, store, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import sync_server.ingest

    def locked(*_args, **_kwargs):
        raise OperationalError("INSERT …", {}, Exception("database is locked"))

    monkeypatch.setattr(sync_server.ingest, "ingest_batch", locked)  # the device API's way in
    answer = kiosk.push([kiosk.record()])
    assert answer.status_code == 503 and answer.headers["retry-after"] == "2"
    assert answer.json() == {"ok": False, "error": "服务器繁忙，请稍后重试", "status": 503}


def test_records_for_another_window_are_stored_and_flagged(kiosk, store):
    answer = kiosk.push([kiosk.record(case_no="W-1", window="B03")])
    assert answer.json()["results"][0]["status"] == "stored"
    with store.read() as conn:
        flag = conn.execute(integrity_flags.select()).one()
        row = conn.execute(records.select()).one()
    assert flag.kind == "window_mismatch" and "A01" in flag.detail and "B03" in flag.detail
    assert row.flags == "window_mismatch"


def test_a_terminal_cannot_take_the_ids_the_server_keeps_for_phone_and_default_ratings(kiosk, store):
    for reserved in ("qr:C-1", "default:C-1"):
        answer = kiosk.push([kiosk.record(id=reserved, case_no="C-1")])
        assert answer.status_code == 422
    assert count(store, records) == 0


def test_the_batch_answer_is_the_documented_response_exactly(client, kiosk):
    from sync_server.schemas import RecordsResponse

    batch = [kiosk.record("prompt", case_no="C1"), kiosk.record(case_no="C1")]
    answer = kiosk.push(batch)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    body = answer.json()
    documented = RecordsResponse.model_validate(body).model_dump(mode="json", exclude_none=True)
    assert body == documented and list(body) == ["ok", "results", "server_time"]
    assert body["results"] == [{"id": r["id"], "status": "stored"} for r in batch]  # no "error": null


def test_integral_numbers_written_as_floats_are_taken_as_integers(kiosk, store):
    rating = kiosk.record(level=2, reasons=[213], case_no="F-1")  # hashed with integers, as the terminal does
    sent = {**rating, "seq": 1.0, "level": 2.0, "reasons": [213.0], "channel": 4.0}
    answer = kiosk.push([sent])
    assert answer.status_code == 200 and answer.json()["results"][0]["status"] == "stored", answer.text
    with store.read() as conn:
        row = conn.execute(records.select()).one()
        assert conn.execute(integrity_flags.select()).all() == []  # the hash matched: nothing altered
    assert (row.seq, row.level, row.channel) == (1, 2, 4)
    assert rating["level"] == 2 and sent["level"] == 2.0  # the body is read, not rewritten


def test_a_fractional_or_textual_number_is_refused_with_the_field_named(kiosk, store):
    rating = kiosk.record()
    for field, value in (("level", 4.5), ("level", "5"), ("reasons", [213.5]), ("seq", True)):
        answer = kiosk.push([{**rating, field: value}])
        assert answer.status_code == 422, (field, value)
        assert answer.json()["error"].startswith(f"请求内容不符合要求：records.0.{field}"), answer.json()
    assert count(store, records) == 0


def test_broken_record_batches_get_the_same_error_answers(kiosk, store):
    not_json = kiosk.post("/api/v1/records", b'{"records": [')
    assert not_json.status_code == 422
    assert not_json.json() == {"ok": False, "error": "请求内容不符合要求：不是有效的 JSON", "status": 422}
    too_deep = kiosk.post("/api/v1/records", b"[" * 200_000)
    assert too_deep.status_code == 400
    assert too_deep.json() == {"ok": False, "error": "请求体无法解析", "status": 400}
    missing = kiosk.post("/api/v1/records", {"records": [{"id": "x"}]})
    assert missing.json()["error"] == "请求内容不符合要求：records.0.seq：Field required"
    assert count(store, records) == 0


def test_a_validated_record_is_handed_to_ingest_as_its_dump(kiosk):
    from sync_server.schemas import RecordIn

    full = kiosk.record(
        level=1,
        reasons=[113, 115.0],
        comment="等了很久",
        prompted_at=kiosk.clock().isoformat(),
        detail={"tap_ms": 12, "nested": {"a": [1, 2.5, None, True]}},
    )
    sparse = {k: v for k, v in kiosk.record("sign_in").items() if v is not None and v != [] and v != {}}
    for sent in (full, sparse):
        record = RecordIn.model_validate(sent)
        assert record.as_record() == record.model_dump()
        assert list(record.as_record()) == list(RecordIn.model_fields)
