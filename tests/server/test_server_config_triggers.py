"""Configuration distribution (versions, ETag, 304), case-system triggers by long-poll, device status."""

from __future__ import annotations

import shutil

from server_helpers import CONFIG_DIR, count

from haochaping.config import HallConfig
from sync_server.configs import import_config
from sync_server.storage.schema import config_versions, devices, triggers
from sync_server.triggers import add_case_system


def test_config_import_makes_a_new_version_only_when_content_changes(store, server_clock, tmp_path):
    first, changed = import_config(store, CONFIG_DIR, "rules/default.toml", server_clock())
    assert changed
    same, changed = import_config(store, CONFIG_DIR, "rules/default.toml", server_clock())
    assert not changed and same.version == first.version
    guangxi, changed = import_config(store, CONFIG_DIR, "rules/guangxi.toml", server_clock())
    assert changed and guangxi.version != first.version and guangxi.config.rules.default_rating == 5
    assert count(store, config_versions) == 2


def test_config_is_served_with_etag_and_304_and_rebuilds_hall_config(kiosk, configured, store, server_clock):
    answer = kiosk.get("/api/v1/config")
    assert answer.status_code == 200
    assert answer.headers["etag"] == f'"{configured.version}"'
    body = answer.json()
    rebuilt = HallConfig.model_validate({k: body[k] for k in ("hall", "reasons", "rules")})
    assert rebuilt.version == body["version"] == configured.version
    unchanged = kiosk.get("/api/v1/config", {"If-None-Match": answer.headers["etag"]})
    assert unchanged.status_code == 304 and unchanged.content == b""
    import_config(store, CONFIG_DIR, "rules/guangxi.toml", server_clock())
    newer = kiosk.get("/api/v1/config", {"If-None-Match": answer.headers["etag"]})
    assert newer.status_code == 200 and newer.json()["rules"]["province"] == "广西"


def test_config_before_any_import_is_a_clear_503(kiosk):
    answer = kiosk.get("/api/v1/config")
    assert answer.status_code == 503 and answer.json()["error"] == "服务器尚未导入大厅配置"


def test_a_changed_file_is_validated_before_import(store, server_clock, tmp_path):
    from haochaping.errors import ConfigError

    broken = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, broken)
    (broken / "rules" / "default.toml").write_text('qr_valid_days = "seven"\n', encoding="utf-8")
    try:
        import_config(store, broken, "rules/default.toml", server_clock())
    except ConfigError as e:
        assert "qr_valid_days" in str(e)
    else:
        raise AssertionError("a bad rules file was imported")
    assert count(store, config_versions) == 0


def prompt(client, key: str | None, case_no: str = "CASE-1", window: str = "A01", matter=None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post(
        f"/api/v1/cases/{case_no}/prompt", json={"window": window, "matter_code": matter}, headers=headers
    )


def test_case_system_trigger_is_long_polled_and_delivered_until_acked(client, kiosk, configured, store, server_clock):
    key = add_case_system(store, "一窗综合受理系统", server_clock())
    assert prompt(client, "hcpk_wrong").status_code == 401
    assert prompt(client, None).status_code == 401
    assert count(store, triggers) == 0
    made = prompt(client, key, "2026-XN-0001", matter="11450102MB1234567X4000112")
    assert made.status_code == 202
    trigger_id = made.json()["trigger_id"]
    polled = kiosk.get("/api/v1/triggers?wait=0")
    assert polled.status_code == 200
    assert [(t["id"], t["case_no"], t["matter_code"]) for t in polled.json()["triggers"]] == [
        (trigger_id, "2026-XN-0001", "11450102MB1234567X4000112")
    ]
    assert [t["id"] for t in kiosk.get("/api/v1/triggers?wait=0").json()["triggers"]] == [trigger_id]
    ack = kiosk.post("/api/v1/triggers/ack", {"ids": [trigger_id], "refused": {trigger_id: "本窗口暂停服务中"}})
    assert ack.status_code == 200
    assert kiosk.get("/api/v1/triggers?wait=0").json()["triggers"] == []
    with store.read() as conn:
        row = conn.execute(triggers.select()).one()
    assert row.acked_by == kiosk.device_id and row.refused_message == "本窗口暂停服务中"


def test_long_poll_waits_then_returns_empty(client, kiosk, configured):
    import time

    started = time.monotonic()
    answer = kiosk.get("/api/v1/triggers?wait=1")
    assert answer.json()["triggers"] == [] and time.monotonic() - started >= 0.9  # held for the second asked


def test_triggers_go_only_to_their_window_and_bad_targets_are_refused(client, kiosk, configured, store, server_clock):
    from server_helpers import Kiosk

    key = add_case_system(store, "办件系统", server_clock())
    other = Kiosk(client, server_clock, "B03")
    prompt(client, key, "C-B03", window="B03")
    assert kiosk.get("/api/v1/triggers?wait=0").json()["triggers"] == []
    assert [t["case_no"] for t in other.get("/api/v1/triggers?wait=0").json()["triggers"]] == ["C-B03"]
    assert prompt(client, key, window="Z99").status_code == 404
    assert prompt(client, key, matter="NOT-A-MATTER").status_code == 409
    assert prompt(client, key, case_no="bad case no!").status_code == 422


def test_status_is_kept_for_the_console(kiosk, store):
    status = {
        "outbox_depth": 3,
        "config_version": "abc",
        "clock_offset_s": -1.5,
        "last_sync_at": None,
        "app_version": "0.1",
    }
    assert kiosk.post("/api/v1/status", status).status_code == 200
    with store.read() as conn:
        row = conn.execute(devices.select()).one()
    import json

    assert json.loads(row.last_status)["outbox_depth"] == 3 and row.last_seen_at is not None


def test_the_case_system_sees_what_became_of_its_prompt(client, kiosk, configured, store, server_clock):
    key = add_case_system(store, "一窗受理", server_clock())
    other_key = add_case_system(store, "另一个系统", server_clock())

    def status(trigger_id, k=key):
        return client.get(f"/api/v1/prompts/{trigger_id}", headers={"Authorization": f"Bearer {k}"})

    refused_id = prompt(client, key, "S-1").json()["trigger_id"]
    accepted_id = prompt(client, key, "S-2").json()["trigger_id"]
    assert status(refused_id).json()["status"] == "pending"
    kiosk.get("/api/v1/triggers?wait=0")
    assert status(refused_id).json()["status"] == "delivered"
    kiosk.post(
        "/api/v1/triggers/ack",
        {"ids": [refused_id, accepted_id], "refused": {refused_id: "上一位群众正在评价，请稍后"}},
    )
    refused = status(refused_id).json()
    assert (refused["status"], refused["refused_message"], refused["case_no"]) == (
        "refused",
        "上一位群众正在评价，请稍后",
        "S-1",
    )
    assert status(accepted_id).json()["status"] == "accepted"
    late_id = prompt(client, key, "S-3").json()["trigger_id"]
    server_clock.advance(901)
    assert status(late_id).json()["status"] == "expired"
    assert status(refused_id, other_key).status_code == 404
    assert status(refused_id, "hcpk_wrong").status_code == 401
