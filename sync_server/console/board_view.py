"""``GET /board``: the public results board for a lobby screen (1920×1080), with no sign-in.

It shows this month's and this quarter's 最佳服务窗口 and 服务之星 (the console's own rankings), the window
holding the 流动红旗 (the best window of the last complete month), the hall's 好评率 (as the dashboard counts it,
系统默认评价 included and said so, with the 主动评价好评率 beside it) and 差评整改率 this month, and
the 优秀 clerks of the latest closed year (张榜公布). Only aggregates and names: no single rating, no citizen data,
no deductions. The page reloads itself every ``REFRESH_S`` seconds (``static/board.js``, only when the server answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from sync_server.console import metrics
from sync_server.console.accounts import Scope
from sync_server.console.context import console_settings, current_version
from sync_server.console.labels import Names, china_today, percent

REFRESH_S = 120
BOARD_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Ranked:
    name: str
    good_rate: str
    n: int


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _ranked(table, name, min_n: int, verified: dict | None = None, top: int = 3) -> list[Ranked]:
    """The console's ranking (主动评价好评率, ties by count then fewer 差评 verified 属实), as the board shows it."""
    ranked = metrics.ranking(table, min_n, top, verified_bad=verified)
    return [Ranked(name(k), percent(f.active_good_rate), f.active_n) for k, f in ranked]


def _verified(conn, first: date, last: date) -> dict[str, int]:
    from sync_server.workflow.stats import bad_by_clerk

    return {clerk: b.verified for clerk, b in bad_by_clerk(conn, Scope(), first, last, None).items()}


def _clerk_name(names: Names):
    return lambda no: names.clerks.get(no, no)  # the name only: the board is for citizens


def board_context(conn, names: Names, today: date, min_n: int) -> dict:
    from sync_server.assessment.rules import current_rules
    from sync_server.assessment.scores import year_scores
    from sync_server.configs import current_config
    from sync_server.storage.assessment import closed_years
    from sync_server.workflow.stats import handling

    everyone = Scope()
    month_first, quarter_first = today.replace(day=1), quarter_start(today)
    month = metrics.dashboard(conn, everyone, month_first, today)
    quarter = metrics.dashboard(conn, everyone, quarter_first, today)
    last_month_end = month_first - timedelta(days=1)
    previous = metrics.dashboard(conn, everyone, last_month_end.replace(day=1), last_month_end)
    flag, flag_month = (
        metrics.ranking(previous.by_window, min_n, 1),
        f"{last_month_end.year} 年 {last_month_end.month} 月",
    )
    if not flag:  # too few ratings last month (a new hall): this month so far holds it
        flag, flag_month = metrics.ranking(month.by_window, min_n, 1), f"{today.year} 年 {today.month} 月（截至今日）"
    rectify = handling(conn, everyone, month_first, today, None, today, cards=0).rectify_rate
    excellent, year = [], None
    years, cv = closed_years(conn), current_config(conn)
    if years and cv is not None:
        year = years[0].year
        clerks, _closed = year_scores(conn, current_rules(conn), cv.config.hall, year)
        excellent = sorted((names.department(c.department), c.name) for c in clerks if c.grade == "优秀")
    return {
        "today": today,
        "month_label": f"{today.year} 年 {today.month} 月",
        "quarter_label": f"{today.year} 年第{'一二三四'[(today.month - 1) // 3]}季度",
        "windows_month": _ranked(month.by_window, names.window, min_n),
        "clerks_month": _ranked(month.by_clerk, _clerk_name(names), min_n, _verified(conn, month_first, today)),
        "windows_quarter": _ranked(quarter.by_window, names.window, min_n),
        "clerks_quarter": _ranked(quarter.by_clerk, _clerk_name(names), min_n, _verified(conn, quarter_first, today)),
        "flag": names.window(flag[0][0]) if flag else None,
        "flag_month": flag_month,
        # the dashboard's two figures, each named with what it counts: 好评率 over every effective rating (系统默认评价
        # included, as the dashboard and the report count it) and 主动评价好评率 over the citizens' own ratings
        "good_rate": percent(month.total.good_rate),
        "active_good_rate": percent(month.total.active_good_rate),
        "rectify_rate": percent(rectify),
        "rated": month.total.n,
        "active_rated": month.total.active_n,
        "default_rated": month.total.n - month.total.active_n,
        "excellent": excellent,
        "excellent_year": year,
    }


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/board")
    def board(request: Request):
        from sync_server.console.pages import TEMPLATES

        app = request.app
        cv = current_version(app)
        names = Names.of(cv.config if cv else None)
        today = china_today(app.state.clock())
        with app.state.store.read() as conn:
            context = board_context(conn, names, today, console_settings(app).min_ratings_to_rank)
        html = TEMPLATES.get_template("board.html").render(hall_name=names.hall_name, refresh_s=REFRESH_S, **context)
        return HTMLResponse(html, headers=BOARD_HEADERS)

    return r
