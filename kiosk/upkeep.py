"""What keeps a kiosk healthy for years, wired into the Kivy loop: the systemd watchdog (from the UI loop itself),
an hourly WAL checkpoint of the outbox, and the logs under ``<data_dir>/logs``.

The app calls ``start_upkeep(app)`` in ``on_start`` and ``stop()`` in ``on_stop``; everything else lives in
``kiosk.watchdog`` (sd_notify), ``kiosk.logs`` (rotation) and ``Outbox.checkpoint``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from kivy.clock import Clock

from kiosk.errors import OutboxError
from kiosk.watchdog import Watchdog, attach_to_ui_loop

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_S = 3600.0


@dataclass
class Upkeep:
    watchdog: Watchdog
    outbox: object
    events: list = field(default_factory=list)

    def checkpoint(self, *_args) -> None:
        try:
            left = self.outbox.checkpoint()
        except OutboxError as e:
            log.warning("WAL checkpoint failed: %s", e)
            return
        if left:
            log.info("WAL checkpoint left %d pages for later", left)

    def stop(self) -> None:
        for event in self.events:
            event.cancel()
        self.events.clear()
        self.watchdog.stopping()
        self.watchdog.close()


def start_upkeep(app, environ=None) -> Upkeep:
    """Start the watchdog notifications and the hourly checkpoint on the Kivy clock (UI thread)."""
    watchdog = Watchdog.from_environment(os.environ if environ is None else environ)
    upkeep = Upkeep(watchdog, app.kiosk.outbox)
    ping = attach_to_ui_loop(watchdog, Clock.schedule_once, Clock.schedule_interval)
    if ping is not None:
        upkeep.events.append(ping)
    upkeep.events.append(Clock.schedule_interval(upkeep.checkpoint, CHECKPOINT_EVERY_S))
    return upkeep
