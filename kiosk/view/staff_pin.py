"""Staff PIN: the signed-in clerk confirms with the PIN before the staff menu (or to resume from a pause)."""

from __future__ import annotations

from kivy.lang import Builder

from kiosk.flow import StaffPin
from kiosk.view import theme
from kiosk.view.widgets import PinScreen


class StaffPinScreen(PinScreen):
    def pin_event(self, pin: str):
        return StaffPin(pin)

    def show(self, state) -> None:
        super().show(state)
        name = state.clerk.name if state.clerk else ""
        resuming = state.paused_from is not None
        self.title = "恢复服务" if resuming else "工作人员操作"
        self.subtitle = f"{name}（工号 {state.clerk.no}），请输入您的密码" if state.clerk else "请输入密码"


Builder.load_file(theme.kv_path("staff_pin"))
