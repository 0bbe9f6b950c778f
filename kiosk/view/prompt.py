"""Prompt: case number, matter, the five levels best first (colours and faces), the QR code, a countdown, 大字."""

from __future__ import annotations

from datetime import datetime

from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk.flow import TapLevel, ToggleLargeText
from kiosk.view import theme
from kiosk.view.widgets import KioskScreen, seconds_left


class PromptScreen(KioskScreen):
    case_no = StringProperty("")
    matter_name = StringProperty("")
    qr_text = StringProperty("")
    remaining = NumericProperty(0)
    busy = BooleanProperty(False)  # one tap counts: the others wait until the next screen shows

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._deadline = None

    def show(self, state) -> None:
        super().show(state)
        if state.prompt is not None:
            self.case_no = state.prompt.case_no
            self.matter_name = state.prompt.matter_name
            self.qr_text = state.prompt.qr_url
        self._deadline = state.deadline
        self.busy = False
        self.tick(self.app.now())

    def tick(self, now: datetime) -> None:
        self.remaining = seconds_left(self._deadline, now)

    def tap(self, level: int) -> None:
        if self.busy:
            return
        self.busy = True
        if self.send(TapLevel(level)) is not None:
            self.busy = False

    def toggle_large_text(self) -> None:
        self.send(ToggleLargeText())


Builder.load_file(theme.kv_path("prompt"))
