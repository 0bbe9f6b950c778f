"""The systemd watchdog for the kiosk: ``sd_notify`` over ``NOTIFY_SOCKET`` with the standard library only.

``READY=1`` once the UI is up; ``WATCHDOG=1`` from a Kivy ``Clock`` interval at half of ``WATCHDOG_USEC``, so the
notifications come from the UI loop itself: when the loop freezes, they stop, and systemd restarts the kiosk
(``hcp-kiosk.service``: ``Type=notify``, ``WatchdogSec=``, ``NotifyAccess=main``). Without ``NOTIFY_SOCKET``
(started by hand, in tests) everything here does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)


class Notifier:
    """Sends ``KEY=VALUE`` lines to the service manager's datagram socket (an abstract one starts with ``@``)."""

    def __init__(self, socket_path: str):
        self.address = "\0" + socket_path[1:] if socket_path.startswith("@") else socket_path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    def send(self, *lines: str) -> bool:
        try:
            self._sock.sendto("\n".join(lines).encode(), self.address)
        except OSError as e:  # the manager went away or the socket is full: never crash the kiosk for it
            log.warning("sd_notify failed: %s", e)
            return False
        return True

    def close(self) -> None:
        self._sock.close()


@dataclass
class Watchdog:
    """What the kiosk tells systemd. ``interval_s`` is None when no watchdog is configured for this process."""

    notifier: Notifier | None
    interval_s: float | None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], pid: int | None = None) -> Watchdog:
        """Read ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` (called at the process edge only)."""
        path = environ.get("NOTIFY_SOCKET")
        notifier = Notifier(path) if path else None
        return cls(notifier, watchdog_interval_s(environ, os.getpid() if pid is None else pid))

    @property
    def active(self) -> bool:
        return self.notifier is not None

    def ready(self, status: str = "评价器已就绪") -> bool:
        return self._send("READY=1", f"STATUS={status}")

    def ping(self, *_args) -> bool:
        """One ``WATCHDOG=1``; usable directly as a Kivy Clock callback."""
        return self._send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self._send(f"STATUS={text}")

    def stopping(self) -> bool:
        return self._send("STOPPING=1")

    def _send(self, *lines: str) -> bool:
        return self.notifier.send(*lines) if self.notifier else False

    def close(self) -> None:
        if self.notifier:
            self.notifier.close()


def watchdog_interval_s(environ: Mapping[str, str], pid: int) -> float | None:
    """Half of ``WATCHDOG_USEC`` in seconds, or None (no watchdog, or it is meant for another process)."""
    owner = environ.get("WATCHDOG_PID")
    if owner and owner.strip() != str(pid):
        return None
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2 / 1_000_000 if usec > 0 else None


def attach_to_ui_loop(watchdog: Watchdog, schedule_once, schedule_interval) -> object | None:
    """READY=1 on the loop's next frame, then WATCHDOG=1 every half period from the loop. Returns the interval
    event (cancel it at exit), or None when there is nothing to notify."""
    if not watchdog.active:
        return None
    schedule_once(lambda _dt: watchdog.ready(), 0)
    if watchdog.interval_s is None:
        return None
    return schedule_interval(watchdog.ping, watchdog.interval_s)
