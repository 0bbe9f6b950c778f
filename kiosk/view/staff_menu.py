"""Staff menu: 发起评价 / 暂停服务 / 签退 / 维护 / 返回."""

from __future__ import annotations

from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.flow import Back, StaffChoose
from kiosk.view import theme
from kiosk.view.widgets import KioskScreen


class StaffMenuScreen(KioskScreen):
    clerk_name = StringProperty("")

    def show(self, state) -> None:
        super().show(state)
        self.clerk_name = state.clerk.name if state.clerk else ""

    def choose(self, action: str) -> None:
        self.send(StaffChoose(action))

    def back(self) -> None:
        self.send(Back())


Builder.load_file(theme.kv_path("staff_menu"))
