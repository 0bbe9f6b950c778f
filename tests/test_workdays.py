"""Deadlines in working days across real holiday edges, with the official schedule as data."""

from __future__ import annotations

from datetime import date

import pytest

from haochaping.errors import ConfigError
from sync_server.workdays import OfficialSchedule, WorkdayCalendar


@pytest.fixture
def calendar():
    return WorkdayCalendar()


@pytest.mark.parametrize(
    "event, days, due",
    [
        (date(2026, 9, 30), 2, date(2026, 10, 9)),  # before National Day: 10-01…10-07 off
        (date(2026, 10, 8), 2, date(2026, 10, 10)),  # lands on the make-up Saturday 10-10
        (date(2026, 9, 18), 1, date(2026, 9, 20)),  # Friday → make-up Sunday 09-20
        (date(2026, 11, 27), 2, date(2026, 12, 1)),  # an ordinary weekend in between
        (date(2026, 11, 28), 1, date(2026, 11, 30)),  # event on a Saturday: Monday is day 1
    ],
)
def test_deadline_counts_from_the_next_working_day(calendar, event, days, due):
    deadline = calendar.add_working_days(event, days)
    assert deadline.due == due
    assert deadline.confirmed and deadline.warning == ""


def test_year_end_deadline_into_an_unconfirmed_year_warns(calendar):
    deadline = calendar.add_working_days(date(2026, 12, 24), 15)
    assert deadline.due.year == 2027
    assert not deadline.confirmed
    assert "未确认" in deadline.warning


def test_loaded_official_schedule_confirms_the_year_and_wins():
    schedule = OfficialSchedule(
        year=2027,
        holidays=[date(2027, 1, 1), date(2027, 1, 4)],
        workdays=[date(2027, 1, 9)],
        source="示例",
    )
    calendar = WorkdayCalendar([schedule])
    assert calendar.is_confirmed(2027)
    assert not calendar.is_working_day(date(2027, 1, 4))  # Monday, declared off
    assert calendar.is_working_day(date(2027, 1, 9))  # Saturday, declared a workday
    deadline = calendar.add_working_days(date(2026, 12, 31), 2)
    assert deadline.due == date(2027, 1, 6) and deadline.confirmed  # 01-05 is day 1


def test_schedule_folder_and_a_bad_file(tmp_path):
    (tmp_path / "2027.toml").write_text('year = 2027\nholidays = ["2027-01-01"]\n', encoding="utf-8")
    assert WorkdayCalendar.from_dir(tmp_path).is_confirmed(2027)
    (tmp_path / "2028.toml").write_text('year = 2028\nholidays = ["not a date"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"2028\.toml: holidays\.0"):
        WorkdayCalendar.from_dir(tmp_path)


def test_working_days_between(calendar):
    assert calendar.working_days_between(date(2026, 9, 30), date(2026, 10, 10)) == 3
    assert calendar.working_days_between(date(2026, 10, 10), date(2026, 10, 9)) == 0


def test_the_required_holidays_package_has_the_state_council_schedule_of_2026():
    """pyproject asks for holidays>=0.85, the first release with 2026: National Day 10-01…10-07 off, and the
    make-up working days Sunday 09-20 and Saturday 10-10 (no official file loaded)."""
    import holidays as package

    calendar = WorkdayCalendar()
    assert tuple(int(p) for p in package.__version__.split(".")[:2]) >= (0, 85)
    assert calendar.is_confirmed(2026)
    assert all(not calendar.is_working_day(date(2026, 10, d)) for d in range(1, 8))
    assert calendar.is_working_day(date(2026, 9, 20)) and calendar.is_working_day(date(2026, 10, 10))
    assert calendar.is_working_day(date(2026, 10, 8)) and not calendar.is_working_day(date(2026, 10, 11))


def test_the_workdays_folder_readme_says_a_file_counts_only_once_loaded():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "config" / "workdays" / "README.md").read_text(encoding="utf-8")
    assert "hcp server workdays load config/workdays/2027.toml" in readme
    assert "只把文件放进本目录不会生效" in readme and "/console/workdays" in readme
