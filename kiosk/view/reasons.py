"""Reasons: the chosen level's 测评内容 as large toggles; a bad rating needs at least one; 提交 commits."""

from __future__ import annotations

from datetime import datetime

from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from haochaping.levels import Level
from kiosk.flow import Submit, ToggleReason
from kiosk.view import theme
from kiosk.view.widgets import BigToggle, KioskScreen, seconds_left


class ReasonsScreen(KioskScreen):
    hint = StringProperty("")
    remaining = NumericProperty(0)
    busy = BooleanProperty(False)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._deadline = None
        self._level: int | None = None

    def show(self, state) -> None:
        super().show(state)
        self._deadline = state.deadline
        if state.level is not None and state.level != self._level:
            self._build(state.level)
        for toggle in self.ids.grid.children:
            toggle.state = "down" if toggle.value in state.reasons else "normal"
        self.busy = False
        self.tick(self.app.now())

    def on_leave(self, *_args) -> None:
        self._level = None

    def _build(self, level: int) -> None:
        self._level = level
        bad = Level(level).is_bad
        self.hint = "请至少选择一项原因，然后点“提交”" if bad else "可以选择原因（可多选），也可以直接点“提交”"
        grid = self.ids.grid
        grid.clear_widgets()
        colour = theme.LEVEL_COLOURS[level]
        for reason in self.app.flow.config.reasons.for_level(level):
            toggle = BigToggle(text=reason.label, value=reason.code, bg=colour)
            toggle.bind(on_release=self._toggled)
            grid.add_widget(toggle)

    def _toggled(self, toggle) -> None:
        if self.busy:
            return
        self.send(ToggleReason(toggle.value))

    def tick(self, now: datetime) -> None:
        self.remaining = seconds_left(self._deadline, now)

    def submit(self) -> None:
        if self.busy:
            return
        self.busy = True
        problem = self.send(Submit())  # e.g. 存储空间已满: no thanks, the citizen sees why
        if problem is not None:
            self.busy = False
            self.message = problem


Builder.load_file(theme.kv_path("reasons"))
