"""``hcp kiosk enroll``: the one-time code becomes a 0600 identity; mismatches and refusals are clear."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from sync_fakes import FakeSession, reply

from haochaping.cli import main
from kiosk.enrol import enroll
from kiosk.errors import EnrolmentFailed
from kiosk.identity import load_or_create_identity
from kiosk.outbox import Outbox

ROOT = Path(__file__).resolve().parents[2]
SECRET_HEX = "ab" * 32


@pytest.fixture
def settings_path(tmp_path):
    text = (ROOT / "config" / "kiosk.toml").read_text(encoding="utf-8")
    text = text.replace('config_dir = "."', f'config_dir = "{ROOT / "config"}"')
    text = text.replace('data_dir = "../var/kiosk-A01"', 'data_dir = "data"')
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def enrolled(window="A01"):
    body = {"ok": True, "device_id": "dev-42", "secret": SECRET_HEX, "window": window, "server_time": 1.0}
    return reply(200, body)


def test_enrolment_writes_a_private_identity(settings_path, tmp_path):
    session = FakeSession([enrolled()])
    identity = enroll(settings_path, "http://server.test:8000/", "ABCD-EFGH", session=session)
    assert session.sent[0].url == "http://server.test:8000/api/v1/enroll"
    assert session.sent[0].json() == {"code": "ABCD-EFGH"}
    assert "X-HCP-Signature" not in session.sent[0].headers  # the code is the credential
    path = tmp_path / "data" / "device.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = load_or_create_identity(tmp_path / "data")
    assert stored == identity
    assert (stored.device_id, stored.secret, stored.enrolled) == ("dev-42", bytes.fromhex(SECRET_HEX), True)
    assert (stored.server_url, stored.window) == ("http://server.test:8000", "A01")


def test_a_window_mismatch_is_an_error_that_says_so(settings_path, tmp_path):
    session = FakeSession([enrolled(window="B03")])
    with pytest.raises(EnrolmentFailed, match="窗口不符.*B03.*'A01'"):
        enroll(settings_path, "http://server.test", "CODE", session=session)
    assert not (tmp_path / "data" / "device.json").exists()


@pytest.mark.parametrize(
    "answer, message",
    [
        (reply(410, {"ok": False, "error": "登记码已使用或已过期", "status": 410}), "登记码已使用或已过期"),
        (reply(400, {"ok": False, "error": "登记码无效", "status": 400}), "登记码无效"),
        (reply(200, raw=b'{"ok": true, "device_id": "d'), "无法解析"),
        (reply(502, raw=b"bad gateway"), "HTTP 502"),
    ],
)
def test_a_refused_code_is_reported_and_nothing_written(settings_path, tmp_path, answer, message):
    with pytest.raises(EnrolmentFailed, match=message):
        enroll(settings_path, "http://server.test", "CODE", session=FakeSession([answer]))
    assert not (tmp_path / "data" / "device.json").exists()


def test_the_cli_prints_device_and_window_or_a_readable_error(settings_path, capsys, monkeypatch):
    import kiosk.sync

    monkeypatch.setattr(kiosk.sync, "new_session", lambda: FakeSession([enrolled()]))
    assert main(["kiosk", "enroll", "--server", "http://s.test", "--code", "C", "--settings", str(settings_path)]) == 0
    assert "已登记：设备 dev-42，窗口 A01" in capsys.readouterr().out
    monkeypatch.setattr(kiosk.sync, "new_session", lambda: FakeSession([enrolled("C05")]))
    args = ["kiosk", "--settings", str(settings_path), "enroll", "--server", "http://s.test", "--code", "C", "--force"]
    assert main(args) == 2
    assert "窗口不符" in capsys.readouterr().err


def test_the_local_outbox_is_kept_aside_and_unsynced_records_block_re_enrolment(settings_path, tmp_path, clock):
    data = tmp_path / "data"
    local = load_or_create_identity(data)
    box = Outbox(data / "outbox.db", local.device_id)
    box.append("sign_in", clock(), window="A01", clerk_no="1001")
    box.close()
    enroll(settings_path, "http://server.test", "C1", session=FakeSession([enrolled()]))
    archived = list(data.glob(f"outbox-{local.device_id}-*.db"))
    assert len(archived) == 1 and not (data / "outbox.db").exists()
    assert Outbox(archived[0], local.device_id).depth() == 1  # kept, not deleted

    box = Outbox(data / "outbox.db", "dev-42")
    box.append("sign_in", clock(), window="A01", clerk_no="1001")
    box.close()
    session = FakeSession([enrolled()])
    with pytest.raises(EnrolmentFailed, match="还有 1 条记录未同步"):
        enroll(settings_path, "http://server.test", "C2", session=session)
    assert session.sent == []  # the code was not spent
    assert json.loads((data / "device.json").read_text())["device_id"] == "dev-42"
