"""The systemd watchdog, from a running kiosk: a fake NOTIFY_SOCKET receives READY=1 and then WATCHDOG=1 while
the UI loop runs, nothing while the UI thread is blocked, and STOPPING=1 at exit. Plus sd_notify's details."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from ops_helpers import kiosk_settings, kivy_env

from kiosk.watchdog import Watchdog, attach_to_ui_loop, watchdog_interval_s

DRIVER = Path(__file__).with_name("watchdog_driver.py")


class FakeSystemd(threading.Thread):
    """A unix datagram socket standing in for systemd's notify socket; keeps (arrival time, message)."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            for line in data.decode().splitlines():
                self.messages.append((time.time(), line))

    def close(self) -> None:
        self.done.set()
        self.join(2)
        self.sock.close()

    def times(self, line: str) -> list[float]:
        return [at for at, text in self.messages if text == line]


@pytest.mark.gui
def test_a_running_kiosk_notifies_from_its_ui_loop_and_stops_when_the_loop_is_blocked(xvfb, tmp_path):
    settings = kiosk_settings(tmp_path)
    systemd = FakeSystemd(tmp_path / "notify.sock")
    systemd.start()
    out = tmp_path / "marks.json"
    env = kivy_env(tmp_path, xvfb, NOTIFY_SOCKET=str(tmp_path / "notify.sock"), WATCHDOG_USEC="400000")
    try:
        done = subprocess.run(
            [sys.executable, str(DRIVER), str(settings), str(out), "2.0", "2.0"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        systemd.close()
    assert done.returncode == 0, done.stderr[-3000:]
    marks = json.loads(out.read_text())
    ready, pings = systemd.times("READY=1"), systemd.times("WATCHDOG=1")
    assert len(ready) == 1
    before = [t for t in pings if ready[0] <= t < marks["block_began"]]
    during = [t for t in pings if marks["block_began"] + 0.05 < t < marks["block_ended"] - 0.05]
    after = [t for t in pings if t >= marks["block_ended"]]
    assert len(before) >= 4  # every 0.2 s (half of WATCHDOG_USEC) while the loop runs
    assert during == []  # a frozen UI sends nothing: systemd would restart it after WatchdogSec
    assert len(after) >= 3  # the loop runs again, so do the notifications
    assert max(b - a for a, b in zip(before, before[1:], strict=False)) < 0.6
    assert systemd.times("STOPPING=1")


def test_without_notify_socket_nothing_is_sent_or_scheduled():
    watchdog = Watchdog.from_environment({})
    assert not watchdog.active and not watchdog.ping() and not watchdog.ready()
    calls = []
    assert attach_to_ui_loop(watchdog, calls.append, lambda *a: calls.append(a)) is None
    assert calls == []


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_the_ping_interval_is_half_the_watchdog_period(environ, expected):
    assert watchdog_interval_s(environ, pid=4242) == expected


def test_abstract_socket_names_and_a_vanished_manager(tmp_path):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"hcp-test-{time.monotonic_ns()}"
    listener.bind("\0" + name)
    try:
        watchdog = Watchdog.from_environment({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "1000000"})
        assert watchdog.interval_s == 0.5
        assert watchdog.ready("就绪")
        assert listener.recv(100).decode() == "READY=1\nSTATUS=就绪"
    finally:
        listener.close()
    assert watchdog.ping() is False  # nobody listens any more: a warning, never a crash
