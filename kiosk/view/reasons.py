"""Reasons: the chosen level's 测评内容 as large toggles; a bad rating needs at least one; 提交 commits;
返回重选 (far from 提交) goes back to the five levels with the countdown kept."""

from __future__ import annotations

from datetime import datetime

from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from haochaping.levels import Level
from kiosk.flow import Reselect, Submit, ToggleReason
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
        self._toggles: dict[tuple[str, int], list[BigToggle]] = {}  # built once per level, reused for years

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
        for toggle in self._toggles_for(level):
            grid.add_widget(toggle)

    def _toggles_for(self, level: int) -> list[BigToggle]:
        """The level's toggles, made once per reason list version: creating widgets for every rating leaks."""
        reasons = self.app.flow.config.reasons
        key = (reasons.version, level)
        if key not in self._toggles:
            self._toggles = {k: v for k, v in self._toggles.items() if k[0] == reasons.version}
            colour = theme.LEVEL_COLOURS[level]
            self._toggles[key] = [self._toggle(r.label, r.code, colour) for r in reasons.for_level(level)]
        return self._toggles[key]

    def _toggle(self, label: str, code: int, colour) -> BigToggle:
        toggle = BigToggle(text=label, value=code, bg=colour)
        toggle.bind(on_release=self._toggled)
        return toggle

    def _toggled(self, toggle) -> None:
        if self.busy:
            return
        self.send(ToggleReason(toggle.value))

    def tick(self, now: datetime) -> None:
        self.remaining = seconds_left(self._deadline, now)

    def reselect(self) -> None:
        if not self.busy:
            self.send(Reselect())

    def submit(self) -> None:
        if self.busy:
            return
        self.busy = True
        problem = self.send(Submit())  # e.g. 存储空间已满: no thanks, the citizen sees why
        if problem is not None:
            self.busy = False
            self.message = problem


Builder.load_file(theme.kv_path("reasons"))
