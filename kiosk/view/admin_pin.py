"""Administrator PIN: guards the maintenance screen."""

from __future__ import annotations

from kivy.lang import Builder

from kiosk.flow import AdminPin
from kiosk.view import theme
from kiosk.view.widgets import PinScreen


class AdminPinScreen(PinScreen):
    def pin_event(self, pin: str):
        return AdminPin(pin)


Builder.load_file(theme.kv_path("admin_pin"))
