"""The one timing kit of the benchmarks (and of the tests that start real processes): nearest-rank percentiles,
a free loopback port, a private Xvfb display, a throwaway kiosk settings file and a real ``hcp server`` process."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from haochaping.errors import HaochapingError

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"
SAMPLE_ADMIN_PIN_HASH = "scrypt$16384$8$1$J8icMjbEf+Kz8a7pn2Jw+A==$btOW0cXBSO7u7XhrYa/6MzzeeTYNQUJkhgJQ6P+wKZE="
CLERK, CLERK_PIN = "1001", "1111"


class BenchError(HaochapingError):
    """A benchmark could not set up or finish its measurement."""


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile, ``pct`` from 0 to 100 (0 for no values): the one definition every figure uses."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(len(ordered) * pct / 100))
    return ordered[rank - 1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_display_number(first: int, count: int = 100) -> int:
    for n in range(first, first + count):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise BenchError(f"找不到空闲的 X 显示编号（:{first}–:{first + count - 1}）")


@contextlib.contextmanager
def virtual_display(size: str = "1920x1080x24", first: int = 150, reuse: bool = True) -> Iterator[str]:
    """Yield a DISPLAY value: the current one when ``reuse`` and one is set, else a private Xvfb, stopped after."""
    if reuse and os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if shutil.which("Xvfb") is None:
        raise BenchError("没有 DISPLAY，也没有安装 Xvfb（Debian 软件包 xvfb）")
    proc, n = _start_xvfb(size, first)
    try:
        yield f":{n}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _start_xvfb(size: str, first: int, attempts: int = 5) -> tuple[subprocess.Popen, int]:
    """A running Xvfb on the first free display number from ``first``. Another process starting one at the same
    moment may take the same number; the Xvfb that loses exits at once, and the next free number is tried."""
    for _ in range(attempts):
        n = free_display_number(first)
        proc = subprocess.Popen(
            ["Xvfb", f":{n}", "-screen", "0", size, "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not _serves(proc, n) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if _serves(proc, n):
            return proc, n
        proc.kill()
        proc.wait(timeout=10)
        first = n + 1
    raise BenchError("虚拟屏幕 Xvfb 未能启动")


def _serves(proc: subprocess.Popen, n: int) -> bool:
    """Is ``proc`` the X server of display ``n``: its socket is there and the lock file names this process?"""
    try:
        owner = int(Path(f"/tmp/.X{n}-lock").read_text().strip())
    except (OSError, ValueError):
        return False
    return owner == proc.pid and proc.poll() is None and Path(f"/tmp/.X11-unix/X{n}").exists()


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


class ServerProcess:
    """An ``hcp server`` process on 127.0.0.1 (the real command line), its output appended to ``log``."""

    def __init__(self, db_url: str, log: Path, *extra: str, port: int | None = None):
        self.db_url, self.log, self.extra = db_url, Path(log), extra
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> ServerProcess:
        """Start the process without waiting for it to answer."""
        command = [sys.executable, "-m", "haochaping.cli", "server", "--db", self.db_url, "--port", str(self.port)]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([*command, *self.extra], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        return self

    def start(self, limit_s: float = 120.0) -> ServerProcess:
        """Start it and wait until ``/healthz`` answers 200 (``limit_s`` only bounds a server that never does)."""
        return self.spawn().wait_healthy(limit_s)

    def wait_healthy(self, limit_s: float = 120.0) -> ServerProcess:
        deadline = time.monotonic() + limit_s
        while not self.healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"服务未能启动：{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.05)
        return self

    def healthy(self) -> bool:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(self.url + "/healthz", timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; what a power cut does to the process."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, grace_s: float = 10.0) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.kill()
