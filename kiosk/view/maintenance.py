"""Maintenance (administrator only): device id, configuration version, outbox depth, last sync (in the hall's time
zone), clock offset, free disk, sync status; 立即同步 asks the sync worker to try now."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta

from kivy.factory import Factory
from kivy.lang import Builder

from kiosk.flow import Back
from kiosk.view import theme
from kiosk.view.widgets import KioskScreen

REFRESH = timedelta(seconds=2)


def maintenance_facts(app) -> list[tuple[str, str]]:
    """What the administrator checks, as (label, value) rows."""
    outbox, settings = app.kiosk.outbox, app.kiosk.settings
    offset = outbox.state("clock_offset_s")
    return [
        ("设备编号", app.kiosk.identity.device_id),
        ("窗口", window_label(app.flow.window)),
        ("配置版本", outbox.state("config_version") or app.flow.config.version),
        ("测评内容版本", app.flow.config.reasons.version),
        ("待同步记录", f"{outbox.depth()} 条"),
        ("上次同步", hall_time_text(app.flow.config, outbox.state("last_sync_at")) or "尚未同步"),
        ("时钟偏差", clock_offset_text(offset, getattr(settings, "clock_warn_s", 120.0))),
        ("剩余磁盘空间", _free_disk(settings.data_dir)),
        ("同步状态", outbox.state("sync_status") or ("未登记中心服务器" if not app.sync else "等待同步")),
    ]


def clock_offset_text(offset, warn_s: float) -> str:
    """The clock offset the sync worker learned (server minus this terminal), with a warning when it is too large."""
    if offset is None:
        return "未知"
    offset = float(offset)
    text = f"{offset:+.1f} 秒（服务器减本机）"
    if abs(offset) > warn_s:
        side = "慢" if offset > 0 else "快"
        text += f"　【警告】本机时钟{side}了 {abs(offset):.0f} 秒，超过 {warn_s:g} 秒，请校准时钟"
    return text


def window_label(window) -> str:
    """The window's code and name, once: a name that already starts with the code is shown as it is."""
    return window.name if window.name.startswith(window.code) else f"{window.code}　{window.name}"


def hall_time_text(config, iso: str | None) -> str:
    """A stored UTC time as the hall's clock shows it (China time by default), not the terminal's zone."""
    if not iso:
        return ""
    try:
        return config.hall.local_time(datetime.fromisoformat(iso)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def _free_disk(path) -> str:
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return "未知"
    return f"{free / 2**30:.1f} GB"


class MaintenanceScreen(KioskScreen):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._shown_at: datetime | None = None

    def show(self, state) -> None:
        super().show(state)
        self._shown_at = self.app.now()
        self._fill()

    def tick(self, now: datetime) -> None:
        """Keep the figures live while the administrator watches (the sync worker changes them)."""
        if self._shown_at is None or now - self._shown_at >= REFRESH:
            self._shown_at = now
            self._fill()

    def _fill(self) -> None:
        """Show the facts; a refresh changes the texts in place, so the layout does not move under the reader."""
        grid, facts = self.ids.facts, maintenance_facts(self.app)
        cells = list(reversed(grid.children))  # Kivy keeps children last-added first
        if len(cells) != 2 * len(facts):
            grid.clear_widgets()
            cells = []
            for _ in facts:
                cells += [Factory.FactName(), Factory.FactValue()]
            for cell in cells:
                grid.add_widget(cell)
        for (label, value), name, shown in zip(facts, cells[::2], cells[1::2], strict=True):
            name.text, shown.text = label, str(value)

    def back(self) -> None:
        self.send(Back())

    def sync_now(self) -> None:
        """立即同步: the sync worker stops waiting out its backoff and tries now."""
        sync = self.app.sync
        if sync is None:
            self.message = "未登记中心服务器，无法同步"
            return
        sync.sync_now()
        self.message = "已开始同步"
        self._fill()


Builder.load_file(theme.kv_path("maintenance"))
