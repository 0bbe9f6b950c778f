"""A robot that uses a running kiosk the way people do — taps, press-and-hold, typing — and photographs
every screen. The GUI tests and ``hcp bench kiosk`` drive the real app with it (one app per process), through
the app's scripted-input hook ``kiosk.app.run(settings, clock=, script=)``.

A script is a generator that yields ``Wait`` conditions; the robot resumes it on the Kivy thread once a
condition holds, so taps, frames and screenshots happen in order without sleeping.
"""

from __future__ import annotations

import json
import os
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kivy.clock import Clock
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label

from kiosk.flow import Tick
from kiosk.view.widgets import HoldArea

# kivy.core.window opens the window on import: only after kiosk.app.configure_kivy has run.
Window = None

WAIT_LIMIT_S = 120.0  # a stuck script, not a slow machine: waits are for conditions, never for time


class MovableClock:
    """Real UTC time plus an offset a script moves forward, so timeouts fire without waiting. With ``frozen=True``
    (what the GUI tests and the benchmarks use) the time stands still between moves, so nothing counts down or
    times out while a busy machine draws slowly."""

    def __init__(self, frozen: bool = False):
        self.offset = timedelta()
        self.frozen_at = datetime.now(UTC) if frozen else None

    def __call__(self) -> datetime:
        return (self.frozen_at or datetime.now(UTC)) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@dataclass
class Wait:
    what: str
    ready: Callable[[], bool]


Script = Iterator[Wait]


