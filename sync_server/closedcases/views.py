"""``GET /console/closed-cases`` (办件对账): the reconciliation of the case system's cases with the prompts and
ratings of the period, within the viewer's scope."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request

from sync_server.closedcases.reconcile import NOT_CONNECTED, reconcile
from sync_server.closedcases.settings import CaseFeedSettings
from sync_server.console.auth import AnyUser
from sync_server.console.context import current_version
from sync_server.console.labels import china_today
from sync_server.console.period import parse_period, whole_period
from sync_server.storage.rollups import day_bounds


def case_settings(app: FastAPI) -> CaseFeedSettings:
    """The ``[cases]`` section of the server's settings file, or the defaults."""
    return getattr(app.state, "case_settings", None) or CaseFeedSettings()


def router() -> APIRouter:
    r = APIRouter(prefix="/console", include_in_schema=False)

    @r.get("/closed-cases")
    def closed_cases_page(request: Request, viewer: AnyUser):
        from sync_server.console import metrics
        from sync_server.console.pages import page

        q = request.query_params
        now = request.app.state.clock()
        period = parse_period(now, q.get("from"), q.get("to"), whole_period(q))
        start, end = day_bounds(period.first)[0], day_bounds(period.last)[1]
        cv = current_version(request.app)
        settings = case_settings(request.app)
        with request.app.state.store.read() as conn:
            found = reconcile(
                conn, viewer.scope, start, end, now, cv.config if cv else None, settings, china_today(now)
            )
            board = metrics.dashboard(conn, viewer.scope, period.first, period.last, viewer.scope.department, "day")
        return page(
            request,
            "closed_cases.html",
            viewer,
            period=period,
            found=found,
            prompted_basis=board.total,
            settings=settings,
            not_connected=NOT_CONNECTED,
        )

    return r
