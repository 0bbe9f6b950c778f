"""``GET /console/dashboard``: the figures of a period and scope, the trend, the split by level and channel, tables
by department, window, clerk and matter (each row drills down to the ratings list), and the rankings."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request

from haochaping.levels import CHANNELS
from sync_server.closedcases.reconcile import NOT_CONNECTED
from sync_server.console import charts, labels, metrics
from sync_server.console.accounts import Scope
from sync_server.console.auth import AnyUser
from sync_server.console.context import console_settings
from sync_server.console.errors import BadInput
from sync_server.console.known import check_filters
from sync_server.console.period import parse_period, whole_period

CARD_LIST_SIZE = 10  # the earliest cards the 差评处理 panel lists
LEVEL_COLORS = {5: "#0e9f6e", 4: "#57b894", 3: "#9ccfb4", 2: "#f08c8c", 1: "#c8161d"}


def router() -> APIRouter:
    r = APIRouter(prefix="/console", include_in_schema=False)

    @r.get("/dashboard")
    def dashboard_page(request: Request, viewer: AnyUser):
        from sync_server.console.pages import names_of, page
        from sync_server.storage import closed_cases as closed_case_storage

        q = request.query_params
        period = parse_period(request.app.state.clock(), q.get("from"), q.get("to"), whole_period(q))
        granularity = q.get("by") or "day"
        if granularity not in metrics.GRANULARITIES:
            raise BadInput("趋势粒度只能是 day、week 或 month")
        names = names_of(request)
        with request.app.state.store.read() as conn:
            check_filters(conn, names, department=q.get("department"))
            board = metrics.dashboard(conn, viewer.scope, period.first, period.last, q.get("department"), granularity)
            handling = workflow_handling(conn, viewer.scope, period, board.department, request.app.state.clock())
            case_system_connected = closed_case_storage.connected(conn)
            bad = clerk_bad(conn, viewer.scope, period, board.department)
        settings = console_settings(request.app)
        base = {**period.query(), **({"department": board.department} if board.department else {})}
        return page(
            request,
            "dashboard.html",
            viewer,
            names=names,
            board=board,
            handling=handling,
            revisit_definitions=revisit_definitions(),
            case_system_connected=case_system_connected,
            not_connected=NOT_CONNECTED,
            card_list_size=CARD_LIST_SIZE,
            period=period,
            granularity=granularity,
            granularities=metrics.GRANULARITIES,
            departments=_departments(names, viewer.scope),
            trend_svg=charts.trend([(k, f.n, f.good_rate) for k, f in board.trend]),
            level_svg=_level_bars(board.total),
            channel_svg=_channel_bars(board.by_channel, board.total.n),
            best_windows=metrics.ranking(board.by_window, settings.min_ratings_to_rank),
            stars=metrics.ranking(board.by_clerk, settings.min_ratings_to_rank, verified_bad=_verified(bad)),
            repeated_bad=metrics.repeated_bad(bad, settings.repeated_bad_threshold),
            unverified_bad=metrics.unverified_bad(bad),
            settings=settings,
            whole_periods=_whole_periods(request.app.state.clock(), board.department),
            drill=lambda **kw: "/console/ratings?" + urlencode({**base, **kw}),
            self_url=lambda **kw: "/console/dashboard?" + urlencode({**base, "by": granularity, **kw}),
        )

    return r


def _whole_periods(now, department: str | None) -> list[tuple[str, str]]:
    """Links to this month, quarter and year (the periods of the 通报), keeping the department."""
    today = labels.china_today(now)
    keep = {"department": department} if department else {}
    specs = (
        ("本月", {"month": today.strftime("%Y-%m")}),
        ("本季度", {"quarter": f"{today.year}Q{(today.month - 1) // 3 + 1}"}),
        ("本年", {"year": str(today.year)}),
    )
    return [(label, urlencode({**spec, **keep})) for label, spec in specs]


def clerk_bad(conn, scope: Scope, period, department: str | None) -> dict:
    """Each clerk's 差评 of the period by what 核实 found (sync_server.workflow.stats)."""
    from sync_server.workflow.stats import bad_by_clerk

    return bad_by_clerk(conn, scope, period.first, period.last, department)


def _verified(bad: dict) -> dict[str, int]:
    return {clerk: b.verified for clerk, b in bad.items()}


def workflow_handling(conn, scope: Scope, period, department: str | None, now):
    """The 差评处理 panel: yellow/red cards and 差评整改率 / 按时整改率 / 回访率 (sync_server.workflow.stats)."""
    from sync_server.workflow.deadlines import china_today
    from sync_server.workflow.stats import handling

    return handling(conn, scope, period.first, period.last, department, china_today(now), cards=CARD_LIST_SIZE)


def _departments(names: labels.Names, scope: Scope) -> list[tuple[str, str]]:
    if scope.restricted:
        return [(scope.department, names.department(scope.department))]
    return sorted(names.departments.items())


def _level_bars(total: metrics.Figures) -> str:
    items = [
        charts.Bar(
            labels.level_label(lv), n, f"{n}（{labels.percent(n / total.n if total.n else None)}）", LEVEL_COLORS[lv]
        )
        for lv, n in sorted(total.by_level.items(), reverse=True)
    ]
    return charts.bars(items, title="评价等级分布")


def _channel_bars(by_channel: dict[int, int], total: int) -> str:
    items = [
        charts.Bar(
            CHANNELS[c].label if c in CHANNELS else str(c),
            n,
            f"{n}（{labels.percent(n / total if total else None)}）",
            "#3370ff",
        )
        for c, n in sorted(by_channel.items(), key=lambda cn: -cn[1])
    ]
    return charts.bars(items, title="评价渠道") if items else ""


def revisit_definitions() -> tuple[str, str]:
    """回访率 and 回访满意率 as defined in ``workflow.stats``, written beside them."""
    from sync_server.workflow.stats import REVISIT_RATE_DEFINITION, SATISFACTION_RATE_DEFINITION

    return REVISIT_RATE_DEFINITION, SATISFACTION_RATE_DEFINITION
