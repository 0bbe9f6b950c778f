"""Shared fixtures: the example configuration, a fake clock, a real outbox file in tmp_path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"


class FakeClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


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
