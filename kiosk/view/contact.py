"""Contact: after a 差评 (already stored), the citizen may leave a mobile number for 核实 and 回访 on a large numeric
keypad, or skip it. The typed digits are shown only here, grouped 3-4-4 so they are easy to check."""

from __future__ import annotations

from datetime import datetime

from kivy.lang import Builder
from kivy.properties import NumericProperty, StringProperty

from haochaping.mobile import MOBILE_DIGITS
from kiosk.flow import ContactConfirm, ContactKey, ContactSkip
from kiosk.view import theme
from kiosk.view.widgets import KioskScreen, seconds_left


def grouped(digits: str) -> str:
    """13800138000 → 138 0013 8000 (as a Chinese mobile number is read out)."""
    return " ".join(part for part in (digits[:3], digits[3:7], digits[7:]) if part)


class ContactScreen(KioskScreen):
    digits = StringProperty("")
    shown = StringProperty("")
    consent = StringProperty("")
    remaining = NumericProperty(0)
    needed = NumericProperty(MOBILE_DIGITS)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._deadline = None

    def show(self, state) -> None:
        super().show(state)
        self.consent = self.app.flow.config.rules.contact.consent
        self.digits = state.contact
        self.shown = grouped(state.contact)
        self._deadline = state.deadline
        self.tick(self.app.now())

    def on_leave(self, *_args) -> None:
        self.digits = self.shown = ""  # nothing of the number stays in a widget after the screen

    def tick(self, now: datetime) -> None:
        self.remaining = seconds_left(self._deadline, now)

    def press(self, key: str) -> None:
        self._send(ContactKey(key))

    def confirm(self) -> None:
        self._send(ContactConfirm())

    def skip(self) -> None:
        self._send(ContactSkip())

    def _send(self, event) -> None:
        problem = self.send(event)  # e.g. 存储空间已满: the citizen sees why and may skip
        if problem is not None:
            self.message = problem


Builder.load_file(theme.kv_path("contact"))
