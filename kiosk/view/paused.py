"""Paused: 暂停服务. The clerk presses and holds anywhere to resume (after the staff PIN)."""

from __future__ import annotations

from datetime import datetime

from kivy.lang import Builder

from kiosk.flow import StaffHold
from kiosk.view import theme
from kiosk.view.widgets import KioskScreen


class PausedScreen(KioskScreen):
    def tick(self, now: datetime) -> None:
        self.ids.area.check(now)

    def hold(self) -> None:
        self.send(StaffHold())


Builder.load_file(theme.kv_path("paused"))
