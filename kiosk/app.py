"""The kiosk's Kivy App: wires settings, identity, outbox, flow, triggers, sync and the screens together.

It holds no rules of its own: the flow decides, the outbox stores, the screens draw ``flow.state``.
Everything that can fail on a bad configuration (settings, hall files, font) is assembled before
Kivy opens a window, so ``hcp kiosk`` fails with one readable line and exit code 2.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")  # `hcp kiosk --settings …` is ours, not Kivy's
os.environ.setdefault("KIVY_NO_FILELOG", "1")  # Kivy's per-run log files: replaced by kiosk.logs (bounded)

from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.config import Config  # noqa: E402
from kivy.properties import BooleanProperty, NumericProperty, StringProperty  # noqa: E402

from haochaping.config import HallConfig  # noqa: E402
from haochaping.errors import ConfigError, HaochapingError  # noqa: E402
from haochaping.qrtoken import make_token, rating_url  # noqa: E402
from kiosk.errors import KioskError, OutboxError, TriggerRefused  # noqa: E402
from kiosk.flow import Flow, FlowState, NewConfig, Screen, Tick, Trigger  # noqa: E402
from kiosk.fonts import find_cjk_font  # noqa: E402
from kiosk.identity import DeviceIdentity, load_or_create_identity  # noqa: E402
from kiosk.outbox import Outbox  # noqa: E402
from kiosk.settings import KioskSettings, load_settings  # noqa: E402
from kiosk.view import theme  # noqa: E402

log = logging.getLogger(__name__)

TICK_S = 0.25
ENTER_KEYS = (13, 271)  # Return, keypad Enter


def hall_config_for(settings: KioskSettings) -> HallConfig:
    """The hall configuration to run with: the last good copy from the server if any, else ``config/``."""
    from kiosk.config_cache import hall_config_preferring_cache

    return hall_config_preferring_cache(settings)


@dataclass
class Kiosk:
    """Everything the terminal runs on, assembled without a window."""

    settings: KioskSettings
    settings_path: Path
    identity: DeviceIdentity
    outbox: Outbox
    flow: Flow
    clock: Callable[[], datetime]
    font: Path


def corrected_clock(outbox: Outbox) -> Callable[[], datetime]:
    """UTC now, corrected by the last clock offset the sync worker learned from the server."""
    offset = timedelta(seconds=float(outbox.state("clock_offset_s", 0.0) or 0.0))
    return lambda: datetime.now(UTC) + offset


def assemble(settings_path: Path | str, clock: Callable[[], datetime] | None = None) -> Kiosk:
    """Load and check everything; raises ConfigError, FontNotFound or OutboxError."""
    settings_path = Path(settings_path)
    settings = load_settings(settings_path)
    font = find_cjk_font(settings.font_path)
    config = hall_config_for(settings)
    if settings.window not in {w.code for w in config.hall.windows}:
        raise ConfigError(str(settings_path), "window", f"hall.toml 中没有窗口 {settings.window!r}")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    identity = load_or_create_identity(settings.data_dir)
    outbox = Outbox(settings.data_dir / "outbox.db", identity.device_id)
    clock = clock or corrected_clock(outbox)

    def qr_url_for(case_no: str, at: datetime) -> str:
        return rating_url(settings.qr_base_url, make_token(identity.device_id, case_no, at, identity.secret))

    flow = Flow(
        config,
        settings.window,
        outbox,
        clock,
        qr_url_for,
        settings.admin_pin_hash,
        channel=settings.channel,
        large_text_default=settings.large_text,
    )
    interrupted = flow.recover_interrupted()  # a prompt a power cut or crash left on screen: 未评价，已中断
    if interrupted is not None:
        log.warning("prompt of case %s was interrupted; recorded at start", interrupted["case_no"])
    return Kiosk(settings, settings_path, identity, outbox, flow, clock, font)


def configure_kivy(settings: KioskSettings, font: Path) -> None:
    """Kiosk mode: fullscreen (or the configured size), Escape does not exit, the CJK font everywhere."""
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "log_level", "warning")
    Config.set("graphics", "fullscreen", "auto" if settings.fullscreen else "0")
    Config.set("graphics", "width", str(settings.width))
    Config.set("graphics", "height", str(settings.height))
    Config.set("graphics", "resizable", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    from kivy.core.text import DEFAULT_FONT, LabelBase

    LabelBase.register(DEFAULT_FONT, str(font))


class KioskApp(App):
    """Small on purpose: screens follow ``flow.state.screen``; inputs become flow events."""

    fs = NumericProperty(1.0)  # font scale: window size × large-text mode
    gap = NumericProperty(12.0)  # spacing unit
    touch = NumericProperty(57.0)  # smallest touch target in pixels (15 mm)
    large_text = BooleanProperty(False)
    window_title = StringProperty("")
    window_name = StringProperty("")

    def __init__(self, kiosk: Kiosk, script: Callable[[KioskApp], None] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.kiosk, self.flow, self.script = kiosk, kiosk.flow, script
        self.title = "好差评评价器"
        self.triggers = self.sync = self.wedge = self.sound = None
        self._shown: Screen | None = None

    # ------------------------------------------------------------ wiring

    def build(self):
        from kivy.core.window import Window

        from kiosk.view.screens import build_screen_manager
        from kiosk.view.widgets import cached_qr_matrix

        self._cached_qr_matrix = cached_qr_matrix
        self.touch = theme.touch_target_px(self.kiosk.settings.screen_dpi)
        Window.show_cursor = not self.kiosk.settings.fullscreen
        Window.bind(
            size=self._rescale,
            on_key_down=self._on_key_down,
            on_textinput=self._on_textinput,
            on_request_close=self._on_request_close,
        )
        self.manager = build_screen_manager()
        self._render_soon = Clock.create_trigger(lambda _dt: self._render(), -1)  # one event, reused for years
        self.flow.listeners.append(self._flow_changed)
        self._rescale()
        self._render()
        return self.manager

    def on_start(self) -> None:
        self.sound = self._load_sound()
        self.wedge = self._start_wedge()
        self.triggers = self._start_triggers()
        self.sync = self._start_sync()
        Clock.schedule_interval(self._tick, TICK_S)
        self.upkeep = self._start_upkeep()
        gc.freeze()  # the widget tree lives forever: keep it out of the collector's full passes
        if self.script:
            self.script(self)

    def on_stop(self) -> None:
        for part in (self.triggers, self.sync, getattr(self, "upkeep", None)):
            if part is not None:
                part.stop()
        self.kiosk.outbox.close()

    def _on_request_close(self, *_args, source=None, **_kwargs) -> bool:
        return source == "keyboard"  # Escape and friends never close the kiosk

    def _start_triggers(self):
        from kiosk.triggers import TriggerServer

        s = self.kiosk.settings
        server = TriggerServer(s.trigger_host, s.trigger_port, s.trigger_token, self.submit_trigger)
        try:
            server.start()
        except KioskError as e:
            log.error("%s", e)
            return None
        return server

    def _start_sync(self):
        from kiosk.syncworker import start_sync

        k = self.kiosk
        return start_sync(k.settings, k.identity, k.outbox, self.submit_trigger, on_config=self.new_config)

    def new_config(self, config: HallConfig) -> None:
        """A configuration pulled from the server (sync thread): the flow swaps it in at the next idle moment."""
        self.flow.handle(NewConfig(config))

    def _start_upkeep(self):
        from kiosk.upkeep import start_upkeep

        return start_upkeep(self)  # systemd watchdog from this loop, hourly WAL checkpoint

    def _start_wedge(self):
        from kiosk.triggers import BarcodeWedge

        return BarcodeWedge(lambda: datetime.now(UTC))

    def _load_sound(self):
        path = self.kiosk.settings.sound_file
        if path is None:
            return None
        from kivy.core.audio import SoundLoader

        sound = SoundLoader.load(str(path)) if Path(path).is_file() else None
        if sound is None:
            log.warning("sound_file %s cannot be played; prompts stay silent", path)
        return sound

    # ------------------------------------------------------------ flow in, screens out

    def now(self) -> datetime:
        return self.kiosk.clock()

    def send(self, event) -> str | None:
        """Hand an event to the flow on the UI thread; returns a message to show if it was refused."""
        try:
            self.flow.handle(event)
        except TriggerRefused as e:
            return str(e)
        except OutboxError as e:
            log.error("storing failed: %s", e)
            return str(e)
        return None

    def submit_trigger(self, trigger: Trigger) -> None:
        """For the HTTP endpoint and the sync poller (any thread): raises TriggerRefused."""
        self.flow.handle(trigger)

    def _flow_changed(self, state: FlowState) -> None:
        """Runs on the thread that changed the flow (UI, HTTP or sync): hop to the Kivy thread to draw."""
        if state.prompt is not None:
            self._cached_qr_matrix(state.prompt.qr_url)  # the slow part of a prompt, done before the hop
        self._render_soon()  # thread-safe; several changes before the next frame draw once, with the latest state
        if self.sync is not None and hasattr(self.sync, "wake"):
            self.sync.wake()

    def _render(self) -> None:
        state = self.flow.state
        if state.large_text != self.large_text:
            self.large_text = state.large_text
            self._rescale()
        if state.screen is Screen.PROMPT and self._shown is not Screen.PROMPT and self.sound:
            self.sound.play()
        if state.screen is not Screen.IDLE and self.wedge is not None:
            self.wedge.reset()  # a half-typed scan must not leak into the next idle moment
        self._shown = state.screen
        hall, window = self.flow.config.hall, self.flow.window  # may change with a pulled configuration
        self.window_title, self.window_name = f"{hall.name}　{window.name}", window.name
        self.manager.current = state.screen.value
        self.manager.current_screen.show(state)

    def _tick(self, _dt) -> None:
        self.send(Tick())
        self.manager.current_screen.tick(self.now())

    def _rescale(self, *_args) -> None:
        from kivy.core.window import Window

        unit = min(Window.width / theme.DESIGN_WIDTH, Window.height / theme.DESIGN_HEIGHT)
        self.gap = 12 * unit
        self.fs = unit * (theme.LARGE_TEXT_SCALE if self.large_text else 1.0)

    # ------------------------------------------------------------ barcode wedge (idle only)

    def _on_textinput(self, _window, text: str) -> None:
        if self.wedge is not None and self.flow.state.screen is Screen.IDLE:
            self._scanned(self.wedge.feed(text))

    def _on_key_down(self, _window, key, *_args) -> bool:
        if key == 27:
            return True  # Escape: swallowed
        if key in ENTER_KEYS and self.wedge is not None and self.flow.state.screen is Screen.IDLE:
            self._scanned(self.wedge.feed("\n"))
        return False

    def _scanned(self, code: str | None) -> None:
        if not code:
            return
        from kiosk.triggers import parse_scan

        refusal = self.send(parse_scan(code))
        if refusal and self.flow.state.screen is Screen.IDLE:
            self.manager.current_screen.flash(refusal)

    # ------------------------------------------------------------ facts for the screens

    def photo_for(self, clerk) -> str:
        if not clerk.photo:
            return ""
        path = Path(self.kiosk.settings.config_dir) / clerk.photo
        return str(path) if path.is_file() else ""

    def department_name(self, code: str) -> str:
        try:
            return self.flow.config.hall.department(code).name
        except KeyError:
            return ""


def launch(kiosk: Kiosk, script: Callable[[KioskApp], None] | None = None) -> int:
    configure_kivy(kiosk.settings, kiosk.font)
    KioskApp(kiosk, script).run()
    return 0


def run(settings_path: Path | str, clock: Callable[[], datetime] | None = None, script=None) -> int:
    """``hcp kiosk``: start the terminal. Configuration problems: one line on stderr, exit 2, no window."""
    try:
        kiosk = assemble(settings_path, clock)
    except HaochapingError as e:
        print(f"hcp kiosk: {e}", file=sys.__stderr__)  # Kivy's logger has taken over sys.stderr
        return 2
    from kiosk.logs import configure_logs

    configure_logs(kiosk.settings.data_dir)
    return launch(kiosk, script)
