"""Working days in China: State Council holidays with their make-up workdays (调休), for deadlines.

The ``holidays`` package knows past schedules; an administrator loads the official schedule of a
new year from ``config/workdays/<year>.toml`` once it is announced. A deadline computed through a
year that is neither loaded nor known with its make-up days carries ``confirmed=False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import holidays
from pydantic import Field

from haochaping.config import _Strict, read_toml, validate


class OfficialSchedule(_Strict):
    """国务院办公厅关于某年部分节假日安排的通知, as data."""

    year: int = Field(ge=2000, le=2100, description="年份")
    holidays: list[date] = Field(description="放假的日期（含调休放假）")
    workdays: list[date] = Field(default_factory=list, description="调休上班的周末日期")
    source: str = Field(default="", description="通知文号或出处")


UNCONFIRMED_WARNING = "截止日期按未确认的节假日安排计算，公布后可能变动"


@dataclass(frozen=True)
class Deadline:
    due: date
    confirmed: bool  # False: computed through a year whose official schedule is not confirmed

    @property
    def warning(self) -> str:
        return "" if self.confirmed else UNCONFIRMED_WARNING


class WorkdayCalendar:
    """Which days are working days, and the N-th working day after an event."""

    def __init__(self, schedules: list[OfficialSchedule] = ()):
        self._official = {s.year: s for s in schedules}
        self._package_years: dict[int, holidays.HolidayBase] = {}

    @classmethod
    def from_dir(cls, folder: Path) -> WorkdayCalendar:
        """Load every ``<year>.toml`` official schedule in ``folder`` (missing folder: none)."""
        files = sorted(Path(folder).glob("*.toml")) if Path(folder).is_dir() else []
        return cls([validate(OfficialSchedule, read_toml(f), f) for f in files])

    def _package(self, year: int) -> holidays.HolidayBase:
        if year not in self._package_years:
            self._package_years[year] = holidays.China(years=year)
        return self._package_years[year]

    def is_confirmed(self, year: int) -> bool:
        """An official schedule is loaded, or the package knows the year's make-up workdays."""
        if year in self._official:
            return True
        return any(d.year == year for d in self._package(year).weekend_workdays)

    def is_working_day(self, day: date) -> bool:
        official = self._official.get(day.year)
        if official:
            if day in official.workdays:
                return True
            return day.weekday() < 5 and day not in official.holidays
        cn = self._package(day.year)
        if day in cn.weekend_workdays:
            return True
        return day.weekday() < 5 and day not in cn

    def add_working_days(self, event_day: date, days: int) -> Deadline:
        """The ``days``-th working day after ``event_day``; the event's own day is not counted."""
        day, counted, confirmed = event_day, 0, self.is_confirmed(event_day.year)
        while counted < days:
            day += timedelta(days=1)
            confirmed = confirmed and self.is_confirmed(day.year)
            if self.is_working_day(day):
                counted += 1
        return Deadline(day, confirmed)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 if end ≤ start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count
