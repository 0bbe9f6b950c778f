"""``hcp bench kiosk-soak``: thousands of prompt → rate → thanks cycles in the real kiosk, to see it does not degrade.

The kiosk runs in a child process under Xvfb (a private display is started when ``DISPLAY`` is not set), with an
accelerated clock: the flow's clock is a movable one that the script moves past the thanks screen, and the rules
file is a copy with ``min_prompt_interval_s = 0``. Each cycle: an HTTP trigger from the case system, the prompt
drawn, a tap on a level, (a reason for a bad one), 提交, 谢谢, back to idle. Prints one ``<name> <value> <unit>``
line per figure:

- ``kiosk.soak_rss_growth_mb``: resident memory at the end minus after the warm-up (target ≤ 20 MB / 10,000 cycles);
- ``kiosk.soak_frame_ms.p99.start`` / ``.end``: frame intervals over the first cycles after the warm-up and the last;
- ``kiosk.soak_prompt_ms.p99.start`` / ``.end``: trigger until the prompt frame is drawn, same windows;
- ``kiosk.soak_cycles``, ``kiosk.soak_duration_s``, ``kiosk.soak_outbox_mb`` and ``kiosk.soak_wal_mb``.
"""

from __future__ import annotations

import gc
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import kit
from bench.kit import CLERK, CLERK_PIN, CONFIG_DIR, percentile, virtual_display

RSS_SAMPLES = 100  # resident memory is sampled this many times over the run
BAD_EVERY = 10  # every 10th rating is 不满意 with a reason


def register(which) -> None:
    soak = which.add_parser("kiosk-soak", help="评价器耐久：数千次 提示→评价→致谢 循环后的内存增长与帧时间（Xvfb）")
    soak.add_argument("--cycles", type=int, default=10_000, help="循环次数（默认 10000）")
    soak.add_argument("--width", type=int, default=1280, help="窗口宽度（默认 1280）")
    soak.add_argument("--height", type=int, default=800, help="窗口高度（默认 800）")
    soak.add_argument("--json", type=Path, default=None, help="另存完整结果（JSON）到此文件")
    soak.set_defaults(func=run)


def run(args) -> int:
    cycles = max(20, int(args.cycles))
    if not (CONFIG_DIR / "hall.toml").is_file():
        print(f"hcp bench kiosk-soak: 需要示例配置目录 {CONFIG_DIR}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="hcp-soak-") as tmp, virtual_display("1920x1080x24", first=250) as display:
        result = run_child(Path(tmp), display, cycles, getattr(args, "width", 1280), getattr(args, "height", 800))
    if result.get("error"):
        print(f"hcp bench kiosk-soak: {result['error']}", file=sys.stderr)
        return 1
    if getattr(args, "json", None):
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=1))
    for name, value, unit in figures(result):
        print(f"{name} {value} {unit}")
    return 0


def run_child(tmp: Path, display: str, cycles: int, width: int = 1280, height: int = 800) -> dict:
    """Run the soak in a child kiosk; returns its result (``error`` set when it did not finish)."""
    settings = write_settings(tmp, width, height)
    out = tmp / "soak.json"
    env = dict(os.environ, DISPLAY=display, KIVY_HOME=str(tmp / "kivy"), KIVY_NO_CONSOLELOG="1", KIVY_NO_ARGS="1")
    for key in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        env.pop(key, None)
    done = subprocess.run(
        [sys.executable, "-m", "bench.kiosk_soak", str(settings), str(out), str(cycles)],
        env=env,
        capture_output=True,
        text=True,
        timeout=max(900, cycles * 3),
    )
    if not out.exists():
        return {"error": f"评价器未能完成耐久测试（退出码 {done.returncode}）\n{done.stderr[-2000:]}"}
    result = json.loads(out.read_text())
    if done.returncode != 0 and not result.get("error"):
        result["error"] = f"退出码 {done.returncode}\n{done.stderr[-2000:]}"
    return result


