"""``hcp kiosk`` with a bad configuration: one readable line, exit code 2, and no window (no display needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import kivy_env, write_settings


def hcp_kiosk(settings: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "haochaping.cli", "kiosk", "--settings", str(settings)],
        env=kivy_env(tmp_path, display=None),  # no DISPLAY: opening a window would fail loudly
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"trigger_token": '"short"'}, ["kiosk.toml", "trigger_token"]),
        ({"window": '"Z99"'}, ["kiosk.toml", "window", "Z99"]),
        ({"font_path": '"/nowhere/font.ttc"'}, ["font_path", "/nowhere/font.ttc"]),
        ({"config_dir": '"/nowhere"'}, ["/nowhere/hall.toml", "文件不存在"]),
    ],
    ids=["bad-setting", "unknown-window", "missing-font", "missing-hall"],
)
def test_a_bad_configuration_fails_with_one_line_before_any_window(tmp_path, change, expected):
    done = hcp_kiosk(write_settings(tmp_path, 1280, 800, **change), tmp_path)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("hcp")]
    assert len(lines) == 1, done.stderr
    assert all(word in lines[0] for word in expected), lines[0]
    assert "Traceback" not in done.stderr


def test_a_corrupted_settings_file_names_the_file(tmp_path):
    settings = tmp_path / "kiosk.toml"
    settings.write_text('window = "A01\n')
    done = hcp_kiosk(settings, tmp_path)
    assert done.returncode == 2
    assert str(settings) in done.stderr and "TOML" in done.stderr
