"""Widgets shared by the kiosk's screens: the screen base, big buttons, the PIN pad, faces, the QR view,
press-and-hold areas. Layout and colours live in ``kiosk/kv/widgets.kv``."""

from __future__ import annotations

import functools
import math
from datetime import datetime, timedelta

from kivy.app import App
from kivy.graphics import Color, Rectangle
from kivy.graphics.texture import Texture
from kivy.lang import Builder
from kivy.properties import ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.togglebutton import ToggleButton
from kivy.uix.widget import Widget

from kiosk.qrmatrix import qr_matrix
from kiosk.view import theme

HOLD = timedelta(seconds=1.5)
MESSAGE_SHOWN = timedelta(seconds=6)


class KioskScreen(Screen):
    """A screen that draws one ``FlowState``. ``show`` is called on the Kivy thread after every change;
    ``tick`` four times a second with the flow's clock."""

    message = StringProperty("")

    @property
    def app(self):
        return App.get_running_app()

    def show(self, state) -> None:
        self.message = state.message

    def tick(self, now: datetime) -> None:
        pass

    def send(self, event) -> str | None:
        """Hand an event to the flow; returns a refusal or storage message to show, if any."""
        return self.app.send(event)


class Caption(Label):
    """Text that wraps to its width and is as tall as it needs to be."""


class BigButton(Button):
    """A large flat button; never smaller than the touch target (see widgets.kv)."""

    bg = ListProperty(theme.PRIMARY)
    fg = ListProperty((1, 1, 1, 1))


class BigToggle(ToggleButton):
    """A large toggle: outlined when off, filled when on."""

    bg = ListProperty(theme.PRIMARY)
    value = ObjectProperty(None)


class PinPad(BoxLayout):
    """Digits 0–9, 清空, 删除 and one confirm key. ``value`` holds what was typed."""

    value = StringProperty("")
    max_len = NumericProperty(8)
    confirm_text = StringProperty("确定")
    __events__ = ("on_confirm",)

    def press(self, key: str) -> None:
        if key == "clear":
            self.value = ""
        elif key == "back":
            self.value = self.value[:-1]
        elif key == "ok":
            self.dispatch("on_confirm", self.value)
        elif len(self.value) < self.max_len:
            self.value += key

    def on_confirm(self, value: str) -> None:
        pass


class Face(Widget):
    """A simple drawn face for a level: a ring, two eyes, a mouth that smiles or frowns (see widgets.kv)."""

    level = NumericProperty(3)
    colour = ListProperty((1, 1, 1, 1))
    r = NumericProperty(10.0)
    lw = NumericProperty(1.5)


class LevelButton(ButtonBehavior, BoxLayout):
    """One of the five levels: coloured, with a face and the level's name."""

    level = NumericProperty(3)
    bg = ListProperty(theme.NEUTRAL)
    text = StringProperty("")


class QrView(Widget):
    """The QR code of ``text``, drawn from the pure matrix into one reused texture (nearest filter)."""

    text = StringProperty("")
    texture = ObjectProperty(None, allownone=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, texture=self._draw)

    def on_text(self, _instance, text: str) -> None:
        if not text:
            return
        matrix = cached_qr_matrix(text)
        n = len(matrix)
        dark, light = b"\x00\x00\x00\xff", b"\xff\xff\xff\xff"
        pixels = b"".join(dark if module else light for row in reversed(matrix) for module in row)  # bottom row first
        texture = self.texture
        if texture is None or tuple(texture.size) != (n, n):
            texture = Texture.create(size=(n, n), colorfmt="rgba")
            texture.mag_filter = texture.min_filter = "nearest"
        texture.blit_buffer(pixels, colorfmt="rgba", bufferfmt="ubyte")
        self.texture = texture
        self._draw()

    def _draw(self, *_args) -> None:
        self.canvas.clear()
        if self.texture is None:
            return
        n = self.texture.width
        side = min(self.width, self.height)
        side = max(side // n, 1) * n if side >= n else side  # whole pixels per module: crisp, even modules
        with self.canvas:
            Color(1, 1, 1, 1)
            Rectangle(
                texture=self.texture,
                pos=(self.center_x - side / 2, self.center_y - side / 2),
                size=(side, side),
            )


@functools.lru_cache(maxsize=8)
def cached_qr_matrix(text: str) -> list[list[bool]]:
    """The QR matrix, computed once per link: the app computes it on the trigger's thread, off the UI thread."""
    return qr_matrix(text)


class HoldArea(BoxLayout):
    """Fires ``on_hold`` once a touch has stayed down for 1.5 s (by the flow's clock, checked on tick)."""

    progress = NumericProperty(0.0)
    __events__ = ("on_hold",)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._down_at: datetime | None = None

    def on_touch_down(self, touch):
        if not self.collide_point(*touch.pos):
            return super().on_touch_down(touch)
        touch.grab(self)
        self._down_at = App.get_running_app().now()
        return True

    def on_touch_up(self, touch):
        if touch.grab_current is self:
            touch.ungrab(self)
            self._down_at, self.progress = None, 0.0
            return True
        return super().on_touch_up(touch)

    def check(self, now: datetime) -> None:
        if self._down_at is None:
            return
        held = now - self._down_at
        self.progress = min(held / HOLD, 1.0)
        if held >= HOLD:
            self._down_at, self.progress = None, 0.0
            self.dispatch("on_hold")

    def on_hold(self) -> None:
        pass


def seconds_left(deadline: datetime | None, now: datetime) -> int:
    if deadline is None:
        return 0
    return max(0, math.ceil((deadline - now).total_seconds()))


class PinScreen(KioskScreen):
    """A PIN keypad screen (staff and administrator share it): confirm sends ``pin_event(pin)``."""

    title = StringProperty("")
    subtitle = StringProperty("")
    pin = StringProperty("")

    def pin_event(self, pin: str):
        raise NotImplementedError

    def on_pre_enter(self, *_args) -> None:
        self.ids.pad.value = ""

    def confirm(self, value: str) -> None:
        self.ids.pad.value = ""
        if value:
            self.send(self.pin_event(value))

    def back(self) -> None:
        from kiosk.flow import Back

        self.send(Back())


Builder.load_file(theme.kv_path("widgets"))
