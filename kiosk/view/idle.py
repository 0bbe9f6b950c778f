"""Idle: the clerk's card (photo or surname, name, 工号, window, department) and a calm line for the citizen.

Press and hold the card for 1.5 s to open the staff PIN. While idle, a barcode scanner's burst is a trigger.
"""

from __future__ import annotations

from datetime import datetime

from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.flow import StaffHold
from kiosk.view import theme
from kiosk.view.widgets import MESSAGE_SHOWN, KioskScreen


class IdleScreen(KioskScreen):
    clerk_name = StringProperty("")
    clerk_no = StringProperty("")
    surname = StringProperty("")
    photo = StringProperty("")
    department = StringProperty("")
    notice = StringProperty("")  # a refused scan, shown for a few seconds

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._shown_since: datetime | None = None
        self._last_message = ""

    def show(self, state) -> None:
        clerk = state.clerk
        if clerk is not None:
            self.clerk_name, self.clerk_no, self.surname = clerk.name, clerk.no, clerk.name[:1]
            self.photo = self.app.photo_for(clerk)
            self.department = self.app.department_name(clerk.department)
        if state.message != self._last_message:
            self._shown_since = self.app.now() if state.message else None
        self._last_message = state.message
        self.message = state.message

    def flash(self, text: str) -> None:
        self.notice = text
        self._shown_since = self.app.now()

    def tick(self, now: datetime) -> None:
        self.ids.card.check(now)
        if self._shown_since is not None and now - self._shown_since >= MESSAGE_SHOWN:
            self.message = self.notice = ""
            self._shown_since = None

    def hold(self) -> None:
        self.send(StaffHold())


Builder.load_file(theme.kv_path("idle"))
