"""What the kiosk's benchmarks share: a private Xvfb display, a throwaway settings file, nearest-rank percentiles."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from kiosk.errors import KioskError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
SAMPLE_ADMIN_PIN_HASH = "scrypt$16384$8$1$J8icMjbEf+Kz8a7pn2Jw+A==$btOW0cXBSO7u7XhrYa/6MzzeeTYNQUJkhgJQ6P+wKZE="
CLERK, CLERK_PIN = "1001", "1111"


def free_display_number(first: int, count: int = 100) -> int:
    for n in range(first, first + count):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise KioskError(f"找不到空闲的 X 显示编号（:{first}–:{first + count - 1}）")


@contextlib.contextmanager
def virtual_display(size: str = "1920x1080x24", first: int = 150, reuse: bool = True) -> Iterator[str]:
    """Yield a DISPLAY value: the current one when ``reuse`` and one is set, else a private Xvfb, stopped after."""
    if reuse and os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if shutil.which("Xvfb") is None:
        raise KioskError("没有 DISPLAY，也没有安装 Xvfb（Debian 软件包 xvfb）")
    n = free_display_number(first)
    proc = subprocess.Popen(
        ["Xvfb", f":{n}", "-screen", "0", size, "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{n}").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise KioskError("虚拟屏幕 Xvfb 未能启动")
            time.sleep(0.05)
        yield f":{n}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_settings(tmp: Path, token: str, width: int, height: int, rules_file: Path | None = None) -> Path:
    """A kiosk.toml for window A01 of the example hall, with its own data dir and a free trigger port."""
    rules = f'rules_file = "{rules_file}"\n' if rules_file else ""
    path = tmp / "kiosk.toml"
    path.write_text(
        f'window = "A01"\nconfig_dir = "{CONFIG_DIR}"\n{rules}data_dir = "{tmp / "data"}"\n'
        f'trigger_port = {free_port()}\ntrigger_token = "{token}"\n'
        f'admin_pin_hash = "{SAMPLE_ADMIN_PIN_HASH}"\nfullscreen = false\nwidth = {width}\nheight = {height}\n',
        encoding="utf-8",
    )
    return path


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]
