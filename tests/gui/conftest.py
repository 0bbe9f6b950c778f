"""GUI fixtures: one Xvfb server for the session (started here, so no DISPLAY is needed), and a kiosk
settings file in tmp_path with its own data dir, a free trigger port and a given window size."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from testkit import ADMIN_PIN_HASH

from bench.kit import free_port, virtual_display

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"


@pytest.fixture(scope="session")
def xvfb():
    """A private Xvfb display; yields the DISPLAY value."""
    with virtual_display("1280x800x24", first=90, reuse=False) as display:
        yield display


def write_settings(tmp_path: Path, width: int, height: int, **extra) -> Path:
    lines = {
        "window": '"A01"',
        "config_dir": f'"{ROOT / "config"}"',
        "rules_file": '"rules/default.toml"',
        "data_dir": f'"{tmp_path / "data"}"',
        "trigger_host": '"127.0.0.1"',
        "trigger_port": str(free_port()),
        "trigger_token": '"gui-test-trigger-token-0123456789"',
        "qr_base_url": '"http://127.0.0.1:8000"',
        # administrator PIN 8888, as in config/kiosk.toml
        "admin_pin_hash": f'"{ADMIN_PIN_HASH}"',
        "screen_dpi": "96",
        "fullscreen": "false",
        "width": str(width),
        "height": str(height),
    }
    lines.update(extra)
    path = tmp_path / "kiosk.toml"
    path.write_text("".join(f"{k} = {v}\n" for k, v in lines.items()))
    return path


def kivy_env(tmp_path: Path, display: str | None) -> dict:
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    if display:
        env["DISPLAY"] = display
    env.update(KIVY_HOME=str(tmp_path / "kivy"), KIVY_NO_CONSOLELOG="1", KIVY_NO_ARGS="1")
    return env


def keep_screenshots(out_dir: Path, label: str) -> None:
    """Copy a run's screenshots to screenshots/<label>/ (gitignored) for people to look at."""
    target = SCREENSHOTS / label
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for png in out_dir.glob("*.png"):
        shutil.copy2(png, target / png.name)
