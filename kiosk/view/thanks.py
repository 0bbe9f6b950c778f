"""Thanks: 谢谢您的评价 — shown only after the rating is stored, and never showing which level was chosen."""

from __future__ import annotations

from kivy.lang import Builder

from kiosk.view import theme
from kiosk.view.widgets import KioskScreen


class ThanksScreen(KioskScreen):
    pass


Builder.load_file(theme.kv_path("thanks"))
