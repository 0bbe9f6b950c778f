"""The systemd watchdog, from a running kiosk: a fake NOTIFY_SOCKET receives READY=1 and then WATCHDOG=1 while
the UI loop runs, nothing while the UI thread is blocked, and STOPPING=1 at exit (checked by the order of the
messages, never by their timing). Plus sd_notify's details."""

from __future__ import annotations

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
BLOCK_BEGAN, BLOCK_ENDED = "X-TEST=block-began", "X-TEST=block-ended"  # as watchdog_driver.py sends them


class FakeSystemd(threading.Thread):
    """A unix datagram socket standing in for systemd's notify socket; keeps the lines in the order they arrive."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.lines: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.lines.extend(data.decode().splitlines())

    def close(self) -> None:
        self.done.set()
        self.join(2)
        self.sock.close()


@pytest.mark.gui
def test_a_running_kiosk_notifies_from_its_ui_loop_and_stops_when_the_loop_is_blocked(xvfb, tmp_path):
    settings = kiosk_settings(tmp_path)
    systemd = FakeSystemd(tmp_path / "notify.sock")
    systemd.start()
    env = kivy_env(tmp_path, xvfb, NOTIFY_SOCKET=str(tmp_path / "notify.sock"), WATCHDOG_USEC="400000")
    try:
        # 4 pings, then the UI thread blocks for 2 s (ten ping periods), then 3 more pings and a clean stop
        done = subprocess.run(
            [sys.executable, str(DRIVER), "4", "2.0", "3", str(settings)],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        systemd.close()
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in systemd.lines if not line.startswith("STATUS=")]
    began, ended = lines.index(BLOCK_BEGAN), lines.index(BLOCK_ENDED)
    assert lines.count("READY=1") == 1 and lines.index("READY=1") < began
    assert lines[:began].count("WATCHDOG=1") >= 4  # sent from the loop while it runs
    assert lines[began + 1 : ended] == []  # a frozen UI sends nothing: systemd would restart it after WatchdogSec
    assert lines[ended + 1 :].count("WATCHDOG=1") >= 3  # the loop runs again, so do the notifications
    assert lines[-1] == "STOPPING=1"


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
