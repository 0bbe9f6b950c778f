"""The ratings list (filters, keyset pagination: never OFFSET, never a COUNT over the whole table) and the detail
view of one rating, both within the viewer's scope."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy import Connection, and_, or_, select

from haochaping.levels import CHANNELS
from sync_server.console.auth import AnyUser, Scope, Viewer, windows_in
from sync_server.console.errors import BadInput, NotVisible
from sync_server.console.labels import Names, mask_contact
from sync_server.console.period import Period, parse_period
from sync_server.console.rollup import day_bounds, rating_status
from sync_server.storage.schema import (
    FLAGGED,
    cases,
    config_versions,
    integrity_flags,
    rating_exclusions,
    ratings,
    records,
)

FLAG_LABELS = {
    "any": "任一完整性标记",
    "gap": "序号缺失",
    "broken_link": "散列不衔接",
    "seq_reused": "序号重复",
    "conflict": "内容冲突",
    "window_mismatch": "窗口不符",
    "time_backwards": "时间倒退",
    "future_time": "时间超前",
    "bad_without_reason": "差评未选原因",
}
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
    period = parse_period(request.app.state.clock(), q.get("from"), q.get("to"), q.get("month"))
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
    from sync_server.console.web import names_of

    codes = {key: (q.get(key) or "").strip() or None for key in ("department", "window", "clerk")}
    if any(codes.values()):
        with request.app.state.store.read() as conn:
            check_filters(conn, names_of(request), **codes)


def conditions(f: RatingFilter, scope: Scope, names: Names) -> list:
    """WHERE conditions on ``records`` for a filter, always ANDed with the viewer's scope."""
    start, end = day_bounds(f.period.first)[0], day_bounds(f.period.last)[1]
    where = [records.c.kind == "rating", records.c.occurred_at >= start, records.c.occurred_at < end]
    in_scope = scope.window_condition(records.c.window)
    if in_scope is not None:
        where.append(in_scope)
    if f.department:
        windows = sorted(w for w, d in names.window_department.items() if d == f.department)
        where.append(windows_in(records.c.window, windows))
    for value, column in (
        (f.window, records.c.window),
        (f.clerk, records.c.clerk_no),
        (f.matter, records.c.matter_code),
    ):
        if value:
            where.append(column == value)
    if f.level == "good":
        where.append(records.c.level >= 3)
    elif f.level == "bad":
        where.append(records.c.level <= 2)
    elif f.level:
        where.append(records.c.level == int(f.level))
    if f.channel is not None:
        where.append(records.c.channel == f.channel)
    if f.flag:
        where.append(FLAGGED)  # as ix_records_flagged is written, so both databases read that index
    if f.flag and f.flag != "any":
        where.append(records.c.flags.like(f"%{f.flag}%"))
    return where


def excluded_flag():
    return (
        select(rating_exclusions.c.id)
        .where(rating_exclusions.c.record_id == records.c.id, rating_exclusions.c.lifted_at.is_(None))
        .exists()
        .label("excluded")
    )


def list_ratings(
    conn: Connection, f: RatingFilter, scope: Scope, names: Names, after: tuple[str, str] | None, limit: int
) -> tuple[list, tuple[str, str] | None]:
    """One page, newest first, and the cursor of the next page (None on the last)."""
    where = conditions(f, scope, names)
    if after:
        at, rid = after
        where.append(or_(records.c.occurred_at < at, and_(records.c.occurred_at == at, records.c.id < rid)))
    query = (
        select(
            records.c.id,
            records.c.occurred_at,
            records.c.window,
            records.c.clerk_no,
            records.c.matter_code,
            records.c.level,
            records.c.channel,
            records.c.comment,
            records.c.flags,
            records.c.case_no,
            records.c.detail,
            records.c.reasons,
            ratings.c.role,
            ratings.c.assess_number,
            excluded_flag(),
        )
        .select_from(records.join(ratings, ratings.c.record_id == records.c.id))
        .where(*where)
        .order_by(records.c.occurred_at.desc(), records.c.id.desc())
        .limit(limit + 1)
    )
    rows = conn.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = (rows[-1].occurred_at, rows[-1].id) if more and rows else None
    return rows, cursor


