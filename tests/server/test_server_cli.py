"""``hcp server …`` administration commands as an administrator types them."""

from __future__ import annotations

from datetime import timedelta

from server_helpers import CONFIG_DIR

from haochaping.cli import main
from sync_server.db import Store
from sync_server.devices import enrol, list_devices
from sync_server.triggers import case_system_for


def hcp(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def _later(moment, minutes: int) -> str:
    return (moment + timedelta(minutes=minutes)).isoformat()


def test_device_add_list_revoke(sqlite_url, capsys, server_clock):
    code, out = hcp(capsys, "server", "device", "add", "--window", "A01", "--db", sqlite_url)
    assert code == 0 and "登记码：" in out and "有效期至：" in out
    enrolment = out.split("登记码：")[1].split()[0]
    store = Store.from_url(sqlite_url)
    device = enrol(store, enrolment, server_clock())
    code, out = hcp(capsys, "server", "device", "list", "--db", sqlite_url, "--now", _later(server_clock(), 29))
    assert device.id in out and "正常" in out and "最近联系 从未" in out  # enrolled 29 minutes ago, not yet synced
    code, out = hcp(capsys, "server", "device", "list", "--db", sqlite_url, "--now", _later(server_clock(), 31))
    assert "失联（超过 30 分钟未联系）" in out and "正常" not in out  # as the devices page shows it
    assert hcp(capsys, "server", "device", "revoke", device.id, "--db", sqlite_url)[0] == 0
    assert list_devices(store)[0].revoked_at is not None
    code, out = hcp(capsys, "server", "device", "revoke", "dev-nope", "--db", sqlite_url)
    assert code == 2 and "没有编号为 dev-nope 的设备" in out
    store.dispose()


def test_device_add_checks_the_window_once_configuration_is_imported(sqlite_url, capsys):
    args = ("--db", sqlite_url, "--config-dir", str(CONFIG_DIR))
    code, out = hcp(capsys, "server", "config", "import", *args)
    assert code == 0 and "已导入新版本" in out
    assert "配置未变化" in hcp(capsys, "server", "config", "import", *args)[1]
    code, out = hcp(capsys, "server", "device", "add", "--window", "Z99", "--db", sqlite_url)
    assert code == 2 and "没有编号为 Z99 的窗口" in out
    code, out = hcp(capsys, "server", "device", "add", "--window", "A01", "--quiet", "--db", sqlite_url)
    assert code == 0 and len(out.strip()) == 14 and out.count("-") == 2


def test_casesystem_key_is_printed_once_and_works(sqlite_url, capsys):
    code, out = hcp(capsys, "server", "casesystem", "add", "--name", "一窗受理", "--db", sqlite_url)
    key = out.strip().splitlines()[-1]
    assert code == 0 and key.startswith("hcpk_")
    store = Store.from_url(sqlite_url)
    with store.read() as conn:
        assert case_system_for(conn, key) == "一窗受理"
    store.dispose()
    code, out = hcp(capsys, "server", "casesystem", "add", "--name", "一窗受理", "--db", sqlite_url)
    assert code == 2 and "已存在" in out


def test_migrate_reports_the_revision(sqlite_url, capsys):
    code, out = hcp(capsys, "server", "migrate", "--db", sqlite_url)
    assert code == 0 and "数据库结构已从 空库 升级到最新版本 0" in out
    code, out = hcp(capsys, "server", "migrate", "--db", sqlite_url)
    assert code == 0 and "数据库结构已是最新版本：0" in out
