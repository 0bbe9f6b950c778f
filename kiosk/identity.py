"""The device's identity: its id and its own secret, kept in a file only its user can read.

Before enrolment with a server the terminal makes its own; enrolment replaces both.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DeviceIdentity:
    device_id: str
    secret: bytes
    enrolled: bool = False
    server_url: str | None = None  # the server that issued an enrolled identity
    window: str | None = None  # the window the server enrolled this device for

    def save(self, path: Path) -> None:
        """Write atomically with mode 0600."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(
                {
                    "device_id": self.device_id,
                    "secret": self.secret.hex(),
                    "enrolled": self.enrolled,
                    "server_url": self.server_url,
                    "window": self.window,
                },
                f,
            )
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def load_or_create_identity(data_dir: Path) -> DeviceIdentity:
    path = Path(data_dir) / "device.json"
    if path.exists():
        raw = json.loads(path.read_text())
        return DeviceIdentity(
            raw["device_id"],
            bytes.fromhex(raw["secret"]),
            bool(raw.get("enrolled")),
            raw.get("server_url"),
            raw.get("window"),
        )
    identity = DeviceIdentity("local-" + secrets.token_hex(6), secrets.token_bytes(32))
    identity.save(path)
    return identity
