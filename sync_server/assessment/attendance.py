"""考勤 from the terminals' own records, pure: a clerk's working day → 迟到, 早退, 旷工 and 离岗 findings.

A clerk is present from a ``sign_in`` to the next ``sign_out``; any record of theirs while signed out counts as
present too, and a day that starts with another record continues an earlier session. A ``pause`` lasts until
``resume`` or ``sign_out``. For each office session (hall configuration) the clerk was on duty in:
  arrival later than the start by more than ``late_minutes`` → 迟到, by more than ``absent_minutes`` → 旷工;
  departure earlier than the end likewise → 早退 or 旷工, unless a colleague signed in on the same terminal within
  five minutes (a shift change keeps the window staffed);
  a pause, or a sign-out with a later sign-in, longer than ``away_minutes`` inside the session → 离岗.
Only working days count (the calendar with 调休: a make-up Saturday is a working day). Approved leave suppresses
what it covers (a whole day, or the morning or afternoon session). The records' own times are used, so a terminal
that was offline is not absence; a day on which a terminal of the clerk has an unfilled sequence gap is marked
uncertain and proposes nothing. A session the clerk spent at most ``late_minutes`` in (none, or the few minutes of
a hand-off to the next clerk) is not assessed: the hall keeps no roster.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone

from sync_server.assessment.rules import AttendanceRules
from sync_server.workdays import WorkdayCalendar

CHINA = timezone(timedelta(hours=8))
SESSION_NAMES = ("上午", "下午", "第三段", "第四段")


@dataclass(frozen=True)
class Mark:
    """One terminal record that matters for attendance."""

    device_id: str
    kind: str
    clerk_no: str
    at: datetime


@dataclass(frozen=True)
class Leave:
    clerk_no: str
    first: date
    last: date
    part: str  # day | am | pm

    def covers(self, day: date, session: int) -> bool:
        if not self.first <= day <= self.last:
            return False
        return self.part == "day" or (self.part == "am") == (session == 0)


@dataclass(frozen=True)
class Finding:
    clerk_no: str
    day: date
    source: str  # attendance_late | attendance_early | attendance_absent | attendance_away
    minutes: int
    key: str
    summary: str


@dataclass
class DayAttendance:
    clerk_no: str
    day: date
    on_duty: list[int] = field(default_factory=list)  # session indexes with any presence
    findings: list[Finding] = field(default_factory=list)
    on_leave: list[int] = field(default_factory=list)
    uncertain: bool = False


def parse_time(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(UTC)


def china_day(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def at_china(day: date, clock) -> datetime:
    return datetime.combine(day, clock, tzinfo=CHINA).astimezone(UTC)


def spans_of(marks: list[Mark], day_start: datetime, day_end: datetime) -> tuple[list[tuple], list[tuple]]:
    """(presence spans, pause spans) of one clerk's day from their records in time order. A day whose first record
    is not a sign-in continues a session signed in earlier: present from the start of the day."""
    presence, pauses = [], []
    since = paused = None
    if marks and marks[0].kind != "sign_in":
        since = day_start
    for m in marks:
        if m.kind == "sign_out":
            if paused is not None:
                pauses.append((paused, m.at))
                paused = None
            if since is not None:
                presence.append((since, m.at))
                since = None
        elif m.kind == "pause" and paused is None:
            paused = m.at
            since = since or m.at
        elif m.kind == "resume" and paused is not None:
            pauses.append((paused, m.at))
            paused = None
        elif since is None:
            since = m.at  # sign_in, or a record after a sign-out without a new sign-in
    if paused is not None:
        pauses.append((paused, max(day_end, paused)))
    if since is not None:
        presence.append((since, max(day_end, since)))  # not signed out: present to the end of the day
    return presence, pauses


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _overlap(a: tuple, lo: datetime, hi: datetime) -> timedelta:
    return max(timedelta(0), min(a[1], hi) - max(a[0], lo))


def assess_day(
    clerk_no: str,
    day: date,
    marks: list[Mark],
    rules: AttendanceRules,
    leaves: list[Leave] = (),
    uncertain: bool = False,
    handed_over: frozenset[datetime] = frozenset(),
) -> DayAttendance:
    """The findings of one clerk's working day; ``handed_over``: their sign-outs at which a colleague took over the
    same terminal (a shift change, not 早退)."""
    result = DayAttendance(clerk_no, day, uncertain=uncertain)
    day_end = at_china(day, rules.sessions[-1].end)
    presence, pauses = spans_of(marks, at_china(day, time(0)), day_end)
    for i, session in enumerate(rules.sessions):
        lo, hi = at_china(day, session.start), at_china(day, session.end)
        inside = [p for p in presence if p[1] > lo and p[0] < hi]
        if any(leave.covers(day, i) for leave in leaves):
            result.on_leave.append(i)
            continue
        if sum((_overlap(p, lo, hi) for p in inside), timedelta(0)) <= timedelta(minutes=rules.late_minutes):
            continue  # not on duty: at most a hand-off's few minutes inside this session
        result.on_duty.append(i)
        result.findings += _session_findings(clerk_no, day, i, lo, hi, inside, pauses, rules, handed_over)
    return result


def _session_findings(clerk_no, day, i, lo, hi, inside, pauses, rules: AttendanceRules, handed_over) -> list[Finding]:
    name, out = SESSION_NAMES[i], []
    base = f"att:{clerk_no}:{day.isoformat()}:{i}"
    late = _minutes(inside[0][0] - lo)
    if late > rules.late_minutes:
        kind = "attendance_absent" if late > rules.absent_minutes else "attendance_late"
        what = "按旷工处理" if kind == "attendance_absent" else "迟到"
        first = inside[0][0].astimezone(CHINA).strftime("%H:%M")
        out.append(Finding(clerk_no, day, kind, late, f"{base}:late", f"{name}{first}签到，晚 {late} 分钟，{what}"))
    early = _minutes(hi - inside[-1][1])
    if early > rules.late_minutes and inside[-1][1] not in handed_over:
        kind = "attendance_absent" if early > rules.absent_minutes else "attendance_early"
        what = "按旷工处理" if kind == "attendance_absent" else "早退"
        last = inside[-1][1].astimezone(CHINA).strftime("%H:%M")
        out.append(Finding(clerk_no, day, kind, early, f"{base}:early", f"{name}{last}签退，早 {early} 分钟，{what}"))
    gaps = [(a[1], b[0]) for a, b in zip(inside, inside[1:], strict=False)]
    for kind_name, span in [("暂停服务", p) for p in pauses] + [("签退离开", g) for g in gaps]:
        away = _minutes(_overlap(span, lo, hi))
        if away > rules.away_minutes:
            start = max(span[0], lo).astimezone(CHINA).strftime("%H:%M")
            key = f"{base}:away:{span[0].astimezone(UTC).strftime('%H%M%S')}"
            out.append(
                Finding(clerk_no, day, "attendance_away", away, key, f"{name}{start}起{kind_name} {away} 分钟，离岗")
            )
    return out


def uncertain_days(gaps: list[tuple[str, str, str | None]]) -> set[tuple[str, date]]:
    """(device, China day) pairs a missing record may belong to: from the last record before the gap to the first
    after it."""
    out = set()
    for device, after_iso, before_iso in gaps:
        ends = [china_day(parse_time(after_iso))] + ([china_day(parse_time(before_iso))] if before_iso else [])
        day, last = min(ends), max(ends)
        while day <= last:
            out.add((device, day))
            day += timedelta(days=1)
    return out


def assess_period(
    marks: list[Mark],
    first: date,
    last: date,
    rules: AttendanceRules,
    calendar: WorkdayCalendar,
    leaves: list[Leave] = (),
    uncertain: set[tuple[str, date]] = frozenset(),
) -> list[DayAttendance]:
    """Every clerk's working days in [first, last] that have any of their records, in day and clerk order."""
    by_clerk_day: dict[tuple[str, date], list[Mark]] = defaultdict(list)
    for m in marks:
        day = china_day(m.at)
        if first <= day <= last and calendar.is_working_day(day):
            by_clerk_day[(m.clerk_no, day)].append(m)
    handed = handovers(marks)
    leave_of: dict[str, list[Leave]] = defaultdict(list)
    for leave in leaves:
        leave_of[leave.clerk_no].append(leave)
    out = []
    for (clerk, day), day_marks in sorted(by_clerk_day.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        doubtful = any((m.device_id, day) in uncertain for m in day_marks)
        out.append(assess_day(clerk, day, day_marks, rules, leave_of[clerk], doubtful, handed.get(clerk, frozenset())))
    return out


HANDOVER = timedelta(minutes=5)


def handovers(marks: list[Mark]) -> dict[str, frozenset[datetime]]:
    """Per clerk, the sign-outs followed within ``HANDOVER`` by another clerk's sign-in on the same terminal."""
    by_device: dict[str, list[Mark]] = defaultdict(list)
    for m in marks:
        if m.kind in ("sign_in", "sign_out"):
            by_device[m.device_id].append(m)
    found: dict[str, set[datetime]] = defaultdict(set)
    for seq in by_device.values():
        seq.sort(key=lambda m: m.at)
        for out, nxt in zip(seq, seq[1:], strict=False):
            if out.kind == "sign_out" and nxt.kind == "sign_in" and nxt.clerk_no != out.clerk_no:
                if nxt.at - out.at <= HANDOVER:
                    found[out.clerk_no].add(out.at)
    return {clerk: frozenset(times) for clerk, times in found.items()}
