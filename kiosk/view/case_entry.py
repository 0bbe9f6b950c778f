"""Case entry: the clerk types the case number (letters and digits) and picks one of this window's matters."""

from __future__ import annotations

from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.flow import Back, Trigger
from kiosk.view import theme
from kiosk.view.widgets import BigToggle, KioskScreen

KEY_ROWS = ("1234567890", "QWERTYUIOP", "ASDFGHJKL-", "ZXCVBNM/")
CASE_NO_MAX = 64


class CaseEntryScreen(KioskScreen):
    case_no = StringProperty("")
    matter_code = StringProperty("")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._built = False

    def on_pre_enter(self, *_args) -> None:
        self.case_no = ""
        self.message = ""
        if not self._built:
            self._build_keys()
            self._built = True
        self._build_matters()

    def _build_keys(self) -> None:
        keys = self.ids.keyboard
        for row in KEY_ROWS:
            for ch in row:
                keys.add_widget(_key(ch, lambda c=ch: self.type(c)))
        keys.add_widget(_key("删除", self.backspace, wide=True))

    def _build_matters(self) -> None:
        box = self.ids.matters
        box.clear_widgets()
        codes = self.app.flow.window.matters
        self.matter_code = codes[0]
        for code in codes:
            toggle = BigToggle(text=self.app.flow.config.hall.matter(code).name, value=code, group="matter")
            toggle.state = "down" if code == self.matter_code else "normal"
            toggle.allow_no_selection = False
            toggle.bind(on_release=lambda t: setattr(self, "matter_code", t.value))
            box.add_widget(toggle)

    def type(self, ch: str) -> None:
        if len(self.case_no) < CASE_NO_MAX:
            self.case_no += ch

    def backspace(self) -> None:
        self.case_no = self.case_no[:-1]

    def start(self) -> None:
        refusal = self.send(Trigger(self.case_no, self.matter_code, source="staff"))
        if refusal:
            self.message = refusal

    def back(self) -> None:
        self.send(Back())


def _key(label: str, action, wide: bool = False):
    button = (Factory.CaseKeyWide if wide else Factory.CaseKey)(text=label)
    button.bind(on_release=lambda _b: action())
    return button


Builder.load_file(theme.kv_path("case_entry"))
