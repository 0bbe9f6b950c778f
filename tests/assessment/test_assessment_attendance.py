"""考勤 from kiosk records, on SQLite and PostgreSQL: a late sign-in on a 调休 Saturday, a long pause, 旷工 past 30
minutes, a day with a sequence gap marked uncertain (proposed once the missing record arrives), approved leave
withdrawing a proposal, and nothing on an ordinary weekend."""

from __future__ import annotations

from datetime import date

import pytest
from assessment_helpers import china, push, terminals_of

from sync_server.assessment.attendance import Mark, assess_day
from sync_server.assessment.events import LeaveForm, Person, add_leave
from sync_server.assessment.proposals import refresh
from sync_server.assessment.rules import AttendanceRules
from sync_server.configs import current_config
from sync_server.storage import assessment as db

ADMIN = Person("admin", "admin")


def events(store) -> dict[str, tuple]:
    with store.read() as conn:
        rows = db.events_between(conn, "2026-01-01", "2026-12-31")
    return {r.source_key: (r.day, r.kind, r.points, r.state) for r in rows}


def day_of_records(t, day: tuple, *moments, clerk="1001") -> list[dict]:
    """Records of one day: ``moments`` are (kind, hour, minute)."""
    return [t.record(kind, china(*day, h, m), clerk_no=clerk) for kind, h, m in moments]


def test_a_clerks_days_from_kiosk_records(store, terminals):
    t = terminals["A01"]
    saturday = day_of_records(t, (2026, 2, 14), ("sign_in", 9, 20), ("sign_out", 17, 5))  # 调休 workday
    paused = day_of_records(
        t, (2026, 3, 2), ("sign_in", 8, 55), ("pause", 10, 0), ("resume", 10, 45), ("sign_out", 17, 1)
    )
    push(t, saturday + paused, china(2026, 3, 2, 18))
    gap_day = day_of_records(t, (2026, 3, 3), ("sign_in", 9, 40), ("prompt", 10, 0), ("sign_out", 17, 0))
    push(t, [gap_day[0], gap_day[2]], china(2026, 3, 3, 18))  # the middle record has not arrived
    leave_day = day_of_records(t, (2026, 3, 4), ("sign_in", 9, 25), ("sign_out", 16, 30))
    absent = day_of_records(t, (2026, 3, 5), ("sign_in", 9, 31), ("sign_out", 17, 0))
    weekend = day_of_records(t, (2026, 3, 7), ("sign_in", 10, 0), ("sign_out", 12, 0))  # an ordinary Saturday
    push(t, leave_day + absent + weekend, china(2026, 3, 7, 18))
    add_leave(store, LeaveForm("1001", "2026-03-04", "2026-03-04", "am", "市场监管局 陈局长", False), ADMIN,
              _hall(store), china(2026, 3, 4, 8))  # fmt: skip

    counts = refresh(store, date(2026, 2, 1), date(2026, 3, 31), china(2026, 4, 1, 9))

    found = events(store)
    assert found == {
        "att:1001:2026-02-14:0:late": ("2026-02-14", "late", -2, "proposed"),
        "att:1001:2026-03-02:0:away:020000": ("2026-03-02", "away", -2, "proposed"),
        "att:1001:2026-03-04:1:early": ("2026-03-04", "early", -2, "proposed"),  # 30 minutes: 早退, not 旷工
        "att:1001:2026-03-05:0:late": ("2026-03-05", "absent", -5, "proposed"),  # 31 minutes: 旷工
    }, "no proposal on 03-03 (uncertain), on 03-07 (weekend) or for the morning of 03-04 (leave)"
    assert counts.proposed == 4

    add_leave(store, LeaveForm("1001", "2026-03-04", "2026-03-04", "pm", "市场监管局 陈局长", False), ADMIN,
              _hall(store), china(2026, 4, 1, 10))  # fmt: skip
    push(t, [gap_day[1]], china(2026, 4, 1, 11))  # the missing record arrives: 03-03 is certain now
    counts = refresh(store, date(2026, 2, 1), date(2026, 3, 31), china(2026, 4, 1, 12))
    found = events(store)
    assert found["att:1001:2026-03-04:1:early"][3] == "withdrawn"
    assert found["att:1001:2026-03-03:0:late"] == ("2026-03-03", "absent", -5, "proposed")
    assert (counts.proposed, counts.withdrawn) == (1, 1)
    assert refresh(store, date(2026, 2, 1), date(2026, 3, 31), china(2026, 4, 1, 13)).proposed == 0  # idempotent