def parse_cursor(text: str | None) -> tuple[str, str] | None:
    if not text:
        return None
    at, sep, rid = text.partition("|")
    if not sep or not at or not rid:
        raise BadInput("分页参数无效")
    return at, rid


def status_of(row) -> str:
    return rating_status(row.role, bool(row.excluded), row.detail) or "superseded"


def contact_for(viewer: Viewer, names: Names, window: str | None, detail: dict) -> str:
    contact = str(detail.get("contact") or "")
    if not contact:
        return ""
    return contact if viewer.sees_contact_of(names.window_department.get(window or "")) else mask_contact(contact)


# ---------------------------------------------------------------- routes


def router() -> APIRouter:
    r = APIRouter(prefix="/console", include_in_schema=False)

    @r.get("/ratings")
    def ratings_page(request: Request, viewer: AnyUser):
        from sync_server.console.context import console_settings
        from sync_server.console.web import names_of, page

        names = names_of(request)
        f = parse_filter(request, viewer.scope)
        after = parse_cursor(request.query_params.get("after"))
        with request.app.state.store.read() as conn:
            rows, cursor = list_ratings(conn, f, viewer.scope, names, after, console_settings(request.app).page_size)
        base = f.query()
        items = [(row, status_of(row), json.loads(row.reasons or "[]")) for row in rows]
        return page(
            request,
            "ratings.html",
            viewer,
            names=names,
            f=f,
            items=items,
            next_url="/console/ratings?" + urlencode({**base, "after": f"{cursor[0]}|{cursor[1]}"}) if cursor else None,
            first_url="/console/ratings?" + urlencode(base) if after else None,
            export_query=urlencode(base),
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
        from sync_server.console.web import names_of, page

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
    rec = conn.execute(select(records).where(records.c.id == record_id, records.c.kind == "rating")).first()
    if rec is None or not viewer.scope.allows_window(rec.window):
        raise NotVisible("没有这条评价，或不在您的查看范围内")
    rating = conn.execute(select(ratings).where(ratings.c.record_id == record_id)).first()
    case = conn.execute(select(cases).where(cases.c.case_no == rec.case_no)).first() if rec.case_no else None
    excl = conn.execute(
        select(rating_exclusions).where(rating_exclusions.c.record_id == record_id).order_by(rating_exclusions.c.id)
    ).all()
    from sync_server.console.integrity import with_filled

    flags = [
        with_filled(conn, f)
        for f in conn.execute(
            select(integrity_flags).where(integrity_flags.c.record_id == record_id).order_by(integrity_flags.c.id)
        )
    ]
    active = any(e.lifted_at is None for e in excl)
    detail = json.loads(rec.detail or "{}")
    prompted = rec.prompted_at or (case.prompted_at if case else None)
    return RatingDetail(
        record=rec,
        role=rating.role if rating else None,
        assess_number=rating.assess_number if rating else None,
        status=rating_status(rating.role if rating else None, active, rec.detail) or "superseded",
        reasons=[(c, _reason_label(conn, rec.reasons_version, c, names)) for c in json.loads(rec.reasons or "[]")],
        reasons_version=rec.reasons_version,
        contact=contact_for(viewer, names, rec.window, detail),
        prompted_at=prompted,
        seconds_to_rate=_seconds_between(prompted, rec.occurred_at),
        flags=flags,
        exclusions=excl,
        clerk_no=rec.clerk_no or (case.clerk_no if case else None),
        matter_code=rec.matter_code or (case.matter_code if case else None),
    )


def _reason_label(conn: Connection, version: str | None, code: int, names: Names) -> str:
    """The label of a reason code in the reason list version the rating was made with (else the current one)."""
    if version:
        for row in conn.execute(select(config_versions.c.content).order_by(config_versions.c.id.desc())):
            reasons = json.loads(row.content).get("reasons", {})
            if reasons.get("version") == version:
                for reason in reasons.get("reasons", []):
                    if reason.get("code") == int(code):
                        return reason["label"]
    return names.reason(code)


def _seconds_between(start: str | None, end: str | None) -> float | None:
    from datetime import datetime

    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
