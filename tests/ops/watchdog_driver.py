"""Runs the real kiosk under a display, lets its UI loop run, then blocks the UI thread for a while (a frozen UI),
lets it run again and stops; writes when the block began and ended (``time.time()``) to OUT.

    python tests/ops/watchdog_driver.py SETTINGS OUT RUN_S BLOCK_S

The watchdog tests start it with NOTIFY_SOCKET and WATCHDOG_USEC set and listen on that socket.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(settings: str, out: str, run_s: float, block_s: float) -> int:
    from kivy.clock import Clock

    from kiosk.app import run

    marks: dict[str, float] = {}

    def script(app):
        # Kivy's Clock measures from its last tick, which is stale after a long start or a block:
        # poll the real time instead of scheduling by timeout.
        def step(_dt):
            now = time.time()
            if "block_began" not in marks and now - marks["started"] >= run_s:
                marks["block_began"] = time.time()
                time.sleep(block_s)  # the UI thread is stuck: no frame, no Clock callback runs
                marks["block_ended"] = time.time()
            elif "block_ended" in marks and now - marks["block_ended"] >= run_s:
                Path(out).write_text(json.dumps(marks))
                app.stop()
                return False
            return True

        marks["started"] = time.time()
        Clock.schedule_interval(step, 0.05)

    return run(settings, script=script)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])))
