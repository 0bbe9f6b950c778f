"""Signed out: the clerk signs in with 工号 and PIN on the keypad; an unobtrusive 维护 button asks for the admin PIN."""

from __future__ import annotations

from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.flow import AdminAccess, SignIn
from kiosk.view import theme
from kiosk.view.widgets import KioskScreen


class SignedOutScreen(KioskScreen):
    step = StringProperty("clerk_no")  # which field the keypad types into: clerk_no | pin
    clerk_no = StringProperty("")
    pin = StringProperty("")

    def on_pre_enter(self, *_args) -> None:
        self.clerk_no = self.pin = ""
        self.edit("clerk_no")

    def edit(self, step: str) -> None:
        self.step = step
        self.ids.pad.value = self.clerk_no if step == "clerk_no" else ""
        self.pin = "" if step == "pin" else self.pin

    def typed(self, value: str) -> None:
        if self.step == "clerk_no":
            self.clerk_no = value
        else:
            self.pin = value

    def confirm(self, value: str) -> None:
        if self.step == "clerk_no":
            if value:
                self.edit("pin")
            return
        pin, self.pin = value, ""
        self.ids.pad.value = ""
        self.send(SignIn(self.clerk_no, pin))

    def maintenance(self) -> None:
        self.send(AdminAccess())


Builder.load_file(theme.kv_path("signed_out"))
