"""``GET /console/devices``: every terminal's last contact, outbox depth, clock offset and configuration version
(from its last status report); terminals silent longer than ``device_silent_minutes`` stand out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import APIRouter, Request

from sync_server.configs import current_config
from sync_server.console.auth import OverseerUser
from sync_server.devices import Device, list_devices
from sync_server.storage.schema import utc_iso


@dataclass(frozen=True)
class DeviceHealth:
    device: Device
    silent: bool
    outbox_depth: int | None
    clock_offset_s: float | None
    config_version: str | None
    config_current: bool
    app_version: str | None
    last_sync_at: str | None
    clock_off: bool = False  # |clock offset| above device_clock_warn_s


def clock_off(offset, warn_s: float) -> bool:
    try:
        return abs(float(offset)) > warn_s
    except (TypeError, ValueError):
        return False


def health(
    devices: list[Device], now: datetime, silent_minutes: int, current_version: str | None, clock_warn_s: float = 120
):
    cutoff = utc_iso(now - timedelta(minutes=silent_minutes))
    out = []
    for d in devices:
        status = d.last_status or {}
        version = status.get("config_version")
        out.append(
            DeviceHealth(
                device=d,
                silent=d.active and (d.last_seen_at is None or d.last_seen_at < cutoff),
                outbox_depth=status.get("outbox_depth"),
                clock_offset_s=status.get("clock_offset_s"),
                config_version=version,
                config_current=version is not None and version == current_version,
                app_version=status.get("app_version"),
                last_sync_at=status.get("last_sync_at"),
                clock_off=clock_off(status.get("clock_offset_s"), clock_warn_s),
            )
        )
    out.sort(key=lambda h: (not h.silent, h.device.window, h.device.id))
    return out


def router() -> APIRouter:
    r = APIRouter(prefix="/console", include_in_schema=False)

    @r.get("/devices")
    def devices_page(request: Request, viewer: OverseerUser):
        from sync_server.console.context import console_settings
        from sync_server.console.web import page

        app = request.app
        settings = console_settings(app)
        minutes, warn_s = settings.device_silent_minutes, settings.device_clock_warn_s
        with app.state.store.read() as conn:
            cv = current_config(conn)
        version = cv.version if cv else None
        rows = health(list_devices(app.state.store), app.state.clock(), minutes, version, warn_s)
        rows = [h for h in rows if viewer.scope.allows_window(h.device.window)]
        return page(
            request, "devices.html", viewer, rows=rows, minutes=minutes, current_version=version, clock_warn_s=warn_s
        )

    return r