class Robot:
    def __init__(self, app, out_dir: Path):
        global Window
        from kivy.core.window import Window

        self.app = app
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.flips = 0
        self.flip_listeners: list[Callable[[], None]] = []
        self.summary: dict = {"size": list(Window.size), "screens": [], "error": None}
        self._shot: str | None = None
        self.ticks = 0
        Window.bind(on_flip=self._on_flip)
        handle = app.flow.handle

        def counting(event):
            if isinstance(event, Tick):
                self.ticks += 1
            return handle(event)

        app.flow.handle = counting  # the app's 0.25 s tick reaches the flow as Tick events: count them

    # ------------------------------------------------------------ running a script

    def play(self, script: Script, on_done: Callable[[Robot], None] | None = None) -> None:
        state = {"wait": None, "since": time.monotonic()}

        def pump(_dt):
            try:
                while state["wait"] is None or state["wait"].ready():
                    state["wait"], state["since"] = next(script), time.monotonic()
                if time.monotonic() - state["since"] > WAIT_LIMIT_S:
                    raise TimeoutError(f"waited {WAIT_LIMIT_S:.0f} s for: {state['wait'].what}")
            except StopIteration:
                self._finish(on_done)
                return False
            except Exception:
                self.summary["error"] = traceback.format_exc()
                self._finish(on_done)
                return False

        Clock.schedule_interval(pump, 0)

    def _finish(self, on_done) -> None:
        if on_done:
            on_done(self)
        (self.out_dir / "summary.json").write_text(json.dumps(self.summary, ensure_ascii=False, indent=1))
        self.app.stop()

    # ------------------------------------------------------------ waiting

    def frames(self, n: int = 3) -> Wait:
        target = self.flips + n

        def ready() -> bool:
            Window.canvas.ask_update()
            return self.flips >= target

        return Wait(f"{n} frames", ready)

    def screen(self, name: str) -> Wait:
        manager = self.app.manager
        # Touches are ignored while a (zero-length) screen transition is still active.
        return Wait(f"screen {name}", lambda: manager.current == name and not manager.transition.is_active)

    def until(self, what: str, ready: Callable[[], bool]) -> Wait:
        return Wait(what, ready)

    def tick(self) -> Wait:
        """Let the app's 0.25 s tick run once more (timeouts and press-and-hold are checked there)."""
        target = self.ticks + 1
        return Wait("a tick", lambda: self.ticks >= target)

    def settled(self, frames: int = 2) -> Wait:
        """Wait until the layout has settled: every visible widget kept its place, size and text size over
        ``frames`` drawn frames in a row (Kivy lays out over several frames after a change)."""
        seen = {"flips": self.flips, "shape": None, "same": 0}

        def ready() -> bool:
            Window.canvas.ask_update()
            if self.flips == seen["flips"]:
                return False
            shape = self._layout()
            seen["same"] = seen["same"] + 1 if shape == seen["shape"] else 0
            seen["flips"], seen["shape"] = self.flips, shape
            return seen["same"] >= frames

        return Wait("layout settled", ready)

    def _layout(self) -> list:
        shape = []
        for w in self.visible_widgets():
            texture = tuple(w.texture_size) if isinstance(w, Label) else ()
            shape.append((id(w), _window_rect(w), texture, getattr(w, "text", None)))
        return shape

    def _on_flip(self, *_args) -> None:
        self.flips += 1
        for listener in list(self.flip_listeners):
            listener()
        if self._shot:
            # Bound handlers run before the buffer swap: the back buffer holds this frame.
            taken = Window.screenshot(name=str(self.out_dir / "_shot.png"))
            os.replace(taken, self.out_dir / f"{self._shot}.png")
            self._shot = None

    # ------------------------------------------------------------ looking

    def shoot(self, name: str) -> Script:
        """Wait for the layout to settle, record what a person would check on the screen, photograph it."""
        yield self.settled()
        entry = {"name": name, "screen": self.app.manager.current, "shot": f"{name}.png", "font_scale": self.app.fs}
        self.summary["screens"].append({**entry, **self.audit()})
        self._shot = name
        yield Wait(f"screenshot {name}", lambda: self._shot is None)

    def visible_widgets(self):
        for widget in self.app.manager.current_screen.walk(restrict=True):
            if widget.opacity > 0 and widget.width > 0 and widget.height > 0:
                yield widget

    def audit(self) -> dict:
        """Texts, labels whose text does not fit, touch targets under 15 mm, widgets off the window or
        spilling out of their parent (a layout that overflowed)."""
        texts, cut_off, too_small, outside = [], [], [], []
        touch = self.app.touch
        for w in self.visible_widgets():
            if not _inside(w, (0, 0, Window.width, Window.height)):
                outside.append(_describe(w))
            elif w.parent is not None and not _inside(w, _window_rect(w.parent)):
                outside.append(f"{_describe(w)} spills out of {_describe(w.parent)}")
            if isinstance(w, Label) and w.text:
                texts.append(w.text)
                tw, th = w.texture_size
                if tw > w.width + 1 or th > w.height + 1:
                    cut_off.append(f"{_describe(w)} texture {tw:.0f}x{th:.0f} in {w.width:.0f}x{w.height:.0f}")
            if isinstance(w, ButtonBehavior | HoldArea) and (w.width < touch - 0.5 or w.height < touch - 0.5):
                too_small.append(f"{_describe(w)} {w.width:.0f}x{w.height:.0f} < {touch:.0f}")
        return {"texts": texts, "cut_off": cut_off, "too_small": too_small, "outside": outside}

    # ------------------------------------------------------------ finding and touching

    def find(self, text: str | None = None, cls: type | None = None, where=None):
        for w in self.visible_widgets():
            if cls is not None and not isinstance(w, cls):
                continue
            if text is not None and getattr(w, "text", None) != text:
                continue
            if where is not None and not where(w):
                continue
            return w
        raise LookupError(f"no {cls.__name__ if cls else 'widget'} {text!r} on screen {self.app.manager.current}")

    def button(self, text: str):
        return self.find(text, ButtonBehavior)

    def tap(self, target) -> None:
        widget = self.button(target) if isinstance(target, str) else target
        touch = _touch(widget)
        touch.touch_down()
        touch.touch_up()

    def type_keys(self, keys: str) -> None:
        for key in keys:
            self.tap(key)

    def press(self, widget):
        touch = _touch(widget)
        touch.touch_down()
        return touch

    # ------------------------------------------------------------ the case system

    def http_trigger(self, case_no: str, matter_code: str | None = None) -> tuple[int, dict]:
        """POST the trigger the way the case system does; without the endpoint, hand it to the app."""
        server = self.app.triggers
        if server is None:
            from kiosk.flow import Trigger

            self.app.submit_trigger(Trigger(case_no, matter_code, source="http"))
            return 200, {"ok": True}
        body = json.dumps({"case_no": case_no, "matter_code": matter_code}).encode()
        request = urllib.request.Request(
            server.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {server.token.decode()}"},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=5) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")


def _window_rect(widget) -> tuple[float, float, float, float]:
    x, y = widget.to_window(widget.x, widget.y)
    return x, y, widget.width, widget.height


def _inside(widget, rect, tolerance: float = 1.0) -> bool:
    """Whether a widget lies within a window rectangle (x, y, width, height)."""
    x, y, w, h = _window_rect(widget)
    rx, ry, rw, rh = rect
    return x >= rx - tolerance and y >= ry - tolerance and x + w <= rx + rw + tolerance and y + h <= ry + rh + tolerance


def _touch(widget):
    from kivy.tests.common import UnitTestTouch

    return UnitTestTouch(*widget.to_window(*widget.center))


def _describe(widget) -> str:
    text = getattr(widget, "text", "")
    return f"{type(widget).__name__}({text!r})" if text else type(widget).__name__
