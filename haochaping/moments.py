"""Moments as both apps write and read them: ISO 8601 in UTC with milliseconds, and the day in China time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "CST")


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds: the one time format of every record and every database column."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def china_today(now: datetime) -> date:
    """The calendar day in China time (UTC+8) at ``now``."""
    return now.astimezone(CHINA).date()