def figures(result: dict) -> list[tuple[str, str, str]]:
    rss = result["rss_mb"]
    frame, prompt = result["frame_ms"], result["prompt_ms"]
    return [
        ("kiosk.soak_cycles", str(result["cycles"]), "count"),
        ("kiosk.soak_duration_s", f"{result['duration_s']:.0f}", "s"),
        ("kiosk.soak_rss_mb.after_warmup", f"{rss['after_warmup']:.1f}", "MB"),
        ("kiosk.soak_rss_mb.end", f"{rss['end']:.1f}", "MB"),
        ("kiosk.soak_rss_growth_mb", f"{rss['end'] - rss['after_warmup']:.1f}", "MB"),
        ("kiosk.soak_frame_ms.p99.start", f"{percentile(frame['start'], 99):.1f}", "ms"),
        ("kiosk.soak_frame_ms.p99.end", f"{percentile(frame['end'], 99):.1f}", "ms"),
        ("kiosk.soak_prompt_ms.p99.start", f"{percentile(prompt['start'], 99):.1f}", "ms"),
        ("kiosk.soak_prompt_ms.p99.end", f"{percentile(prompt['end'], 99):.1f}", "ms"),
        ("kiosk.soak_widgets.after_warmup", str(result["widgets"]["after_warmup"]), "count"),
        ("kiosk.soak_widgets.end", str(result["widgets"]["end"]), "count"),
        ("kiosk.soak_outbox_mb", f"{result['outbox_bytes'] / 2**20:.1f}", "MB"),
        ("kiosk.soak_wal_mb", f"{result['wal_bytes'] / 2**20:.2f}", "MB"),
    ]


