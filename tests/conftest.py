"""Shared fixtures: the example configuration, a fake clock, a real outbox file in tmp_path."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from testkit import FakeClock

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"


@pytest.fixture(scope="session", autouse=True)
def settlement_wired():
    """What follows a settled rating (rollups, 差评工单), wired as the server application wires it at start-up,
    for tests that store ratings without the app (only where the server's dependencies are installed)."""
    if importlib.util.find_spec("sqlalchemy") is not None:
        from sync_server.wiring import wire_settlement

        wire_settlement()


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium, headless, for a module's browser tests (no browser is downloaded); each test opens its
    own context or page on it."""
    from playwright.sync_api import sync_playwright
    from testkit import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def hall_config():
    from haochaping.config import load_hall_config

    return load_hall_config(CONFIG_DIR)


@pytest.fixture
def outbox(tmp_path):
    from kiosk.outbox import Outbox

    box = Outbox(tmp_path / "outbox.db", device_id="dev-test")
    yield box
    box.close()
