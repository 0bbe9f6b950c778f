"""``GET /console/devices``: every terminal's last contact, outbox depth, clock offset and configuration version
(from its last status report); terminals silent longer than ``device_silent_minutes`` stand out. Administrators
issue enrolment codes (shown once, large, with the expiry), rename and revoke terminals here, with the same checks
and audit entries as ``hcp server device add|rename|revoke`` (both call ``sync_server.devices``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from sync_server.configs import current_config
from sync_server.console.auth import AdminUser, OverseerUser, client_address
from sync_server.devices import Device, issue_code, list_devices, rename, revoke
from sync_server.errors import BadRequest, ServerError


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
    out = []
    for d in devices:
        status = d.last_status or {}
        version = status.get("config_version")
        out.append(
            DeviceHealth(
                device=d,
                silent=d.is_silent(now, silent_minutes),
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
        return _devices_page(request, viewer)

    @r.post("/devices/codes")
    async def device_code(request: Request, viewer: AdminUser):
        form = await request.form()
        window, hours = str(form.get("window", "")).strip(), str(form.get("hours", "")).strip() or "24"
        typed = {"window": window, "hours": hours}
        try:
            valid_for = timedelta(hours=float(hours))
        except (ValueError, OverflowError):
            return _devices_page(request, viewer, 400, failed=("hours", "有效期请填写小时数，如 24", typed))
        if not window:
            return _devices_page(request, viewer, 400, failed=("window", "请选择窗口", typed))
        app = request.app
        try:
            code, expires = issue_code(
                app.state.store, window, app.state.clock(), valid_for, viewer.username, client_address(request)
            )
        except ServerError as e:
            field = "hours" if "有效期" in e.message else "window"
            return _devices_page(request, viewer, e.status, failed=(field, e.message, typed))
        return _devices_page(request, viewer, issued=(code, window, expires))

    @r.post("/devices/{device_id}/revoke")
    async def device_revoke(request: Request, device_id: str, viewer: AdminUser):
        app = request.app
        revoke(app.state.store, device_id, app.state.clock(), viewer.username, client_address(request))
        return RedirectResponse(f"/console/devices?done=revoked&device={quote(device_id)}", status_code=303)

    @r.post("/devices/{device_id}/rename")
    async def device_rename(request: Request, device_id: str, viewer: AdminUser):
        form = await request.form()
        app = request.app
        name = str(form.get("name", ""))
        try:
            rename(app.state.store, device_id, name, app.state.clock(), viewer.username, client_address(request))
        except BadRequest as e:
            return _devices_page(request, viewer, 400, failed=(f"name-{device_id}", e.message, {"name": name}))
        return RedirectResponse(f"/console/devices?done=renamed&device={quote(device_id)}", status_code=303)

    return r


DONE = {"revoked": "已停用设备", "renamed": "已更新设备名称"}


def _devices_page(request: Request, viewer, status: int = 200, failed=None, issued=None):
    """The devices page; ``issued`` (code, window, expiry) shows a new enrolment code once; ``failed`` (field,
    message, what was typed) shows a refused form's message at its field."""
    from sync_server.console.context import console_settings
    from sync_server.console.pages import names_of, page

    app = request.app
    settings = console_settings(app)
    minutes, warn_s = settings.device_silent_minutes, settings.device_clock_warn_s
    with app.state.store.read() as conn:
        cv = current_config(conn)
    version = cv.version if cv else None
    rows = health(list_devices(app.state.store), app.state.clock(), minutes, version, warn_s)
    rows = [h for h in rows if viewer.scope.allows_window(h.device.window)]
    names = names_of(request)
    done, device = request.query_params.get("done", ""), request.query_params.get("device", "")
    return page(
        request,
        "devices.html",
        viewer,
        status,
        names=names,
        rows=rows,
        minutes=minutes,
        current_version=version,
        clock_warn_s=warn_s,
        windows=sorted(names.windows.items()),
        failed=failed,
        issued=issued,
        done=f"{DONE[done]}：{device}" if done in DONE and not failed and not issued else "",
    )
