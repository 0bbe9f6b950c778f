"""Helpers for the operations tests: a terminal that enrols and pushes signed, chained records; server processes."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

from testkit import ADMIN_PIN_HASH

from bench.kit import ServerProcess, free_port
from haochaping.chain import GENESIS_HASH, RECORD_FIELDS, record_hash
from haochaping.signing import sign_headers

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "config"


def real_clock() -> datetime:
    return datetime.now(UTC)


class Terminal:
    """A kiosk as the server sees it (any client with ``post``: TestClient or httpx.Client)."""

    def __init__(self, client, store, clock=real_clock, window: str = "A01"):
        from sync_server.devices import add_enrolment_code

        self.client, self.clock = client, clock
        code, _ = add_enrolment_code(store, window, clock())
        body = client.post("/api/v1/enroll", json={"code": code}).json()
        self.device_id, self.secret, self.window = body["device_id"], bytes.fromhex(body["secret"]), body["window"]
        self.seq, self.prev = 0, GENESIS_HASH

    def rating(self, case_no: str, level: int = 5, reasons: tuple[int, ...] = ()) -> dict:
        self.seq += 1
        rec = {k: None for k in RECORD_FIELDS}
        rec.update(
            id=uuid.uuid4().hex,
            seq=self.seq,
            kind="rating",
            device_id=self.device_id,
            window=self.window,
            case_no=case_no,
            matter_code="11450102MB1234567X4000111",
            level=level,
            reasons=list(reasons),
            reasons_version="national-2019-v1",
            channel=4,
            detail={},
            occurred_at=self.clock().isoformat(timespec="milliseconds"),
            prompted_at=self.clock().isoformat(timespec="milliseconds"),
            prev_hash=self.prev,
        )
        rec["hash"] = record_hash(rec)
        self.prev = rec["hash"]
        return rec

    def post(self, path: str, payload, secret: bytes | None = None):
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = sign_headers(self.device_id, secret or self.secret, "POST", path, body, self.clock().timestamp())
        headers["Content-Type"] = "application/json"
        return self.client.post(path, content=body, headers=headers)

    def push(self, records: list[dict], secret: bytes | None = None):
        return self.post("/api/v1/records", {"records": records}, secret=secret)


def start_server(db_url: str, log_path: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """``hcp server`` on a free loopback port (not waited for): its process and base URL."""
    server = ServerProcess(db_url, log_path, *extra).spawn()
    return server.process, server.url


def wait_healthy(proc: subprocess.Popen, base: str, log_path: Path, limit_s: float = 120) -> int:
    """Wait until the server started by ``start_server`` answers ``/healthz`` (``limit_s`` bounds a dead one)."""
    server = ServerProcess("", log_path, port=int(base.rsplit(":", 1)[1]))
    server.process = proc
    server.wait_healthy(limit_s)
    return 200


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


SAMPLE_ADMIN_PIN_HASH = ADMIN_PIN_HASH


def kiosk_settings(tmp_path: Path, **extra) -> Path:
    """A kiosk.toml in tmp_path: window A01 of the example hall, its own data dir and trigger port, 1024×600."""
    lines = {
        "window": '"A01"',
        "config_dir": f'"{CONFIG_DIR}"',
        "data_dir": f'"{tmp_path / "data"}"',
        "trigger_port": str(free_port()),
        "trigger_token": '"ops-test-trigger-token-0123456789"',
        "admin_pin_hash": f'"{SAMPLE_ADMIN_PIN_HASH}"',
        "fullscreen": "false",
        "width": "1024",
        "height": "600",
    }
    lines.update(extra)
    path = tmp_path / "kiosk.toml"
    path.write_text("".join(f"{k} = {v}\n" for k, v in lines.items()))
    return path


def kivy_env(tmp_path: Path, display: str, **extra: str) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    env.update(DISPLAY=display, KIVY_HOME=str(tmp_path / "kivy"), KIVY_NO_CONSOLELOG="1", KIVY_NO_ARGS="1")
    env.update(extra)
    return env
