"""The ratings list (filters, keyset pagination: never OFFSET, never a COUNT over the whole table) and the detail
view of one rating, both within the viewer's scope."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy import Connection

from haochaping.levels import CHANNELS
from sync_server.console.accounts import Scope, Viewer
from sync_server.console.auth import AnyUser
from sync_server.console.errors import BadInput, NotVisible
from sync_server.console.labels import FLAG_LABELS, Names
from sync_server.console.period import Period, parse_period, whole_period
from sync_server.storage import ratings_list
from sync_server.storage.contacts import contact_line
from sync_server.storage.rollups import period_bounds, rating_status

LEVEL_FILTERS = {
    "5": "非常满意",
    "4": "满意",
    "3": "基本满意",
    "2": "不满意",
    "1": "非常不满意",
    "good": "好评（3–5）",
    "bad": "差评（1–2）",
}
FILTER_KEYS = ("department", "window", "clerk", "matter", "level", "channel", "flag")


@dataclass(frozen=True)
class RatingFilter:
    period: Period
    department: str | None = None
    window: str | None = None
    clerk: str | None = None
    matter: str | None = None
    level: str | None = None
    channel: int | None = None
    flag: str | None = None

    def query(self) -> dict[str, str]:
        out = self.period.query()
        for key in FILTER_KEYS:
            value = getattr(self, key)
            if value not in (None, ""):
                out[key] = str(value)
        return out


def parse_filter(request: Request, scope: Scope) -> RatingFilter:
    q = request.query_params
    period = parse_period(request.app.state.clock(), q.get("from"), q.get("to"), whole_period(q))
    level = q.get("level") or None
    if level and level not in LEVEL_FILTERS:
        raise BadInput("评价等级筛选无效")
    flag = q.get("flag") or None
    if flag and flag not in FLAG_LABELS:
        raise BadInput("完整性标记筛选无效")
    channel = q.get("channel") or None
    if channel is not None and (not channel.isdigit() or int(channel) not in CHANNELS):
        raise BadInput("评价渠道筛选无效")
    _check_known(request, q)
    return RatingFilter(
        period=period,
        department=scope.department_filter(q.get("department")),
        window=q.get("window") or None,
        clerk=q.get("clerk") or None,
        matter=q.get("matter") or None,
        level=level,
        channel=int(channel) if channel is not None else None,
        flag=flag,
    )


def _check_known(request: Request, q) -> None:
    from sync_server.console.known import check_filters
    from sync_server.console.pages import names_of

    codes = {key: (q.get(key) or "").strip() or None for key in ("department", "window", "clerk")}
    if any(codes.values()):
        with request.app.state.store.read() as conn:
            check_filters(conn, names_of(request), **codes)


def conditions(f: RatingFilter, scope: Scope, names: Names) -> list:
    """WHERE conditions on ``records`` for a filter, always ANDed with the viewer's scope."""
    bounds = period_bounds(f.period.first, f.period.last)
    department_windows = None
    if f.department:
        department_windows = [w for w, d in names.window_department.items() if d == f.department]
    return ratings_list.conditions(f, bounds, scope, department_windows)


excluded_flag = ratings_list.excluded_flag


def rating_total(conn: Connection, f: RatingFilter, scope: Scope, names: Names) -> int:
    """The number of ratings of the filter within the scope: every page together."""
    department_windows = None
    if f.department:
        department_windows = [w for w, d in names.window_department.items() if d == f.department]
    days = (f.period.first.isoformat(), f.period.last.isoformat())
    return ratings_list.total(conn, f, days, conditions(f, scope, names), scope, department_windows)


def list_ratings(
    conn: Connection, f: RatingFilter, scope: Scope, names: Names, after: tuple[str, str] | None, limit: int
) -> tuple[list, tuple[str, str] | None]:
    """One page, newest first, and the cursor of the next page (None on the last)."""
    return ratings_list.page(conn, conditions(f, scope, names), after, limit)


def parse_cursor(text: str | None) -> tuple[str, str] | None:
    if not text:
        return None
    at, sep, rid = text.partition("|")
    if not sep or not at or not rid:
        raise BadInput("分页参数无效")
    return at, rid


def status_of(row) -> str:
    return rating_status(row.role, bool(row.excluded), row.detail) or "superseded"


# ---------------------------------------------------------------- routes