def _hall(store):
    with store.read() as conn:
        return current_config(conn).config.hall


@pytest.mark.parametrize(
    "moments, expected",
    [
        ([("sign_in", 9, 15), ("sign_out", 17, 0)], []),  # exactly 15 minutes is not late
        ([("sign_in", 9, 16), ("sign_out", 17, 0)], ["attendance_late"]),
        ([("sign_in", 9, 0), ("sign_out", 16, 29)], ["attendance_absent"]),
        ([("sign_in", 9, 0), ("sign_out", 10, 0), ("sign_in", 10, 31), ("sign_out", 17, 0)], ["attendance_away"]),
        ([("sign_in", 9, 0), ("pause", 11, 50), ("resume", 13, 20), ("sign_out", 17, 0)], []),  # 10 + 20 minutes
        ([("sign_in", 8, 0)], []),  # never signed out: present to the end of the day
        ([("sign_in", 13, 0), ("sign_out", 17, 0)], []),  # the afternoon only: no roster, the morning is not assessed
        ([("sign_in", 9, 0), ("sign_out", 13, 10)], []),  # handing over at 13:10 is no afternoon shift left early
        ([("sign_in", 11, 40), ("sign_out", 17, 0)], ["attendance_absent"]),  # 20 minutes of the morning: 旷工
    ],
)
def test_thresholds(moments, expected):
    marks = [Mark("d", kind, "1001", china(2026, 3, 2, h, m)) for kind, h, m in moments]
    day = assess_day("1001", date(2026, 3, 2), marks, AttendanceRules())
    assert [f.source for f in day.findings] == expected


def test_the_monthly_report_has_an_attendance_section(sqlite_store):
    from sync_server.console.accounts import Scope
    from sync_server.console.labels import Names
    from sync_server.console.reports import monthly_report, workbook_bytes
    from sync_server.console.settings import ConsoleSettings

    t = terminals_of(sqlite_store)["A01"]
    push(t, day_of_records(t, (2026, 3, 2), ("sign_in", 9, 20), ("sign_out", 17, 0)), china(2026, 3, 2, 18))
    push(t, day_of_records(t, (2026, 3, 3), ("sign_in", 8, 50), ("sign_out", 16, 40)), china(2026, 3, 3, 18))
    with sqlite_store.read() as conn:
        names = Names.of(current_config(conn).config)
        sections = monthly_report(conn, Scope(), "2026-03", None, names, ConsoleSettings())
    (section,) = [s for s in sections if s.title == "考勤"]
    row = next(r for r in section.rows if r[0] == "1001")
    assert dict(zip(section.header, row, strict=True)) == {
        "工号": "1001", "姓名": "李晓梅", "部门": "市场监管局", "出勤天数": 2, "迟到": 1, "早退": 1, "旷工": 0,
        "离岗": 0, "存疑天数": 0, "请假（半天）": 0, "已确认考勤扣分": 0,
    }  # fmt: skip
    assert workbook_bytes(sections)[:2] == b"PK"


def test_a_shift_change_on_the_same_terminal_is_not_leaving_early():
    from sync_server.assessment.attendance import assess_period
    from sync_server.workdays import WorkdayCalendar

    marks = [
        Mark("a01", "sign_in", "1001", china(2026, 3, 2, 9, 0)),
        Mark("a01", "sign_out", "1001", china(2026, 3, 2, 14, 0)),
        Mark("a01", "sign_in", "1002", china(2026, 3, 2, 14, 2)),  # 1002 takes the window over
        Mark("b03", "sign_in", "1003", china(2026, 3, 2, 9, 0)),
        Mark("b03", "sign_out", "1003", china(2026, 3, 2, 14, 0)),  # nobody takes over: 早退 by 180 minutes
    ]
    days = assess_period(marks, date(2026, 3, 2), date(2026, 3, 2), AttendanceRules(), WorkdayCalendar())
    found = {(d.clerk_no, f.source) for d in days for f in d.findings}
    assert found == {("1002", "attendance_absent"), ("1003", "attendance_absent")}  # 1002 came 62 minutes late
