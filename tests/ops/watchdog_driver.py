"""Runs the real kiosk under a display, lets its UI loop send a few watchdog pings, then blocks the UI thread for
a while (a frozen UI), lets it send a few more and stops. It marks the block's start and end on the same notify
socket the kiosk writes to, from the same UI thread, so the listener sees every message in the order it was sent.

    python tests/ops/watchdog_driver.py PINGS_BEFORE BLOCK_S PINGS_AFTER SETTINGS

The watchdog tests start it with NOTIFY_SOCKET and WATCHDOG_USEC set and listen on that socket. Phases follow
the number of pings sent, not the time that passed, so a busy machine only makes the run longer.
"""

from __future__ import annotations

import os
import sys
import time

BLOCK_BEGAN, BLOCK_ENDED = "X-TEST=block-began", "X-TEST=block-ended"


def main(pings_before: int, block_s: float, pings_after: int, settings: str) -> int:
    from kivy.clock import Clock

    from kiosk.app import run
    from kiosk.watchdog import Notifier, Watchdog

    sent = {"pings": 0}
    real_ping = Watchdog.ping

    def ping(self, *args):  # named ping: Kivy's Clock looks a bound method up again by its name
        sent["pings"] += 1
        return real_ping(self, *args)

    Watchdog.ping = ping
    marker = Notifier(os.environ["NOTIFY_SOCKET"])

    def script(app):
        phase = {"blocked_at": None}

        def step(_dt):
            if phase["blocked_at"] is None and sent["pings"] >= pings_before:
                marker.send(BLOCK_BEGAN)
                time.sleep(block_s)  # the UI thread is stuck: no frame, no Clock callback runs
                marker.send(BLOCK_ENDED)
                phase["blocked_at"] = sent["pings"]
            elif phase["blocked_at"] is not None and sent["pings"] >= phase["blocked_at"] + pings_after:
                app.stop()
                return False
            return True

        Clock.schedule_interval(step, 0)

    return run(settings, script=script)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
