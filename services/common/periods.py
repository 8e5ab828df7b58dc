"""Typed deadlines and the concrete due dates they create.

The plans state deadlines in several shapes: a month ("2019 жылғы қыркүйек"), a quarter
("2018 жылғы IV тоқсан"), a half-year, a year ("2027 жыл"), a span of years ("2019 – 2022 жылдар":
work every year of the span, so a due date at the end of each year), a month recurring in every year
of a span ("2026 – 2029 жылдардағы желтоқсан"), or a fixed date. A deadline is due on the last day of
the period it names.
"""

import calendar
import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MIN_YEAR = 1991
MAX_YEAR = 2100


class DeadlineKind(StrEnum):
    month = "month"
    quarter = "quarter"
    half_year = "half_year"
    year = "year"
    year_span = "year_span"
    recurring_month = "recurring_month"
    recurring_quarter = "recurring_quarter"
    date = "date"


Year = Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR, examples=[2027])]
Month = Annotated[int, Field(ge=1, le=12, examples=[12])]
Quarter = Annotated[int, Field(ge=1, le=4, examples=[4])]


def end_of_month(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MonthDeadline(_Base):
    kind: Literal["month"] = "month"
    year: Year
    month: Month

    def due_dates(self) -> list[dt.date]:
        return [end_of_month(self.year, self.month)]


class QuarterDeadline(_Base):
    kind: Literal["quarter"] = "quarter"
    year: Year
    quarter: Quarter

    def due_dates(self) -> list[dt.date]:
        return [end_of_month(self.year, self.quarter * 3)]


class HalfYearDeadline(_Base):
    kind: Literal["half_year"] = "half_year"
    year: Year
    half: Annotated[int, Field(ge=1, le=2)]

    def due_dates(self) -> list[dt.date]:
        return [end_of_month(self.year, self.half * 6)]


class YearDeadline(_Base):
    kind: Literal["year"] = "year"
    year: Year

    def due_dates(self) -> list[dt.date]:
        return [dt.date(self.year, 12, 31)]


class _Span(_Base):
    start_year: Year
    end_year: Year

    @model_validator(mode="after")
    def _ordered(self) -> "_Span":
        if self.end_year < self.start_year:
            raise ValueError("end_year must not be before start_year")
        return self

    def years(self) -> range:
        return range(self.start_year, self.end_year + 1)


class YearSpanDeadline(_Span):
    kind: Literal["year_span"] = "year_span"

    def due_dates(self) -> list[dt.date]:
        return [dt.date(y, 12, 31) for y in self.years()]


class RecurringMonthDeadline(_Span):
    kind: Literal["recurring_month"] = "recurring_month"
    month: Month

    def due_dates(self) -> list[dt.date]:
        return [end_of_month(y, self.month) for y in self.years()]


class RecurringQuarterDeadline(_Span):
    kind: Literal["recurring_quarter"] = "recurring_quarter"
    quarter: Quarter

    def due_dates(self) -> list[dt.date]:
        return [end_of_month(y, self.quarter * 3) for y in self.years()]


class DateDeadline(_Base):
    kind: Literal["date"] = "date"
    date: dt.date

    @model_validator(mode="after")
    def _in_range(self) -> "DateDeadline":
        if not MIN_YEAR <= self.date.year <= MAX_YEAR:
            raise ValueError(f"date must be between {MIN_YEAR} and {MAX_YEAR}")
        return self

    def due_dates(self) -> list[dt.date]:
        return [self.date]


Deadline = Annotated[
    MonthDeadline
    | QuarterDeadline
    | HalfYearDeadline
    | YearDeadline
    | YearSpanDeadline
    | RecurringMonthDeadline
    | RecurringQuarterDeadline
    | DateDeadline,
    Field(discriminator="kind"),
]

DEADLINE_FIELDS = ("year", "month", "quarter", "half", "start_year", "end_year", "date")
