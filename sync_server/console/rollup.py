"""The rollups moved to ``sync_server.storage.rollups`` (the storage layer); this name stays for code written
against it. New code imports ``sync_server.storage.rollups``."""

from __future__ import annotations

from sync_server.storage.rollups import CHINA, STATUS_LABELS, china_day, day_bounds, period_bounds  # noqa: F401
