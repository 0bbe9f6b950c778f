"""``hcp bench kiosk``: how fast the real kiosk starts, shows a prompt and stores a rating, under Xvfb.

Prints one ``<name> <value> <unit>`` line per figure:

- ``kiosk.start_to_idle_s``: process start until the first frame of the idle screen is drawn;
- ``kiosk.trigger_to_prompt_ms.p95``: an HTTP trigger sent to the kiosk until the prompt frame is drawn;
- ``kiosk.tap_to_commit_ms.p99``: the tap on 提交 until the rating row is committed (WAL, synchronous=FULL);
- ``kiosk.outbox_year_query_ms.max``: the slowest of the outbox's hot queries on a year (20,000) of records.

The kiosk runs in a child process (Kivy allows one window per process) against a throwaway data dir;
a private Xvfb display is started when ``DISPLAY`` is not set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.kit import CLERK, CLERK_PIN, CONFIG_DIR, percentile, virtual_display, write_settings

ROUNDS = 40


def run(args) -> int:
    rounds = getattr(args, "rounds", None) or ROUNDS
    if not (CONFIG_DIR / "hall.toml").is_file():
        print(f"hcp bench kiosk: 需要示例配置目录 {CONFIG_DIR}", file=sys.stderr)
        return 2
    with (
        tempfile.TemporaryDirectory(prefix="hcp-bench-kiosk-") as tmp,
        virtual_display("1280x800x24", first=150) as display,
    ):
        tmp = Path(tmp)
        settings = write_settings(tmp, "bench-trigger-token-0123456789", 1280, 800)
        out = tmp / "result.json"
        env = dict(os.environ, DISPLAY=display, KIVY_HOME=str(tmp / "kivy"), KIVY_NO_CONSOLELOG="1")
        started = time.time()
        done = subprocess.run(
            [sys.executable, "-m", "bench.kiosk", str(settings), str(out), str(rounds)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0 or not out.exists():
            print(f"hcp bench kiosk: 评价器未能完成测量\n{done.stderr[-2000:]}", file=sys.stderr)
            return 1
        result = json.loads(out.read_text())
    if result.get("error"):
        print(f"hcp bench kiosk: {result['error']}", file=sys.stderr)
        return 1
    for name, value, unit in figures(result, started):
        print(f"{name} {value} {unit}")
    print(f"kiosk.outbox_year_query_ms.max {outbox_year_query_ms():.2f} ms")
    return 0


def outbox_year_query_ms(records: int = 20_000, calls: int = 20) -> float:
    """The slowest of the outbox's hot queries (pending, depth, case status, last prompt) on a year of records
    (``records``), in milliseconds per call: what the UI thread may wait for while the sync worker holds the lock."""
    from datetime import UTC, datetime

    from kiosk.outbox import Outbox

    with tempfile.TemporaryDirectory(prefix="hcp-bench-outbox-") as tmp:
        box = Outbox(Path(tmp) / "outbox.db", "dev-year")
        box.db.execute("PRAGMA synchronous=OFF")  # only to write the year quickly
        now = datetime(2026, 11, 27, 9, tzinfo=UTC)
        kinds = ("prompt", "rating")
        ids = [box.append(kinds[i % 2], now, case_no=f"Y{i // 2}")["id"] for i in range(records)]
        box.mark_acknowledged(ids[:-10], "stored", now)
        slowest = 0.0
        for call in (lambda: box.pending(100), box.depth, lambda: box.case_status("Y123"), box.last_prompt_at):
            started = time.perf_counter()
            for _ in range(calls):
                call()
            slowest = max(slowest, (time.perf_counter() - started) / calls * 1000)
        box.close()
    return slowest


def figures(result: dict, started: float) -> list[tuple[str, str, str]]:
    prompt, commit = result["trigger_to_prompt_ms"], result["tap_to_commit_ms"]
    return [
        ("kiosk.start_to_idle_s", f"{result['idle_frame_at'] - started:.2f}", "s"),
        ("kiosk.trigger_to_prompt_ms.p50", f"{percentile(prompt, 50):.1f}", "ms"),
        ("kiosk.trigger_to_prompt_ms.p95", f"{percentile(prompt, 95):.1f}", "ms"),
        ("kiosk.tap_to_commit_ms.p50", f"{percentile(commit, 50):.1f}", "ms"),
        ("kiosk.tap_to_commit_ms.p99", f"{percentile(commit, 99):.1f}", "ms"),
        ("kiosk.rounds", str(len(prompt)), "count"),
    ]


# ---------------------------------------------------------------- set-up


# ---------------------------------------------------------------- the child: the kiosk measuring itself


class _TimedOutbox:
    """The outbox, noting when each rating's commit returned."""

    def __init__(self, outbox):
        self._outbox = outbox
        self.rating_committed_at: float | None = None

    def append(self, kind, occurred_at, **fields):
        record = self._outbox.append(kind, occurred_at, **fields)
        if kind == "rating":
            self.rating_committed_at = time.perf_counter()
        return record

    def __getattr__(self, name):
        return getattr(self._outbox, name)


