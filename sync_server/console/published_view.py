"""``/console/reports/published``: the published 通报 — the list, the form a hall administrator publishes with, each
version as published (its figures from the stored content, its files byte for byte, its hashes checked against
the audit log) and what changed since publication (更正: the published value → the value now)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from sync_server.console.accounts import Viewer, write_audit
from sync_server.console.auth import AdminUser, AnyUser, client_address
from sync_server.console.context import console_settings
from sync_server.console.corrections import KIND_LABELS, sections_of, shown, version_name
from sync_server.console.errors import AlreadyPublished, BadInput, NotVisible, RoleForbidden
from sync_server.console.labels import china_today
from sync_server.storage import published as storage

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA = {"xlsx": XLSX, "csv": "text/csv; charset=utf-8"}


def router() -> APIRouter:
    r = APIRouter(prefix="/console", include_in_schema=False)

    @r.get("/reports/published")
    def published_list(request: Request, viewer: AnyUser):
        return _list_page(request, viewer)

    @r.post("/reports/published")
    async def publish_report(request: Request, viewer: AdminUser):
        from sync_server.console.pages import names_of
        from sync_server.console.publish import publish

        form = await request.form()
        spec, dept = str(form.get("period", "")).strip(), str(form.get("department", "")).strip() or None
        app = request.app
        try:
            done = publish(
                app.state.store, spec, dept, viewer.username, viewer.role, app.state.clock(), names_of(request),
                console_settings(app), str(form.get("reason", "")), client_address(request),
            )  # fmt: skip
        except (AlreadyPublished, BadInput, RoleForbidden) as e:
            field = getattr(e, "field", "") or ("reason" if isinstance(e, AlreadyPublished) else "period")
            entered = {"period": spec, "department": dept or "", "reason": str(form.get("reason", ""))}
            return _list_page(request, viewer, e.status, error=e.message, field=field, entered=entered)
        return RedirectResponse(f"/console/reports/published/{done.id}", status_code=303)

    @r.get("/reports/published/{report_id:int}")
    def published_one(request: Request, report_id: int, viewer: AnyUser):
        from sync_server.console.pages import names_of, page
        from sync_server.console.publish import changes_since, check

        names, app = names_of(request), request.app
        with app.state.store.read() as conn:
            row = _visible(conn, report_id, viewer)
            verified = check(conn, row)
            found = changes_since(conn, row, viewer.scope, names, console_settings(app), app.state.clock())
        return page(
            request,
            "reports_published_one.html",
            viewer,
            names=names,
            row=row,
            version_title=version_name(row),
            check=verified,
            changes=found,
            shown=shown,
            sections=sections_of(row),
            cell=_cell,
        )

    @r.get("/reports/published/{report_id:int}.{fmt}")
    def published_file(request: Request, report_id: int, fmt: str, viewer: AnyUser):
        from urllib.parse import quote

        if fmt not in MEDIA:
            raise BadInput("格式只能是 xlsx 或 csv")
        app = request.app
        with app.state.store.read() as conn:
            row = _visible(conn, report_id, viewer)
        body = bytes(row.xlsx if fmt == "xlsx" else row.csv)
        with app.state.store.write() as conn:
            detail = {"period": row.period, "department": row.department or None, "version": row.version}
            write_audit(conn, app.state.clock(), viewer.username, "export", f"published.{fmt}", detail,
                        client_address(request))  # fmt: skip
        filename = f"好差评通报-{row.period}{'-' + row.department if row.department else ''}-第{row.version}版.{fmt}"
        disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
        headers = {"Content-Disposition": disposition, "Cache-Control": "no-store"}
        return Response(body, media_type=MEDIA[fmt], headers=headers)

    return r


def _visible(conn, report_id: int, viewer: Viewer):
    """The version, if the viewer may see it: a department's reviewer sees that department's 通报 only."""
    row = storage.published(conn, report_id)
    if row is None or (viewer.scope.restricted and row.department != viewer.scope.department):
        raise NotVisible("没有这份已发布的通报")
    return row


def _list_page(request: Request, viewer: Viewer, status: int = 200, error: str = "", field: str = "", entered=None):
    from sync_server.console.pages import names_of, page

    names = names_of(request)
    with request.app.state.store.read() as conn:
        rows = storage.listing(conn, viewer.scope.department if viewer.scope.restricted else None)
    today = china_today(request.app.state.clock())
    departments = [(d, n) for d, n in sorted(names.departments.items()) if not viewer.scope.restricted]
    return page(
        request,
        "reports_published.html",
        viewer,
        status,
        names=names,
        rows=rows,
        kinds=KIND_LABELS,
        version_name=version_name,
        departments=departments,
        error=error,
        field=field,
        entered=entered or {"period": f"{today.year}-{today.month:02d}", "department": "", "reason": ""},
    )


def _cell(value, header: str, label: str) -> str:
    """A stored figure as the published files show it."""
    return shown(value, header if header.endswith("率") else str(label))
