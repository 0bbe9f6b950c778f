"""``/console/upstream`` (上报): what went to the provincial platform, by state and day; the items it rejected with
its code and message, each with a button to send it again once corrected; the latest failures still being retried."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse

from sync_server.console.accounts import write_audit
from sync_server.console.auth import AdminUser, OverseerUser, client_address
from sync_server.console.errorpages import RowId
from sync_server.console.errors import BadInput
from sync_server.console.labels import china_today
from sync_server.storage import upstream as storage
from sync_server.upstream.payload import KINDS
from sync_server.upstream.sender import resend
from sync_server.upstream.settings import UpstreamSettings

DAYS_SHOWN = 14


def upstream_settings(app: FastAPI) -> UpstreamSettings:
    """The ``[upstream]`` section of the server's settings file, or the defaults (not sending)."""
    return getattr(app.state, "upstream_settings", None) or UpstreamSettings()


def router() -> APIRouter:
    r = APIRouter(prefix="/console", include_in_schema=False)

    @r.get("/upstream")
    def upstream_page(request: Request, viewer: OverseerUser):
        from sync_server.console.pages import page

        today = china_today(request.app.state.clock())
        first = (today - timedelta(days=DAYS_SHOWN - 1)).isoformat()
        with request.app.state.store.read() as conn:
            totals = storage.counts_by_state(conn)
            by_day = defaultdict(lambda: dict.fromkeys(storage.STATES, 0))
            for day, state, n in storage.counts_by_day(conn, first):
                by_day[day][state] = n
            rejected = storage.rejected(conn)
            failing = storage.failing(conn)
        return page(
            request,
            "upstream.html",
            viewer,
            settings=upstream_settings(request.app),
            totals=totals,
            by_day=sorted(by_day.items(), reverse=True),
            rejected=rejected,
            failing=failing,
            labels=storage.STATE_LABELS,
            kinds=KINDS,
            days_shown=DAYS_SHOWN,
            resent=request.query_params.get("resent", ""),
        )

    @r.post("/upstream/{item_id}/resend")
    def upstream_resend(request: Request, item_id: RowId, viewer: AdminUser):
        store, now = request.app.state.store, request.app.state.clock()
        with store.read() as conn:
            item = storage.item(conn, item_id)
        if item is None or item.state != storage.REJECTED:
            raise BadInput("这一项不是被省平台退回的条目，无需重新上报")
        if resend(store, item_id, now):
            with store.write() as conn:
                detail = {"code": item.code, "message": item.message}
                write_audit(
                    conn, now, viewer.username, "upstream.resend", item.item_key, detail, client_address(request)
                )
        return RedirectResponse(f"/console/upstream?resent={item_id}", status_code=303)

    return r