def _measure(robot, clock, rounds: int, result: dict):
    from kiosk.view.widgets import LevelButton

    app = robot.app
    rules = app.flow.config.rules
    timed = _TimedOutbox(app.flow.outbox)
    app.flow.outbox = timed
    prompt_drawn: list[float] = []
    robot.flip_listeners.append(
        lambda: prompt_drawn.append(time.perf_counter()) if app.manager.current == "prompt" else None
    )
    yield robot.screen("idle")
    yield robot.frames(2)
    for i in range(rounds):
        clock.advance(rules.min_prompt_interval_s + 1)
        sent = _post_in_background(robot, f"BENCH-{i:04d}")
        prompt_drawn.clear()
        yield robot.until("prompt drawn", lambda: bool(prompt_drawn))
        result["trigger_to_prompt_ms"].append((prompt_drawn[0] - sent["at"]) * 1000)
        yield robot.screen("prompt")
        robot.tap(robot.find(cls=LevelButton, where=lambda w: w.level == 5))
        yield robot.screen("reasons")
        yield robot.frames(1)
        tapped = time.perf_counter()
        robot.tap("提交")
        result["tap_to_commit_ms"].append((timed.rating_committed_at - tapped) * 1000)
        yield robot.screen("thanks")
        clock.advance(rules.thanks_s + 1)
        yield robot.screen("idle")


def _post_in_background(robot, case_no: str) -> dict:
    sent: dict = {}

    def post():
        sent["at"] = time.perf_counter()
        robot.http_trigger(case_no)

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    while "at" not in sent:
        time.sleep(0.0005)
    return sent


def _child(settings: str, out: str, rounds: int) -> int:
    from bench.robot import MovableClock
    from kiosk.app import run as run_app
    from kiosk.flow import SignIn

    clock = MovableClock(frozen=True)  # time moves only when the script moves it, however slow the machine
    result: dict = {"trigger_to_prompt_ms": [], "tap_to_commit_ms": [], "idle_frame_at": None, "error": None}

    def script(app):
        from bench.robot import Robot

        robot = Robot(app, Path(out).parent / "screens")

        def first_idle_frame():
            if result["idle_frame_at"] is None and app.manager.current == "idle":
                result["idle_frame_at"] = time.time()

        robot.flip_listeners.append(first_idle_frame)
        app.send(SignIn(CLERK, CLERK_PIN))  # the clerk signs in as the kiosk starts

        def done(robot):
            result["error"] = robot.summary["error"]
            Path(out).write_text(json.dumps(result))

        robot.play(_measure(robot, clock, rounds, result), on_done=done)

    return run_app(settings, clock=clock, script=script)


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], sys.argv[2], int(sys.argv[3])))
