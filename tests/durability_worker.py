"""Rates cases through the real flow and outbox until killed: the other half of test_durability.py.

Usage: ``python tests/durability_worker.py <outbox.db> <seed> [reading_s]``. At start it records the outcome of a prompt
the previous kill left on screen (未评价，已中断), as the kiosk app does. Prints ``ready`` once signed in, then
one rating id per line, flushed, the moment each Submit returns on the thanks screen (when the
citizen would see "谢谢"). The clock is synthetic so that prompts are never "too soon". ``reading_s`` is how
long the citizen reads the prompt before tapping (real time: the kill lands there most of the time).
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from testkit import ADMIN_PIN_HASH

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from haochaping.config import load_hall_config  # noqa: E402
from kiosk.flow import (  # noqa: E402
    ContactSkip,
    Flow,
    Screen,
    SignIn,
    Submit,
    TapLevel,
    Tick,
    ToggleReason,
    Trigger,
)
from kiosk.outbox import Outbox  # noqa: E402


class StepClock:
    """Moves only when told to; starts well after the last stored prompt."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class RecordingOutbox:
    """The real outbox, remembering the last rating it committed."""

    def __init__(self, outbox: Outbox):
        self.outbox = outbox
        self.last_rating: dict | None = None

    def append(self, kind, occurred_at, **fields):
        record = self.outbox.append(kind, occurred_at, **fields)
        if kind == "rating":
            self.last_rating = record
        return record

    def __getattr__(self, name):
        return getattr(self.outbox, name)


def main(db_path: str, seed: str, reading_s: str = "0") -> None:
    config = load_hall_config(ROOT / "config")
    outbox = Outbox(db_path, device_id="dev-durability")
    last = outbox.last_prompt_at()
    clock = StepClock((last or datetime(2026, 11, 27, 9, 0, tzinfo=UTC)) + timedelta(hours=1))
    recording = RecordingOutbox(outbox)
    flow = Flow(config, "A01", recording, clock, lambda case, now: f"http://qr.test/r/{case}", ADMIN_PIN_HASH)
    flow.recover_interrupted()
    flow.handle(SignIn("1001", "1111"))
    print("ready", flush=True)
    rng = random.Random(int(seed))
    for n in range(10**9):
        clock.now += timedelta(seconds=config.rules.min_prompt_interval_s + 1)
        flow.handle(Trigger(f"D{os.getpid()}-{n}", source="barcode"))
        time.sleep(float(reading_s))
        level = rng.randint(1, 5)
        flow.handle(TapLevel(level))
        if level <= 2:
            flow.handle(ToggleReason(config.reasons.for_level(level)[0].code))
        flow.handle(Submit())
        assert flow.screen in (Screen.THANKS, Screen.CONTACT)  # a 差评 is stored before the contact screen
        print(recording.last_rating["id"], flush=True)  # 谢谢 (or the contact screen) is on the screen now
        if flow.screen is Screen.CONTACT:
            flow.handle(ContactSkip())
        clock.now += timedelta(seconds=config.rules.thanks_s)
        flow.handle(Tick())


if __name__ == "__main__":
    main(*sys.argv[1:])
