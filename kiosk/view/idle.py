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
        self._notice_since: datetime | None = None

    def show(self, state) -> None:
        clerk = state.clerk
        if clerk is not None:
            self.clerk_name, self.clerk_no, self.surname = clerk.name, clerk.no, clerk.name[:1]
            self.photo = self.app.photo_for(clerk)
            self.department = self.app.department_name(clerk.department)
        self.message = state.message  # the flow clears its own notices after their time (NOTICE_SHOWN)

    def flash(self, text: str) -> None:
        """A refused scan, shown for a few seconds; each flash starts its own time."""
        self.notice = text
        self._notice_since = self.app.now()

    def tick(self, now: datetime) -> None:
        self.ids.card.check(now)
        if self._notice_since is not None and now - self._notice_since >= MESSAGE_SHOWN:
            self.notice = ""
            self._notice_since = None

    def hold(self) -> None:
        self.send(StaffHold())


Builder.load_file(theme.kv_path("idle"))
