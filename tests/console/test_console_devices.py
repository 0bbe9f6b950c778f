"""Terminals managed from the console as from the command line: an enrolment code shown once (with its expiry) that
a kiosk can enrol with, renaming and revoking, the same checks (the window must exist, the validity is bounded,
only administrators) and the same audit entries as ``hcp server device add|rename|revoke``."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from console_helpers import NOW, ROOT, csrf_of, sign_in
from sqlalchemy import select

from sync_server.devices import enrol, get_device, list_devices
from sync_server.errors import EnrolmentCodeSpent
from sync_server.storage.schema import audit_log, enrolment_codes

CODE = re.compile(r'<p class="code" id="enrol-code">([A-Z0-9-]+)</p>')


def post(client, url: str, data: dict):
    token = csrf_of(client.get("/console/devices").text)
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)


def audit(store, action: str) -> list:
    with store.read() as conn:
        return conn.execute(select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)).all()


def test_an_enrolment_code_is_shown_once_with_its_expiry_and_enrols_a_kiosk(app_client, hall):
    sign_in(app_client, "admin")
    answer = post(app_client, "/console/devices/codes", {"window": "B03", "hours": "2"})
    assert answer.status_code == 200
    code = CODE.search(answer.text).group(1)
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    assert 'id="code-expires">2026-11-28 12:00:00<' in answer.text  # NOW is 10:00 China time, valid for 2 hours
    assert code not in app_client.get("/console/devices").text  # shown once
    with hall.store.read() as conn:
        stored = conn.execute(select(enrolment_codes.c.code_hash)).scalars().all()
    assert all(code not in h for h in stored)  # only the hash is kept
    entry = audit(hall.store, "device.code")[-1]
    assert (entry.actor, entry.target) == ("admin", "B03") and code not in entry.detail
    assert json.loads(entry.detail)["expires_at"].startswith("2026-11-28T04:00:00")
    device = enrol(hall.store, code, NOW)
    assert device.window == "B03"
    with pytest.raises(EnrolmentCodeSpent):
        enrol(hall.store, code, NOW)


@pytest.mark.parametrize(
    "form, field, message",
    [
        ({"window": "Z99", "hours": "24"}, "window", "没有编号为 Z99 的窗口"),
        ({"window": "", "hours": "24"}, "window", "请选择窗口"),
        ({"window": "A01", "hours": "zwei"}, "hours", "有效期请填写小时数"),
        ({"window": "A01", "hours": "10000"}, "hours", "登记码有效期应在 1 分钟到 30 天之间"),
        ({"window": "A01", "hours": "inf"}, "hours", "有效期请填写小时数"),
    ],
)
def test_a_refused_code_request_says_why_at_its_field_and_issues_nothing(app_client, hall, form, field, message):
    sign_in(app_client, "admin")
    before = len(audit(hall.store, "device.code"))
    answer = post(app_client, "/console/devices/codes", form)
    assert answer.status_code in (400, 404)
    assert message in re.search(rf'id="error-{field}"[^>]*>([^<]*)<', answer.text).group(1)
    assert not CODE.search(answer.text)
    assert len(audit(hall.store, "device.code")) == before


def test_rename_and_revoke_from_the_console_are_audited(app_client, hall):
    sign_in(app_client, "admin")
    device_id = hall.devices["A01"]
    done = post(app_client, f"/console/devices/{device_id}/rename", {"name": "A01 左侧"})
    assert done.status_code == 303
    page = app_client.get(done.headers["location"]).text
    assert '<b class="device-name">A01 左侧</b>' in page and "已更新设备名称" in page
    too_long = post(app_client, f"/console/devices/{device_id}/rename", {"name": "长" * 33})
    assert too_long.status_code == 400 and "设备名称最多 32 个字" in too_long.text
    revoked = post(app_client, f"/console/devices/{device_id}/revoke", {})
    assert revoked.status_code == 303
    with hall.store.read() as conn:
        device = get_device(conn, device_id)
    assert device.name == "A01 左侧" and not device.active
    rename_entry, revoke_entry = audit(hall.store, "device.rename")[-1], audit(hall.store, "device.revoke")[-1]
    assert json.loads(rename_entry.detail) == {"window": "A01", "old_name": None, "name": "A01 左侧"}
    assert (revoke_entry.actor, revoke_entry.target) == ("admin", device_id)
    log = app_client.get("/console/audit?action=device.rename").text
    assert "评价器改名" in log and "名称</span>：A01 左侧" in log


def test_an_unknown_device_is_the_404_page(app_client):
    sign_in(app_client, "admin")
    answer = post(app_client, "/console/devices/dev-nosuch/revoke", {})
    assert answer.status_code == 404 and "没有编号为 dev-nosuch 的设备" in answer.text


def test_a_supervisor_sees_devices_but_cannot_manage_them(app_client, hall):
    sign_in(app_client, "duchá")
    page = app_client.get("/console/devices").text
    assert "生成登记码" not in page and "/revoke" not in page
    answer = post(app_client, "/console/devices/codes", {"window": "A01", "hours": "24"})
    assert answer.status_code == 403
    assert all(d.active for d in list_devices(hall.store))


def test_the_command_line_writes_the_same_audit_entries(sqlite_store, tmp_path):
    from console_helpers import CONFIG_DIR

    from sync_server.configs import import_config

    import_config(sqlite_store, CONFIG_DIR, "rules/default.toml", NOW)
    url = str(sqlite_store.engine.url)

    def hcp(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "haochaping.cli", "server", "device", *args, "--db", url]
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)

    refused = hcp("add", "--window", "Z99")
    assert refused.returncode == 2 and "没有编号为 Z99 的窗口" in refused.stderr
    code = hcp("add", "--window", "A01", "--quiet").stdout.strip()
    device = enrol(sqlite_store, code, NOW)
    assert hcp("rename", device.id, "A01 右侧").returncode == 0
    assert hcp("revoke", device.id).returncode == 0
    assert hcp("rename", "dev-nosuch", "x").returncode == 2
    with sqlite_store.read() as conn:
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.action, audit_log.c.target)).all()
    assert [tuple(r) for r in rows] == [
        ("cli", "device.code", "A01"),
        ("cli", "device.rename", device.id),
        ("cli", "device.revoke", device.id),
    ]
