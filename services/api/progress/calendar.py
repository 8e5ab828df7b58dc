"""Working days and due dates, from the calendar kept as data (`calendar_day`) and the reporting rules.

A day absent from `calendar_day` is a working day from Monday to Friday and a day off on Saturday and Sunday; a row
makes it a holiday, a day off (a carried or transferred one) or a working day (a transferred Saturday). A rule that
counts working days moves a due date falling on a day off to the next working day.
"""

import json
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.models.registry import CalendarDay, CalendarDayKind, ReportingRule

CALENDAR_FILE = Path("calendar") / "kz-public-holidays.json"
WORKING = CalendarDayKind.working_day


class WorkingCalendar:
    """The exceptions to the five-day week, read once for a computation."""

    def __init__(self, exceptions: Mapping[date, CalendarDayKind]) -> None:
        self.exceptions = dict(exceptions)

    def is_working_day(self, day: date) -> bool:
        kind = self.exceptions.get(day)
        if kind is not None:
            return kind is WORKING
        return day.weekday() < 5

    def next_working_day(self, day: date) -> date:
        """`day` itself when it is a working day, else the first working day after it."""
        for _ in range(60):
            if self.is_working_day(day):
                return day
            day += timedelta(days=1)
        return day


async def load_calendar(session: AsyncSession) -> WorkingCalendar:
    rows = (await session.execute(select(CalendarDay.day, CalendarDay.kind))).all()
    return WorkingCalendar({row.day: row.kind for row in rows})


def rule_due_date(rule: ReportingRule, period_year: int, calendar: WorkingCalendar) -> date:
    """The due date of `rule` for the reporting year `period_year` (moved to a working day where the rule counts
    working days)."""
    year = period_year + (1 if rule.relative_year == "following" else 0)
    due = date(year, rule.month, rule.day)
    return calendar.next_working_day(due) if rule.counts_working_days else due


async def import_calendar(session: AsyncSession, data_dir: Path) -> int:
    """Load the public holidays of data/calendar/ (idempotent; a day the administrator changed is kept)."""
    path = data_dir / CALENDAR_FILE
    if not path.exists():
        return 0
    days = json.loads(path.read_text(encoding="utf-8"))["days"]
    values = [
        {
            "day": date.fromisoformat(d["date"]),
            "kind": CalendarDayKind(d["kind"]),
            "name_kk": d.get("name_kk"),
            "name_ru": d.get("name_ru"),
            "basis": d.get("basis"),
        }
        for d in days
    ]
    if not values:
        return 0
    result = await session.execute(
        insert(CalendarDay).on_conflict_do_nothing().returning(CalendarDay.day),
        values,
    )
    return len(result.all())
