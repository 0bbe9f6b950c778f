"""``GET /console/integrity``: what the server flagged on ingest (sequence gaps, broken hash links, reused sequence
numbers, conflicting content) and what it computes for review: bursts of top ratings seconds apart on one terminal,
and ratings given faster after the prompt than a person can read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from sqlalchemy import Connection, select

from sync_server.console.auth import OverseerUser, Scope
from sync_server.console.period import parse_period
from sync_server.console.settings import ConsoleSettings
from sync_server.storage.rollups import day_bounds
from sync_server.storage.schema import devices, integrity_flags, record_conflicts, records


@dataclass(frozen=True)
class Burst:
    device_id: str
    window: str | None
    first_at: str
    last_at: str
    record_ids: tuple[str, ...]

    @property
    def seconds(self) -> float:
        return (datetime.fromisoformat(self.last_at) - datetime.fromisoformat(self.first_at)).total_seconds()


@dataclass(frozen=True)
class FastRating:
    record_id: str
    device_id: str
    window: str | None
    level: int
    occurred_at: str
    seconds: float


def find_bursts(rows: list, window_s: float, min_count: int) -> list[Burst]:
    """Runs of ``min_count`` or more 非常满意 ratings on one device, each within ``window_s`` of the run's first
    (pure: ``rows`` are (id, device_id, window, occurred_at, level) ordered by device and time)."""
    bursts: list[Burst] = []
    run: list = []

    def close() -> None:
        if len(run) >= min_count:
            bursts.append(Burst(run[0][1], run[0][2], run[0][3], run[-1][3], tuple(r[0] for r in run)))

    for row in rows:
        if row[4] != 5:
            continue
        if run and (row[1] != run[0][1] or _gap(run[0][3], row[3]) > window_s):
            close()
            run = []
        run.append(row)
    close()
    return bursts


def _gap(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()


def find_fast(rows: list, min_read_s: float) -> list[FastRating]:
    """Ratings whose time after the prompt is below a human reading time (pure)."""
    out = []
    for rid, device_id, window, occurred_at, level, prompted_at in rows:
        if prompted_at:
            seconds = _gap(prompted_at, occurred_at)
            if 0 <= seconds < min_read_s:
                out.append(FastRating(rid, device_id, window, level, occurred_at, seconds))
    return out


def review(conn: Connection, scope: Scope, start: str, end: str, settings: ConsoleSettings):
    """Flags, bursts and fast ratings of the period within the scope."""
    device_windows = {d.id: d.window for d in conn.execute(select(devices.c.id, devices.c.window))}
    flags = [
        f
        for f in conn.execute(
            select(integrity_flags)
            .where(integrity_flags.c.flagged_at >= start, integrity_flags.c.flagged_at < end)
            .order_by(integrity_flags.c.id.desc())
            .limit(1000)
        )
        if scope.allows_window(device_windows.get(f.device_id))
    ]
    flags = [with_filled(conn, f) for f in flags]
    conflicts = {
        c.record_id: c
        for c in conn.execute(select(record_conflicts).where(record_conflicts.c.received_at >= start))
        if scope.allows_window(device_windows.get(c.device_id))
    }
    where = [
        records.c.kind == "rating",
        records.c.source == "device",
        records.c.occurred_at >= start,
        records.c.occurred_at < end,
    ]
    in_scope = scope.window_condition(records.c.window)
    if in_scope is not None:
        where.append(in_scope)
    rows = conn.execute(
        select(
            records.c.id,
            records.c.device_id,
            records.c.window,
            records.c.occurred_at,
            records.c.level,
            records.c.prompted_at,
        )
        .where(*where)
        .order_by(records.c.device_id, records.c.occurred_at)
    ).all()
    bursts = find_bursts([r[:5] for r in rows], settings.burst_window_s, settings.burst_min_ratings)
    fast = find_fast(rows, settings.min_read_s)
    return flags, conflicts, bursts, fast


@dataclass(frozen=True)
class BadTapsWithoutReason:
    """Per clerk: bad levels tapped at the kiosk and left without a reason (counted as 差评, or held for review)."""

    clerk_no: str | None
    counted: int
    held: int


def bad_taps_without_reason(conn: Connection, scope: Scope, start: str, end: str) -> list[BadTapsWithoutReason]:
    where = [
        records.c.kind.in_(("rating", "timeout")),
        records.c.occurred_at >= start,
        records.c.occurred_at < end,
        records.c.detail.like('%"bad_without_reason"%'),
    ]
    in_scope = scope.window_condition(records.c.window)
    if in_scope is not None:
        where.append(in_scope)
    tally: dict[str | None, list[int]] = {}
    for clerk_no, detail in conn.execute(select(records.c.clerk_no, records.c.detail).where(*where)):
        held = json.loads(detail or "{}").get("bad_without_reason") == "hold"
        tally.setdefault(clerk_no, [0, 0])[held] += 1
    rows = [BadTapsWithoutReason(c, n[0], n[1]) for c, n in tally.items()]
    return sorted(rows, key=lambda b: (-(b.counted + b.held), b.clerk_no or ""))


@dataclass(frozen=True)
class Flag:
    """An integrity flag as the page shows it; ``filled`` when the record a gap missed has arrived since."""

    row: object
    filled: bool

    def __getattr__(self, name: str):
        return getattr(self.row, name)


def with_filled(conn: Connection, flag) -> Flag:
    if flag.kind != "gap" or flag.seq is None:
        return Flag(flag, False)
    missing = select(records.c.id).where(records.c.device_id == flag.device_id, records.c.seq == flag.seq - 1)
    return Flag(flag, conn.execute(missing.limit(1)).first() is not None)


def router() -> APIRouter:
    r = APIRouter(prefix="/console", include_in_schema=False)

    @r.get("/integrity")
    def integrity_page(request: Request, viewer: OverseerUser):
        from sync_server.closedcases.reconcile import unreported_cases
        from sync_server.closedcases.views import case_settings
        from sync_server.console.context import console_settings
        from sync_server.console.labels import FLAG_LABELS
        from sync_server.console.pages import page
        from sync_server.storage import closed_cases as closed_case_storage

        q = request.query_params
        now = request.app.state.clock()
        start_default = q.get("from") or ("" if q.get("month") else _week_before(now))
        period = parse_period(now, start_default, q.get("to"), q.get("month"))
        settings = console_settings(request.app)
        start, end = day_bounds(period.first)[0], day_bounds(period.last)[1]
        with request.app.state.store.read() as conn:
            flags, conflicts, bursts, fast = review(conn, viewer.scope, start, end, settings)
            unreported = unreported_cases(conn, viewer.scope, start, end, now, case_settings(request.app))
            connected = closed_case_storage.connected(conn)
            no_reason = bad_taps_without_reason(conn, viewer.scope, start, end)
        return page(
            request,
            "integrity.html",
            viewer,
            period=period,
            flags=flags,
            conflicts=conflicts,
            bursts=bursts,
            fast=fast,
            no_reason=no_reason,
            settings=settings,
            flag_labels=FLAG_LABELS,
            unreported=unreported,
            case_system_connected=connected,
            case_settings=case_settings(request.app),
        )

    return r


def _week_before(now: datetime) -> str:
    """The default review window: the last seven days (the burst scan reads every device rating of the period)."""
    from datetime import timedelta

    from sync_server.console.labels import china_today

    return (china_today(now) - timedelta(days=6)).isoformat()