def router() -> APIRouter:
    r = APIRouter(prefix="/console", include_in_schema=False)

    @r.get("/ratings")
    def ratings_page(request: Request, viewer: AnyUser):
        from sync_server.console.context import console_settings
        from sync_server.console.pages import names_of, page

        names = names_of(request)
        f = parse_filter(request, viewer.scope)
        after = parse_cursor(request.query_params.get("after"))
        show = request.query_params.get("show") or ""
        if show not in ("", "unrated"):
            raise BadInput("查看内容只能是评价记录或未评价办件", field="show")
        size = console_settings(request.app).page_size
        if show == "unrated":
            from sync_server.console.unrated_view import unrated_context

            context = unrated_context(request, f, viewer.scope, names, after, size)
        else:
            with request.app.state.store.read() as conn:
                rows, cursor = list_ratings(conn, f, viewer.scope, names, after, size)
                total = rating_total(conn, f, viewer.scope, names)
            base = f.query()
            context = dict(
                items=[(row, status_of(row), json.loads(row.reasons or "[]")) for row in rows],
                total=total,
                next_url="/console/ratings?" + urlencode({**base, "after": f"{cursor[0]}|{cursor[1]}"})
                if cursor
                else None,
                first_url="/console/ratings?" + urlencode(base) if after else None,
            )
        return page(
            request,
            "ratings.html",
            viewer,
            names=names,
            f=f,
            show=show,
            **context,
            export_query=urlencode(f.query()),
            level_filters=LEVEL_FILTERS,
            flag_labels=FLAG_LABELS,
            channels=CHANNELS,
            windows=_visible(names.windows, names, viewer.scope),
            departments=[
                (d, n)
                for d, n in names.departments.items()
                if not viewer.scope.restricted or d == viewer.scope.department
            ],
        )

    @r.get("/ratings/{record_id}")
    def rating_detail(request: Request, record_id: str, viewer: AnyUser):
        from sync_server.console.pages import names_of, page

        names = names_of(request)
        with request.app.state.store.read() as conn:
            detail = load_detail(conn, record_id, viewer, names)
        return page(request, "rating.html", viewer, names=names, d=detail, flag_labels=FLAG_LABELS)

    return r


def _visible(windows: dict[str, str], names: Names, scope: Scope) -> list[tuple[str, str]]:
    return [(c, n) for c, n in sorted(windows.items()) if scope.allows_window(c)]


@dataclass(frozen=True)
class RatingDetail:
    record: object
    role: str | None
    assess_number: int | None
    status: str
    reasons: list[tuple[int, str]]
    reasons_version: str | None
    contact: str
    prompted_at: str | None
    seconds_to_rate: float | None
    flags: list
    exclusions: list
    clerk_no: str | None
    matter_code: str | None


def load_detail(conn: Connection, record_id: str, viewer: Viewer, names: Names) -> RatingDetail:
    """One rating, or NotVisible when it does not exist or lies outside the viewer's scope."""
    rec = ratings_list.rating_record(conn, record_id)
    if rec is None or not viewer.scope.allows_window(rec.counted_window):
        raise NotVisible("没有这条评价，或不在您的查看范围内")
    rating, case, excl, flag_rows = ratings_list.rating_facts(conn, record_id, rec.case_no)
    from sync_server.console.integrity import with_filled

    flags = [with_filled(conn, f) for f in flag_rows]
    active = any(e.lifted_at is None for e in excl)
    prompted = rec.prompted_at or (case.prompted_at if case else None)
    return RatingDetail(
        record=rec,
        role=rating.role if rating else None,
        assess_number=rating.assess_number if rating else None,
        status=rating_status(rating.role if rating else None, active, rec.detail) or "superseded",
        reasons=[(c, _reason_label(conn, rec.reasons_version, c, names)) for c in json.loads(rec.reasons or "[]")],
        reasons_version=rec.reasons_version,
        contact=contact_line(conn, rec.case_no),  # masked for everyone: in full only on the 差评工单, audited
        prompted_at=prompted,
        seconds_to_rate=_seconds_between(prompted, rec.occurred_at),
        flags=flags,
        exclusions=excl,
        clerk_no=rec.clerk_no or (case.clerk_no if case else None),
        matter_code=rec.matter_code or (case.matter_code if case else None),
    )


def _reason_label(conn: Connection, version: str | None, code: int, names: Names) -> str:
    """The label of a reason code in the reason list version the rating was made with (else the current one)."""
    return (ratings_list.reason_label(conn, version, code) if version else None) or names.reason(code)


def _seconds_between(start: str | None, end: str | None) -> float | None:
    from datetime import datetime

    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
