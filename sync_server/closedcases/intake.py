"""The intake of closed cases: each case checked against the hall configuration and the clock, then stored once.

The same case number with the same content is a duplicate; an open case (no closing time) that comes back closed
is completed; any other content under a stored case number is kept beside it and the case flagged ``conflict``
(as device records are). A batch with any bad case is refused whole, each problem named, nothing stored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from haochaping.config import Hall
from sync_server.closedcases.errors import BatchRefused
from sync_server.db import Store
from sync_server.storage import closed_cases
from sync_server.storage.schema import utc_iso
from sync_server.triggers import CASE_NO_PATTERN

FUTURE_SKEW = timedelta(minutes=5)  # a case system's clock a little ahead is not an error
MAX_PROMISED_DAYS = 365
STATUS_LABELS = {
    "stored": "新增",
    "duplicate": "重复（已有）",
    "closed": "补记办结",
    "conflict": "内容不一致（已标记）",
}


@dataclass(frozen=True)
class ClosedCase:
    """One case as the case system reports it; times are aware datetimes, ``closed_at`` None while open."""

    case_no: str
    matter_code: str
    window: str
    clerk_no: str
    accepted_at: datetime
    closed_at: datetime | None = None
    promised_days: int | None = None

    def content(self) -> dict:
        body = asdict(self)
        body["accepted_at"] = utc_iso(self.accepted_at)
        body["closed_at"] = utc_iso(self.closed_at) if self.closed_at else None
        return body

    def content_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.content(), sort_keys=True).encode()).hexdigest()


def problems_of(case: ClosedCase, hall: Hall, now: datetime) -> list[str]:
    """What is wrong with one case (empty when it can be stored)."""
    found = []
    if not CASE_NO_PATTERN.match(case.case_no):
        found.append("办件编号格式不正确（1–64 位字母、数字或 - _ / .）")
    if case.window not in {w.code for w in hall.windows}:
        found.append(f"没有编号为 {case.window} 的窗口")
    if case.matter_code not in {m.code for m in hall.matters}:
        found.append(f"没有编码为 {case.matter_code} 的事项")
    if hall.clerks and case.clerk_no not in {c.no for c in hall.clerks}:
        found.append(f"没有工号为 {case.clerk_no} 的工作人员")
    found += _time_problems(case, now)
    if case.promised_days is not None and not 1 <= case.promised_days <= MAX_PROMISED_DAYS:
        found.append(f"承诺办结工作日应在 1–{MAX_PROMISED_DAYS} 之间")
    return found


def _time_problems(case: ClosedCase, now: datetime) -> list[str]:
    found = []
    if case.accepted_at > now + FUTURE_SKEW:
        found.append("受理时间晚于当前时间")
    if case.closed_at is not None:
        if case.closed_at > now + FUTURE_SKEW:
            found.append("办结时间晚于当前时间")
        if case.closed_at < case.accepted_at:
            found.append("办结时间早于受理时间")
    return found


def department_of(hall: Hall, matter_code: str) -> str | None:
    return next((m.department for m in hall.matters if m.code == matter_code), None)


def take_in(store: Store, cases: list[ClosedCase], source: str, now: datetime, hall: Hall) -> list[tuple[str, str]]:
    """Check every case, then store the batch in one transaction; returns (case number, status) per case.

    Raises BatchRefused, naming each bad case by its position, when any is bad (nothing is stored then)."""
    problems = [
        f"第 {i} 件（{c.case_no}）：{p}" for i, c in enumerate(cases, start=1) for p in problems_of(c, hall, now)
    ]
    if problems:
        raise BatchRefused(problems)
    return store_checked(store, cases, source, now, hall)


def store_checked(
    store: Store, cases: list[ClosedCase], source: str, now: datetime, hall: Hall
) -> list[tuple[str, str]]:
    """Store cases already checked, in one transaction."""
    departments = {c.case_no: department_of(hall, c.matter_code) for c in cases}
    with store.write() as conn:
        return closed_cases.store_cases(store, conn, cases, departments, source, utc_iso(now))