def windows(cycles: int) -> tuple[int, int]:
    """(warm-up cycles, cycles per measuring window)."""
    warmup = min(500, max(min(40, cycles // 2), cycles // 5))
    window = min(500, max(10, (cycles - warmup) // 4))
    return warmup, window


# ---------------------------------------------------------------- set-up


def write_settings(tmp: Path, width: int, height: int) -> Path:
    """Settings with a rules copy that lets prompts follow each other at once and thanks last one second."""
    rules = (CONFIG_DIR / "rules" / "default.toml").read_text(encoding="utf-8")
    rules = re.sub(r"(?m)^min_prompt_interval_s\s*=.*$", "min_prompt_interval_s = 0", rules)
    rules = re.sub(r"(?m)^thanks_s\s*=.*$", "thanks_s = 1", rules)
    (tmp / "soak-rules.toml").write_text(rules, encoding="utf-8")
    return kit.write_settings(tmp, "soak-trigger-token-0123456789", width, height, tmp / "soak-rules.toml")


# ---------------------------------------------------------------- the child: the kiosk soaking itself


def rss_mb() -> float:
    """Resident memory of this process (after a full collection, so garbage does not count)."""
    gc.collect()
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def widgets_alive() -> int:
    """Kivy widgets that exist now (a screen that re-creates widgets and never frees them shows up here)."""
    from kivy.uix.widget import Widget

    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, Widget))


class FrameClock:
    """Frame times and prompt latencies, kept only inside the measuring windows (the soak must not leak).

    A frame time is the interval from the start of one loop iteration that drew a frame to the start of the next
    (so it includes the buffer swap; at Kivy's 60 fps cap it is never below 16.7 ms). Iterations that drew
    nothing are not frames and are not counted.
    """

    def __init__(self):
        self.tick_at: float | None = None
        self.drew = False
        self.frames: list[float] | None = None
        self.prompt_sent: float | None = None
        self.prompt_drawn: float | None = None

    def tick(self, _dt=None) -> None:
        now = time.perf_counter()
        if self.drew and self.frames is not None and self.tick_at is not None:
            self.frames.append((now - self.tick_at) * 1000)
        self.tick_at, self.drew = now, False

    def flip(self, screen: str) -> None:
        self.drew = True
        if screen == "prompt" and self.prompt_sent is not None and self.prompt_drawn is None:
            self.prompt_drawn = time.perf_counter()


class CaseSystem(threading.Thread):
    """One thread posting triggers to the kiosk's HTTP endpoint, as the case system does."""

    def __init__(self, robot):
        super().__init__(name="soak-case-system", daemon=True)
        self.robot, self.cases = robot, queue.Queue()
        self.refused: list = []

    def run(self) -> None:
        while True:
            case_no = self.cases.get()
            status, answer = self.robot.http_trigger(case_no)
            if status != 200:
                self.refused.append([case_no, status, answer])


def soak_script(robot, clock, cycles: int, result: dict):
    from kivy.clock import Clock

    from kiosk.flow import Tick
    from kiosk.view.widgets import LevelButton

    app = robot.app
    rules = app.flow.config.rules
    warmup, window = windows(cycles)
    frames = FrameClock()
    robot.flip_listeners.append(lambda: frames.flip(app.manager.current))
    Clock.schedule_interval(frames.tick, 0)
    case_system = CaseSystem(robot)
    case_system.start()
    yield robot.screen("idle")
    yield robot.frames(2)
    started = time.perf_counter()
    for i in range(cycles):
        part = "start" if warmup <= i < warmup + window else "end" if i >= cycles - window else None
        frames.frames = result["frame_ms"][part] if part else None
        frames.prompt_sent, frames.prompt_drawn = time.perf_counter(), None
        case_system.cases.put(f"SOAK-{i:06d}")
        yield robot.until("prompt drawn", lambda: frames.prompt_drawn is not None)
        if part:
            result["prompt_ms"][part].append((frames.prompt_drawn - frames.prompt_sent) * 1000)
        yield robot.screen("prompt")
        bad = i % BAD_EVERY == BAD_EVERY - 1
        robot.tap(robot.find(cls=LevelButton, where=lambda w, lv=(2 if bad else 5 - i % 3): w.level == lv))
        yield robot.screen("reasons")
        yield robot.frames(1)
        if bad:
            robot.tap(robot.find(where=lambda w: getattr(w, "value", None) == 214))
        robot.tap("提交")
        if bad and rules.contact.offer:  # a 差评 may leave a mobile number: the keypad is soaked too
            yield robot.screen("contact")
            robot.type_keys("13800138000")
            robot.tap("确定")
        yield robot.screen("thanks")
        clock.advance(rules.thanks_s + 1)
        app.send(Tick())
        yield robot.screen("idle")
        done = i + 1
        if done == warmup:
            result["rss_mb"]["after_warmup"] = rss_mb()
            result["widgets"] = {"after_warmup": widgets_alive()}
        if done % max(10, cycles // RSS_SAMPLES) == 0:
            result["rss_mb"]["samples"].append([done, round(rss_mb(), 2)])
    result["duration_s"] = time.perf_counter() - started
    result["rss_mb"]["end"] = rss_mb()
    result["widgets"]["end"] = widgets_alive()
    result["cycles"] = cycles
    result["refused"] = case_system.refused[:10]
    outbox = app.kiosk.outbox
    result["ratings_stored"] = sum(1 for _ in outbox.records(kind="rating"))
    outbox.checkpoint()
    result["outbox_bytes"] = outbox.path.stat().st_size
    wal = outbox.path.with_name(outbox.path.name + "-wal")
    result["wal_bytes"] = wal.stat().st_size if wal.exists() else 0


def _child(settings: str, out: str, cycles: int) -> int:
    from bench.robot import MovableClock
    from kiosk.app import run as run_app
    from kiosk.flow import SignIn

    clock = MovableClock(frozen=True)  # time moves only when the script moves it, however slow the machine
    result: dict = {
        "frame_ms": {"start": [], "end": []},
        "prompt_ms": {"start": [], "end": []},
        "rss_mb": {"samples": []},
        "error": None,
    }

    def script(app):
        from bench.robot import Robot

        robot = Robot(app, Path(out).parent / "screens")
        app.send(SignIn(CLERK, CLERK_PIN))

        def done(robot):
            result["error"] = robot.summary["error"]
            Path(out).write_text(json.dumps(result))

        robot.play(soak_script(robot, clock, cycles, result), on_done=done)

    return run_app(settings, clock=clock, script=script)


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], sys.argv[2], int(sys.argv[3])))
