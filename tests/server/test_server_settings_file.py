"""config/server.toml: every section validated at start, and its values reach the running server."""

from __future__ import annotations

import subprocess
import sys

import pytest
from server_helpers import CONFIG_DIR, ROOT

from haochaping.errors import ConfigError
from sync_server.settings import ServerSettingsFile, load_server_settings


def test_the_example_file_holds_every_key_at_its_default():
    example = load_server_settings(CONFIG_DIR / "server.toml")
    assert example == ServerSettingsFile()
    text = (CONFIG_DIR / "server.toml").read_text(encoding="utf-8")
    for section in ServerSettingsFile.model_fields.values():
        for key in section.default_factory().__class__.model_fields:
            assert f"\n{key} = " in text, key


@pytest.mark.parametrize(
    "content, key, expected",
    [
        ("[console]\npage_size = 5\n", "console.page_size", "10"),
        ("[server]\nmax_body_bytes = 'big'\n", "server.max_body_bytes", "整数"),
        ("[workflow]\nwebhook_lease = 60\n", "workflow.webhook_lease", "未知的配置项"),
        ("[consol]\npage_size = 20\n", "consol", "未知的配置项"),
        ("[server\n", "", "TOML"),
    ],
)
def test_a_bad_file_names_the_file_the_key_and_what_was_expected(tmp_path, content, key, expected):
    path = tmp_path / "server.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_server_settings(path)
    assert error.value.file == str(path) and error.value.key == key
    assert expected in str(error.value)


def test_hcp_server_refuses_to_start_with_a_bad_file_in_one_line(tmp_path):
    path = tmp_path / "server.toml"
    path.write_text("[console]\nsession_idle_s = 10\n", encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "haochaping.cli",
            "server",
            "--db",
            f"sqlite:///{tmp_path / 's.db'}",
            "--settings",
            str(path),
            "--port",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "server.toml: console.session_idle_s" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "s.db").exists()  # nothing was started or created


def test_the_file_reaches_the_app(tmp_path, sqlite_store):
    from fastapi.testclient import TestClient

    from sync_server.app import create_app

    path = tmp_path / "server.toml"
    path.write_text("[server]\nmax_body_bytes = 2048\n[console]\npage_size = 20\n", encoding="utf-8")
    app = create_app(sqlite_store, settings_file=load_server_settings(path))
    assert app.state.console_settings.page_size == 20
    with TestClient(app) as client:
        answer = client.post("/api/v1/records", content=b"x" * 4096, headers={"content-type": "application/json"})
    assert answer.status_code == 413 and answer.json()["ok"] is False
